"""The blood-present gate: a small CNN that says whether a frame shows blood at all, trained and
evaluated on the eye-made labels in `models/train/labels/` (split by video), and exported as the
bundled `bleeding-gate` classifier.

Why a gate: the vision network's bleeding head (and the HSV rule before it) marks saturated red
pixels, and in laparoscopy much red is tissue: liver, vessels on fat, inflamed mucosa. On frames
without blood any mask is a false alarm, and those frames are most frames. A frame-level decision
learned from real labels removes those masks (the app clears the mask and area of a frame the
gate rejects: `FrameResult.gate_bleeding`), while the mask itself still comes from whichever
model draws it. The gate reads the image only, so it does not depend on the vision network's
version.

    PYTHONPATH=app:. python -m models.train.bleeding_gate --cache      # frames + maps -> .work
    PYTHONPATH=app:. python -m models.train.bleeding_gate --evaluate   # out-of-fold metrics
    PYTHONPATH=app:. python -m models.train.bleeding_gate --train --export --write-manifest
    PYTHONPATH=app:. python -m models.train.bleeding_gate --label-summary

Metrics (written to the manifest and the card): frame-level sensitivity, specificity, accuracy
and AUROC of blood present vs none; Dice of the masks against the polygons on frames with blood,
for the HSV baseline, the vision head alone and the head behind the gate. Intervals are 95%
bootstrap intervals over videos (1,000 resamples).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from models.train.bleeding_labels import (
    FRAMES_CSV,
    ROOT,
    WORK,
    FrameRef,
    default_data_dir,
    load_frame,
    read_polygons,
)

GATE_W, GATE_H = 128, 96
MAP_W, MAP_H = 128, 96
CACHE = WORK / "cache.npz"
RUNS = WORK / "gate"
SEED = 0
FOLDS = 5
GATE_THRESHOLD = 0.5
AREA_RULE = 0.03  # the timeline's bleeding area threshold: a frame "bleeds" at >= 3% of the frame
MODEL_ID = "bleeding-gate"


# ------------------------------------------------------------------------------------- data
def labelled_frames() -> list[tuple[FrameRef, str]]:
    import csv

    with FRAMES_CSV.open(newline="") as f:
        return [
            (
                FrameRef(
                    r["frame_id"],
                    r["source"],
                    r["video"],
                    r["path"],
                    int(r["index"]),
                    r["sampling"],
                ),
                r["label"],
            )
            for r in csv.DictReader(f)
        ]


def polygon_mask(polygons: list[list[list[float]]], width: int, height: int) -> np.ndarray:
    import cv2

    mask = np.zeros((height, width), np.uint8)
    for poly in polygons:
        pts = np.array([[x * width, y * height] for x, y in poly], np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask


def run_onnx(manifest_path: Path, inputs: list[np.ndarray]) -> np.ndarray:
    """The bleeding map of a bundled segmenter for RGB inputs at its input size."""
    from scrubline.core.models.manifest import load_manifest
    from scrubline.core.models.wrappers import Segmenter

    model = Segmenter(load_manifest(manifest_path), threads=1)
    out = []
    for k in range(0, len(inputs), 16):
        maps = model._run(model.to_tensor(inputs[k : k + 16]))
        out.append(maps["bleeding_mask"][:, 0])
    return np.concatenate(out)


def build_cache(data: Path) -> None:
    import cv2

    frames = labelled_frames()
    polygons = read_polygons()
    gate_in, vision_in, gt = [], [], []
    for ref, _label in frames:
        rgb = load_frame(data, ref)
        gate_in.append(cv2.resize(rgb, (GATE_W, GATE_H), interpolation=cv2.INTER_AREA))
        vision_in.append(cv2.resize(rgb, (256, 192), interpolation=cv2.INTER_AREA))
        gt.append(polygon_mask(polygons.get(ref.frame_id, []), MAP_W, MAP_H))
    head = run_onnx(ROOT / "models" / "scrubline-vision.toml", vision_in)
    hsv = run_onnx(ROOT / "models" / "bleeding-hsv.toml", vision_in)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        CACHE,
        frame_id=np.array([r.frame_id for r, _ in frames]),
        video=np.array([r.video for r, _ in frames]),
        source=np.array([r.source for r, _ in frames]),
        sampling=np.array([r.sampling for r, _ in frames]),
        label=np.array([lab for _, lab in frames]),
        gate_in=np.stack(gate_in),
        head=head.astype(np.float16),
        hsv=hsv.astype(np.float16),
        gt=np.stack(gt),
    )
    print(f"cached {len(frames)} frames -> {CACHE}")


def load_cache() -> dict[str, np.ndarray]:
    raw = np.load(CACHE)
    keep = raw["label"] != "unsure"
    return {k: raw[k][keep] for k in raw.files}


# ------------------------------------------------------------------------------------ model
HEAD_THRESHOLD = 0.2  # the vision network's own bleeding threshold (its manifest)
PIXEL_C, GATE_C = 1.0, 0.1
PIXELS_PER_FRAME = 400  # sampled per training frame for the pixel model
REFINED_THRESHOLD = 0.3


def make_modules():  # type: ignore[no-untyped-def]
    import torch
    from torch import nn
    from torch.nn import functional as fn

    class PixelFeatures(nn.Module):
        """Per-pixel features for the mask refinement, at the map's resolution: the head's
        probability and its neighbourhood (means over 5 and 15 pixels, max over 9), the
        pixel's colour (R, G, B, value, saturation, G/R, B/R, red-centred hue), the colour of
        its neighbourhood, and how much redder it is than the frame's average (blood is redder
        than the tissue around it). image: (N,3,96,128) 0..1; head: (N,1,96,128)."""

        def forward(self, image: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
            r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
            v = torch.maximum(torch.maximum(r, g), b)
            mn = torch.minimum(torch.minimum(r, g), b)
            chroma = v - mn
            s = chroma / (v + 1e-4)
            gr = (g / (r + 1e-4)).clamp(0.0, 2.0)
            br = (b / (r + 1e-4)).clamp(0.0, 2.0)
            hue = (60.0 * (g - b) / (chroma + 1e-4)).clamp(-60.0, 60.0) / 60.0

            def mean(x: torch.Tensor, k: int) -> torch.Tensor:
                return fn.avg_pool2d(x, k, 1, k // 2, count_include_pad=False)

            head5, head15 = mean(head, 5), mean(head, 15)
            head_max = fn.max_pool2d(head, 9, 1, 4)
            relative = gr - gr.mean(dim=(2, 3), keepdim=True)
            return torch.cat(
                [
                    head,
                    head5,
                    head15,
                    head_max,
                    r,
                    g,
                    b,
                    v,
                    s,
                    gr,
                    br,
                    hue,
                    mean(gr, 9),
                    mean(v, 9),
                    relative,
                    torch.sqrt(head + 1e-6),
                    torch.sqrt(head15 + 1e-6),
                ],
                dim=1,
            )

    class FrameStats(nn.Module):
        """Frame-level statistics of the head's map (N,1,H,W) -> (N,7), square-rooted: the
        area at the head's threshold, at 0.5 and at 0.1, the largest and the mean
        probability, and the 99th and 95th percentiles (via top-k, which ONNX has)."""

        def forward(self, head: torch.Tensor) -> torch.Tensor:
            flat = head.flatten(1)
            n = MAP_W * MAP_H  # a constant, so the exported graph has fixed top-k sizes
            top = torch.topk(flat, round(0.05 * n), dim=1).values
            stats = torch.stack(
                [
                    (flat >= HEAD_THRESHOLD).float().mean(1),
                    (flat >= 0.5).float().mean(1),
                    (flat >= 0.1).float().mean(1),
                    flat.amax(1),
                    flat.mean(1),
                    top[:, round(0.01 * n) - 1],
                    top[:, -1],
                ],
                dim=1,
            )
            return torch.sqrt(stats.clamp(min=0.0) + 1e-6)

    return PixelFeatures(), FrameStats()


def pixel_features(images: np.ndarray, head: np.ndarray) -> np.ndarray:
    """uint8 (N,96,128,3), float (N,96,128) -> (N, K, 96, 128)."""
    import torch

    pixel, _ = make_modules()
    out = []
    with torch.no_grad():
        for k in range(0, len(images), 32):
            img = torch.from_numpy(
                images[k : k + 32].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
            )
            hm = torch.from_numpy(head[k : k + 32].astype(np.float32))[:, None]
            out.append(pixel(img, hm).numpy())
    return np.concatenate(out)


def frame_stats(head: np.ndarray) -> np.ndarray:
    import torch

    _, stats = make_modules()
    with torch.no_grad():
        return stats(torch.from_numpy(head.astype(np.float32))[:, None]).numpy()


def fit_pixel_model(feats: np.ndarray, gt: np.ndarray, seed: int = SEED):  # type: ignore[no-untyped-def]
    """Logistic regression per pixel on pixels sampled from every training frame (frames
    without blood give only negatives)."""
    rng = np.random.default_rng(seed)
    k = feats.shape[1]
    xs, ys = [], []
    for f, m in zip(feats, gt, strict=True):
        idx = rng.choice(m.size, PIXELS_PER_FRAME, replace=False)
        xs.append(f.reshape(k, -1)[:, idx].T)
        ys.append(m.reshape(-1)[idx])
    return fit_classifier(np.concatenate(xs), np.concatenate(ys), PIXEL_C, balanced=False)


def apply_pixel_model(model, feats: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    k = feats.shape[1]
    return np.stack(
        [model.predict_proba(f.reshape(k, -1).T)[:, 1].reshape(f.shape[1:]) for f in feats]
    ).astype(np.float32)


def fit_classifier(x: np.ndarray, y: np.ndarray, c: float = 0.1, balanced: bool = True):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=5000),
    ).fit(x, y)


def folds_by_video(videos: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    fold = np.zeros(len(videos), int)
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups=videos)):
        fold[test] = k
    return fold


# ---------------------------------------------------------------------------------- metrics
def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    inter = float((pred & gt).sum())
    total = float(pred.sum() + gt.sum())
    return 2.0 * inter / total if total else 1.0


def frame_metrics(score: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    pred = score >= threshold
    tp = float((pred & y).sum())
    tn = float((~pred & ~y).sum())
    out = {
        "sensitivity": tp / max(1, y.sum()),
        "specificity": tn / max(1, (~y).sum()),
        "accuracy": (tp + tn) / len(y),
    }
    if 0 < y.sum() < len(y):
        from sklearn.metrics import roc_auc_score

        out["auroc"] = float(roc_auc_score(y, score))
    return out


def bootstrap(videos: np.ndarray, fn, n: int = 1000, seed: int = SEED) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """95% percentile interval of fn(index array) over videos drawn with replacement."""
    rng = np.random.default_rng(seed)
    unique = np.unique(videos)
    members = {v: np.nonzero(videos == v)[0] for v in unique}
    values = []
    for _ in range(n):
        pick = rng.choice(unique, size=len(unique), replace=True)
        idx = np.concatenate([members[v] for v in pick])
        value = fn(idx)
        if value is not None and np.isfinite(value):
            values.append(value)
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def masks(
    c: dict[str, np.ndarray], gate_score: np.ndarray, refined: np.ndarray
) -> dict[str, np.ndarray]:
    keep = (gate_score >= GATE_THRESHOLD)[:, None, None]
    head = c["head"].astype(np.float32) >= HEAD_THRESHOLD
    hsv = c["hsv"].astype(np.float32) >= 0.5
    mine = refined >= REFINED_THRESHOLD
    return {
        "hsv": hsv,
        "head": head,
        "refined": mine,
        "gated_head": head & keep,
        "gated_refined": mine & keep,
    }


def evaluate(c: dict[str, np.ndarray], gate_score: np.ndarray, refined: np.ndarray) -> dict:
    y = np.isin(c["label"], ["active", "pooled"])
    videos = c["video"]
    gt = c["gt"].astype(bool)
    result: dict = {
        "frames": int(len(y)),
        "blood_frames": int(y.sum()),
        "videos": int(len(np.unique(videos))),
    }
    m = masks(c, gate_score, refined)
    area = {name: mk.mean(axis=(1, 2)) for name, mk in m.items()}
    scores = {
        "gate": (gate_score, GATE_THRESHOLD),
        "hsv_area": (area["hsv"], AREA_RULE),
        "head_area": (area["head"], AREA_RULE),
        "gated_refined_area": (area["gated_refined"], AREA_RULE),
    }
    for name, (score, thr) in scores.items():
        point = frame_metrics(score, y, thr)
        for key, value in point.items():
            lo, hi = bootstrap(
                videos, lambda idx, s=score, t=thr, k=key: frame_metrics(s[idx], y[idx], t).get(k)
            )
            result[f"{name}_{key}"] = round(value, 4)
            result[f"{name}_{key}_ci95"] = [round(lo, 4), round(hi, 4)]
    blood = np.nonzero(y)[0]
    for name, mk in m.items():
        per_frame = np.array([dice(mk[i], gt[i]) for i in range(len(y))])

        def mean_dice(idx: np.ndarray, pf: np.ndarray = per_frame) -> float | None:
            sel = idx[y[idx]]
            return float(pf[sel].mean()) if len(sel) else None

        result[f"{name}_dice"] = round(float(per_frame[blood].mean()), 4)
        result[f"{name}_dice_ci95"] = [round(v, 4) for v in bootstrap(videos, mean_dice)]
        result[f"{name}_dice_median"] = round(float(np.median(per_frame[blood])), 4)
        result[f"{name}_dice_pooled"] = round(dice(mk[blood], gt[blood]), 4)
        result[f"{name}_area_on_none"] = round(float(mk[~y].mean()), 4)
        result[f"{name}_area_on_blood"] = round(float(mk[y].mean()), 4)
        result[f"{name}_none_frames_marked"] = int((mk[~y].mean(axis=(1, 2)) > 0).sum())
    result["none_frames"] = int((~y).sum())
    result["polygon_area_on_blood"] = round(float(gt[y].mean()), 4)
    random = c["sampling"] == "random"
    rp = frame_metrics(gate_score[random], y[random], GATE_THRESHOLD)
    result.update({f"gate_random_{k}": round(v, 4) for k, v in rp.items()})
    result["random_frames"] = int(random.sum())
    result["random_blood_frames"] = int(y[random].sum())
    for source in np.unique(c["source"]):
        sel = c["source"] == source
        if y[sel].any() and (~y[sel]).any():
            sp = frame_metrics(gate_score[sel], y[sel], GATE_THRESHOLD)
            result[f"gate_{source}_sensitivity"] = round(sp["sensitivity"], 4)
            result[f"gate_{source}_specificity"] = round(sp["specificity"], 4)
    return result


def run_evaluate(log=print) -> dict:
    """Five folds by video (stratified by blood present): each fold's pixel model and gate
    are fitted on the other folds' frames only."""
    c = load_cache()
    y = np.isin(c["label"], ["active", "pooled"])
    gt = c["gt"].astype(bool)
    head = c["head"].astype(np.float32)
    feats = pixel_features(c["gate_in"], head)
    stats = frame_stats(head)
    fold = folds_by_video(c["video"], y)
    gate = np.zeros(len(y))
    refined = np.zeros(head.shape, np.float32)
    for k in range(FOLDS):
        test = fold == k
        pixel_model = fit_pixel_model(feats[~test], gt[~test], seed=SEED + k)
        refined[test] = apply_pixel_model(pixel_model, feats[test])
        gate[test] = fit_classifier(stats[~test], y[~test], GATE_C).predict_proba(stats[test])[:, 1]
        log(f"fold {k + 1}: test videos {', '.join(sorted(set(c['video'][test])))}")
    RUNS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        RUNS / "oof.npz",
        frame_id=c["frame_id"],
        gate=gate,
        fold=fold,
        refined=refined.astype(np.float16),
    )
    result = evaluate(c, gate, refined)
    (RUNS / "metrics.json").write_text(json.dumps(result, indent=1))
    log(json.dumps({k: v for k, v in result.items() if not k.endswith("_ci95")}, indent=1))
    return result


# ----------------------------------------------------------------------------------- export
def run_train_export(log=print) -> Path:
    """Fit both parts on every labelled frame and export one ONNX graph: a frozen copy of the
    bundled vision network (only its bleeding map is used), then the refinement and the gate.
    image (N,3,192,256) -> bleeding (N,1,96,128) refined probability, blood_present (N,1)."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import compose, helper

    c = load_cache()
    y = np.isin(c["label"], ["active", "pooled"])
    gt = c["gt"].astype(bool)
    head = c["head"].astype(np.float32)
    feats = pixel_features(c["gate_in"], head)
    pixel_model = fit_pixel_model(feats, gt)
    gate_model = fit_classifier(frame_stats(head), y, GATE_C)

    def folded(pipe):  # type: ignore[no-untyped-def]
        scaler, lr = pipe[0], pipe[-1]
        weight = lr.coef_[0] / scaler.scale_
        bias = float(lr.intercept_[0] - (lr.coef_[0] * scaler.mean_ / scaler.scale_).sum())
        return torch.tensor(weight, dtype=torch.float32), bias

    pw, pb = folded(pixel_model)
    gw, gb = folded(gate_model)

    class Refine(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pixel, self.stats = make_modules()
            self.pixel_linear = torch.nn.Conv2d(len(pw), 1, 1)
            self.gate_linear = torch.nn.Linear(len(gw), 1)
            with torch.no_grad():
                self.pixel_linear.weight.copy_(pw.view(1, -1, 1, 1))
                self.pixel_linear.bias.fill_(pb)
                self.gate_linear.weight.copy_(gw[None])
                self.gate_linear.bias.fill_(gb)

        def forward(self, image: torch.Tensor, head_map: torch.Tensor):  # type: ignore[no-untyped-def]
            small = torch.nn.functional.avg_pool2d(image, 2)  # 256x192 -> the map's 128x96
            refined = torch.sigmoid(self.pixel_linear(self.pixel(small, head_map)))
            present = torch.sigmoid(self.gate_linear(self.stats(head_map)))
            return refined, present

    RUNS.mkdir(parents=True, exist_ok=True)
    part = RUNS / "refine_part.onnx"
    torch.onnx.export(
        Refine().eval(),
        (torch.zeros(1, 3, 192, 256), torch.zeros(1, 1, MAP_H, MAP_W)),
        str(part),
        input_names=["image_in", "head_map"],
        output_names=["bleeding", "blood_present"],
        dynamic_axes={
            "image_in": {0: "N"},
            "head_map": {0: "N"},
            "bleeding": {0: "N"},
            "blood_present": {0: "N"},
        },
        opset_version=17,
        dynamo=False,
    )
    vision = onnx.load(str(ROOT / "models" / "scrubline-vision.onnx"))
    # Expose the image to the second graph as an output of the first (one graph input).
    vision.graph.node.append(helper.make_node("Identity", ["image"], ["image_passthrough"]))
    vision.graph.output.append(
        helper.make_tensor_value_info(
            "image_passthrough", onnx.TensorProto.FLOAT, ["N", 3, 192, 256]
        )
    )
    second = onnx.load(str(part))
    second = compose.add_prefix(second, "gate_")
    merged = compose.merge_models(
        vision,
        second,
        io_map=[("bleeding", "gate_head_map"), ("image_passthrough", "gate_image_in")],
        outputs=["gate_bleeding", "gate_blood_present"],
    )
    names = {"gate_bleeding": "blood_mask", "gate_blood_present": "blood_present"}
    for node in merged.graph.node:
        node.output[:] = [names.get(o, o) for o in node.output]
    for out in merged.graph.output:
        out.name = names[out.name]
    # Drop what the two outputs do not need (the vision network's instrument and tip heads).
    needed = {o.name for o in merged.graph.output}
    keep = []
    for node in reversed(list(merged.graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    del merged.graph.node[:]
    merged.graph.node.extend(reversed(keep))
    used = {i for n in merged.graph.node for i in n.input}
    inits = [t for t in merged.graph.initializer if t.name in used]
    del merged.graph.initializer[:]
    merged.graph.initializer.extend(inits)
    del merged.graph.value_info[:]
    merged = onnx.shape_inference.infer_shapes(merged)
    onnx.checker.check_model(merged)
    out_path = ROOT / "models" / f"{MODEL_ID}.onnx"
    onnx.save(merged, str(out_path))
    # The graph must give what the fitted models give.
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    import cv2

    frames = [cv2.resize(img, (256, 192)) for img in c["gate_in"][:12]]
    tensor = np.stack(frames).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    refined_onnx, present_onnx = session.run(None, {"image": tensor})
    head_onnx = run_onnx(ROOT / "models" / "scrubline-vision.toml", frames)
    want_present = gate_model.predict_proba(frame_stats(head_onnx))[:, 1]
    assert np.allclose(present_onnx[:, 0], want_present, atol=1e-3), (
        present_onnx[:, 0],
        want_present,
    )
    log(f"exported {out_path} ({out_path.stat().st_size / 1024:.0f} KiB)")
    return out_path


def render(data: Path, log=print) -> list[Path]:
    """Contact sheets (under .work/, never committed) of the bleeding drawn by the app's own
    default analysis (`ImageModels` over the registry's default models, `draw_overlays`) against
    the vision head's mask alone, on 8 frames of every shared cholecystectomy clip and of the
    synthetic demo: row pairs per clip, top = vision head alone, bottom = the default analysis."""
    import cv2

    from scrubline.core.analysis import AnalysisSettings, ImageModels
    from scrubline.core.demo import demo_frame_drawer
    from scrubline.core.models.registry import load_registry
    from scrubline.core.overlay import draw_overlays

    registry = load_registry()
    default = ImageModels(registry.frame_models(), AnalysisSettings(threads=1))
    head_only = ImageModels([registry.get("scrubline-vision")], AnalysisSettings(threads=1))
    clips: list[tuple[str, list[np.ndarray]]] = []
    for clip in sorted((data / "cholec80_clips").glob("g*/*.mp4")):
        from models.train.bleeding_labels import read_video

        frames = read_video(clip)
        picks = np.linspace(12, len(frames) - 13, 8).astype(int)
        clips.append((f"{clip.parent.name}/{clip.stem}", [frames[i] for i in picks]))
    drawer = demo_frame_drawer(854, 480)
    clips.append(("demo", [drawer(int(t * 25), t) for t in (2, 9, 12, 14, 18, 22, 45, 55)]))
    out_dir = WORK / "render"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    tw, th = 320, 180
    for name, frames in clips:
        rows = []
        for analyzer in (head_only, default):
            tiles = []
            for k, rgb in enumerate(frames):
                sizes = {
                    size: cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                    for size in analyzer.sizes
                }
                (result,) = analyzer.run([(k, 0.0, sizes)], (rgb.shape[1], rgb.shape[0]))
                drawn = draw_overlays(rgb, result, boxes=False, tips=False, badge=False)
                tile = cv2.resize(drawn, (tw, th), interpolation=cv2.INTER_AREA)
                gate = result.scores.get("bleeding-gate:blood_present")
                if gate is not None:
                    cv2.putText(
                        tile,
                        f"gate {gate:.2f}",
                        (4, th - 8),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.5,
                        (255, 255, 0),
                        1,
                    )
                tiles.append(tile)
            rows.append(np.hstack(tiles))
        sheet = np.vstack(rows)
        path = out_dir / (name.replace("/", "_") + ".png")
        cv2.imwrite(str(path), sheet[..., ::-1])
        written.append(path)
        log(str(path))
    return written


def label_summary() -> None:
    import collections

    frames = labelled_frames()
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    videos: dict[str, set] = collections.defaultdict(set)
    for ref, label in frames:
        table[ref.source][label] += 1
        videos[ref.source].add(ref.video)
    for source, counts in table.items():
        print(source, len(videos[source]), sum(counts.values()), dict(counts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--label-summary", action="store_true")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args(argv)
    if args.label_summary:
        label_summary()
    if args.cache:
        build_cache(args.data or default_data_dir())
    if args.evaluate:
        run_evaluate()
    if args.train:
        run_train_export()
    if args.render:
        render(args.data or default_data_dir())


if __name__ == "__main__":
    main()
