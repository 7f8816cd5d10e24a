"""`python -m models.train.vision --render`: what the app would show, drawn on real frames,
as contact sheets in runs/overlays (git-ignored: frames of the shared data must never be
committed). Each EndoVis frame is drawn by the fold model that never saw it, through the app's
own loader and wrapper with the bundled thresholds; cholec80 clips by the bundled model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from models.train.vision_config import MANIFEST_PATH, RUNS, THREADS
from models.train.vision_data import FOLDS, INPUT_H, INPUT_W, Sample
from models.train.vision_export import export_onnx
from models.train.vision_folds import fold_dir
from models.train.vision_train import load_trained


def draw(frame_rgb: np.ndarray, result, bleeding_threshold: float, label: str = "") -> np.ndarray:
    """What the app shows, drawn onto the source frame: bleeding (red tint), instrument boxes
    (green; score), tips (filled yellow = visible working end, hollow grey = estimated)."""
    import cv2

    img = frame_rgb.copy()
    h, w = img.shape[:2]
    if result.bleeding is not None:
        prob = cv2.resize(
            result.bleeding.mask.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR
        )
        m = prob >= bleeding_threshold
        img[m] = (0.45 * img[m] + 0.55 * np.array([255, 0, 0])).astype(np.uint8)
        contours, _ = cv2.findContours(
            m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(img, contours, -1, (255, 60, 60), 1)
    t = max(1, w // 320)
    for inst in result.instruments:
        x1, y1, x2, y2 = (int(round(c)) for c in inst.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), t)
        cv2.putText(
            img,
            f"{inst.score:.2f} tip {inst.tip_score:.2f}",
            (x1 + 2, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * t,
            (0, 255, 0),
            t,
        )
        if inst.tip is not None:
            c = (int(round(inst.tip[0])), int(round(inst.tip[1])))
            if inst.tip_visible:
                cv2.circle(img, c, 5 * t, (255, 255, 0), -1)
                cv2.circle(img, c, 5 * t, (0, 0, 0), 1)
            else:
                cv2.circle(img, c, 5 * t, (160, 160, 160), t)
    if label:
        cv2.putText(img, label, (6, 18 * t), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * t, (255, 255, 255), t)
    return img


def sheet(tiles: list[np.ndarray], columns: int, tile_w: int = 320) -> np.ndarray:
    import cv2

    resized = [cv2.resize(t, (tile_w, int(round(t.shape[0] * tile_w / t.shape[1])))) for t in tiles]
    th = max(t.shape[0] for t in resized)
    resized = [np.pad(t, ((0, th - t.shape[0]), (0, 0), (0, 0))) for t in resized]
    while len(resized) % columns:
        resized.append(np.zeros_like(resized[0]))
    rows = [np.hstack(resized[i : i + columns]) for i in range(0, len(resized), columns)]
    return np.vstack(rows)


def _save(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1])
    print(f"wrote {path}")


def _fold_manifest(fold: int) -> Path:
    """Export a fold model beside a copy of the bundled manifest, so its overlays go through the
    app's own loader and wrapper with the bundled thresholds."""
    folder = fold_dir(fold)
    onnx_path = folder / "scrubline-vision.onnx"
    if not onnx_path.is_file():
        export_onnx(load_trained(folder / "model.pt"), onnx_path)
    manifest = folder / "scrubline-vision.toml"
    manifest.write_text(MANIFEST_PATH.read_text().replace('card = "scrubline-vision.md"\n', ""))
    return manifest


def render(data: Path, out: Path = RUNS / "overlays", frames_per_clip: int = 8) -> None:
    import cv2
    from models.train.vision_data import _decode_video, cholec_clips

    from scrubline.core.models import load_manifest, load_model

    bundled = load_manifest(MANIFEST_PATH)
    thr = bundled.threshold("bleeding", 0.5)
    model = load_model(bundled, threads=THREADS)

    def run(m, frame):
        resized = cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
        return m.predict([resized], (frame.shape[1], frame.shape[0]))[0]

    # cholec80: no instrument labels were used from these clips, so for instruments they are
    # unseen surgeries (their frames did train the bleeding head).
    by_group: dict[str, list[np.ndarray]] = {}
    for clip in cholec_clips(data):
        frames = list(_decode_video(clip))
        picks = np.linspace(0, len(frames) - 1, frames_per_clip).round().astype(int)
        for i in picks:
            label = f"{clip.parent.name} {clip.stem[:14]} t={i / 25:.1f}s"
            by_group.setdefault(clip.parent.name, []).append(
                draw(frames[i], run(model, frames[i]), thr, label)
            )
    for group, tiles in by_group.items():
        _save(out / f"cholec_{group}.png", sheet(tiles, 4))

    # EndoVis robotic and rigid: each drawn by the fold model that never saw it.
    robotic, rigid = [], []
    for fold in FOLDS:
        if not (fold_dir(fold) / "model.pt").is_file():
            print(
                f"fold {fold} has no trained model yet (run --evaluate): no held-out EndoVis overlays"
            )
            continue
        fm = load_model(load_manifest(_fold_manifest(fold)), threads=THREADS)
        frames = list(
            _decode_video(data / "endovis15" / "robotic_testing" / f"Dataset{fold}" / "Video.avi")
        )
        for i in np.linspace(0, len(frames) - 1, 6).round().astype(int):
            robotic.append(
                draw(frames[i], run(fm, frames[i]), thr, f"Dataset{fold} f{i} (held out)")
            )
        for n in (3, 11, 19, 27, 35):
            raw = cv2.imread(
                str(
                    data
                    / "endovis15"
                    / "rigid_training"
                    / f"OP{fold}"
                    / "Raw"
                    / f"img_{n:02d}_raw.png"
                )
            )[..., ::-1]
            rigid.append(draw(raw, run(fm, raw), thr, f"OP{fold} img {n} (held out)"))
    if robotic:
        _save(out / "endovis_robotic_heldout.png", sheet(robotic, 6))
        _save(out / "endovis_rigid_heldout.png", sheet(rigid, 5))

    lap = sorted((data / "laparoscopic_frames").glob("*.jpg"))
    tiles = []
    for p in lap[::5]:
        raw = cv2.imread(str(p))[..., ::-1]
        tiles.append(draw(raw, run(model, raw), thr, p.stem[:11]))
    _save(out / "laparoscopic_frames.png", sheet(tiles, 6))
    sample = data / "endovis17_sample" / "short_source.mp4"
    if sample.is_file():
        frames = list(_decode_video(sample))
        tiles = [
            draw(f, run(model, f), thr, f"endovis17 f{i}")
            for i, f in enumerate(frames)
            if i % 4 == 0
        ]
        _save(out / "endovis17_sample.png", sheet(tiles, 5))


def render_bleeding_differences(
    samples: list[Sample],
    maps: dict[str, np.ndarray],
    threshold: float,
    out: Path = RUNS / "overlays",
    count: int = 12,
) -> None:
    """Held-out frames where the plain HSV rule and the learned head disagree most, side by side:
    frame | HSV baseline (cyan) | refined pseudo-mask (green) | learned head (red)."""
    import cv2

    scored = []
    for s in samples:
        if s.name not in maps:
            continue
        pred = maps[s.name][2].astype(np.float32) >= threshold
        scored.append((float((pred ^ s.hsv_out).mean()), s, pred))
    scored.sort(key=lambda x: -x[0])
    # at most two frames per group, so the sheet shows several videos
    seen: dict[str, int] = {}
    rows = []
    for diff, s, pred in scored:
        if seen.get(s.group, 0) >= 2:
            continue
        seen[s.group] = seen.get(s.group, 0) + 1
        base = s.input.copy()
        panels = [base]
        for mask, colour in (
            (s.hsv_out, (0, 255, 255)),
            (s.bleed_out, (0, 255, 0)),
            (pred, (255, 0, 0)),
        ):
            m = (
                cv2.resize(
                    mask.astype(np.uint8), (INPUT_W, INPUT_H), interpolation=cv2.INTER_NEAREST
                )
                > 0
            )
            p = base.copy()
            p[m] = (0.4 * p[m] + 0.6 * np.array(colour)).astype(np.uint8)
            panels.append(p)
        cv2.putText(
            panels[0],
            f"{s.name[:26]} diff {diff:.2f}",
            (4, 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
        )
        rows.append(np.hstack(panels))
        if len(rows) >= count:
            break
    _save(out / "bleeding_differences.png", np.vstack(rows))


def render_all(data: Path, fold_steps: int) -> None:
    """The --render command: the contact sheets, and the bleeding disagreements when the
    out-of-fold maps of --evaluate exist."""
    import json

    from models.train.vision_data import load_samples

    render(data)
    maps_path = RUNS / "eval" / f"oof_{fold_steps}.npz"
    if maps_path.is_file():
        samples = load_samples(data)
        thr = json.loads((RUNS / "eval" / "metrics.json").read_text())["thresholds"]["bleeding"]
        render_bleeding_differences(samples, dict(np.load(maps_path)), thr)
