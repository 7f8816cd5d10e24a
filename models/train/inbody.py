"""Train and validate the in-body gate: one probability per frame that the camera shows the inside
of the patient (not a menu, the operating room, a drape, a black screen, a trocar or a blank
lens).

    PYTHONPATH=$PWD/app:$PWD python -m models.train.inbody             # cross-validate, train, export
    PYTHONPATH=$PWD/app:$PWD python -m models.train.inbody --evaluate  # recompute the card's numbers

Why a separate tiny model: the question is about the whole frame (colour, texture, layout), not
about objects, so a 64x48 thumbnail is enough and the model costs well under a millisecond per
frame; it can be trained and checked on the CPU in minutes, apart from the vision network.

Data (read from `--data`, `$SCRUBLINE_DATA` or `../shared/data`; labels in `models/train/labels/`,
one reviewer's annotations made by looking at contact sheets, see its README):

* `laparoscopic_frames/`: 120 frames of 6 videos, labelled one by one (19 out of body: menus,
  operating-room views, drapes, black frames, trocar views, blank lenses);
* `cholec80_clips/`: every 10th frame of the 6 clips, labelled by span (one clip ends black);
* `endovis15/` rigid frames and robotic videos (every 5th frame), `endovis17_sample/`,
  `m2cai16_tool_locations/` (every 2nd frame): all in body (checked on contact sheets);
* generated negatives made here in code: black and near-black frames, uniform colours, colour
  bars, text and menu screens, featureless blurred haze, with and without the endoscope's round
  field of view; and device menus pasted over in-body training frames.

Model: four strided 3x3 convolutions with batch norm and ReLU, global average and max pooling, a
linear layer and a sigmoid (about 30 k parameters), exported to ONNX with a dynamic batch.

Validation is grouped by video: 3 folds, each holding out two `laparoscopic_frames` videos and a
share of every other source's videos (m2cai16 video, EndoVis operation or video, Cholec80 source
video); 3 folds, because the CPU is shared and each fold trains in minutes. Every real frame is predicted once, by the model that never saw its video; generated
test negatives come from another seed than the training ones. Reported per source: in-body frames
kept (recall of "in"), out-of-body frames caught (recall of "out") and precision of "out", with
Wilson 95 % intervals. Writes `models/scrubline-inbody.onnx`, `.toml` (manifest with the metrics)
and the metrics section of `models/scrubline-inbody.md`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
LABELS = Path(__file__).resolve().parent / "labels"
WORK = ROOT / ".work" / "inbody"
MODEL_ID = "scrubline-inbody"
VERSION = "1.0.0"
INPUT_W, INPUT_H = 64, 48
STORE_W, STORE_H = 80, 60  # cached size; random crops of it are resized to the input size
FOLDS = 3
SEED = 0
EPOCHS = 10
STEPS_PER_EPOCH = 30
BATCH = 64
THRESHOLD = 0.5  # in-body probability below which a frame is out of body


def data_root(given: str | None) -> Path:
    if given:
        return Path(given)
    if os.environ.get("SCRUBLINE_DATA"):
        return Path(os.environ["SCRUBLINE_DATA"])
    return ROOT.parent / "shared" / "data"


# ------------------------------------------------------------------------------------ real data
@dataclass
class Samples:
    images: list[np.ndarray] = field(default_factory=list)  # RGB uint8 STORE_H x STORE_W
    in_body: list[int] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)  # the video it comes from
    reason: list[str] = field(default_factory=list)

    def add(self, bgr: np.ndarray, in_body: int, source: str, group: str, reason: str = "") -> None:
        import cv2

        small = cv2.resize(bgr, (STORE_W, STORE_H), interpolation=cv2.INTER_AREA)
        self.images.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        self.in_body.append(int(in_body))
        self.source.append(source)
        self.group.append(group)
        self.reason.append(reason)


def _video_frames(path: Path, every: int):
    import cv2

    cap = cv2.VideoCapture(str(path))
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            if index % every == 0:
                yield index, frame
            index += 1
    finally:
        cap.release()


def load_real(root: Path) -> Samples:
    import cv2

    out = Samples()
    with (LABELS / "laparoscopic_frames.csv").open() as fh:
        for row in csv.DictReader(fh):
            image = cv2.imread(str(root / "laparoscopic_frames" / row["file"]))
            if image is None:
                raise SystemExit(f"error: {row['file']}: cannot be read")
            out.add(image, int(row["in_body"]), "laparoscopic_frames", row["video"], row["reason"])
    spans: dict[str, list[tuple[int, int, int, str, str]]] = {}
    with (LABELS / "video_spans.csv").open() as fh:
        for row in csv.DictReader(fh):
            last = int(row["last_frame"]) if row["last_frame"] else 10**9
            spans.setdefault(f"{row['source']}/{row['item']}", []).append(
                (int(row["first_frame"]), last, int(row["in_body"]), row["reason"], row["video"])
            )
    every = {"cholec80_clips": 10, "endovis15": 5, "endovis17_sample": 5}
    for key, ranges in spans.items():
        source, item = key.split("/", 1)
        for index, frame in _video_frames(root / source / item, every[source]):
            span = next((s for s in ranges if s[0] <= index <= s[1]), None)
            if span is None:
                raise SystemExit(f"error: {key}: frame {index} is in no labelled span")
            out.add(frame, span[2], source, span[4], span[3])
    for path in sorted((root / "endovis15" / "rigid_training").glob("OP*/Raw/*.png")):
        out.add(cv2.imread(str(path)), 1, "endovis15", path.parts[-3])
    m2cai = sorted((root / "m2cai16_tool_locations" / "JPEGImages").glob("*.jpg"))
    for path in m2cai[::2]:
        out.add(cv2.imread(str(path)), 1, "m2cai16", path.name.split("_")[0])
    return out


def cached_real(root: Path) -> Samples:
    """`load_real`, kept in .work/ keyed by the label files and the data folder (reading and
    decoding the videos takes a minute)."""
    import hashlib

    digest = hashlib.sha256(str(root.resolve()).encode())
    for path in sorted(LABELS.glob("*.csv")):
        digest.update(path.read_bytes())
    digest.update(f"{STORE_W}x{STORE_H}".encode())
    cache = WORK / f"real-{digest.hexdigest()[:16]}.npz"
    if cache.exists():
        with np.load(cache) as data:
            meta = json.loads(str(data["meta"]))
            return Samples(
                list(data["images"]), meta["in_body"], meta["source"], meta["group"], meta["reason"]
            )
    real = load_real(root)
    WORK.mkdir(parents=True, exist_ok=True)
    meta = {k: getattr(real, k) for k in ("in_body", "source", "group", "reason")}
    np.savez(cache, images=np.stack(real.images), meta=json.dumps(meta))
    return real


# ------------------------------------------------------------------------- generated negatives
GENERATED_KINDS = (
    "black",
    "uniform",
    "colour_bars",
    "text_screen",
    "haze",
    "menu_overlay",
    "room",
    "menu_overlay",
)


def _cool_colour(rng: np.random.Generator) -> np.ndarray:
    """A BGR colour that is not tissue: grey, white, beige, or blue-green (drapes, gowns, walls).
    Tissue is warm and saturated; a flat warm frame is too easily fat seen very close."""
    import cv2

    if rng.random() < 0.5:  # neutral: grey to white, slightly warm or cool
        level = rng.uniform(30, 240)
        return np.clip(level + rng.normal(0, 8, 3), 0, 255)
    hsv = np.uint8([[[rng.integers(65, 130), rng.integers(40, 256), rng.integers(40, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(float)  # OpenCV hue 65-130: green-blue


def _round_field(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Black out everything outside a circle, as an endoscope's field of view does."""
    import cv2

    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    radius = int(h * rng.uniform(0.5, 0.75))
    centre = (int(w / 2 + rng.uniform(-0.05, 0.05) * w), h // 2)
    cv2.circle(mask, centre, radius, 255, -1)
    image[mask == 0] = 0
    return image


def _random_text(rng: np.random.Generator, length: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 :./-%"
    return "".join(letters[i] for i in rng.integers(0, len(letters), length))


def _menu_panel(image: np.ndarray, rng: np.random.Generator, cover: float) -> np.ndarray:
    """A device menu: a filled panel with a few lines of text and icon squares."""
    import cv2

    h, w = image.shape[:2]
    pw, ph = int(w * math.sqrt(cover) * rng.uniform(0.8, 1.3)), int(h * math.sqrt(cover))
    pw, ph = min(pw, w), min(ph, h)
    x0, y0 = int(rng.integers(0, max(1, w - pw))), int(rng.integers(0, max(1, h - ph)))
    # Device menus are mostly blue panels (BGR) with white text and a strip of icons.
    blue = (int(rng.integers(140, 210)), int(rng.integers(60, 120)), int(rng.integers(20, 70)))
    colour = blue if rng.random() < 0.7 else tuple(int(c) for c in rng.integers(0, 120, 3))
    cv2.rectangle(image, (x0, y0), (x0 + pw, y0 + ph), colour, -1)
    if rng.random() < 0.6:  # the icon strip down the left edge of the screen
        s = max(5, h // 16)
        for k in range(int(rng.integers(4, 10))):
            y = int(h * 0.05) + k * (s + 3)
            cv2.rectangle(image, (4, y), (4 + s, y + s), blue, -1)
            cv2.rectangle(image, (6, y + 2), (2 + s, y + s - 2), (255, 255, 255), 1)
    lines = int(rng.integers(2, 7))
    for k in range(lines):
        y = y0 + int((k + 1) * ph / (lines + 1))
        cv2.putText(
            image,
            _random_text(rng, int(rng.integers(4, 14))),
            (x0 + 6, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            rng.uniform(0.2, 0.5),
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    for k in range(int(rng.integers(0, 5))):
        s = max(4, ph // 8)
        x, y = x0 + pw - s - 4, y0 + 4 + k * (s + 4)
        cv2.rectangle(
            image, (x, y), (x + s, y + s), tuple(int(c) for c in rng.integers(60, 255, 3)), -1
        )
    return image


def generated_negative(
    kind: str, rng: np.random.Generator, in_body: list[np.ndarray] | None = None
) -> np.ndarray:
    """One out-of-body frame of `kind` (BGR uint8, 320x240: the model sees 64x48, and text at this
    size is as legible as a 1080p menu shrunk to it); `menu_overlay` pastes a menu over one of the
    given in-body frames."""
    import cv2

    h, w = 240, 320
    if kind == "black":
        image = np.clip(rng.normal(rng.uniform(0, 12), rng.uniform(0, 3), (h, w, 3)), 0, 255)
        image = image.astype(np.uint8)
        if rng.random() < 0.4:
            cv2.putText(
                image,
                _random_text(rng, 12),
                (int(rng.integers(0, 150)), int(rng.integers(15, 230))),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.3,
                (200, 200, 200),
                1,
            )
    elif kind == "uniform":
        colour = _cool_colour(rng)
        image = np.clip(rng.normal(0, rng.uniform(0, 8), (h, w, 3)) + colour, 0, 255).astype(
            np.uint8
        )
    elif kind == "colour_bars":
        bars = np.array(
            [
                [192, 192, 192],
                [0, 192, 192],
                [192, 192, 0],
                [0, 192, 0],
                [192, 0, 192],
                [0, 0, 192],
                [192, 0, 0],
            ],
            np.uint8,
        )
        if rng.random() < 0.5:
            bars = bars[rng.permutation(len(bars))]
        scale = rng.uniform(0.6, 1.3)
        bars = np.clip(bars * scale, 0, 255).astype(np.uint8)
        image = np.repeat(np.repeat(bars[None], h, 0), w // len(bars) + 1, 1)[:, :w]
        if rng.random() < 0.5:  # the lower strip of SMPTE bars
            image[int(h * 0.75) :] = rng.integers(0, 60, 3).astype(np.uint8)
    elif kind == "text_screen":
        colour = rng.integers(0, 256, 3)
        image = np.empty((h, w, 3), np.uint8)
        image[:] = colour
        ink = (255, 255, 255) if colour.mean() < 128 else (0, 0, 0)
        for _ in range(int(rng.integers(1, 12))):
            cv2.putText(
                image,
                _random_text(rng, int(rng.integers(3, 30))),
                (int(rng.integers(0, 160)), int(rng.integers(10, 235))),
                cv2.FONT_HERSHEY_SIMPLEX,
                rng.uniform(0.2, 0.75),
                ink,
                1,
            )
        if rng.random() < 0.5:
            image = _menu_panel(image, rng, rng.uniform(0.05, 0.4))
    elif kind == "haze":
        # Out-of-focus tissue and surgical smoke are pink or grey haze and stay in the body:
        # generated haze is blue-green (a drape or gown against the lens), never warm or grey.
        small = np.stack([_cool_colour(rng) for _ in range(12)]).reshape(3, 4, 3)
        small[..., 0] = np.maximum(small[..., 0], small[..., 2] + 25)  # BGR: bluer than red
        image = cv2.resize(
            np.clip(small, 0, 255).astype(np.uint8), (w // 4, h // 4), interpolation=cv2.INTER_CUBIC
        )
        image = cv2.resize(cv2.GaussianBlur(image, (0, 0), rng.uniform(3, 8)), (w, h))
    elif kind == "room":
        # An operating room or a hallway: flat walls, shelves, equipment and screens as
        # straight-edged boxes in neutral and cool colours.
        image = np.empty((h, w, 3), np.uint8)
        image[:] = _cool_colour(rng)
        for _ in range(int(rng.integers(6, 30))):
            x0, y0 = int(rng.integers(-40, w)), int(rng.integers(-40, h))
            x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(4, h // 2))
            colour = tuple(int(c) for c in _cool_colour(rng))
            cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1 if rng.random() < 0.7 else 2)
        if rng.random() < 0.5:  # a monitor's bright screen or a lamp
            x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 30))
            cv2.rectangle(image, (x0, y0), (x0 + 40, y0 + 28), (230, 230, 230), -1)
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.0))
        image = np.clip(
            image * rng.uniform(0.5, 1.1) + rng.normal(0, 4, image.shape), 0, 255
        ).astype(np.uint8)
    elif kind == "menu_overlay":
        assert in_body
        base = in_body[int(rng.integers(0, len(in_body)))]
        image = cv2.resize(
            cv2.cvtColor(base, cv2.COLOR_RGB2BGR), (w, h), interpolation=cv2.INTER_LINEAR
        )
        return _menu_panel(image, rng, rng.uniform(0.12, 0.35))
    else:
        raise ValueError(kind)
    if kind != "black" and rng.random() < 0.5:
        image = _round_field(image, rng)
    return image


def add_generated(out: Samples, count: int, seed: int, in_body: list[np.ndarray]) -> None:
    rng = np.random.default_rng(seed)
    for k in range(count):
        kind = GENERATED_KINDS[k % len(GENERATED_KINDS)]
        out.add(generated_negative(kind, rng, in_body), 0, "generated", f"generated-{seed}", kind)


# ------------------------------------------------------------------------------------ the model
def _torch():
    import torch

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) - 1))
    return torch


def build_model():
    torch = _torch()
    nn = torch.nn

    def block(i: int, o: int) -> list:
        return [nn.Conv2d(i, o, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    class InBodyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(3, 16), *block(16, 32), *block(32, 48), *block(48, 64)
            )
            self.head = nn.Linear(128, 1)

        def forward(self, x):
            f = self.features(x)
            pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
            return torch.sigmoid(self.head(pooled))

    return InBodyNet()


def to_input(batch_rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 N x INPUT_H x INPUT_W x 3 → the float N x 3 x H x W the manifest describes."""
    return np.ascontiguousarray(batch_rgb.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)


def _augment(
    images: np.ndarray, rng: np.random.Generator, smoke: np.ndarray | None = None
) -> np.ndarray:
    """Random crops, flips, white balance, exposure; `smoke` (per image) may veil it."""
    import cv2

    out = np.empty((len(images), INPUT_H, INPUT_W, 3), np.uint8)
    for k, image in enumerate(images):
        scale = rng.uniform(0.8, 1.0)
        cw, ch = int(STORE_W * scale), int(STORE_H * scale)
        x, y = int(rng.integers(0, STORE_W - cw + 1)), int(rng.integers(0, STORE_H - ch + 1))
        crop = cv2.resize(
            image[y : y + ch, x : x + cw], (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA
        )
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.3:
            crop = crop[::-1]
        gain = rng.uniform(0.7, 1.3, 3) * rng.uniform(0.75, 1.25)  # white balance and exposure
        crop = crop.astype(np.float32) * gain
        if smoke is not None and smoke[k] and rng.random() < 0.3:
            # Surgical smoke and a fogged lens: a grey-white veil stays in the body.
            veil = rng.uniform(0.2, 0.6)
            crop = crop * (1 - veil) + veil * rng.uniform(150, 230)
        crop = np.clip(crop + rng.normal(0, 2, crop.shape), 0, 255)
        out[k] = crop.astype(np.uint8)
    return out


def plain(images: np.ndarray) -> np.ndarray:
    """The app's view of a cached frame: the whole frame resized to the input size."""
    import cv2

    return np.stack(
        [cv2.resize(i, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA) for i in images]
    )


def train(images: np.ndarray, labels: np.ndarray, seed: int, log: list[str]):
    torch = _torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model()
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = EPOCHS * STEPS_PER_EPOCH
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    # Balanced: each class counts as much as the other, whatever their numbers.
    weights = np.where(labels == 1, 0.5 / max(1, labels.sum()), 0.5 / max(1, (1 - labels).sum()))
    weights = weights / weights.sum()
    per_epoch = STEPS_PER_EPOCH  # balanced draws, so an epoch is a fixed number of batches
    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for _ in range(per_epoch):
            chosen = rng.choice(len(images), BATCH, p=weights)
            x = torch.from_numpy(to_input(_augment(images[chosen], rng, labels[chosen] == 1)))
            y = torch.from_numpy(labels[chosen].astype(np.float32))[:, None]
            p = model(x).clamp(1e-6, 1 - 1e-6)
            loss = torch.nn.functional.binary_cross_entropy(p, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        log.append(f"  epoch {epoch + 1}: loss {total / per_epoch:.4f}")
        print(log[-1], flush=True)
    model.eval()
    return model


def predict(model, images: np.ndarray) -> np.ndarray:
    torch = _torch()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 256):
            x = torch.from_numpy(to_input(plain(images[start : start + 256])))
            out.append(model(x).numpy()[:, 0])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


# ------------------------------------------------------------------------------------- metrics
def wilson(k: int, n: int) -> tuple[float, float] | None:
    if n == 0:
        return None
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def source_metrics(truth: np.ndarray, prob: np.ndarray) -> dict[str, object]:
    out_true = truth == 0
    out_pred = prob < THRESHOLD
    n_in, n_out = int((~out_true).sum()), int(out_true.sum())
    kept = int((~out_true & ~out_pred).sum())
    caught = int((out_true & out_pred).sum())
    flagged = int(out_pred.sum())
    row: dict[str, object] = {"frames": len(truth), "in_body": n_in, "out_of_body": n_out}
    for name, k, n in (
        ("in_kept", kept, n_in),
        ("out_recall", caught, n_out),
        ("out_precision", caught, flagged),
    ):
        row[name] = None if n == 0 else round(k / n, 4)
        row[f"{name}_count"] = f"{k}/{n}"
        ci = wilson(k, n)
        row[f"{name}_ci95"] = None if ci is None else [round(ci[0], 3), round(ci[1], 3)]
    return row


def fold_of(samples: Samples) -> np.ndarray:
    """Fold per sample, by video: each source's videos dealt round-robin over the folds."""
    folds = np.zeros(len(samples.group), np.int64)
    for offset, source in enumerate(sorted(set(samples.source))):
        groups = sorted(
            {g for s, g in zip(samples.source, samples.group, strict=True) if s == source}
        )
        place = {g: (i + offset) % FOLDS for i, g in enumerate(groups)}
        for k, (s, g) in enumerate(zip(samples.source, samples.group, strict=True)):
            if s == source:
                folds[k] = place[g]
    return folds


def cross_validate(real: Samples, log: list[str]) -> dict[str, object]:
    images = np.stack(real.images)
    labels = np.asarray(real.in_body)
    folds = fold_of(real)
    probs = np.full(len(labels), np.nan, np.float32)
    generated_truth: list[np.ndarray] = []
    generated_prob: list[np.ndarray] = []
    generated_kind: list[str] = []
    for fold in range(FOLDS):
        train_idx = np.flatnonzero(folds != fold)
        test_idx = np.flatnonzero(folds == fold)
        train_in = [images[i] for i in train_idx if labels[i] == 1]
        held_in = [images[i] for i in test_idx if labels[i] == 1]
        gen_train, gen_test = Samples(), Samples()
        add_generated(gen_train, 600, seed=100 + fold, in_body=train_in)
        add_generated(gen_test, 120, seed=200 + fold, in_body=held_in or train_in)
        x = np.concatenate([images[train_idx], np.stack(gen_train.images)])
        y = np.concatenate([labels[train_idx], np.asarray(gen_train.in_body)])
        started = time.monotonic()
        log.append(
            f"fold {fold}: train {len(x)} (held out {sorted(set(np.asarray(real.group)[test_idx]))})"
        )
        model = train(x, y, seed=SEED + fold, log=log)
        probs[test_idx] = predict(model, images[test_idx])
        generated_prob.append(predict(model, np.stack(gen_test.images)))
        generated_truth.append(np.asarray(gen_test.in_body))
        generated_kind.extend(gen_test.reason)
        log.append(f"fold {fold}: {time.monotonic() - started:.0f} s")
        print(log[-1], flush=True)
    sources = np.asarray(real.source)
    per_source = {
        s: source_metrics(labels[sources == s], probs[sources == s])
        for s in sorted(set(real.source))
    }
    per_source["all real frames"] = source_metrics(labels, probs)
    gen_p, gen_t = np.concatenate(generated_prob), np.concatenate(generated_truth)
    per_source["generated (held-out seeds)"] = source_metrics(gen_t, gen_p)
    kinds = np.asarray(generated_kind)
    per_kind = {k: source_metrics(gen_t[kinds == k], gen_p[kinds == k]) for k in GENERATED_KINDS}
    reasons = np.asarray(real.reason)
    out_real = labels == 0
    per_reason = {
        r: f"{int(((probs < THRESHOLD) & out_real & (reasons == r)).sum())}/{int((out_real & (reasons == r)).sum())}"
        for r in sorted(set(reasons[out_real]))
    }
    missed = [
        f"{real.source[i]} {real.group[i]} #{i} ({real.reason[i] or 'in'}) p={probs[i]:.2f}"
        for i in np.flatnonzero((probs < THRESHOLD) != out_real)
    ]
    return {
        "per_source": per_source,
        "generated_per_kind": per_kind,
        "real_out_caught_per_reason": per_reason,
        "errors": missed,
    }


# -------------------------------------------------------------------------------------- export
def export_onnx(model, path: Path) -> None:
    torch = _torch()
    import onnx
    import onnxruntime as ort

    x = torch.rand(3, 3, INPUT_H, INPUT_W)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["image"],
        output_names=["in_body"],
        dynamic_axes={"image": {0: "N"}, "in_body": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    proto.producer_name = "scrubline models/train/inbody.py"
    proto.doc_string = (
        f"{MODEL_ID} {VERSION}: probability that the frame shows the inside of the body, N x 1"
    )
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"image": x.numpy()}
    )[0]
    with torch.no_grad():
        want = model(x).numpy()
    err = float(np.abs(got - want).max())
    if err > 1e-4:
        raise RuntimeError(f"ONNX export differs from torch by {err}")
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB), max |onnx - torch| = {err:.1e}")


def _fmt(row: dict[str, object], key: str) -> str:
    value, ci = row.get(key), row.get(f"{key}_ci95")
    if value is None:
        return "–"
    text = f"{float(value):.3f} ({row[f'{key}_count']})"  # type: ignore[arg-type]
    if ci:
        text += f" [{ci[0]:.2f}–{ci[1]:.2f}]"  # type: ignore[index]
    return text


def metrics_markdown(result: dict[str, object]) -> str:
    lines = [
        "| source | frames (in / out) | in-body kept | out caught (recall) | out precision |",
        "|---|---|---|---|---|",
    ]
    for source, row in result["per_source"].items():  # type: ignore[union-attr]
        lines.append(
            f"| {source} | {row['frames']} ({row['in_body']} / {row['out_of_body']}) | "
            f"{_fmt(row, 'in_kept')} | {_fmt(row, 'out_recall')} | {_fmt(row, 'out_precision')} |"
        )
    lines += [
        "",
        "Generated held-out negatives caught, per kind: "
        + ", ".join(
            f"{k} {v['out_recall_count']}"
            for k, v in result["generated_per_kind"].items()  # type: ignore[union-attr]
        )
        + ".",
        "",
        "Real out-of-body frames caught, per reason: "
        + ", ".join(
            f"{k} {v}"
            for k, v in result["real_out_caught_per_reason"].items()  # type: ignore[union-attr]
        )
        + ".",
    ]
    return "\n".join(lines)


MANIFEST = """schema = 1
id = "{id}"
version = "{version}"
name = "In-body gate"
task = "inbody"
file = "{id}.onnx"
card = "{id}.md"
licence = "Apache-2.0 (model); trained on laparoscopic_frames (MIT), Cholec80 clips (CC BY-NC-SA 4.0), EndoVis 2015/2017 (research use), m2cai16-tool-locations (research-only, non-commercial): use for research and non-commercial review"
summary = "Probability that a frame shows the inside of the body. Frames below the threshold (menus, operating-room views, drapes, black screens, trocar views, blank lenses) get no tool, tip or bleeding results and are blurred in exports."
labels = ["in_body"]
headline_metric = "real_out_recall"

[input]
name = "image"
width = {w}
height = {h}
colour = "RGB"
layout = "NCHW"
scale = 0.00392156862745098
mean = [0.0, 0.0, 0.0]
std = [1.0, 1.0, 1.0]

[[outputs]]
name = "in_body"
role = "in_body"
shape = ["N", 1]

[thresholds]
in_body = {threshold}

[training]
data = "laparoscopic_frames (120, labelled one by one), cholec80_clips (every 10th frame, labelled by span), EndoVis 2015 rigid + robotic, EndoVis 2017 sample, m2cai16 (every 2nd frame); plus generated negatives (black, uniform colours, colour bars, text/menu screens, haze, menus over in-body frames)"
labels = "models/train/labels/ (one reviewer: an AI assistant looking at contact sheets)"
data_licence = "MIT; CC BY-NC-SA 4.0; EndoVis research use; m2cai16 research-only, non-commercial"
split = "3 folds grouped by video (each holds out two laparoscopic_frames videos and a share of every other source's videos)"
script = "models/train/inbody.py"
seed = {seed}

[metrics]
{metrics}
"""


def manifest_metrics(result: dict[str, object]) -> str:
    rows = result["per_source"]  # type: ignore[index]
    real = rows["all real frames"]  # type: ignore[index]
    lap = rows["laparoscopic_frames"]  # type: ignore[index]
    gen = rows["generated (held-out seeds)"]  # type: ignore[index]
    values = {
        "real_out_recall": real["out_recall"],
        "real_out_recall_ci95": real["out_recall_ci95"],
        "real_out_precision": real["out_precision"],
        "real_in_kept": real["in_kept"],
        "real_in_kept_ci95": real["in_kept_ci95"],
        "laparoscopic_frames_out_recall": lap["out_recall"],
        "laparoscopic_frames_out_recall_ci95": lap["out_recall_ci95"],
        "laparoscopic_frames_in_kept": lap["in_kept"],
        "generated_out_recall": gen["out_recall"],
        "real_out_frames": real["out_of_body"],
        "real_in_frames": real["in_body"],
    }
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None)


def write_card_metrics(markdown: str) -> None:
    card = ROOT / "models" / f"{MODEL_ID}.md"
    text = card.read_text() if card.exists() else ""
    begin, end = "<!-- metrics:begin -->", "<!-- metrics:end -->"
    block = f"{begin}\n{markdown}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text += "\n" + block + "\n"
    card.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", help="shared data folder (default: $SCRUBLINE_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--evaluate", action="store_true", help="cross-validate only; print the card's numbers"
    )
    args = parser.parse_args(argv)
    root = data_root(args.data)
    if not (root / "laparoscopic_frames").is_dir():
        print(
            f"error: {root}: no laparoscopic_frames folder (see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    real = cached_real(root)
    print(
        f"{len(real.images)} real frames ({len(real.images) - sum(real.in_body)} out of body) "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    log: list[str] = []
    result = cross_validate(real, log)
    (WORK / "cv.json").write_text(json.dumps(result, indent=1))
    (WORK / "train.log").write_text("\n".join(log))
    markdown = metrics_markdown(result)
    print(markdown)
    print("misclassified real frames:\n  " + "\n  ".join(result["errors"]))  # type: ignore[arg-type]
    if args.evaluate:
        return 0
    images = np.stack(real.images)
    labels = np.asarray(real.in_body)
    final = Samples()
    add_generated(
        final, 700, seed=SEED + 999, in_body=[images[i] for i in np.flatnonzero(labels == 1)]
    )
    model = train(
        np.concatenate([images, np.stack(final.images)]),
        np.concatenate([labels, np.asarray(final.in_body)]),
        seed=SEED,
        log=log,
    )
    export_onnx(model, ROOT / "models" / f"{MODEL_ID}.onnx")
    (ROOT / "models" / f"{MODEL_ID}.toml").write_text(
        MANIFEST.format(
            id=MODEL_ID,
            version=VERSION,
            w=INPUT_W,
            h=INPUT_H,
            threshold=THRESHOLD,
            seed=SEED,
            metrics=manifest_metrics(result),
        )
    )
    write_card_metrics(markdown)
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
