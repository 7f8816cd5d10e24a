"""Class-aware tool boxes from a centre-heatmap detector (CenterNet-style): one heatmap per tool
class, a box size and a sub-cell centre offset per cell, all at a fraction of the input size.

Why this shape of detector: the vision network already runs once per frame for instrument, tip
and bleeding maps; a few more output channels on its decoder give class-aware boxes without a
second network, an anchor set or an in-graph NMS. Decoding is plain numpy (a 3x3 peak test
replaces box NMS, as in CenterNet), so the app and the training script's evaluation share it:
the reported AP is that of the boxes the app draws.

Each tool keeps what the dense maps say about it: its tip is the tip map's peak inside its box
(visible when the peak reaches the tip threshold), otherwise an estimated tip at the far end of
the instrument pixels inside the box, drawn hollow by the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrubline.core.models.instances import _entry_point, _estimated_tip, _far_end
from scrubline.core.results import Instrument


@dataclass(frozen=True)
class CentreBox:
    """One decoded detection: class index, score, box x1, y1, x2, y2 as fractions (0..1)."""

    cls: int
    score: float
    box: tuple[float, float, float, float]


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def decode_centres(
    heatmap: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray | None,
    *,
    score_threshold: float = 0.3,
    max_detections: int = 20,
    overlap_iou: float = 0.7,
) -> list[CentreBox]:
    """`heatmap` C×h×w class probabilities, `size` 2×h×w box width/height as fractions of the
    frame, `offset` 2×h×w the centre's position inside its cell (0..1; None = cell centre).

    A detection is a cell that is the maximum of its 3×3 neighbourhood in its class plane and
    reaches `score_threshold`; the `max_detections` best are kept. Where two peaks claim the
    same tool (boxes overlapping by IoU ≥ `overlap_iou`), only the more confident one stays: a
    tool has one class and one box (a long tool can raise two peaks a few cells apart, of one
    class or of two)."""
    import cv2

    if heatmap.ndim != 3 or size.shape[0] != 2 or size.shape[1:] != heatmap.shape[1:]:
        raise ValueError(
            f"tool heatmap {heatmap.shape} and size {size.shape} do not match (C×h×w and 2×h×w)"
        )
    classes, h, w = heatmap.shape
    heat = np.ascontiguousarray(heatmap, dtype=np.float32)
    kernel = np.ones((3, 3), np.uint8)
    candidates: list[tuple[float, int, int, int]] = []
    for c in range(classes):
        plane = heat[c]
        peaks = (plane >= score_threshold) & (plane >= cv2.dilate(plane, kernel))
        ys, xs = np.nonzero(peaks)
        candidates.extend(
            (float(plane[y, x]), c, int(y), int(x)) for y, x in zip(ys, xs, strict=True)
        )
    candidates.sort(key=lambda item: item[0], reverse=True)
    kept: list[CentreBox] = []
    for score, c, y, x in candidates:
        if len(kept) >= max_detections:
            break
        ox, oy = (
            (float(offset[0, y, x]), float(offset[1, y, x])) if offset is not None else (0.5, 0.5)
        )
        cx, cy = (x + ox) / w, (y + oy) / h
        bw, bh = float(size[0, y, x]), float(size[1, y, x])
        box = (
            max(0.0, cx - bw / 2),
            max(0.0, cy - bh / 2),
            min(1.0, cx + bw / 2),
            min(1.0, cy + bh / 2),
        )
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        if any(_iou(k.box, box) >= overlap_iou for k in kept):
            continue
        kept.append(CentreBox(c, score, box))
    return kept


def _tip_in_box(
    box_px: tuple[int, int, int, int],
    instrument_prob: np.ndarray | None,
    tip_prob: np.ndarray | None,
    instrument_threshold: float,
    tip_threshold: float,
) -> tuple[tuple[float, float] | None, float]:
    """Tip point (map pixels) and tip score for one box on the half-resolution maps."""
    x1, y1, x2, y2 = box_px
    inside = None
    if instrument_prob is not None:
        region = np.zeros(instrument_prob.shape, bool)
        region[y1:y2, x1:x2] = True
        inside = region & (instrument_prob >= instrument_threshold)
    if tip_prob is not None:
        local = np.zeros_like(tip_prob)
        local[y1:y2, x1:x2] = tip_prob[y1:y2, x1:x2]
        tip_score = float(local.max()) if local.size else 0.0
        if tip_score >= tip_threshold:
            peak = np.unravel_index(int(np.argmax(local)), local.shape)
            strong = local >= max(tip_threshold, 0.5 * tip_score)
            import cv2

            _, blobs = cv2.connectedComponents(strong.astype(np.uint8), connectivity=8)
            ys, xs = np.nonzero(blobs == blobs[peak])
            entry = _entry_point(inside) if inside is not None and inside.any() else None
            return _far_end(xs, ys, local[ys, xs], entry), tip_score
    else:
        tip_score = 0.0
    if inside is not None and inside.any():
        return _estimated_tip(inside), tip_score
    return None, tip_score


def tools_from_centres(
    boxes: list[CentreBox],
    labels: list[str] | tuple[str, ...],
    frame_size: tuple[int, int],
    *,
    instrument_prob: np.ndarray | None = None,
    tip_prob: np.ndarray | None = None,
    instrument_threshold: float = 0.5,
    tip_threshold: float = 0.5,
) -> list[Instrument]:
    """Decoded boxes → `Instrument`s in source-frame pixels, labelled from the manifest, each
    with its tip from the dense maps (maps are H×W at any resolution; boxes are fractions)."""
    width, height = frame_size
    found: list[Instrument] = []
    maps = instrument_prob if instrument_prob is not None else tip_prob
    for det in boxes:
        label = labels[det.cls] if 0 <= det.cls < len(labels) else f"class {det.cls}"
        tip: tuple[float, float] | None = None
        tip_score = 0.0
        if maps is not None:
            mh, mw = maps.shape
            box_px = (
                int(np.floor(det.box[0] * mw)),
                int(np.floor(det.box[1] * mh)),
                max(int(np.floor(det.box[0] * mw)) + 1, int(np.ceil(det.box[2] * mw))),
                max(int(np.floor(det.box[1] * mh)) + 1, int(np.ceil(det.box[3] * mh))),
            )
            point, tip_score = _tip_in_box(
                box_px, instrument_prob, tip_prob, instrument_threshold, tip_threshold
            )
            if point is not None:
                tip = ((point[0] + 0.5) * width / mw, (point[1] + 0.5) * height / mh)
        found.append(
            Instrument(
                label=label,
                score=det.score,
                box=(
                    det.box[0] * width,
                    det.box[1] * height,
                    det.box[2] * width,
                    det.box[3] * height,
                ),
                tip=tip,
                tip_score=tip_score,
                tip_visible=tip_prob is not None and tip_score >= tip_threshold,
            )
        )
    return found
