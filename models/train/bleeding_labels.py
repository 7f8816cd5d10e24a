"""Frames for the eye-made bleeding labels: which real frames were sampled, how to load them, and
the numbered contact sheets a reviewer labels them from.

The labels themselves (`models/train/labels/bleeding_frames.csv` and `bleeding_polygons.json`)
were written by looking at these sheets; see `models/train/labels/README.md`. This module makes
the sample reproducible (seeded, spread over every video of every source) and draws the sheets
under `.work/` (git-ignored: pictures derived from the data are never committed).

Sampling has two parts, recorded per frame in the `sampling` column:

* `random`: evenly spread frames of every video (seeded), the frames on which prevalence,
  sensitivity and specificity are meaningful;
* `enriched`: per video, the frames (not already sampled) on which the bundled vision network's
  bleeding head marks the largest area at its threshold: the frames where the app shows blood,
  so that both real blood and the red tissue the head confuses with it are well represented.

    PYTHONPATH=app:. python -m models.train.bleeding_labels --sample    # writes the frame list
    PYTHONPATH=app:. python -m models.train.bleeding_labels --sheets    # contact sheets
    PYTHONPATH=app:. python -m models.train.bleeding_labels --polygon-sheets  # blood frames, gridded
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
LABELS_DIR = Path(__file__).resolve().parent / "labels"
FRAMES_CSV = LABELS_DIR / "bleeding_frames.csv"
POLYGONS_JSON = LABELS_DIR / "bleeding_polygons.json"
WORK = ROOT / ".work" / "bleeding"
SEED = 14

# per source: frames drawn at random per video, frames added per video by the head's area
PER_VIDEO = {
    "m2cai": (12, 4),
    "lap": (10, 3),
    "cholec": (8, 2),
    "rigid": (10, 3),
    "robotic": (6, 2),
    "endovis17": (3, 0),
}
LABEL_CLASSES = ("active", "pooled", "none")


@dataclass(frozen=True)
class FrameRef:
    """One sampled frame: `path` relative to the data folder, `index` the frame number in a
    video (-1 for a still), `video` the surgery/video it comes from (the unit of every split)."""

    frame_id: str
    source: str
    video: str
    path: str
    index: int
    sampling: str


def default_data_dir() -> Path:
    import os

    return Path(os.environ.get("SCRUBLINE_DATA", ROOT.parent / "shared" / "data"))


def cholec_video(clip: Path) -> str:
    """`VIDaa_ff_and_VIDbb_gg_a.mp4` comes from VIDaa (suffix a) or VIDbb (suffix b)."""
    parts = clip.stem.split("_")
    return parts[0] if parts[-1] == "a" else parts[3]


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of a short video, RGB uint8, in decode order."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1].copy())
    capture.release()
    return frames


_VIDEO_CACHE: dict[str, list[np.ndarray]] = {}


def load_frame(data: Path, ref: FrameRef) -> np.ndarray:
    """The frame as RGB uint8 at its source resolution."""
    import cv2

    if ref.index < 0:
        image = cv2.imread(str(data / ref.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(data / ref.path)
        return image[..., ::-1].copy()
    if ref.path not in _VIDEO_CACHE:
        _VIDEO_CACHE.clear()
        _VIDEO_CACHE[ref.path] = read_video(data / ref.path)
    return _VIDEO_CACHE[ref.path][ref.index]


def candidates(data: Path) -> Iterator[tuple[str, str, str, int]]:
    """Every candidate frame: (source, video, path, index)."""
    for path in sorted((data / "m2cai16_tool_locations" / "JPEGImages").glob("v*_*.jpg")):
        if path.stem.endswith("_flip"):
            continue
        yield "m2cai", f"m2cai_{path.stem.split('_')[0]}", str(path.relative_to(data)), -1
    for path in sorted((data / "laparoscopic_frames").glob("*.jpg")):
        yield "lap", f"lap_{path.name[:11]}", str(path.relative_to(data)), -1
    for clip in sorted((data / "cholec80_clips").glob("g*/*.mp4")):
        # one candidate a second, mid-second (clips are 25 fps, 32 s)
        for second in range(32):
            yield (
                "cholec",
                f"cholec_{cholec_video(clip)}",
                str(clip.relative_to(data)),
                25 * second + 12,
            )
    for op in sorted((data / "endovis15" / "rigid_training").glob("OP*")):
        for path in sorted((op / "Raw").glob("*.png")):
            yield "rigid", f"rigid_{op.name}", str(path.relative_to(data)), -1
    for video in sorted((data / "endovis15" / "robotic_testing").glob("Dataset*/Video.avi")):
        for index in range(0, 370, 10):
            yield "robotic", f"robotic_{video.parent.name}", str(video.relative_to(data)), index
    sample = data / "endovis17_sample" / "short_source.mp4"
    if sample.exists():
        for index in (2, 10, 18):  # a 20-frame clip
            yield "endovis17", "endovis17", str(sample.relative_to(data)), index


def head_area(model, data: Path, refs: list[FrameRef]) -> np.ndarray:
    """The bundled vision network's bleeding area (fraction of the map at its threshold)."""
    import cv2

    threshold = model.manifest.threshold("bleeding", 0.5)
    w, h = model.input_size
    out = []
    for ref in refs:
        rgb = load_frame(data, ref)
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        maps = model._run(model.to_tensor([small]))
        out.append(float((maps["bleeding_mask"][0, 0] >= threshold).mean()))
    return np.asarray(out)


def vision_model():
    from scrubline.core.models.manifest import load_manifest
    from scrubline.core.models.wrappers import Segmenter

    return Segmenter(load_manifest(ROOT / "models" / "scrubline-vision.toml"), threads=1)


def sample(data: Path) -> list[FrameRef]:
    rng = np.random.default_rng(SEED)
    by_video: dict[str, list[tuple[str, str, str, int]]] = {}
    for cand in candidates(data):
        by_video.setdefault(cand[1], []).append(cand)
    model = vision_model()
    chosen: list[FrameRef] = []
    for video, cands in sorted(by_video.items()):
        source = cands[0][0]
        n_random, n_enriched = PER_VIDEO[source]
        # evenly spread: one random frame in each of n equal stretches of the video
        edges = np.linspace(0, len(cands), n_random + 1).astype(int)
        picks = sorted(
            {
                int(rng.integers(a, max(a + 1, b)))
                for a, b in zip(edges[:-1], edges[1:], strict=True)
            }
        )
        refs = [
            FrameRef(_frame_id(c), c[0], c[1], c[2], c[3], "random")
            for c in (cands[i] for i in picks)
        ]
        rest = [cands[i] for i in range(len(cands)) if i not in set(picks)]
        if n_enriched and rest:
            rest_refs = [FrameRef(_frame_id(c), c[0], c[1], c[2], c[3], "enriched") for c in rest]
            if len(rest_refs) > 60:  # score a spread subset: enough to find the head's favourites
                keep = np.linspace(0, len(rest_refs) - 1, 60).astype(int)
                rest_refs = [rest_refs[i] for i in keep]
            area = head_area(model, data, rest_refs)
            order = np.argsort(-area, kind="stable")[:n_enriched]
            refs.extend(rest_refs[i] for i in sorted(order) if area[i] > 0)
        chosen.extend(refs)
        print(f"{video}: {len(refs)} frames", flush=True)
    return chosen


def _frame_id(cand: tuple[str, str, str, int]) -> str:
    _source, video, path, index = cand
    return f"{video}/{Path(path).stem}" + (f"@{index}" if index >= 0 else "")


def write_frame_list(refs: list[FrameRef], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["number", "frame_id", "source", "video", "path", "index", "sampling"])
        for k, ref in enumerate(refs, 1):
            writer.writerow(
                [k, ref.frame_id, ref.source, ref.video, ref.path, ref.index, ref.sampling]
            )


def read_frame_list(path: Path = WORK / "frames.csv") -> list[FrameRef]:
    with path.open(newline="") as f:
        return [
            FrameRef(
                r["frame_id"], r["source"], r["video"], r["path"], int(r["index"]), r["sampling"]
            )
            for r in csv.DictReader(f)
        ]


def tile(rgb: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The frame letterboxed into width x height; returns the tile and the frame's rectangle
    (x, y, w, h) inside it."""
    import cv2

    fh, fw = rgb.shape[:2]
    scale = min(width / fw, height / fh)
    w, h = max(1, round(fw * scale)), max(1, round(fh * scale))
    out = np.full((height, width, 3), 40, np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    out[y : y + h, x : x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return out, (x, y, w, h)


def draw_grid(image: np.ndarray, rect: tuple[int, int, int, int]) -> None:
    """Lines every 0.1 of the frame, labelled every 0.2, for writing normalised coordinates."""
    import cv2

    x, y, w, h = rect
    for k in range(1, 10):
        colour = (255, 255, 255) if k % 2 == 0 else (150, 150, 150)
        gx = x + round(w * k / 10)
        gy = y + round(h * k / 10)
        cv2.line(image, (gx, y), (gx, y + h), colour, 1)
        cv2.line(image, (x, gy), (x + w, gy), colour, 1)
        if k % 2 == 0:
            cv2.putText(
                image, f".{k}", (gx + 2, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1
            )
            cv2.putText(
                image, f".{k}", (x + 2, gy - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1
            )


def make_sheets(
    data: Path,
    refs: list[tuple[int, FrameRef]],
    out_dir: Path,
    prefix: str,
    *,
    cols: int = 5,
    rows: int = 4,
    tile_size: tuple[int, int] = (320, 240),
    grid: bool = False,
    polygons: dict[str, list[list[list[float]]]] | None = None,
) -> list[Path]:
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    per = cols * rows
    written = []
    tw, th = tile_size
    for s in range(0, len(refs), per):
        sheet = np.zeros((rows * (th + 4), cols * (tw + 4), 3), np.uint8)
        for k, (number, ref) in enumerate(refs[s : s + per]):
            image, rect = tile(load_frame(data, ref), tw, th)
            if polygons and ref.frame_id in polygons:
                x, y, w, h = rect
                for poly in polygons[ref.frame_id]:
                    pts = np.array([[x + px * w, y + py * h] for px, py in poly], np.int32)
                    cv2.polylines(image, [pts], True, (0, 255, 0), 2)
            if grid:
                draw_grid(image, rect)
            cv2.rectangle(image, (0, 0), (70, 24), (0, 0, 0), -1)
            cv2.putText(
                image, f"#{number}", (3, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.65, (255, 255, 255), 2
            )
            r, c = divmod(k, cols)
            sheet[r * (th + 4) : r * (th + 4) + th, c * (tw + 4) : c * (tw + 4) + tw] = image
        path = out_dir / f"{prefix}_{s // per + 1:02d}.png"
        cv2.imwrite(str(path), sheet[..., ::-1])
        written.append(path)
    return written


def read_labels(path: Path = FRAMES_CSV) -> dict[str, str]:
    with path.open(newline="") as f:
        return {r["frame_id"]: r["label"] for r in csv.DictReader(f)}


def read_polygons(path: Path = POLYGONS_JSON) -> dict[str, list[list[list[float]]]]:
    return json.loads(path.read_text())["polygons"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--sample", action="store_true")
    parser.add_argument("--sheets", action="store_true")
    parser.add_argument("--polygon-sheets", action="store_true")
    parser.add_argument("--check-polygons", action="store_true")
    parser.add_argument("--zoom", default="", help="frame numbers, e.g. 4,5,9: a gridded 2x2 sheet")
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    if args.sample:
        refs = sample(data)
        write_frame_list(refs, WORK / "frames.csv")
        print(f"{len(refs)} frames ({sum(r.sampling == 'random' for r in refs)} random)")
    if args.sheets:
        refs = read_frame_list()
        for p in make_sheets(data, list(enumerate(refs, 1)), WORK / "sheets", "sheet"):
            print(p)
    if args.zoom:
        refs = read_frame_list()
        wanted = [int(n) for n in args.zoom.split(",")]
        picks = [(n, refs[n - 1]) for n in wanted]
        polys = read_polygons() if POLYGONS_JSON.exists() else None
        for p in make_sheets(
            data,
            picks,
            WORK / "zoom",
            "zoom_" + "_".join(map(str, wanted)),
            cols=2,
            rows=2,
            tile_size=(640, 480),
            grid=True,
            polygons=polys,
        ):
            print(p)
    if args.polygon_sheets or args.check_polygons:
        refs = read_frame_list()
        labels = read_labels()
        polys = read_polygons() if args.check_polygons and POLYGONS_JSON.exists() else None
        blood = [(k, r) for k, r in enumerate(refs, 1) if labels.get(r.frame_id, "none") != "none"]
        name = "check" if args.check_polygons else "poly"
        for p in make_sheets(
            data,
            blood,
            WORK / name,
            name,
            cols=2,
            rows=2,
            tile_size=(640, 480),
            grid=True,
            polygons=polys,
        ):
            print(p)


if __name__ == "__main__":
    main()
