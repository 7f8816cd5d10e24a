"""Metrics for the vision network, computed on what the app draws.

Instruments come from `scrubline.core.models.instances.instances_from_maps`, the app's own
post-processing (imported, never re-implemented), so box AP, tip detection and tip visibility
are those of the boxes and tips a surgeon sees. Every metric is computed per frame into a small
record first; pooled values and bootstrap confidence intervals are then sums over resampled
records, so a resample is cheap.

Confidence intervals: a block bootstrap. Consecutive video frames are strongly correlated, so
robotic-video frames are resampled in blocks of one second; rigid frames (40 spread over an
operation) and still frames are their own blocks. Intervals still ignore that all frames of an
operation share a patient and a camera, so they are optimistic about new hospitals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scrubline.core.models.instances import instances_from_maps

TIP_RADIUS_PX = 20.0
IOU_MATCH = 0.5


@dataclass
class FrameRecord:
    block: str
    source: str
    inter: float = 0.0
    union: float = 0.0
    pred_sum: float = 0.0
    gt_sum: float = 0.0
    dets: list[tuple[float, bool]] = field(default_factory=list)  # (score, true positive)
    n_gt: int = 0
    tip_hits: int = 0  # GT tip points with a predicted visible tip within the radius
    tip_gt: int = 0
    tip_pred: int = 0  # predicted visible tips
    tip_pred_ok: int = 0  # of those, within the radius of a GT tip
    tip_errors: list[float] = field(default_factory=list)  # px, for hits
    frame_tip_label: int = 0  # a GT tip is visible in this frame
    frame_tip_score: float = 0.0  # the largest predicted tip score in this frame
    inst_tip: list[tuple[int, float]] = field(default_factory=list)  # per GT instrument


def gt_components(
    mask: np.ndarray, min_fraction: float
) -> tuple[list[tuple[int, int, int, int]], np.ndarray, list[int]]:
    """GT instruments: connected components of the mask larger than `min_fraction` of the frame."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    boxes, ids = [], []
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] < min_fraction * mask.size:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        boxes.append((x, y, x + w, y + h))
        ids.append(i)
    return boxes, labels, ids


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def upsample(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(prob.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)


def frame_record(
    *,
    block: str,
    source: str,
    instrument_prob: np.ndarray,
    tip_prob: np.ndarray,
    gt_mask: np.ndarray,
    gt_tips: list[tuple[float, float]],
    instrument_threshold: float,
    tip_threshold: float,
    min_area: float,
    gt_min_fraction: float,
) -> FrameRecord:
    import cv2

    h, w = gt_mask.shape
    rec = FrameRecord(block=block, source=source)
    pred = upsample(instrument_prob, (w, h)) >= instrument_threshold
    rec.inter = float((pred & gt_mask).sum())
    rec.union = float((pred | gt_mask).sum())
    rec.pred_sum, rec.gt_sum = float(pred.sum()), float(gt_mask.sum())

    found = instances_from_maps(
        instrument_prob,
        tip_prob,
        (w, h),
        instrument_threshold=instrument_threshold,
        tip_threshold=tip_threshold,
        min_area_fraction=min_area,
    )
    boxes, labels, ids = gt_components(gt_mask, gt_min_fraction)
    rec.n_gt = len(boxes)
    matched_pred: dict[int, int] = {}  # gt index -> prediction index
    taken = [False] * len(boxes)
    for k, inst in enumerate(found):  # already sorted by score, as the app sorts them
        best, best_iou = -1, IOU_MATCH
        for g, box in enumerate(boxes):
            iou = box_iou(inst.box, box)
            if not taken[g] and iou >= best_iou:
                best, best_iou = g, iou
        if best >= 0:
            taken[best] = True
            matched_pred[best] = k
        rec.dets.append((inst.score, best >= 0))

    # Tip points: a GT tip is found when a visible predicted tip lies within the radius.
    visible = [inst.tip for inst in found if inst.tip_visible and inst.tip is not None]
    rec.tip_gt, rec.tip_pred = len(gt_tips), len(visible)
    for gx, gy in gt_tips:
        d = [np.hypot(px - gx, py - gy) for px, py in visible]
        if d and min(d) <= TIP_RADIUS_PX:
            rec.tip_hits += 1
            rec.tip_errors.append(float(min(d)))
    for px, py in visible:
        if any(np.hypot(px - gx, py - gy) <= TIP_RADIUS_PX for gx, gy in gt_tips):
            rec.tip_pred_ok += 1
    rec.frame_tip_label = int(bool(gt_tips))
    rec.frame_tip_score = max((inst.tip_score for inst in found), default=0.0)

    # Per GT instrument: is its working end visible (a GT tip point on or beside it), and the
    # tip score of the prediction matched to it (0 when the instrument was missed).
    kernel = np.ones((31, 31), np.uint8)
    for g, comp_id in enumerate(ids):
        grown = cv2.dilate((labels == comp_id).astype(np.uint8), kernel)
        label = int(
            any(0 <= int(y) < h and 0 <= int(x) < w and grown[int(y), int(x)] for x, y in gt_tips)
        )
        score = found[matched_pred[g]].tip_score if g in matched_pred else 0.0
        rec.inst_tip.append((label, float(score)))
    return rec


def average_precision(dets: list[tuple[float, bool]], n_gt: int) -> float:
    """All-point interpolated AP (PASCAL VOC 2010+)."""
    if n_gt == 0:
        return float("nan")
    if not dets:
        return 0.0
    order = np.argsort([-s for s, _ in dets], kind="stable")
    tp = np.array([dets[i][1] for i in order], float)
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann–Whitney AUROC with ties counted half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order), float)
    allv = np.concatenate([pos, neg])[order]
    ranks[order] = np.arange(1, len(order) + 1)
    # average ranks over ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inv, ranks[order])
    ranks[order] = (sums / counts)[inv]
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def specificity_at_sensitivity(
    labels: np.ndarray, scores: np.ndarray, sensitivity: float = 0.95
) -> float:
    """The best specificity among thresholds that keep at least `sensitivity` of positives."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    # The largest threshold t with mean(pos >= t) >= sensitivity.
    k = int(np.floor((1 - sensitivity) * len(pos) + 1e-9))
    t = np.sort(pos)[k]
    return float((neg < t).mean())


def summarise(records: list[FrameRecord]) -> dict[str, float]:
    """Pooled metrics over frame records."""
    inter = sum(r.inter for r in records)
    union = sum(r.union for r in records)
    ps, gs = sum(r.pred_sum for r in records), sum(r.gt_sum for r in records)
    dets = [d for r in records for d in r.dets]
    n_gt = sum(r.n_gt for r in records)
    tip_gt = sum(r.tip_gt for r in records)
    tip_pred = sum(r.tip_pred for r in records)
    hits = sum(r.tip_hits for r in records)
    ok = sum(r.tip_pred_ok for r in records)
    fl = np.array([r.frame_tip_label for r in records])
    fs = np.array([r.frame_tip_score for r in records])
    il = np.array([x[0] for r in records for x in r.inst_tip])
    isc = np.array([x[1] for r in records for x in r.inst_tip])
    per_frame_dice = [
        2 * r.inter / (r.pred_sum + r.gt_sum) for r in records if r.pred_sum + r.gt_sum > 0
    ]
    return {
        "instrument_iou": inter / union if union else float("nan"),
        "instrument_dice": 2 * inter / (ps + gs) if ps + gs else float("nan"),
        "instrument_dice_per_frame": float(np.mean(per_frame_dice))
        if per_frame_dice
        else float("nan"),
        "box_ap50": average_precision(dets, n_gt),
        "tip_recall_20px": hits / tip_gt if tip_gt else float("nan"),
        "tip_precision_20px": ok / tip_pred if tip_pred else float("nan"),
        "tip_f1_20px": 2 * hits / (tip_gt + tip_pred) if tip_gt + tip_pred else float("nan"),
        "tip_visibility_auroc": auroc(fl, fs),
        "tip_visibility_spec_at_95sens": specificity_at_sensitivity(fl, fs),
        "tip_visibility_instance_auroc": auroc(il, isc) if len(il) else float("nan"),
        "tip_visibility_instance_spec_at_95sens": specificity_at_sensitivity(il, isc)
        if len(il)
        else float("nan"),
    }


def counts(records: list[FrameRecord]) -> dict[str, int]:
    return {
        "frames": len(records),
        "gt_instruments": sum(r.n_gt for r in records),
        "gt_tips": sum(r.tip_gt for r in records),
        "frames_tip_visible": sum(r.frame_tip_label for r in records),
        "frames_tip_hidden": sum(1 - r.frame_tip_label for r in records),
        "instruments_tip_visible": sum(x[0] for r in records for x in r.inst_tip),
        "instruments_tip_hidden": sum(1 - x[0] for r in records for x in r.inst_tip),
    }


def bootstrap(
    items: list, blocks: list[str], stat, n: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of every value `stat(items_subset)` returns, resampling blocks."""
    rng = np.random.default_rng(seed)
    by_block: dict[str, list] = {}
    for item, b in zip(items, blocks, strict=True):
        by_block.setdefault(b, []).append(item)
    keys = list(by_block)
    draws: dict[str, list[float]] = {}
    for _ in range(n):
        pick = rng.integers(0, len(keys), len(keys))
        subset = [it for i in pick for it in by_block[keys[i]]]
        for k, v in stat(subset).items():
            draws.setdefault(k, []).append(v)
    out = {}
    for k, vs in draws.items():
        arr = np.array([v for v in vs if not np.isnan(v)])
        out[k] = (
            (float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5)))
            if len(arr)
            else (float("nan"),) * 2
        )
    return out


@dataclass
class BleedRecord:
    block: str
    source: str
    # pixel counts against the refined pseudo-mask and against the plain HSV baseline
    inter_ref: float
    pred_sum: float
    ref_sum: float
    inter_hsv: float
    hsv_sum: float
    inter_ref_hsv: float  # how much the refinement itself changes the baseline


def bleed_record(
    block: str,
    source: str,
    prob: np.ndarray,
    threshold: float,
    refined: np.ndarray,
    hsv: np.ndarray,
) -> BleedRecord:
    pred = prob >= threshold
    return BleedRecord(
        block,
        source,
        float((pred & refined).sum()),
        float(pred.sum()),
        float(refined.sum()),
        float((pred & hsv).sum()),
        float(hsv.sum()),
        float((refined & hsv).sum()),
    )


def summarise_bleeding(records: list[BleedRecord]) -> dict[str, float]:
    i_r = sum(r.inter_ref for r in records)
    p = sum(r.pred_sum for r in records)
    r_ = sum(r.ref_sum for r in records)
    i_h = sum(r.inter_hsv for r in records)
    h = sum(r.hsv_sum for r in records)
    i_rh = sum(r.inter_ref_hsv for r in records)

    def dice(i: float, a: float, b: float) -> float:
        return 2 * i / (a + b) if a + b else float("nan")

    def iou(i: float, a: float, b: float) -> float:
        return i / (a + b - i) if a + b - i else float("nan")

    return {
        "bleeding_dice_vs_refined": dice(i_r, p, r_),
        "bleeding_iou_vs_refined": iou(i_r, p, r_),
        "bleeding_dice_vs_hsv": dice(i_h, p, h),
        "bleeding_iou_vs_hsv": iou(i_h, p, h),
        "refined_dice_vs_hsv": dice(i_rh, r_, h),
    }
