"""Class-aware tool detection for the Scrubline vision network (`scrubline-vision` 2.x).

The 1.x network gave instrument, tip and bleeding maps; instruments were connected components
of the instrument map, one class ("instrument"), and a hook was often boxed at its sleeve. This
module adds CenterNet-style detection outputs to the same network (`vision_net.VisionNet(detect=
True)`: 7 class centre heatmaps, box size and centre offset at 1/4 of the input) and fine-tunes
the whole network jointly, starting from the bundled 1.x weights (BatchNorm already folded into
the convolutions; the new branch starts from scratch):

* m2cai16-tool-locations frames (8 cholecystectomy videos, boxes for the 7 Cholec80 tools, boxes
  covering the whole tool, tip included) train the detection outputs;
* the EndoVis frames keep training the instrument and tip maps, the laparoscopic and cholec80
  frames the bleeding map (their pseudo-masks), exactly as `vision_train.py` does (masked losses).

Commands (training environment; run from the repository root):

    python -m models.train.vision_detect --train [--steps N]       # bundled model -> .work/det/full
    python -m models.train.vision_detect --folds [--fold-steps N]  # 4 folds by video on m2cai16
    python -m models.train.vision_detect --evaluate                # AP per class, mAP, CIs
    python -m models.train.vision_detect --presence                # cholec80 clips vs Cholec80
    python -m models.train.vision_detect --export                  # -> models/scrubline-vision.onnx

Evaluation folds, grouped by video (m2cai16 has 8): fold 1 = v01+v08, 2 = v03+v04, 3 = v06+v09,
4 = v05+v10 (chosen so that Irrigator and Bipolar, which appear in few videos, are in more than
one test fold). Frames of a video never sit on both sides of a split.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from models.train import training
from models.train.vision_data import (
    INPUT_H,
    INPUT_W,
    REPO,
    WORK_H,
    WORK_W,
    Augment,
    default_data_dir,
)
from models.train.vision_net import DET_STRIDE, TOOL_CLASSES

WORK = REPO / ".work" / "det"
CACHE = REPO / "models" / "train" / "cache"
ONNX_PATH = REPO / "models" / "scrubline-vision.onnx"
SEED = 0
THREADS = int(os.environ.get("SCRUBLINE_TRAIN_THREADS", "2"))
DET_H, DET_W = INPUT_H // DET_STRIDE, INPUT_W // DET_STRIDE
M2CAI_FOLDS = {"v01": 1, "v08": 1, "v03": 2, "v04": 2, "v06": 3, "v09": 3, "v05": 4, "v10": 4}
# How often each source is drawn into a batch.
SOURCE_WEIGHTS = {"m2cai": 0.95, "demo": 0.05}
DEMO_TIMES = np.arange(0.25, 80.0, 0.5)  # 160 rendered frames of the generated demo case
DET_WEIGHTS = {"heat": 1.0, "size": 5.0, "offset": 1.0}


# --------------------------------------------------------------------------------------------
# data


@dataclass
class DetSample:
    video: str
    name: str
    fold: int
    jpeg_work: bytes  # WORK_W x WORK_H RGB frame (stretched), JPEG q95
    jpeg_input: bytes  # INPUT_W x INPUT_H, resized from the source as the app does
    boxes: np.ndarray  # K x 4 float32, fractions of the frame (x1, y1, x2, y2)
    classes: np.ndarray  # K int64 indices into TOOL_CLASSES
    source_size: tuple[int, int]

    def work(self) -> np.ndarray:
        return _decode(self.jpeg_work)

    def input(self) -> np.ndarray:
        return _decode(self.jpeg_input)


def _decode(data: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _encode(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    return buf.tobytes()


def parse_voc(
    path: Path,
) -> tuple[tuple[int, int], list[tuple[str, tuple[float, float, float, float]]]]:
    root = ET.parse(path).getroot()
    size = root.find("size")
    assert size is not None
    w, h = int(size.findtext("width", "0")), int(size.findtext("height", "0"))
    objects = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        assert bb is not None
        box = tuple(float(bb.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
        objects.append((name, box))
    return (w, h), objects  # type: ignore[return-value]


def load_m2cai(data: Path | None = None, log=print) -> list[DetSample]:
    import cv2

    data = data or default_data_dir()
    root = data / "m2cai16_tool_locations"
    cache = CACHE / "m2cai_v1.pkl"
    if cache.is_file():
        with cache.open("rb") as fh:
            stored = pickle.load(fh)
        if stored["data"] == str(root.resolve()):
            return stored["samples"]
    samples: list[DetSample] = []
    for xml in sorted((root / "Annotations").glob("v*.xml")):
        (w, h), objects = parse_voc(xml)
        image_path = root / "JPEGImages" / (xml.stem + ".jpg")
        bgr = cv2.imread(str(image_path))
        if bgr is None:
            raise FileNotFoundError(f"{image_path}: cannot read")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        sh, sw = rgb.shape[:2]
        if (w, h) != (sw, sh) and w and h:
            log(f"{xml.name}: annotated size {w}x{h} != image {sw}x{sh}; using the image's")
        boxes, classes = [], []
        for name, (x1, y1, x2, y2) in objects:
            if name not in TOOL_CLASSES:
                raise ValueError(f"{xml}: unknown tool {name!r}")
            boxes.append((x1 / sw, y1 / sh, x2 / sw, y2 / sh))
            classes.append(TOOL_CLASSES.index(name))
        video = xml.stem[:3]
        samples.append(
            DetSample(
                video=video,
                name=xml.stem,
                fold=M2CAI_FOLDS[video],
                jpeg_work=_encode(cv2.resize(rgb, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)),
                jpeg_input=_encode(
                    cv2.resize(rgb, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
                ),
                boxes=np.clip(np.array(boxes, np.float32).reshape(-1, 4), 0, 1),
                classes=np.array(classes, np.int64),
                source_size=(sw, sh),
            )
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as fh:
        pickle.dump({"data": str(root.resolve()), "samples": samples}, fh, protocol=5)
    log(f"m2cai16: {len(samples)} frames cached")
    return samples


def load_demo() -> list[DetSample]:
    """The generated demo case (`scrubline.core.demo`), rendered at DEMO_TIMES, with the boxes
    of its two instruments known from the drawing (a grasper and the suction/irrigation
    cannula, Cholec80's Irrigator): a small declared source so that the demo shows tools. It
    is never held out (no evaluation number includes it)."""
    import cv2

    from scrubline.core.demo import DEMO_SIZE, demo_frame_drawer, demo_tool_boxes

    width, height = DEMO_SIZE
    draw = demo_frame_drawer(width, height)
    samples = []
    for i, t in enumerate(DEMO_TIMES):
        rgb = draw(i, float(t))
        boxes = demo_tool_boxes(float(t), width, height)
        samples.append(
            DetSample(
                video="demo",
                name=f"demo_{t:05.2f}",
                fold=0,
                jpeg_work=_encode(cv2.resize(rgb, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)),
                jpeg_input=_encode(
                    cv2.resize(rgb, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
                ),
                boxes=np.array(
                    [
                        (x1 / width, y1 / height, x2 / width, y2 / height)
                        for _, (x1, y1, x2, y2) in boxes
                    ],
                    np.float32,
                ).reshape(-1, 4),
                classes=np.array([TOOL_CLASSES.index(n) for n, _ in boxes], np.int64),
                source_size=(width, height),
            )
        )
    return samples


# --------------------------------------------------------------------------------------------
# targets


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: how far a corner may move before IoU drops below `min_overlap`."""
    a1, b1 = 1, h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4, 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def det_targets(boxes_in: np.ndarray, classes: np.ndarray) -> dict[str, np.ndarray]:
    """Boxes in input pixels (K x 4) -> heatmap (C x h x w), size and offset targets with a
    mask of the centre cells."""
    heat = np.zeros((len(TOOL_CLASSES), DET_H, DET_W), np.float32)
    size = np.zeros((2, DET_H, DET_W), np.float32)
    offset = np.zeros((2, DET_H, DET_W), np.float32)
    mask = np.zeros((DET_H, DET_W), np.float32)
    yy, xx = np.mgrid[0:DET_H, 0:DET_W].astype(np.float32)
    for (x1, y1, x2, y2), c in zip(boxes_in, classes, strict=True):
        bw, bh = (x2 - x1) / DET_STRIDE, (y2 - y1) / DET_STRIDE
        if bw <= 0.5 or bh <= 0.5:
            continue
        cx, cy = (x1 + x2) / 2 / DET_STRIDE, (y1 + y2) / 2 / DET_STRIDE
        ix, iy = min(DET_W - 1, max(0, int(cx))), min(DET_H - 1, max(0, int(cy)))
        radius = max(0.0, gaussian_radius(bh, bw))
        sigma = max(0.5, (2 * int(radius) + 1) / 6)
        g = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
        heat[c] = np.maximum(heat[c], g)
        size[:, iy, ix] = ((x2 - x1) / INPUT_W, (y2 - y1) / INPUT_H)
        offset[:, iy, ix] = (min(0.999, max(0.0, cx - ix)), min(0.999, max(0.0, cy - iy)))
        mask[iy, ix] = 1.0
    return {"det_heat": heat, "det_size": size, "det_offset": offset, "det_mask": mask}


DET_AUGMENT = Augment(rotate_deg=8.0)
# the detection branch's shape (see vision_net.ToolDetector); set by --det-width / --det-deep
DET_CONFIG = {
    "det_width": 64,
    "det_deep": False,
}  # boxes of rotated tools grow: keep rotations small


def det_example(sample: DetSample, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    """One m2cai16 (or demo) frame: augmented input, boxes warped with it, detection targets."""
    import cv2

    work = sample.work()
    if rng is not None:
        m = DET_AUGMENT.geometry(rng)
    else:
        m = np.array([[INPUT_W / WORK_W, 0, 0], [0, INPUT_H / WORK_H, 0]], np.float64)
    image = cv2.warpAffine(
        work, m, (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )
    x = DET_AUGMENT.colour(image, rng) if rng is not None else image.astype(np.float32) / 255.0
    boxes_in = []
    classes = []
    for (bx1, by1, bx2, by2), c in zip(sample.boxes, sample.classes, strict=True):
        corners = np.array([[bx1, by1], [bx2, by1], [bx1, by2], [bx2, by2]], np.float64) * np.array(
            [WORK_W, WORK_H]
        )
        warped = corners @ m[:, :2].T + m[:, 2]
        x1, y1 = warped.min(axis=0)
        x2, y2 = warped.max(axis=0)
        full = max(1e-6, (x2 - x1) * (y2 - y1))
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(INPUT_W), x2), min(float(INPUT_H), y2)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        if (cx2 - cx1) * (cy2 - cy1) < 0.25 * full:
            continue  # mostly cut off by the crop: neither a positive nor a clean negative
        boxes_in.append((cx1, cy1, cx2, cy2))
        classes.append(int(c))
    out = det_targets(np.array(boxes_in, np.float32).reshape(-1, 4), np.array(classes, np.int64))
    out["image"] = np.ascontiguousarray(x.transpose(2, 0, 1), np.float32)
    out["w_det"] = np.float32(1)
    return out


# --------------------------------------------------------------------------------------------
# training


def _torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def focal_loss(logit, target):
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres."""
    torch = _torch()
    from torch.nn import functional as F

    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos = target.ge(0.999).float()
    neg = 1 - pos
    pos_loss = -F.logsigmoid(logit) * (1 - p) ** 2 * pos
    neg_loss = -F.logsigmoid(-logit) * p**2 * (1 - target) ** 4 * neg
    n = pos.sum().clamp(min=1.0)
    return (pos_loss.sum() + neg_loss.sum()) / n


def det_losses(heat_logit, size_logit, offset_logit, batch):
    torch = _torch()
    keep = batch["w_det"] > 0
    if not bool(keep.any()):
        z = heat_logit.sum() * 0.0 + size_logit.sum() * 0.0 + offset_logit.sum() * 0.0
        return {"heat": z, "size": z, "offset": z}
    heat = focal_loss(heat_logit[keep], batch["det_heat"][keep])
    mask = batch["det_mask"][keep].unsqueeze(1)
    n = mask.sum().clamp(min=1.0)
    size = (torch.abs(torch.sigmoid(size_logit[keep]) - batch["det_size"][keep]) * mask).sum() / n
    offset = (
        torch.abs(torch.sigmoid(offset_logit[keep]) - batch["det_offset"][keep]) * mask
    ).sum() / n
    return {"heat": heat, "size": size, "offset": offset}


def initial_model(onnx_path: Path = ONNX_PATH):
    """The detection network with the bundled 1.x weights in its encoder, decoder and dense
    heads (frozen: the 1.x maps stay exactly what they were); the detection branch starts from
    scratch and is the only part that trains."""
    torch = _torch()
    import onnx
    from models.train.vision_net import fused_skeleton
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    conv_bias = {
        n.input[1]: n.input[2]
        for n in proto.graph.node
        if n.op_type == "Conv" and len(n.input) == 3
    }
    torch.manual_seed(SEED)
    model = fused_skeleton(detect=True, **DET_CONFIG)
    state = model.state_dict()
    new = {}
    loaded = 0
    for name, value in state.items():
        if name.startswith("det."):
            new[name] = value  # the detection head: from scratch
            continue
        # a copy of a deep stage (det_stage4, ...) starts from the shared one
        name_in_file = name[len("det_") :] if name.startswith("det_") else name
        if name_in_file in inits:
            new[name] = torch.from_numpy(inits[name_in_file].copy())
            loaded += 1
            continue
        if name_in_file.endswith(".bias") and name_in_file[:-5] + ".weight" in conv_bias:
            new[name] = torch.from_numpy(inits[conv_bias[name_in_file[:-5] + ".weight"]].copy())
            loaded += 1
            continue
        raise ValueError(f"{onnx_path}: no initializer for {name_in_file}")
    model.load_state_dict(new)
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("det")
    return model, loaded


def collate(examples):
    torch = _torch()
    return {k: torch.from_numpy(np.stack([e[k] for e in examples])) for k in examples[0]}


# The shared encoder stages (stem to 1/8) are frozen, so their outputs for a given input never
# change: they are computed once per training variant of every frame and cached, and training
# runs the detection branch alone (on this shared 2-core machine a full forward and backward
# pass of the whole network cost 10-20 s per batch; the cached branch is several times cheaper).
# Variants per frame: as is, mirrored, and AUG_VARIANTS augmented copies (zoom 0.8-1.7, aspect,
# rotation up to 8 degrees, flips, colour jitter: DET_AUGMENT).
AUG_VARIANTS = 2


FEATURES = ("s2", "s3", "s4", "s5")


@dataclass
class FeatureBank:
    features: dict[str, np.ndarray]  # name -> V x C x h x w float16 (memory-mapped)
    boxes: list[np.ndarray]  # per variant: K x 4 input pixels
    classes: list[np.ndarray]
    sample: np.ndarray  # V: index of the frame in the sample list
    source: np.ndarray  # V: "m2cai" / "demo"


def variant_inputs(
    sample: DetSample, index: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(image float 0..1 HxWx3, boxes in input pixels, classes) for every cached variant."""
    plain = sample.input().astype(np.float32) / 255.0
    boxes = sample.boxes * np.array([INPUT_W, INPUT_H, INPUT_W, INPUT_H], np.float32)
    mirrored = boxes.copy()
    mirrored[:, [0, 2]] = INPUT_W - boxes[:, [2, 0]]
    out = [(plain, boxes, sample.classes), (plain[:, ::-1].copy(), mirrored, sample.classes)]
    for k in range(AUG_VARIANTS):
        ex = det_example(sample, np.random.default_rng([SEED, index, k]))
        image = ex["image"].transpose(1, 2, 0)
        found = decode_targets(ex)
        out.append((image, found[0], found[1]))
    return out


def decode_targets(ex: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The boxes (input pixels) and classes a target set encodes (exact inverse of det_targets
    at the centre cells)."""
    ys, xs = np.nonzero(ex["det_mask"])
    boxes, classes = [], []
    for y, x in zip(ys, xs, strict=True):
        c = int(np.argmax(ex["det_heat"][:, y, x]))
        cx = (x + ex["det_offset"][0, y, x]) * DET_STRIDE
        cy = (y + ex["det_offset"][1, y, x]) * DET_STRIDE
        w = ex["det_size"][0, y, x] * INPUT_W
        h = ex["det_size"][1, y, x] * INPUT_H
        boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        classes.append(c)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64)


def encoder_session(path: Path):
    """The frozen shared encoder as an onnxruntime session (outputs s2..s5): an order of
    magnitude faster than torch on this CPU, and the same arithmetic as the app's graph."""
    torch = _torch()
    import onnxruntime as ort

    model, _ = initial_model()
    model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net.encode(x)[1:]

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        Encoder(model),
        (torch.rand(2, 3, INPUT_H, INPUT_W),),
        str(path),
        input_names=["image"],
        output_names=list(FEATURES),
        dynamic_axes={n: {0: "N"} for n in ["image", *FEATURES]},
        opset_version=17,
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feature_bank(samples: list[DetSample], sources: list[str], log=print) -> FeatureBank:
    tag = f"features_a{AUG_VARIANTS}_{len(samples)}"
    meta = WORK / f"{tag}.pkl"
    if meta.is_file():
        with meta.open("rb") as fh:
            m = pickle.load(fh)
        feats = {n: np.load(WORK / f"{tag}_{n}.npy", mmap_mode="r") for n in FEATURES}
        return FeatureBank(feats, m["boxes"], m["classes"], m["sample"], m["source"])
    session = encoder_session(WORK / "encoder.onnx")
    chunks: dict[str, list[np.ndarray]] = {n: [] for n in FEATURES}
    boxes, classes, idx, src = [], [], [], []
    t0 = time.time()
    for i, sample in enumerate(samples):
        variants = variant_inputs(sample, i)
        x = np.ascontiguousarray(
            np.stack([v[0] for v in variants]).transpose(0, 3, 1, 2), np.float32
        )
        for n, value in zip(FEATURES, session.run(list(FEATURES), {"image": x}), strict=True):
            chunks[n].append(value.astype(np.float16))
        for v in variants:
            boxes.append(v[1])
            classes.append(v[2])
            idx.append(i)
            src.append(sources[i])
        if (i + 1) % 100 == 0:
            log(f"features: {i + 1}/{len(samples)} frames ({time.time() - t0:.0f} s)")
    WORK.mkdir(parents=True, exist_ok=True)
    for n in FEATURES:
        np.save(WORK / f"{tag}_{n}.npy", np.concatenate(chunks[n]))
    with meta.open("wb") as fh:
        pickle.dump(
            {"boxes": boxes, "classes": classes, "sample": np.array(idx), "source": np.array(src)},
            fh,
        )
    return feature_bank(samples, sources, log)


def all_det_samples(log=print) -> tuple[list[DetSample], list[str]]:
    m2cai = load_m2cai(log=log)
    demo = load_demo()
    return m2cai + demo, ["m2cai"] * len(m2cai) + ["demo"] * len(demo)


def train(
    out_dir: Path,
    *,
    steps: int,
    held_out: set[int],
    batch_size: int = 16,
    lr: float = 2e-3,
    seed: int = SEED,
    checkpoint_every: int = 100,
    init: Path = ONNX_PATH,
) -> Path:
    torch = _torch()
    from models.train.vision_net import count_parameters

    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / training.FINAL).is_file():
        return out_dir / training.FINAL
    log = training.log_to(out_dir / "log.txt")
    samples, sources = all_det_samples(log)
    bank = feature_bank(samples, sources, log)
    folds = np.array([samples[i].fold for i in bank.sample])
    pools = {
        name: np.nonzero((bank.source == name) & ~np.isin(folds, sorted(held_out)))[0]
        for name in SOURCE_WEIGHTS
    }
    names = [k for k in SOURCE_WEIGHTS if len(pools[k])]
    probs = np.array([SOURCE_WEIGHTS[k] for k in names])
    probs = probs / probs.sum()
    model, loaded = initial_model(init)
    model = model.to(memory_format=torch.channels_last)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=1e-4)
    sched = training.cosine_schedule(opt, steps, warmup_div=20, floor=0.03)
    run = training.Run(out_dir, model, opt, sched, steps, log, 25, checkpoint_every)
    start = run.resume()
    if start == 0:
        log(
            f"training {out_dir.name}: {count_parameters(model)} parameters, "
            f"{sum(p.numel() for p in trainable)} trainable ({loaded} tensors from {init.name}), "
            f"held out m2cai16 folds {sorted(held_out)}, "
            f"{ {k: len(pools[k]) for k in names} } cached variants, {steps} steps of {batch_size}, seed {seed}"
        )
    model.train()
    running: dict[str, float] = {}
    for step in range(start, steps):
        rng = np.random.default_rng([seed, step])
        picks = rng.choice(len(names), size=batch_size, p=probs)
        rows = [int(pools[names[i]][rng.integers(len(pools[names[i]]))]) for i in picks]
        targets = [det_targets(bank.boxes[r], bank.classes[r]) for r in rows]
        batch = collate(targets)
        batch["w_det"] = torch.ones(batch_size)
        feats = [
            torch.from_numpy(bank.features[n][rows].astype(np.float32)).contiguous(
                memory_format=torch.channels_last
            )
            for n in FEATURES
        ]
        heat, size, offset = model.detect_from(*feats, logits=True)
        dl = det_losses(heat, size, offset, batch)
        losses = {k: DET_WEIGHTS[k] * v for k, v in dl.items()}
        loss = sum(losses.values())
        training.optimise(loss, trainable, opt, sched)
        for k, v in losses.items():
            running[k] = running.get(k, float(v.detach())) * 0.95 + float(v.detach()) * 0.05
        run.after_step(step + 1, running)
    return run.finish(steps=steps, held_out=sorted(held_out), seed=seed, config=dict(DET_CONFIG))


def load_trained(path: Path):
    torch = _torch()
    from models.train.vision_net import fused_skeleton

    stored = torch.load(path, weights_only=False)
    model = fused_skeleton(detect=True, **stored.get("config", DET_CONFIG))
    state = stored["model"]
    model.load_state_dict(state)
    model.eval()
    return model


OUTPUT_NAMES = ("instrument", "tip", "bleeding", "tool_heatmap", "tool_size", "tool_offset")


def predict(
    onnx_path: Path, inputs: list[np.ndarray], batch: int = 8
) -> list[dict[str, np.ndarray]]:
    """uint8 RGB frames at the input size -> per frame the six outputs, run by onnxruntime on
    the exported graph (what the app runs)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    out: list[dict[str, np.ndarray]] = []
    for i in range(0, len(inputs), batch):
        x = np.ascontiguousarray(
            np.stack(inputs[i : i + batch]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        )
        arrays = session.run(list(OUTPUT_NAMES), {"image": x})
        for j in range(x.shape[0]):
            out.append({n: a[j] for n, a in zip(OUTPUT_NAMES, arrays, strict=True)})
    return out


def exported(checkpoint: Path, version: str = "eval") -> Path:
    """The ONNX graph of a trained checkpoint (written beside it once)."""
    path = checkpoint.with_suffix(".onnx")
    if not path.is_file() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        export_onnx(load_trained(checkpoint), path, version)
    return path


# --------------------------------------------------------------------------------------------
# export


def shift_heatmaps(model, thresholds: dict[str, float]) -> None:
    """Move each class's heatmap logit so that its chosen threshold reads 0.5 in the graph."""
    torch = _torch()
    with torch.no_grad():
        for c, name in enumerate(TOOL_CLASSES):
            t = thresholds[name]
            model.det.out.bias[c] -= math.log(t / (1 - t))


def export_onnx(model, path: Path, version: str) -> None:
    torch = _torch()
    import onnx
    from models.train.vision_export import save_checked

    names = list(OUTPUT_NAMES)
    model = model.eval()
    x = torch.rand(2, 3, INPUT_H, INPUT_W)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_axes={n: {0: "N"} for n in ["image", *names]},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    proto.producer_name = "scrubline models/train/vision_detect.py"
    proto.doc_string = (
        f"scrubline-vision {version}: instrument, tip, bleeding maps (N x 1 x {INPUT_H // 2} x "
        f"{INPUT_W // 2}); tool centre heatmaps (N x 7 x {DET_H} x {DET_W}, classes "
        f"{', '.join(TOOL_CLASSES)}), box size and centre offset (N x 2 x {DET_H} x {DET_W})"
    )
    save_checked(proto, path, model, x)


# --------------------------------------------------------------------------------------------
# evaluation


def decode(pred: dict[str, np.ndarray], score_threshold: float = 0.05):
    from scrubline.core.models.centres import decode_centres

    return decode_centres(
        pred["tool_heatmap"],
        pred["tool_size"],
        pred["tool_offset"],
        score_threshold=score_threshold,
        max_detections=20,
    )


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class FrameDets:
    video: str
    name: str
    gt: list[tuple[int, tuple[float, float, float, float]]]
    dets: list[tuple[int, float, tuple[float, float, float, float]]]


def match(
    frames: list[FrameDets], cls: int, iou: float = 0.5
) -> tuple[list[tuple[float, bool]], int]:
    """VOC matching for one class: (score, true positive) per detection, and the GT count."""
    out: list[tuple[float, bool]] = []
    n_gt = 0
    for f in frames:
        gts = [b for c, b in f.gt if c == cls]
        n_gt += len(gts)
        used = [False] * len(gts)
        for _, score, box in sorted((d for d in f.dets if d[0] == cls), key=lambda d: -d[1]):
            best, best_i = 0.0, -1
            for i, g in enumerate(gts):
                v = box_iou(box, g)
                if v > best:
                    best, best_i = v, i
            if best >= iou and not used[best_i]:
                used[best_i] = True
                out.append((score, True))
            else:
                out.append((score, False))
    return out, n_gt


def ap_table(frames: list[FrameDets], iou: float = 0.5) -> dict[str, float]:
    from models.train.vision_eval import average_precision

    out = {}
    aps = []
    for c, name in enumerate(TOOL_CLASSES):
        dets, n_gt = match(frames, c, iou)
        ap = average_precision(dets, n_gt) if n_gt else float("nan")
        out[f"ap50_{name}"] = ap
        if n_gt:
            aps.append(ap)
    out["map50"] = float(np.mean(aps)) if aps else float("nan")
    return out


TOOL_SCORE_GRID = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def presence_errors(
    frames: list[FrameDets], thresholds: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Per class, frame-level presence at its threshold (present = a decoded box of the class
    scoring at least that): the share of frames with the tool that miss it, of frames without
    it that report it, and F1."""
    out = {}
    for c, name in enumerate(TOOL_CLASSES):
        gt = np.array([any(k == c for k, _ in f.gt) for f in frames])
        pred = np.array(
            [any(k == c and sc >= thresholds[name] for k, sc, _ in f.dets) for f in frames]
        )
        tp = float((gt & pred).sum())
        f1 = 2 * tp / max(1.0, float(gt.sum() + pred.sum()))
        out[name] = {
            "threshold": thresholds[name],
            "miss": float((gt & ~pred).sum() / max(1, gt.sum())),
            "false_alarm": float((~gt & pred).sum() / max(1, (~gt).sum())),
            "f1": f1,
            "frames_with": int(gt.sum()),
        }
    return out


def choose_thresholds(frames: list[FrameDets]) -> dict[str, float]:
    """Per class, the grid value with the best frame-level presence F1 over the pooled
    out-of-fold frames (presence is what the lanes, frames.csv and the phase model read). The
    exported graph shifts each class's heatmap so that its threshold reads 0.5 (the manifest's
    `tool_score` and the timeline's presence score), a monotone change: AP is unaffected."""
    chosen = {}
    for name in TOOL_CLASSES:
        f1 = {
            t: presence_errors(frames, dict.fromkeys(TOOL_CLASSES, t))[name]["f1"]
            for t in TOOL_SCORE_GRID
        }
        chosen[name] = max(TOOL_SCORE_GRID, key=lambda t: (f1[t], t))
    return chosen


WORK_TAG = ""


def fold_dir(fold: int, steps: int) -> Path:
    return WORK / f"fold{fold}{WORK_TAG}_s{steps}"


def evaluate_folds(steps: int, folds=(1, 2, 3, 4), n_boot: int = 1000, log=print) -> dict:
    """Out-of-fold detections on every m2cai16 frame whose fold model exists; AP per class
    and mAP pooled over the folds, 95% intervals by resampling whole videos."""
    from models.train.vision_eval import bootstrap

    samples = load_m2cai(log=log)
    frames: list[FrameDets] = []
    done = []
    for fold in folds:
        path = fold_dir(fold, steps) / "model.pt"
        if not path.is_file():
            log(f"fold {fold}: no model at {path}; skipped")
            continue
        done.append(fold)
        held = [s for s in samples if s.fold == fold]
        preds = predict(exported(path), [s.input() for s in held])
        for s, p in zip(held, preds, strict=True):
            frames.append(
                FrameDets(
                    s.video,
                    s.name,
                    [
                        (int(c), tuple(map(float, b)))
                        for c, b in zip(s.classes, s.boxes, strict=True)
                    ],
                    [(d.cls, d.score, d.box) for d in decode(p)],
                )
            )
    if not frames:
        raise SystemExit("no fold model found: run --folds first")
    point = ap_table(frames)
    # video-block bootstrap (8 videos at most) and a frames-within-video block bootstrap
    # (blocks of 10 consecutive annotated frames, ~10 s of surgery) for a second view
    ci_video = bootstrap(frames, [f.video for f in frames], ap_table, n=n_boot, seed=SEED)
    blocks = [f"{f.video}:{int(f.name.split('_')[1]) // 250}" for f in frames]
    ci_block = bootstrap(frames, blocks, ap_table, n=n_boot, seed=SEED)
    per_fold = {}
    for fold in done:
        videos = {v for v, k in M2CAI_FOLDS.items() if k == fold}
        per_fold[fold] = ap_table([f for f in frames if f.video in videos])
    thresholds = choose_thresholds(frames)
    result = {
        "class_thresholds": thresholds,
        "presence_errors": presence_errors(frames, thresholds),
        "steps": steps,
        "folds": done,
        "frames": len(frames),
        "gt_per_class": {
            n: sum(1 for f in frames for c, _ in f.gt if c == i) for i, n in enumerate(TOOL_CLASSES)
        },
        "point": point,
        "ci_video": ci_video,
        "ci_block": ci_block,
        "per_fold": per_fold,
    }
    return result


# cholec80 clips checked by eye against Cholec80's tool annotations at the clip's seconds
# (`.work/align.png`): VID26 and VID43 fit (the hook, the blue bipolar and the graspers are where
# the labels say); VID15's labels say no tool at all from 1906 s while the clip (g19, from
# 1911 s) shows two graspers and a cannula and ends in black frames, so its clip is not on the
# annotation's time base and is left out.
PRESENCE_CLIPS_EXCLUDED = {"VID15": "clip not aligned with Cholec80's seconds (checked by eye)"}


def clip_seconds(clip: Path) -> list[tuple[int, np.ndarray]]:
    """(second, RGB frame) for the frame at the start of every whole second of a clip."""
    import cv2

    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    out, index = [], 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % round(fps) == 0:
            out.append((index // round(fps), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        index += 1
    return out


def presence_eval(
    onnx_path: Path, score_threshold: float, data: Path | None = None, log=print
) -> dict:
    """Frame-level tool presence, one frame per second of every aligned cholec80 clip, against
    Cholec80's own tool annotation for that second: per-tool accuracy at the app's threshold
    (present = a decoded box of that class) and AP of the class's heatmap peak."""
    import re

    import cv2
    import pandas as pd
    from models.train.vision_eval import average_precision

    from scrubline.core.models.centres import decode_centres

    data = data or default_data_dir()
    table = pd.read_csv(data / "cholec80_annotations" / "cholec80_1fps_tool_phase.csv")
    rows = []
    for clip in sorted((data / "cholec80_clips").glob("g*/*.mp4")):
        m = re.match(r"VID(\d+)_(\d+)_and", clip.name)
        if not m:
            continue
        video, start = int(m[1]), int(m[2])
        if f"VID{video:02d}" in PRESENCE_CLIPS_EXCLUDED:
            log(f"{clip.name}: left out ({PRESENCE_CLIPS_EXCLUDED[f'VID{video:02d}']})")
            continue
        truth = table[table.video == f"video{video:02d}"].set_index("second")
        seconds = clip_seconds(clip)
        preds = predict(
            onnx_path,
            [cv2.resize(f, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA) for _, f in seconds],
        )
        for (k, _), pred in zip(seconds, preds, strict=True):
            if start + k not in truth.index:
                continue
            gt = truth.loc[start + k]
            boxes = decode_centres(
                pred["tool_heatmap"],
                pred["tool_size"],
                pred["tool_offset"],
                score_threshold=score_threshold,
            )
            row = {"clip": clip.name, "video": video, "second": start + k}
            for c, name in enumerate(TOOL_CLASSES):
                row[f"gt_{name}"] = int(gt[name])
                row[f"score_{name}"] = float(pred["tool_heatmap"][c].max())
                row[f"pred_{name}"] = int(any(b.cls == c for b in boxes))
            rows.append(row)
    frame = pd.DataFrame(rows)
    result: dict = {
        "seconds": len(frame),
        "clips": sorted(frame["clip"].unique().tolist()),
        "tools": {},
    }
    aps = []
    for name in TOOL_CLASSES:
        gt, pred, score = frame[f"gt_{name}"], frame[f"pred_{name}"], frame[f"score_{name}"]
        positives = int(gt.sum())
        order = np.argsort(-score.to_numpy())
        ap = (
            average_precision([(float(score.iloc[i]), bool(gt.iloc[i])) for i in order], positives)
            if positives
            else float("nan")
        )
        if positives:
            aps.append(ap)
        result["tools"][name] = {
            "positives": positives,
            "accuracy": float((gt == pred).mean()),
            "ap": ap,
            "predicted_present": int(pred.sum()),
        }
    result["map"] = float(np.mean(aps)) if aps else float("nan")
    # runs of consecutive seconds missed / falsely reported, per clip and class, pooled
    miss_runs: list[int] = []
    false_runs: list[int] = []
    for _, clip in frame.sort_values("second").groupby("clip"):
        for name in TOOL_CLASSES:
            gt, pred = clip[f"gt_{name}"].to_numpy(), clip[f"pred_{name}"].to_numpy()
            miss_runs += _run_lengths((gt == 1) & (pred == 0))
            false_runs += _run_lengths((gt == 0) & (pred == 1))
    result["runs"] = {
        "miss_runs": len(miss_runs),
        "miss_mean_s": float(np.mean(miss_runs)) if miss_runs else float("nan"),
        "false_alarm_runs": len(false_runs),
        "false_alarm_mean_s": float(np.mean(false_runs)) if false_runs else float("nan"),
    }
    result["mean_accuracy"] = float(np.mean([t["accuracy"] for t in result["tools"].values()]))
    return result


def _run_lengths(flags: np.ndarray) -> list[int]:
    runs, length = [], 0
    for on in flags:
        if on:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    if length:
        runs.append(length)
    return runs


def presence_markdown(result: dict) -> str:
    lines = [
        f"{result['seconds']} seconds from {len(result['clips'])} clips (2 surgeries), one frame per "
        "second, against Cholec80's tool annotation for that second.",
        "",
        "| tool | seconds present | predicted present | accuracy | AP |",
        "|---|---|---|---|---|",
    ]
    for name, t in result["tools"].items():
        lines.append(
            f"| {name} | {t['positives']} | {t['predicted_present']} | {t['accuracy']:.3f} | {_fmt(t['ap'])} |"
        )
    lines.append(
        f"| **all** | | | mean {result['mean_accuracy']:.3f} | mAP (tools present) {_fmt(result['map'])} |"
    )
    r = result["runs"]
    lines.append("")
    lines.append(
        f"Error runs (consecutive seconds, all classes pooled): {r['miss_runs']} runs of misses, mean "
        f"{r['miss_mean_s']:.1f} s; {r['false_alarm_runs']} runs of false alarms, mean {r['false_alarm_mean_s']:.1f} s."
    )
    return "\n".join(lines) + "\n"


def _fmt(v: float, ci: tuple[float, float] | None = None) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    if ci is None or any(math.isnan(c) for c in ci):
        return f"{v:.3f}"
    return f"{v:.3f} ({ci[0]:.2f}–{ci[1]:.2f})"


def markdown(result: dict) -> str:
    errors = result["presence_errors"]
    presence = [
        "",
        "Frame-level presence at each class's threshold (chosen for F1 on these pooled out-of-fold "
        "frames; the exported graph reads it as 0.5):",
        "",
        "| class | threshold | frames with it | missed | false alarm (frames without it) | F1 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {n} | {e['threshold']} | {e['frames_with']} | {e['miss']:.3f} | {e['false_alarm']:.3f} | {e['f1']:.3f} |"
            for n, e in errors.items()
        ),
    ]
    lines = [
        f"Out-of-fold, {len(result['folds'])} of 4 folds by video ({result['frames']} frames), "
        f"fold models {result['steps']} steps each; brackets: 95% bootstrap intervals resampling "
        "whole videos | resampling 10-s blocks within videos (1,000 resamples).",
        "",
        "| class | GT boxes | AP@0.5 (video bootstrap) | (block bootstrap) |",
        "|---|---|---|---|",
    ]
    p, cv, cb = result["point"], result["ci_video"], result["ci_block"]
    for name in TOOL_CLASSES:
        k = f"ap50_{name}"
        lines.append(
            f"| {name} | {result['gt_per_class'][name]} | {_fmt(p[k], cv.get(k))} | {_fmt(p[k], cb.get(k))} |"
        )
    lines.append(
        f"| **mAP** | {sum(result['gt_per_class'].values())} | **{_fmt(p['map50'], cv.get('map50'))}** | {_fmt(p['map50'], cb.get('map50'))} |"
    )
    lines.append("")
    lines.append("| fold (test videos) | mAP@0.5 | " + " | ".join(TOOL_CLASSES) + " |")
    lines.append("|---|---|" + "---|" * len(TOOL_CLASSES))
    for fold, table in result["per_fold"].items():
        videos = "+".join(sorted(v for v, k in M2CAI_FOLDS.items() if k == int(fold)))
        lines.append(
            f"| {fold} ({videos}) | {_fmt(table['map50'])} | "
            + " | ".join(_fmt(table[f"ap50_{n}"]) for n in TOOL_CLASSES)
            + " |"
        )
    lines.extend(presence)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# overlays (contact sheets under .work/det/overlays: frames of the shared data are never committed)


def _segmenter(onnx_path: Path, manifest_path: Path = REPO / "models" / "scrubline-vision.toml"):
    """The app's own Segmenter wrapper over `onnx_path` (a fold model or the bundled one)."""
    import dataclasses

    from scrubline.core.models import load_manifest, load_model

    manifest = dataclasses.replace(load_manifest(manifest_path), file=onnx_path)
    return load_model(manifest, threads=THREADS)


def _drawn(model, rgb: np.ndarray, note: str = "", truth: list | None = None) -> np.ndarray:
    import cv2

    from scrubline.core.overlay import draw_overlays

    h, w = rgb.shape[:2]
    (result,) = model.predict(
        [cv2.resize(rgb, model.input_size, interpolation=cv2.INTER_AREA)], (w, h)
    )
    img = draw_overlays(rgb, result, bleeding_threshold=model.manifest.threshold("bleeding", 0.5))
    for name, (x1, y1, x2, y2) in truth or []:  # ground truth: thin white, name at the bottom
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (255, 255, 255), 1)
        cv2.putText(
            img,
            name,
            (int(x1) + 2, int(y2) - 3),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            (255, 255, 255),
            1,
        )
    if note:
        cv2.putText(img, note, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return img


def render(fold_steps: int, full_steps: int, data: Path | None = None) -> None:
    """Contact sheets: m2cai16 by each fold model that never saw the video (white = the
    labelled boxes), and the bundled model on the cholec80 clips, laparoscopic_frames, EndoVis
    and the generated demo."""
    import cv2
    from models.train.vision_render import sheet

    from scrubline.core.demo import DEMO_SIZE, demo_frame_drawer, demo_tool_boxes

    data = data or default_data_dir()
    out = WORK / "overlays"
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str, tiles: list[np.ndarray], columns: int = 4) -> None:
        cv2.imwrite(str(out / name), sheet(tiles, columns)[..., ::-1])
        print(f"wrote {out / name}")

    samples = load_m2cai()
    tiles = []
    for fold in (1, 2, 3, 4):
        path = fold_dir(fold, fold_steps) / "model.pt"
        if not path.is_file():
            continue
        # the fold model with the operating points the bundled graph has (heatmaps shifted)
        shifted = path.with_name("model_shifted.onnx")
        fold_model = load_trained(path)
        shift_heatmaps(
            fold_model,
            json.loads((WORK / f"eval{WORK_TAG}_s{fold_steps}.json").read_text())[
                "class_thresholds"
            ],
        )
        export_onnx(fold_model, shifted, "fold")
        model = _segmenter(shifted)
        for video in sorted(v for v, k in M2CAI_FOLDS.items() if k == fold):
            frames = [s for s in samples if s.video == video]
            for s in frames[:: max(1, len(frames) // 4)][:4]:
                bgr = cv2.imread(
                    str(data / "m2cai16_tool_locations" / "JPEGImages" / f"{s.name}.jpg")
                )
                rgb = bgr[..., ::-1].copy()
                h, w = rgb.shape[:2]
                truth = [
                    (TOOL_CLASSES[int(c)], (b[0] * w, b[1] * h, b[2] * w, b[3] * h))
                    for c, b in zip(s.classes, s.boxes, strict=True)
                ]
                tiles.append(_drawn(model, rgb, f"{s.name} (fold {fold} model)", truth))
    if tiles:
        save("m2cai16_heldout.png", tiles)
    bundled = _segmenter(ONNX_PATH)
    for group in sorted((data / "cholec80_clips").glob("g*")):
        tiles = []
        for clip in sorted(group.glob("*.mp4")):
            for k, rgb in clip_seconds(clip)[::4]:
                tiles.append(_drawn(bundled, rgb, f"{clip.name[:14]} +{k}s"))
        save(f"cholec_{group.name}.png", tiles)
    tiles = [
        _drawn(bundled, cv2.imread(str(p))[..., ::-1].copy(), p.stem[:20])
        for p in sorted((data / "laparoscopic_frames").glob("*.jpg"))[::3]
    ]
    save("laparoscopic_frames.png", tiles, 5)
    tiles = []
    for op in (1, 2, 3, 4):
        for n in (5, 25):
            path = (
                data / "endovis15" / "rigid_training" / f"OP{op}" / "Raw" / f"img_{n:02d}_raw.png"
            )
            if path.is_file():
                tiles.append(
                    _drawn(bundled, cv2.imread(str(path))[..., ::-1].copy(), f"OP{op} img {n}")
                )
    for video in (1, 2, 3, 4):
        path = data / "endovis15" / "robotic_testing" / f"Dataset{video}" / "Video.avi"
        capture = cv2.VideoCapture(str(path))
        for index in (50, 250):
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = capture.read()
            if ok:
                tiles.append(_drawn(bundled, bgr[..., ::-1].copy(), f"Dataset{video} f{index}"))
    sample = data / "endovis17_sample" / "short_source.mp4"
    if sample.is_file():
        ok, bgr = cv2.VideoCapture(str(sample)).read()
        if ok:
            tiles.append(_drawn(bundled, bgr[..., ::-1].copy(), "EndoVis 2017 sample"))
    save("endovis.png", tiles)
    width, height = DEMO_SIZE
    draw = demo_frame_drawer(width, height)
    tiles = [
        _drawn(bundled, draw(0, t), f"demo {t:.1f} s", demo_tool_boxes(t, width, height))
        for t in (1.0, 7.3, 12.1, 19.5, 27.7, 44.9, 59.5, 70.2)
    ]
    save("demo.png", tiles)


MANIFEST_PATH = REPO / "models" / "scrubline-vision.toml"


def write_manifest_metrics(evaluation: dict, presence: dict | None) -> None:
    """Put the detection numbers into the manifest's [metrics] (keys `tool_*`, replacing earlier
    ones; the dense maps' 1.1.0 keys stay: those maps are unchanged)."""
    lines = MANIFEST_PATH.read_text().splitlines()
    start = lines.index("[metrics]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    metrics = [
        ln for ln in lines[start:end] if not ln.startswith("tool_") and "# tool detection" not in ln
    ]
    kept = lines[:start] + metrics + lines[end:]
    p, cv = evaluation["point"], evaluation["ci_video"]

    def r(v: float) -> str:
        return "nan" if v is None or math.isnan(v) else f"{v:.4f}"

    add = [
        f"# tool detection: m2cai16 grouped 4-fold CV by video ({len(evaluation['folds'])} folds, "
        f"{evaluation['frames']} frames, fold models {evaluation['steps']} steps); *_ci95 = video bootstrap",
        f"tool_map50 = {r(p['map50'])}",
        f"tool_map50_ci95 = [{r(cv['map50'][0])}, {r(cv['map50'][1])}]",
    ]
    for name in TOOL_CLASSES:
        add.append(f"tool_ap50_{name.lower()} = {r(p[f'ap50_{name}'])}")
    if presence is not None:
        add.append(f"tool_presence_cholec80_clips_map = {r(presence['map'])}")
        add.append(f"tool_presence_cholec80_clips_accuracy = {r(presence['mean_accuracy'])}")
        add.append(f"tool_presence_cholec80_clips_seconds = {presence['seconds']}")
    start = kept.index("[metrics]")
    end = next((i for i in range(start + 1, len(kept)) if kept[i].startswith("[")), len(kept))
    kept[end:end] = add
    MANIFEST_PATH.write_text("\n".join(kept) + "\n")
    print(f"wrote {MANIFEST_PATH}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--folds", action="store_true")
    parser.add_argument("--fold", type=int, action="append", help="only these folds")
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--presence", action="store_true", help="cholec80 clips vs Cholec80 labels")
    parser.add_argument("--tool-score", type=float, default=0.5)
    parser.add_argument(
        "--render", action="store_true", help="contact sheets -> .work/det/overlays"
    )
    parser.add_argument(
        "--write-manifest", action="store_true", help="detection metrics -> the .toml"
    )
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--fold-steps", type=int, default=1200)
    parser.add_argument("--version", default="2.0.0")
    parser.add_argument("--cache-only", action="store_true")
    parser.add_argument("--det-width", type=int, default=64)
    parser.add_argument("--det-deep", action="store_true", help="own copy of the deep stages")
    parser.add_argument("--tag", default="", help="run name suffix (schedule/shape comparisons)")
    args = parser.parse_args(argv)
    DET_CONFIG.update(det_width=args.det_width, det_deep=args.det_deep)
    global WORK_TAG
    WORK_TAG = args.tag
    if args.cache_only:
        samples, sources = all_det_samples()
        feature_bank(samples, sources)
    if args.folds:
        for fold in args.fold or [1, 2, 3, 4]:
            train(fold_dir(fold, args.fold_steps), steps=args.fold_steps, held_out={fold})
    if args.train:
        train(WORK / f"full{WORK_TAG}_s{args.steps}", steps=args.steps, held_out=set())
    if args.evaluate:
        result = evaluate_folds(args.fold_steps, tuple(args.fold or (1, 2, 3, 4)))
        WORK.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=1, default=float)
        (WORK / f"eval{WORK_TAG}_s{args.fold_steps}.json").write_text(text)
        (WORK / "eval.json").write_text(text)
        print(markdown(result))
    if args.presence:
        result = presence_eval(ONNX_PATH, args.tool_score)
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / "presence.json").write_text(json.dumps(result, indent=1, default=float))
        print(presence_markdown(result))
    if args.render:
        render(args.fold_steps, args.steps)
    if args.write_manifest:
        evaluation = json.loads((WORK / f"eval{WORK_TAG}_s{args.fold_steps}.json").read_text())
        presence_file = WORK / "presence.json"
        presence = json.loads(presence_file.read_text()) if presence_file.is_file() else None
        write_manifest_metrics(evaluation, presence)
    if args.export:
        model = load_trained(WORK / f"full{WORK_TAG}_s{args.steps}" / "model.pt")
        evaluation = WORK / f"eval{WORK_TAG}_s{args.fold_steps}.json"
        thresholds = json.loads(evaluation.read_text())["class_thresholds"]
        print(f"heatmap thresholds from {evaluation.name}: {thresholds}")
        shift_heatmaps(model, thresholds)
        export_onnx(model, ONNX_PATH, args.version)


if __name__ == "__main__":
    main()
