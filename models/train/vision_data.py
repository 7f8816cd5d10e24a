"""Data for the vision network: reading the real frames and labels, building training targets,
the fold plan, and augmentation.

Sources (all under the shared data folder, never copied into the repository):

* EndoVis 2015 rigid (4 operations × 40 frames): `img_NN_instrument.png` gives instrument
  instances (20/40/60); `img_NN_class.png` gives shaft (160) and manipulator (70). The task's
  own readme (`Readme_Segmentation_Rigid.pdf`) says shaft = 160 and manipulator = 70, and the
  masks agree when drawn over the frames (the jaws are 70); the manipulator is the tip target.
* EndoVis 2015 robotic (4 da Vinci videos): ground-truth segmentation videos with the same two
  values (70 = the articulated head with the jaws, 160 = shaft; lossy codec, so values are
  rounded to the nearer class). Dataset1 has one video per instrument. Clasper keypoints
  (`tip_keypoints/testN_labels.json`, one entry per video frame, labelled every fifth frame)
  give the working end; for training only, the frames in between get clasper points
  interpolated from the labelled frames on either side.
* Alignment, measured (`python -m models.train.vision --check-alignment`): the segmentation
  videos lag Video.avi by one to two frames (GT frame i fits video frame i + GT_OFFSETS[video]
  best: instrument pixels are least saturated there), and the keypoint entries fit GT frame
  i - 2 best, i.e. keypoint entry i fits video frame i. So keypoints are used as they are and
  each video frame j takes the segmentation of GT frame j - GT_OFFSETS[video].
* laparoscopic_frames (120 frames, 6 videos) and cholec80 clips (6 clips, 3 surgeries, decoded
  at 2 frames/s): no labels; they train the bleeding head against refined HSV pseudo-masks.

Everything is cached once as arrays (`models/train/cache/`, git-ignored) at a working size a
little larger than the network input so that random crops keep detail.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from models.train.bleeding_hsv import hsv_reference
from models.train.vision_bleeding import refined_bleeding_mask

REPO = Path(__file__).resolve().parents[2]
DATA_ENV = "SCRUBLINE_DATA"
CACHE_DIR = REPO / "models" / "train" / "cache"
CACHE_VERSION = 7

INPUT_W, INPUT_H = 256, 192  # network input (frames are stretched to it, as the app does)
STRIDE = 2
OUT_W, OUT_H = INPUT_W // STRIDE, INPUT_H // STRIDE  # output maps
WORK_W, WORK_H = 320, 240  # cached training frames: room for scale/crop augmentation

SHAFT, MANIPULATOR = 160, 70
CHOLEC_FPS = 2.0
TIP_SIGMA_FRACTION = 0.02  # clasper blob sigma as a fraction of the frame width
NEIGHBOUR_STEP = 2  # temporal vote: frames t-2, t, t+2 (80 ms at 25 fps)
MIN_GT_AREA = 0.001  # GT instrument components smaller than this fraction are ignored
GT_OFFSETS = {1: 1, 2: 2, 3: 2, 4: 1}  # GT segmentation frame i shows video frame i + offset

# Folds: fold k holds out rigid operation OPk, robotic Datasetk, and the bleeding-only videos
# below, so each test operation/video/surgery is unseen by its fold model.
LAP_FOLDS = {
    "00001-21711": 1,
    "00010-23313": 1,
    "00003-22976": 2,
    "00015-23925": 2,
    "00006-23107": 3,
    "00008-23228": 4,
}
CHOLEC_FOLDS = {"VID15": 1, "VID26": 2, "VID43": 3}
FOLDS = (1, 2, 3, 4)


def default_data_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else REPO.parent / "shared" / "data"


@dataclass
class Sample:
    """One frame, with targets at the working size and what evaluation needs."""

    source: str  # rigid | robotic | lap | cholec
    group: str  # OP1 | Dataset1 | laparoscopic video prefix | cholec80 source video
    name: str
    index: int  # frame index in its video, or the rigid image number
    fold: int
    image: np.ndarray  # uint8 RGB WORK_H x WORK_W
    bleeding: np.ndarray  # uint8 0/1 refined pseudo-mask, WORK size
    instrument: np.ndarray | None = None  # uint8 0/1, WORK size; None = not labelled
    tip: np.ndarray | None = None  # uint8 0..255 target, WORK size; None = not labelled
    # evaluation
    input: np.ndarray | None = None  # uint8 RGB INPUT_H x INPUT_W, resized from the source
    source_size: tuple[int, int] = (0, 0)  # (width, height)
    gt_png: bytes | None = None  # PNG of the instrument mask at source size (0/1)
    tip_points: list[tuple[float, float]] | None = None  # source pixels; None = not annotated
    hsv_out: np.ndarray | None = None  # bool OUT size: the bundled HSV baseline's decision
    bleed_out: np.ndarray | None = None  # bool OUT size: the refined pseudo-mask
    tags: dict[str, float] = field(default_factory=dict)

    @property
    def has_instrument(self) -> bool:
        return self.instrument is not None

    @property
    def evaluable(self) -> bool:
        return self.gt_png is not None

    def gt_mask(self) -> np.ndarray:
        import cv2

        assert self.gt_png is not None
        return cv2.imdecode(np.frombuffer(self.gt_png, np.uint8), cv2.IMREAD_GRAYSCALE) > 0


# --------------------------------------------------------------------------------------------
# reading


def _resize(image: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    import cv2

    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    if nearest:
        return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def hsv_baseline_out(input_rgb: np.ndarray) -> np.ndarray:
    """The bundled `bleeding-hsv` model's decision at the output size: the rule on the network
    input, then 2x2 average pooling thresholded at 0.5 (what that ONNX graph computes)."""
    rule = hsv_reference(input_rgb.astype(np.float32) / 255.0).astype(np.float32)
    pooled = rule.reshape(OUT_H, STRIDE, OUT_W, STRIDE).mean(axis=(1, 3))
    return pooled >= 0.5


def _bleed_out(work_mask: np.ndarray) -> np.ndarray:
    return _resize(work_mask.astype(np.float32), (OUT_W, OUT_H)) >= 0.5


def _png(mask: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", mask.astype(np.uint8))
    assert ok
    return buf.tobytes()


def _decode_video(path: Path) -> Iterator[np.ndarray]:
    """Every frame in presentation order, RGB uint8 (sequential decoding is frame-exact)."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _tip_target(
    segments: list[tuple[tuple[float, float], tuple[float, float]]], source_size: tuple[int, int]
) -> np.ndarray:
    """Gaussian blobs along each clasper pair (the two jaw tips) at the working size."""
    sx, sy = WORK_W / source_size[0], WORK_H / source_size[1]
    sigma = TIP_SIGMA_FRACTION * WORK_W
    yy, xx = np.mgrid[0:WORK_H, 0:WORK_W].astype(np.float32)
    target = np.zeros((WORK_H, WORK_W), np.float32)
    for a, b in segments:
        for t in np.linspace(0.0, 1.0, 6):
            x = (a[0] + t * (b[0] - a[0])) * sx
            y = (a[1] + t * (b[1] - a[1])) * sy
            target = np.maximum(target, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)))
    target[target < 0.1] = 0.0
    return np.round(target * 255).astype(np.uint8)


def _component_centroids(mask: np.ndarray, min_area: float) -> list[tuple[float, float]]:
    import cv2

    count, _, stats, centroids = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    return [
        (float(centroids[i][0]), float(centroids[i][1]))
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= min_area
    ]


def load_rigid(data: Path) -> Iterator[Sample]:
    import cv2

    root = data / "endovis15" / "rigid_training"
    for op in (1, 2, 3, 4):
        for n in range(1, 41):
            raw = cv2.imread(str(root / f"OP{op}" / "Raw" / f"img_{n:02d}_raw.png"))[..., ::-1]
            inst = cv2.imread(
                str(root / f"OP{op}" / "Masks" / f"img_{n:02d}_instrument.png"),
                cv2.IMREAD_GRAYSCALE,
            )
            cls = cv2.imread(
                str(root / f"OP{op}" / "Masks" / f"img_{n:02d}_class.png"), cv2.IMREAD_GRAYSCALE
            )
            h, w = inst.shape
            instrument = (inst > 0) | (cls > 0)
            manipulator = cls == MANIPULATOR
            work = _resize(raw, (WORK_W, WORK_H))
            work_instrument = _resize(instrument.astype(np.float32), (WORK_W, WORK_H)) >= 0.5
            bleed = refined_bleeding_mask(work, work_instrument)
            inp = _resize(raw, (INPUT_W, INPUT_H))
            yield Sample(
                source="rigid",
                group=f"OP{op}",
                name=f"OP{op}/img_{n:02d}",
                index=n,
                fold=op,
                image=work,
                bleeding=bleed.astype(np.uint8),
                instrument=work_instrument.astype(np.uint8),
                tip=np.round(
                    _resize(manipulator.astype(np.float32), (WORK_W, WORK_H)) * 255
                ).astype(np.uint8),
                input=inp,
                source_size=(w, h),
                gt_png=_png(instrument),
                tip_points=_component_centroids(manipulator, 0.0005 * w * h),
                hsv_out=hsv_baseline_out(inp),
                bleed_out=_bleed_out(bleed),
            )


def robotic_keypoints(data: Path, video: int) -> list[list[dict]]:
    path = data / "endovis15" / "tip_keypoints" / f"test{video}_labels.json"
    entries = json.loads(path.read_text())
    # Entry i is named img_{i+1:04d}.png: keep the list order but check the names agree.
    for i, entry in enumerate(entries):
        m = re.search(r"img_(\d+)\.png$", entry["filename"])
        if m and int(m.group(1)) != i + 1:
            raise ValueError(f"{path}: entry {i} is {entry['filename']}")
    return [entry["annotations"] for entry in entries]


def clasper_tips(
    annotations: list[dict],
) -> tuple[list[tuple[float, float]], list[tuple[tuple[float, float], tuple[float, float]]]]:
    """Per tool: the midpoint of its two clasper points (the tip point used for evaluation) and
    the segment between them (drawn as the tip target); a tool with one clasper point gives
    that point (and a zero-length segment)."""
    tools: dict[str, dict[str, tuple[float, float]]] = {}
    for a in annotations:
        if a["class"] in ("LeftClasperPoint", "RightClasperPoint"):
            tools.setdefault(a["id"], {})[a["class"]] = (float(a["x"]), float(a["y"]))
    points, segments = [], []
    for pts in tools.values():
        if len(pts) == 2:
            a, b = pts["LeftClasperPoint"], pts["RightClasperPoint"]
            points.append(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
            segments.append((a, b))
        else:
            for p in pts.values():
                points.append(p)
                segments.append((p, p))
    return points, segments


def _robotic_gt(data: Path, video: int) -> Iterator[np.ndarray]:
    """Per frame: uint8 label map 0 = background, 1 = head (70), 2 = shaft (160)."""
    gt_dir = data / "endovis15" / "robotic_testing" / "GT" / f"Dataset{video}"
    files = sorted(gt_dir.glob("*.avi"))
    streams = [_decode_video(f) for f in files]
    for frames in zip(*streams, strict=False):
        label = np.zeros(frames[0].shape[:2], np.uint8)
        for f in frames:
            v = f[..., 0]
            label[(v > 35) & (v < 115)] = 1
            label[v >= 115] = 2
        yield label


def load_robotic(data: Path, video: int) -> Iterator[Sample]:
    keypoints = robotic_keypoints(data, video)
    frames = list(
        _decode_video(data / "endovis15" / "robotic_testing" / f"Dataset{video}" / "Video.avi")
    )
    offset = GT_OFFSETS[video]
    # frame j's segmentation is GT frame j - offset (the first `offset` frames have none)
    labels = [np.zeros_like(frames[0][..., 0])] * offset + list(_robotic_gt(data, video))
    n = min(len(frames), len(labels), len(keypoints))
    h, w = frames[0].shape[:2]
    work = [_resize(f, (WORK_W, WORK_H)) for f in frames[:n]]
    work_inst = [
        _resize((lab > 0).astype(np.float32), (WORK_W, WORK_H)) >= 0.5 for lab in labels[:n]
    ]
    for i in range(offset, n):
        annotated = bool(keypoints[i])
        if i % 2 and not annotated:
            continue  # neighbouring frames are near-duplicates; keep every other one
        neighbours = [work[j] for j in (i - NEIGHBOUR_STEP, i + NEIGHBOUR_STEP) if 0 <= j < n]
        bleed = refined_bleeding_mask(work[i], work_inst[i], neighbours)
        inp = _resize(frames[i], (INPUT_W, INPUT_H))
        sample = Sample(
            source="robotic",
            group=f"Dataset{video}",
            name=f"Dataset{video}/{i:04d}",
            index=i,
            fold=video,
            image=work[i],
            bleeding=bleed.astype(np.uint8),
            instrument=work_inst[i].astype(np.uint8),
            input=inp,
            source_size=(w, h),
            hsv_out=hsv_baseline_out(inp),
            bleed_out=_bleed_out(bleed),
        )
        if annotated:
            points, segments = clasper_tips(keypoints[i])
            sample.tip = _tip_target(segments, (w, h))
            sample.tip_points = points
            sample.gt_png = _png(labels[i] > 0)
        else:
            # Training target only (never evaluated): clasper points interpolated between the
            # labelled frames around this one, which are at most 5 frames (200 ms) apart.
            segments = interpolated_claspers(keypoints, i)
            if segments is not None:
                sample.tip = _tip_target(segments, (w, h))
        yield sample


def _claspers_by_tool(annotations: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    tools: dict[str, dict[str, tuple[float, float]]] = {}
    for a in annotations:
        if a["class"] in ("LeftClasperPoint", "RightClasperPoint"):
            tools.setdefault(a["id"], {})[a["class"]] = (float(a["x"]), float(a["y"]))
    return tools


def interpolated_claspers(
    keypoints: list[list[dict]], i: int, max_gap: int = 6
) -> list[tuple[tuple[float, float], tuple[float, float]]] | None:
    """Clasper segments for an unlabelled frame, interpolated linearly between the nearest
    labelled frames before and after it. None (tip loss masked) when the gap is too long or the
    two labelled frames do not show the same tools with both clasper points: a tip appearing or
    disappearing in between cannot be placed."""
    before = next((j for j in range(i - 1, max(-1, i - max_gap - 1), -1) if keypoints[j]), None)
    after = next(
        (j for j in range(i + 1, min(len(keypoints), i + max_gap + 1)) if keypoints[j]), None
    )
    if before is None or after is None:
        return None
    a, b = _claspers_by_tool(keypoints[before]), _claspers_by_tool(keypoints[after])
    if set(a) != set(b) or any(len(a[t]) != 2 or len(b[t]) != 2 for t in a):
        return None
    t = (i - before) / (after - before)

    def lerp(p: tuple[float, float], q: tuple[float, float]) -> tuple[float, float]:
        return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

    return [
        (
            lerp(a[k]["LeftClasperPoint"], b[k]["LeftClasperPoint"]),
            lerp(a[k]["RightClasperPoint"], b[k]["RightClasperPoint"]),
        )
        for k in sorted(a)
    ]


def check_keypoint_alignment(
    data: Path,
    offsets: tuple[int, ...] = (-25, -10, -5, -2, -1, 0, 1, 2, 5, 10, 25),
) -> dict[int, dict[int, float]]:
    """For each video and frame offset d: the mean distance (source pixels) from the clasper
    points of keypoint entry i to the nearest ground-truth instrument pixel of frame i + d.
    If the keypoint file is aligned with Video.avi the distance is smallest near d = 0 and
    grows with |d| (the instruments move)."""
    import cv2

    result: dict[int, dict[int, float]] = {}
    for video in (1, 2, 3, 4):
        keypoints = robotic_keypoints(data, video)
        labels = list(_robotic_gt(data, video))
        distances = [
            cv2.distanceTransform((lab == 0).astype(np.uint8), cv2.DIST_L2, 3) for lab in labels
        ]
        scores = {}
        for d in offsets:
            found = []
            for i, ann in enumerate(keypoints):
                j = i + d
                if not ann or not 0 <= j < len(labels):
                    continue
                for a in ann:
                    if a["class"] not in ("LeftClasperPoint", "RightClasperPoint"):
                        continue
                    xi, yi = int(round(a["x"])), int(round(a["y"]))
                    if 0 <= yi < labels[j].shape[0] and 0 <= xi < labels[j].shape[1]:
                        found.append(float(distances[j][yi, xi]))
            scores[d] = float(np.mean(found)) if found else float("nan")
        result[video] = scores
    return result


def check_segmentation_alignment(
    data: Path, offsets: range = range(-3, 4)
) -> dict[int, dict[int, float]]:
    """For each video and offset d: how much less saturated video frame i + d is inside GT
    frame i's instrument than outside it (instruments are grey metal, tissue is red). The most
    negative value marks the offset at which the segmentation fits the video."""
    result: dict[int, dict[int, float]] = {}
    for video in (1, 2, 3, 4):
        frames = list(
            _decode_video(data / "endovis15" / "robotic_testing" / f"Dataset{video}" / "Video.avi")
        )
        labels = list(_robotic_gt(data, video))
        saturation = []
        for f in frames:
            x = f.astype(np.float32)
            v = x.max(axis=-1)
            saturation.append((v - x.min(axis=-1)) / np.maximum(v, 1.0))
        scores = {}
        for d in offsets:
            values = []
            for i in range(0, len(labels), 3):
                j = i + d
                if 0 <= j < len(frames) and (labels[i] > 0).any():
                    m = labels[i] > 0
                    values.append(float(saturation[j][m].mean() - saturation[j][~m].mean()))
            scores[d] = float(np.mean(values))
        result[video] = scores
    return result


def load_lap(data: Path) -> Iterator[Sample]:
    import cv2

    for path in sorted((data / "laparoscopic_frames").glob("*.jpg")):
        prefix = path.name[:11]
        raw = cv2.imread(str(path))[..., ::-1]
        work = _resize(raw, (WORK_W, WORK_H))
        bleed = refined_bleeding_mask(work)
        inp = _resize(raw, (INPUT_W, INPUT_H))
        yield Sample(
            source="lap",
            group=prefix,
            name=f"lap/{path.stem}",
            index=-1,
            fold=LAP_FOLDS.get(prefix, 0),
            image=work,
            bleeding=bleed.astype(np.uint8),
            input=inp,
            source_size=(raw.shape[1], raw.shape[0]),
            hsv_out=hsv_baseline_out(inp),
            bleed_out=_bleed_out(bleed),
        )


def cholec_source(clip: Path) -> str:
    """`VIDaa_ff_and_VIDbb_gg_a.mp4` comes from VIDaa (suffix a) or VIDbb (suffix b)."""
    parts = clip.stem.split("_")
    return parts[0] if parts[-1] == "a" else parts[3]


def cholec_clips(data: Path) -> list[Path]:
    return sorted((data / "cholec80_clips").glob("g*/*.mp4"))


def load_cholec(data: Path) -> Iterator[Sample]:
    for clip in cholec_clips(data):
        source = cholec_source(clip)
        frames = list(_decode_video(clip))
        fps = 25.0
        step = fps / CHOLEC_FPS
        wanted = [int(step * k + step / 2) for k in range(int(len(frames) / step))]
        for i in wanted:
            work = _resize(frames[i], (WORK_W, WORK_H))
            neighbours = [
                _resize(frames[j], (WORK_W, WORK_H))
                for j in (i - NEIGHBOUR_STEP, i + NEIGHBOUR_STEP)
                if 0 <= j < len(frames)
            ]
            bleed = refined_bleeding_mask(work, None, neighbours)
            inp = _resize(frames[i], (INPUT_W, INPUT_H))
            yield Sample(
                source="cholec",
                group=source,
                name=f"{clip.parent.name}/{clip.stem}/{i:04d}",
                index=i,
                fold=CHOLEC_FOLDS.get(source, 0),
                image=work,
                bleeding=bleed.astype(np.uint8),
                input=inp,
                source_size=(frames[i].shape[1], frames[i].shape[0]),
                hsv_out=hsv_baseline_out(inp),
                bleed_out=_bleed_out(bleed),
            )


def build_samples(data: Path, log=print) -> list[Sample]:
    samples: list[Sample] = []
    samples.extend(load_rigid(data))
    log(f"rigid: {len(samples)} frames")
    for video in (1, 2, 3, 4):
        before = len(samples)
        samples.extend(load_robotic(data, video))
        log(f"robotic Dataset{video}: {len(samples) - before} frames")
    before = len(samples)
    samples.extend(load_lap(data))
    log(f"laparoscopic_frames: {len(samples) - before} frames")
    before = len(samples)
    samples.extend(load_cholec(data))
    log(f"cholec80 clips: {len(samples) - before} frames")
    return samples


def load_samples(data: Path | None = None, cache_dir: Path = CACHE_DIR, log=print) -> list[Sample]:
    """All samples, from the cache when it was built from the same data folder."""
    data = data or default_data_dir()
    if not data.is_dir():
        raise FileNotFoundError(f"data folder {data} does not exist (set {DATA_ENV})")
    cache = cache_dir / f"vision_samples_v{CACHE_VERSION}.pkl"
    if cache.is_file():
        with cache.open("rb") as fh:
            stored = pickle.load(fh)
        if stored["data"] == str(data.resolve()):
            return stored["samples"]
    samples = build_samples(data, log)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as fh:
        pickle.dump({"data": str(data.resolve()), "samples": samples}, fh, protocol=5)
    return samples


# --------------------------------------------------------------------------------------------
# augmentation


@dataclass
class Augment:
    """Geometric and photometric augmentation; geometry is one affine warp shared by the image
    and its targets. Hue moves only a few degrees so that 'red' stays meaningful for blood."""

    scale: tuple[float, float] = (0.8, 1.7)  # >1 zooms in (a crop); <1 zooms out
    aspect: tuple[float, float] = (0.75, 1.35)  # also covers 16:9 frames stretched to 4:3
    rotate_deg: float = 20.0
    hflip: float = 0.5
    vflip: float = 0.2
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.2
    gamma: float = 0.25
    hue_deg: float = 4.0
    channel_gain: float = 0.06
    blur_p: float = 0.3
    noise_p: float = 0.3

    def geometry(self, rng: np.random.Generator) -> np.ndarray:
        """2x3 matrix mapping working-size pixels to input-size pixels."""
        s = float(np.exp(rng.uniform(np.log(self.scale[0]), np.log(self.scale[1]))))
        a = float(np.exp(rng.uniform(np.log(self.aspect[0]), np.log(self.aspect[1]))))
        sx, sy = s * INPUT_W / WORK_W * np.sqrt(a), s * INPUT_H / WORK_H / np.sqrt(a)
        theta = np.deg2rad(rng.uniform(-self.rotate_deg, self.rotate_deg))
        c, si = np.cos(theta), np.sin(theta)
        fx = -1.0 if rng.random() < self.hflip else 1.0
        fy = -1.0 if rng.random() < self.vflip else 1.0
        lin = np.array([[c, -si], [si, c]]) @ np.diag([sx * fx, sy * fy])
        # centre of the working frame, moved by up to the slack that zooming leaves
        cx, cy = WORK_W / 2, WORK_H / 2
        slack_x = max(0.0, (1 - 1 / s)) * WORK_W / 2
        slack_y = max(0.0, (1 - 1 / s)) * WORK_H / 2
        cx += rng.uniform(-slack_x, slack_x) + rng.normal(0, 0.05) * WORK_W
        cy += rng.uniform(-slack_y, slack_y) + rng.normal(0, 0.05) * WORK_H
        t = np.array([INPUT_W / 2, INPUT_H / 2]) - lin @ np.array([cx, cy])
        return np.hstack([lin, t[:, None]]).astype(np.float64)

    def colour(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import cv2

        x = image.astype(np.float32) / 255.0
        if self.hue_deg > 0:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-self.hue_deg, self.hue_deg)) % 360.0
            hsv[..., 1] = np.clip(
                hsv[..., 1] * rng.uniform(1 - self.saturation, 1 + self.saturation), 0, 1
            )
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        x = x * rng.uniform(1 - self.channel_gain, 1 + self.channel_gain, size=3).astype(np.float32)
        mean = x.mean()
        x = (x - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
        x = x * rng.uniform(1 - self.brightness, 1 + self.brightness)
        x = np.clip(x, 0, 1) ** float(np.exp(rng.uniform(-self.gamma, self.gamma)))
        if rng.random() < self.blur_p:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.4))
        if rng.random() < self.noise_p:
            x = x + rng.normal(0, rng.uniform(0.005, 0.03), x.shape).astype(np.float32)
        return np.clip(x, 0, 1)


def make_example(
    sample: Sample, rng: np.random.Generator | None, augment: Augment | None
) -> dict[str, np.ndarray]:
    """Network input (3xHxW float 0..1) and targets at the output size with per-head weights."""
    import cv2

    if augment is not None and rng is not None:
        m = augment.geometry(rng)
    else:
        m = np.array([[INPUT_W / WORK_W, 0, 0], [0, INPUT_H / WORK_H, 0]], np.float64)
    image = cv2.warpAffine(
        sample.image,
        m,
        (INPUT_W, INPUT_H),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    if augment is not None and rng is not None:
        x = augment.colour(image, rng)
    else:
        x = image.astype(np.float32) / 255.0
    m_out = m.copy()
    m_out[:, :] /= STRIDE  # input pixels → output pixels (pixel-centre offset is negligible)

    def warp(target: np.ndarray | None, scale: float) -> np.ndarray:
        if target is None:
            return np.zeros((OUT_H, OUT_W), np.float32)
        return cv2.warpAffine(
            target.astype(np.float32) * scale,
            m_out,
            (OUT_W, OUT_H),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    return {
        "image": np.ascontiguousarray(x.transpose(2, 0, 1), np.float32),
        "instrument": warp(sample.instrument, 1.0),
        "tip": warp(sample.tip, 1 / 255.0),
        "bleeding": warp(sample.bleeding, 1.0),
        "w_instrument": np.float32(sample.instrument is not None),
        "w_tip": np.float32(sample.tip is not None),
        "w_bleeding": np.float32(1.0),
    }
