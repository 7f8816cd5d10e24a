"""Tool instances to label by eye for tip (working-end) visibility, and the crop sheets to
label them on.

Why: the vision network's tip map had only been validated on EndoVis crops with 5 negative
frames. Real cholecystectomy instances, each labelled by a person looking at it (visible /
hidden behind tissue / out of the frame), are what the "TIP HIDDEN" badge must be validated on.

Sources (read from the shared data folder, never copied into the repository):

* m2cai16_tool_locations: PASCAL-VOC boxes with the Cholec80 tool class; instances are drawn
  at random, stratified by class and spread over the 8 videos (one instance per frame, frames
  of one video at least 8 s apart where the class allows).
* cholec80_clips: frames every 4 s of every clip; instances are the bundled network's boxes
  (no boxes exist for these clips); the labeller names the class (or "not a tool").
* EndoVis 2015 rigid: frames of the 4 operations; instances are the connected components of
  the ground-truth instrument mask.

`python -m models.train.tip_labels --sample` writes `.work/tips/instances.csv` (the candidate
list, seeded); `--sheets` draws numbered crop sheets into `.work/tips/sheets/` (git-ignored:
pictures derived from the data are never committed). The labels, written by eye from the
sheets, live in `models/train/labels/tip_visibility.csv` (see the README there).
"""

from __future__ import annotations

import argparse
import csv
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".work" / "tips"
LABELS = REPO / "models" / "train" / "labels" / "tip_visibility.csv"
CLASSES = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag")
PER_CLASS = {"Grasper": 60, "SpecimenBag": 25}  # others: DEFAULT_PER_CLASS
DEFAULT_PER_CLASS = 40
CLIP_STEP_S = 4.0
SEED = 14


def data_root() -> Path:
    return Path(os.environ.get("SCRUBLINE_DATA", REPO.parent / "shared" / "data"))


@dataclass
class Candidate:
    id: str
    source: str  # m2cai16 | cholec80 | endovis15_rigid
    video: str  # the split unit: m2cai video, cholec80 surgery, EndoVis operation
    image: str  # path relative to the data root; for clips "path@seconds"
    tool_class: str  # from the source's box label; "" when the labeller names it
    x1: float
    y1: float
    x2: float
    y2: float


FIELDS = ("id", "source", "video", "image", "tool_class", "x1", "y1", "x2", "y2")


EXTRA_PER_CLASS = {"Grasper": 100, "Clipper": 50}  # second batch: more hidden tips to judge
EXTRA_SEED = 15


def _m2cai(
    rng: np.random.Generator,
    per_class: dict[str, int] | None = None,
    exclude: set[str] | None = None,
    spacing_s: float = 8.0,
) -> list[Candidate]:
    root = data_root() / "m2cai16_tool_locations"
    by_class: dict[str, list[tuple[str, str, tuple[float, ...]]]] = {c: [] for c in CLASSES}
    for xml in sorted((root / "Annotations").glob("*.xml")):
        tree = ET.parse(xml)
        for obj in tree.getroot().iter("object"):
            name = obj.findtext("name") or ""
            box = obj.find("bndbox")
            if name not in by_class or box is None:
                continue
            coords = tuple(float(box.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
            by_class[name].append((xml.stem, name, coords))
    chosen: list[Candidate] = []
    used_frames: set[str] = set(exclude or ())
    for name in CLASSES:
        pool = by_class[name]
        order = rng.permutation(len(pool))
        want = (
            per_class.get(name, 0)
            if per_class is not None
            else PER_CLASS.get(name, DEFAULT_PER_CLASS)
        )
        if want == 0:
            continue
        # Round-robin over videos so every video contributes; frames of one video 8 s apart.
        per_video: dict[str, list[tuple[str, str, tuple[float, ...]]]] = {}
        for i in order:
            per_video.setdefault(pool[i][0][:3], []).append(pool[i])
        taken: dict[str, list[int]] = {}
        picked: list[tuple[str, str, tuple[float, ...]]] = []
        while len(picked) < want and any(per_video.values()):
            for video in sorted(per_video):
                items = per_video[video]
                while items:
                    stem, label, coords = items.pop()
                    frame = int(stem.split("_")[1])
                    if stem in used_frames or any(
                        abs(frame - f) < 25 * spacing_s for f in taken.get(video, [])
                    ):
                        continue
                    taken.setdefault(video, []).append(frame)
                    used_frames.add(stem)
                    picked.append((stem, label, coords))
                    break
                if len(picked) >= want:
                    break
        for stem, label, coords in picked:
            chosen.append(
                Candidate(
                    id="",
                    source="m2cai16",
                    video=stem[:3],
                    image=f"m2cai16_tool_locations/JPEGImages/{stem}.jpg",
                    tool_class=label,
                    x1=coords[0],
                    y1=coords[1],
                    x2=coords[2],
                    y2=coords[3],
                )
            )
    return chosen


def _network_boxes(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    from scrubline.core.models.registry import load_registry
    from scrubline.core.models.wrappers import load_model

    global _SEGMENTER
    if _SEGMENTER is None:
        _SEGMENTER = load_model(load_registry().get("scrubline-vision"))
    import cv2

    model = _SEGMENTER
    resized = cv2.resize(rgb, model.input_size, interpolation=cv2.INTER_AREA)
    result = model.predict([resized], (rgb.shape[1], rgb.shape[0]))[0]
    return [inst.box for inst in result.instruments]


_SEGMENTER = None


def read_clip_frame(path: Path, seconds: float) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(str(path))
    # Decoding forward from the start is frame-exact (seeking is not, for many codecs).
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    target = int(round(seconds * fps))
    frame = None
    for _ in range(target + 1):
        ok, frame = capture.read()
        if not ok:
            break
    capture.release()
    if frame is None:
        raise ValueError(f"{path}: no frame at {seconds} s")
    return frame[..., ::-1].copy()


def _cholec(rng: np.random.Generator) -> list[Candidate]:
    import av

    root = data_root()
    chosen: list[Candidate] = []
    for clip in sorted((root / "cholec80_clips").glob("g*/*.mp4")):
        name = clip.stem
        parts = name.split("_")
        video = parts[0] if name.endswith("_a") else parts[3]
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            duration = float(stream.duration * stream.time_base) if stream.duration else 32.0
            wanted = list(np.arange(1.0, duration - 0.5, CLIP_STEP_S))
            at = 0
            for frame in container.decode(stream):
                if at >= len(wanted):
                    break
                t = float(frame.pts * stream.time_base)
                if t + 1e-6 < wanted[at]:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                mean = float(rgb.mean())
                if mean > 12:  # black frames at the end of some clips
                    for box in _network_boxes(rgb):
                        chosen.append(
                            Candidate(
                                "",
                                "cholec80",
                                video,
                                f"{clip.relative_to(root)}@{wanted[at]:.2f}",
                                "",
                                *box,
                            )
                        )
                at += 1
    return chosen


def _endovis() -> list[Candidate]:
    import cv2

    root = data_root()
    chosen: list[Candidate] = []
    for op in range(1, 5):
        folder = root / "endovis15" / "rigid_training" / f"OP{op}"
        for index in (5, 15, 25, 35):
            mask = cv2.imread(str(folder / "Masks" / f"img_{index:02d}_instrument.png"), 0)
            if mask is None:
                continue
            count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8))
            for k in range(1, count):
                x, y, w, h, area = stats[k]
                if area < 0.002 * mask.size:
                    continue
                raw = next((folder / "Raw").glob(f"img_{index:02d}_raw.*"), None)
                if raw is None:
                    continue
                chosen.append(
                    Candidate(
                        "",
                        "endovis15_rigid",
                        f"OP{op}",
                        str(raw.relative_to(root)),
                        "",
                        float(x),
                        float(y),
                        float(x + w),
                        float(y + h),
                    )
                )
    return chosen


def sample() -> list[Candidate]:
    rng = np.random.default_rng(SEED)
    found = _m2cai(rng) + _cholec(rng) + _endovis()
    for number, cand in enumerate(found, 1):
        cand.id = f"t{number:03d}"
    return found


def source_box(source: str, image: str, obj: int) -> tuple[float, float, float, float]:
    """The box of object `obj` of a labelled frame, read from the data itself: the m2cai16
    annotation's `obj`-th object, or the EndoVis ground-truth mask's `obj`-th connected
    component (OpenCV's numbering). Only this index is kept in the labels file, not the box:
    the datasets' annotations are not ours to copy into the repository."""
    import cv2

    root = data_root()
    name = image.split(":", 1)[1]
    if source == "m2cai16":
        xml = root / "m2cai16_tool_locations" / "Annotations" / (Path(name).stem + ".xml")
        objects = list(ET.parse(xml).getroot().iter("object"))
        box = objects[obj].find("bndbox")
        if box is None:
            raise ValueError(f"{xml}: object {obj} has no box")
        return tuple(  # type: ignore[return-value]
            float(box.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax")
        )
    if source == "endovis15_rigid":
        op, _, raw = name.split("/")
        index = raw.split("_")[1]
        mask_path = (
            root / "endovis15" / "rigid_training" / op / "Masks" / f"img_{index}_instrument.png"
        )
        mask = cv2.imread(str(mask_path), 0)
        if mask is None:
            raise ValueError(f"{mask_path}: cannot be read")
        _, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8))
        x, y, w, h, _ = stats[obj]
        return float(x), float(y), float(x + w), float(y + h)
    raise ValueError(f"{source}: boxes of this source are in the labels file")


def sample_extra(existing: list[Candidate]) -> list[Candidate]:
    """The second batch: more m2cai16 instances of the classes whose hidden tips were too few
    to judge (same rules, another seed, frames of the first batch left out), numbered on."""
    used = {Path(c.image).stem for c in existing if c.source == "m2cai16"}
    found = _m2cai(np.random.default_rng(EXTRA_SEED), EXTRA_PER_CLASS, used, spacing_s=4.0)
    for number, cand in enumerate(found, len(existing) + 1):
        cand.id = f"t{number:03d}"
    return found


def write_candidates(found: list[Candidate], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FIELDS)
        for c in found:
            writer.writerow(
                [c.id, c.source, c.video, c.image, c.tool_class]
                + [f"{v:.1f}" for v in (c.x1, c.y1, c.x2, c.y2)]
            )


def read_candidates(path: Path) -> list[Candidate]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Candidate(
            r["id"],
            r["source"],
            r["video"],
            r["image"],
            r["tool_class"],
            float(r["x1"]),
            float(r["y1"]),
            float(r["x2"]),
            float(r["y2"]),
        )
        for r in rows
    ]


_FRAMES: dict[str, np.ndarray] = {}


def load_image(image: str) -> np.ndarray:
    """RGB frame for a candidate's `image` (a file, or `clip@seconds`)."""
    import cv2

    if image in _FRAMES:
        return _FRAMES[image]
    root = data_root()
    if "@" in image:
        path, seconds = image.rsplit("@", 1)
        rgb = read_clip_frame(root / path, float(seconds))
    else:
        bgr = cv2.imread(str(root / image))
        if bgr is None:
            raise ValueError(f"{root / image}: cannot be read")
        rgb = bgr[..., ::-1].copy()
    _FRAMES.clear()  # one frame at a time: candidates of one frame are consecutive
    _FRAMES[image] = rgb
    return rgb


def crop_cell(c: Candidate, cell: tuple[int, int] = (320, 240)) -> np.ndarray:
    """The instance's box with a margin (half its size, at least 40 px) on a dark blue field
    where the margin leaves the frame, so 'out of the frame' can be seen; box drawn thin."""
    import cv2

    rgb = load_image(c.image)
    h, w = rgb.shape[:2]
    bw, bh = c.x2 - c.x1, c.y2 - c.y1
    mx, my = max(40.0, 0.35 * bw), max(40.0, 0.35 * bh)
    x1, y1, x2, y2 = c.x1 - mx, c.y1 - my, c.x2 + mx, c.y2 + my
    # Keep the cell's aspect: grow the shorter side.
    aspect = cell[0] / cell[1]
    if (x2 - x1) / (y2 - y1) < aspect:
        grow = ((y2 - y1) * aspect - (x2 - x1)) / 2
        x1, x2 = x1 - grow, x2 + grow
    else:
        grow = ((x2 - x1) / aspect - (y2 - y1)) / 2
        y1, y2 = y1 - grow, y2 + grow
    pad = int(max(0, -x1, -y1, x2 - w, y2 - h)) + 2
    canvas = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(20, 30, 90))
    crop = canvas[int(y1) + pad : int(y2) + pad, int(x1) + pad : int(x2) + pad]
    scale = cell[0] / max(1, crop.shape[1])
    crop = cv2.resize(crop, cell, interpolation=cv2.INTER_AREA)
    p1 = (int((c.x1 - x1) * scale), int((c.y1 - y1) * scale))
    p2 = (int((c.x2 - x1) * scale), int((c.y2 - y1) * scale))
    cv2.rectangle(crop, p1, p2, (0, 255, 255), 1)
    return crop


def sheets(found: list[Candidate], out: Path, per_sheet: int = 12, cols: int = 4) -> None:
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    cell = (320, 240)
    for start in range(0, len(found), per_sheet):
        chunk = found[start : start + per_sheet]
        rows = (len(chunk) + cols - 1) // cols
        sheet = np.full((rows * (cell[1] + 22), cols * cell[0], 3), 255, np.uint8)
        for k, c in enumerate(chunk):
            r, q = divmod(k, cols)
            y, x = r * (cell[1] + 22), q * cell[0]
            sheet[y + 22 : y + 22 + cell[1], x : x + cell[0]] = crop_cell(c, cell)
            text = f"{c.id} {c.tool_class or '?'} {c.video}"
            cv2.putText(sheet, text, (x + 4, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
            cv2.rectangle(sheet, (x, y + 22), (x + cell[0] - 1, y + 22 + cell[1] - 1), (0, 0, 0), 1)
        name = out / f"sheet_{start // per_sheet + 1:02d}_{chunk[0].id}-{chunk[-1].id}.png"
        cv2.imwrite(str(name), sheet[..., ::-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", action="store_true")
    parser.add_argument("--sheets", action="store_true")
    parser.add_argument("--extra", action="store_true", help="append the second batch")
    args = parser.parse_args(argv)
    candidates = WORK / "instances.csv"
    if args.sample:
        found = sample()
        write_candidates(found, candidates)
        print(f"{len(found)} candidates -> {candidates}")
    if args.extra:
        existing = read_candidates(candidates)
        if any(c.id == f"t{len(existing) + 1:03d}" for c in existing) or len(existing) != 381:
            raise SystemExit("error: the first batch (381 candidates) must be the only one there")
        added = sample_extra(existing)
        write_candidates(existing + added, candidates)
        print(f"{len(added)} more candidates -> {candidates}")
    if args.sheets:
        sheets(read_candidates(candidates), WORK / "sheets")
        print(f"sheets -> {WORK / 'sheets'}")


if __name__ == "__main__":
    main()
