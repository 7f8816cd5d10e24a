"""Instrument instances from dense maps: an instrument-probability map and a tip map become
boxes with a score, a tip point and whether the tip (the working end) is visible.

Why dense maps: with a few hundred labelled frames, a small segmentation network trained from
scratch learns instrument pixels far better than a box regressor learns boxes, and the tip map
answers the ClipAssistNet question (is the working end in view?) per instrument. The same
function is used by the app and by the training script's evaluation, so the reported metrics are
those of what the app draws.
"""

from __future__ import annotations

import numpy as np

from scrubline.core.results import Instrument


def _entry_point(component: np.ndarray) -> tuple[float, float] | None:
    """Where an instrument enters the picture: the mean of its pixels on the frame edge."""
    ys, xs = np.nonzero(component)
    h, w = component.shape
    on_edge = (xs == 0) | (ys == 0) | (xs == w - 1) | (ys == h - 1)
    if not on_edge.any():
        return None
    return float(xs[on_edge].mean()), float(ys[on_edge].mean())


def _estimated_tip(component: np.ndarray) -> tuple[float, float]:
    """Where the working end should be when the tip map does not show it: instruments enter
    from the frame edge, so take the component pixel farthest from where it touches the edge
    (or from its centroid when it touches no edge)."""
    ys, xs = np.nonzero(component)
    ex, ey = _entry_point(component) or (xs.mean(), ys.mean())
    far = int(np.argmax((xs - ex) ** 2 + (ys - ey) ** 2))
    return float(xs[far]), float(ys[far])


def _far_end(
    xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, entry: tuple[float, float] | None
) -> tuple[float, float]:
    """The point of a tip blob: its far end from the entry point (the jaws are at the end of
    the instrument, even when the tip map also covers some of the shaft), else its weighted
    centre."""
    if entry is not None and len(xs) > 4:
        distance = np.hypot(xs - entry[0], ys - entry[1])
        far = distance >= np.percentile(distance, 85)
        xs, ys, weights = xs[far], ys[far], weights[far]
    return float((xs * weights).sum() / weights.sum()), float((ys * weights).sum() / weights.sum())


def instances_from_maps(
    instrument_prob: np.ndarray,
    tip_prob: np.ndarray | None,
    frame_size: tuple[int, int],
    *,
    instrument_threshold: float = 0.5,
    tip_threshold: float = 0.5,
    min_area_fraction: float = 0.002,
    label: str = "instrument",
) -> list[Instrument]:
    """`instrument_prob` and `tip_prob` are HxW maps in 0..1 (same size); `frame_size` is the
    source frame's (width, height) that boxes and tips are scaled to."""
    import cv2

    h, w = instrument_prob.shape
    scale_x, scale_y = frame_size[0] / w, frame_size[1] / h
    binary = (instrument_prob >= instrument_threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    min_area = max(1.0, min_area_fraction * h * w)
    kernel = np.ones((5, 5), np.uint8)
    found: list[Instrument] = []
    for index in range(1, count):
        if stats[index, cv2.CC_STAT_AREA] < min_area:
            continue
        component = labels == index
        x, y = stats[index, cv2.CC_STAT_LEFT], stats[index, cv2.CC_STAT_TOP]
        bw, bh = stats[index, cv2.CC_STAT_WIDTH], stats[index, cv2.CC_STAT_HEIGHT]
        score = float(instrument_prob[component].mean())
        tip_score = 0.0
        tip_xy: tuple[float, float] | None = None
        if tip_prob is not None:
            # The jaws may be thinner than the instrument mask: look just beyond it as well.
            region = cv2.dilate(component.astype(np.uint8), kernel).astype(bool)
            local = np.where(region, tip_prob, 0.0)
            tip_score = float(local.max())
            if tip_score >= tip_threshold:
                # The blob around the peak only: a tip map that also glows faintly along the
                # shaft must not pull the point towards the middle of the instrument.
                strong = (local >= max(tip_threshold, 0.5 * tip_score)).astype(np.uint8)
                _, blobs = cv2.connectedComponents(strong, connectivity=8)
                peak = np.unravel_index(int(np.argmax(local)), local.shape)
                ys, xs = np.nonzero(blobs == blobs[peak])
                tip_xy = _far_end(xs, ys, local[ys, xs], _entry_point(component))
        if tip_xy is None:
            tip_xy = _estimated_tip(component)
        found.append(
            Instrument(
                label=label,
                score=score,
                box=(x * scale_x, y * scale_y, (x + bw) * scale_x, (y + bh) * scale_y),
                tip=((tip_xy[0] + 0.5) * scale_x, (tip_xy[1] + 0.5) * scale_y),
                tip_score=tip_score,
                tip_visible=tip_prob is not None and tip_score >= tip_threshold,
            )
        )
    found.sort(key=lambda inst: inst.score, reverse=True)
    return found
