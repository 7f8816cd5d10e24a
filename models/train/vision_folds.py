"""`python -m models.train.vision --evaluate`: one model per fold, metrics on the frames each
never saw, and the thresholds the bundled manifest carries.

Fold k holds out EndoVis rigid operation OPk and robotic Datasetk plus whole laparoscopic videos
and one cholec80 surgery (`vision_data.FOLDS`). Thresholds applied to a fold are chosen on the
other three; intervals are block-bootstrap (blocks of neighbouring frames), so the numbers the
card and manifest print are out-of-fold. The metric functions themselves are `vision_eval.py`.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from models.train import training
from models.train.vision_config import RUNS, SEED
from models.train.vision_data import FOLDS, INPUT_H, INPUT_W, MIN_GT_AREA, Sample
from models.train.vision_train import load_trained, predict, train

# The thresholds searched (instrument probability, smallest instrument area as a fraction of
# the frame, tip probability, bleeding probability).
INSTRUMENT_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_AREA_GRID = (0.001, 0.002, 0.004, 0.008)
TIP_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
BLEED_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)

# Set from --fold-steps by `vision.py`: which fold models evaluation and overlays use.
FOLD_STEPS = 1200


def fold_dir(fold: int, tag: str = "", steps: int | None = None) -> Path:
    return RUNS / f"fold{fold}{tag}_s{steps or FOLD_STEPS}"


def run_folds(
    samples: list[Sample],
    steps: int,
    heads=("instrument", "tip", "bleeding"),
    tag: str = "",
    folds=FOLDS,
) -> dict[str, np.ndarray]:
    """Train one model per fold and predict its held-out frames; returns name -> maps."""
    maps: dict[str, np.ndarray] = {}
    for fold in folds:
        ckpt = train(samples, fold_dir(fold, tag, steps), steps=steps, held_out={fold}, heads=heads)
        model = load_trained(ckpt)
        test = [s for s in samples if s.fold == fold]
        pred = predict(model, [s.input for s in test])
        for s, m in zip(test, pred, strict=True):
            maps[s.name] = m.astype(np.float16)
    return maps


def instrument_records(
    samples: list[Sample], maps: dict[str, np.ndarray], thr: float, tip_thr: float, min_area: float
):
    from models.train.vision_eval import frame_record

    records = []
    for s in samples:
        m = maps[s.name].astype(np.float32)
        block = f"{s.group}/{s.index // 25}" if s.source == "robotic" else s.name
        w, h = s.source_size
        # a clasper point annotated outside the image cannot be seen, so it is no visible tip
        tips = [(x, y) for x, y in (s.tip_points or []) if 0 <= x < w and 0 <= y < h]
        records.append(
            frame_record(
                block=block,
                source=s.source,
                instrument_prob=m[0],
                tip_prob=m[1],
                gt_mask=s.gt_mask(),
                gt_tips=tips,
                instrument_threshold=thr,
                tip_threshold=tip_thr,
                min_area=min_area,
                gt_min_fraction=MIN_GT_AREA,
            )
        )
    return records


def choose_thresholds(by_fold: dict[int, dict], folds: list[int]) -> dict[str, float]:
    """Grid search on the pooled records of `folds` (never the fold being reported)."""
    from models.train.vision_eval import summarise, summarise_bleeding

    def pooled(key):
        return [r for f in folds for r in by_fold[f][key]]

    best, best_score = None, -1.0
    for thr in INSTRUMENT_GRID:
        for area in MIN_AREA_GRID:
            m = summarise(pooled(("inst", thr, area, 0.5)))
            score = 0.5 * (m["box_ap50"] + m["instrument_dice"])
            if score > best_score:
                best, best_score = (thr, area), score
    thr, area = best
    tip_best, tip_score = 0.5, -1.0
    for t in TIP_GRID:
        m = summarise(pooled(("inst", thr, area, t)))
        if m["tip_f1_20px"] > tip_score:
            tip_best, tip_score = t, m["tip_f1_20px"]
    b_best, b_score = 0.5, -1.0
    for b in BLEED_GRID:
        m = summarise_bleeding(pooled(("bleed", b)))
        if m["bleeding_dice_vs_refined"] > b_score:
            b_best, b_score = b, m["bleeding_dice_vs_refined"]
    return {"instrument": thr, "min_instrument_area": area, "tip": tip_best, "bleeding": b_best}


def evaluate(samples: list[Sample], maps: dict[str, np.ndarray], out: Path, log=print) -> dict:
    """Metrics over out-of-fold predictions, thresholds chosen on the other folds."""
    from models.train.vision_eval import (
        bleed_record,
        bootstrap,
        counts,
        summarise,
        summarise_bleeding,
    )

    evaluable = [s for s in samples if s.evaluable and s.name in maps]
    bleed_samples = [s for s in samples if s.name in maps]
    by_fold: dict[int, dict] = {f: {} for f in FOLDS}
    t0 = time.time()
    for f in FOLDS:
        fs = [s for s in evaluable if s.fold == f]
        for thr in INSTRUMENT_GRID:
            for area in MIN_AREA_GRID:
                by_fold[f][("inst", thr, area, 0.5)] = instrument_records(fs, maps, thr, 0.5, area)
        bs = [s for s in bleed_samples if s.fold == f]
        for b in BLEED_GRID:
            by_fold[f][("bleed", b)] = [
                bleed_record(
                    f"{s.group}/{s.index // 25}" if s.index >= 0 else s.name,
                    s.source,
                    maps[s.name][2].astype(np.float32),
                    b,
                    s.bleed_out,
                    s.hsv_out,
                )
                for s in bs
            ]
    # tip thresholds only matter given the instrument choice; fill them lazily per choice
    for f in FOLDS:
        fs = [s for s in evaluable if s.fold == f]
        for thr in INSTRUMENT_GRID:
            for area in MIN_AREA_GRID:
                for t in TIP_GRID:
                    if t != 0.5:
                        by_fold[f][("inst", thr, area, t)] = None  # placeholder, filled below
    log(f"grid records in {time.time() - t0:.0f}s")

    def ensure(f: int, key):
        if by_fold[f].get(key) is None:
            _, thr, area, t = key
            by_fold[f][key] = instrument_records(
                [s for s in evaluable if s.fold == f], maps, thr, t, area
            )
        return by_fold[f][key]

    class Lazy(dict):
        def __init__(self, f):
            super().__init__(by_fold[f])
            self.f = f

        def __getitem__(self, key):
            return ensure(self.f, key)

    lazy = {f: Lazy(f) for f in FOLDS}
    per_fold_thr = {f: choose_thresholds(lazy, [g for g in FOLDS if g != f]) for f in FOLDS}
    final_thr = choose_thresholds(lazy, list(FOLDS))
    log(f"thresholds per fold (chosen on the other folds): {per_fold_thr}; bundled: {final_thr}")

    records, bleed = [], []
    for f in FOLDS:
        t = per_fold_thr[f]
        records += ensure(f, ("inst", t["instrument"], t["min_instrument_area"], t["tip"]))
        bleed += by_fold[f][("bleed", t["bleeding"])]
    result: dict = {
        "thresholds": final_thr,
        "per_fold_thresholds": {str(k): v for k, v in per_fold_thr.items()},
    }
    groups = {
        "all": records,
        "rigid": [r for r in records if r.source == "rigid"],
        "robotic": [r for r in records if r.source == "robotic"],
    }
    for key, recs in groups.items():
        point = summarise(recs)
        ci = bootstrap(recs, [r.block for r in recs], summarise, n=1000, seed=SEED)
        result[f"instruments_{key}"] = {
            k: {"value": v, "ci95": ci.get(k)} for k, v in point.items()
        }
        result[f"counts_{key}"] = counts(recs)
        errs = [e for r in recs for e in r.tip_errors]
        result[f"tip_error_px_median_{key}"] = float(np.median(errs)) if errs else float("nan")
    bgroups = {
        "all": bleed,
        "lap": [r for r in bleed if r.source == "lap"],
        "cholec": [r for r in bleed if r.source == "cholec"],
        "endovis": [r for r in bleed if r.source in ("rigid", "robotic")],
    }
    for key, recs in bgroups.items():
        point = summarise_bleeding(recs)
        ci = bootstrap(recs, [r.block for r in recs], summarise_bleeding, n=1000, seed=SEED)
        result[f"bleeding_{key}"] = {k: {"value": v, "ci95": ci.get(k)} for k, v in point.items()}
        result[f"bleeding_frames_{key}"] = len(recs)
    if all((fold_dir(f) / "model.pt").is_file() for f in FOLDS):
        crop_thr = {k: float(np.median([per_fold_thr[f][k] for f in FOLDS])) for k in final_thr}
        result["tip_visibility_crops"] = crop_tip_visibility(samples, crop_thr)
        log(f"tip visibility on crops: {result['tip_visibility_crops']}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    (out / "metrics.md").write_text(metrics_markdown(result))
    log(f"wrote {out / 'metrics.json'}")
    return result


def crop_tip_visibility(
    samples: list[Sample], thresholds: dict[str, float], seed: int = SEED
) -> dict:
    """Tip visibility where the answer is known for certain, on held-out frames.

    The EndoVis frames almost always show the working end (5 of 464 frames do not), so a
    frame-level AUROC on them has no negatives to speak of. Cropping a held-out frame gives
    the ClipAssistNet situation exactly: a window that contains instrument but none of the
    labelled tip points (at least 20 px inside) is a view with the working end out of frame;
    a window of the same size that contains a tip point is a positive. Each window is
    stretched to the network input like any frame and run by the fold model that never saw
    the frame; the score is the largest instrument tip score, as in the frame-level metric."""
    import cv2
    from models.train.vision_data import WORK_H, WORK_W
    from models.train.vision_eval import auroc, bootstrap, specificity_at_sensitivity

    from scrubline.core.models.instances import instances_from_maps

    out_labels, out_scores, blocks = [], [], []
    for fold in FOLDS:
        model = load_trained(fold_dir(fold) / "model.pt")
        crops, labels, keys = [], [], []
        for s in (x for x in samples if x.fold == fold and x.evaluable):
            w, h = s.source_size
            sx, sy = WORK_W / w, WORK_H / h
            tips = [(x * sx, y * sy) for x, y in (s.tip_points or []) if 0 <= x < w and 0 <= y < h]
            inst = s.instrument.astype(bool)
            rng = np.random.default_rng([seed, s.index, fold, len(s.name)])
            found: dict[int, tuple[int, int, int, int]] = {}
            for _ in range(60):
                scale = rng.uniform(0.45, 0.75)
                cw, ch = int(WORK_W * scale), int(WORK_H * scale)
                x0, y0 = (
                    int(rng.integers(0, WORK_W - cw + 1)),
                    int(rng.integers(0, WORK_H - ch + 1)),
                )
                if inst[y0 : y0 + ch, x0 : x0 + cw].mean() < 0.03:
                    continue  # the question is only asked when an instrument is in view
                margin = 20 * sx
                inside = [
                    x0 + margin <= x < x0 + cw - margin and y0 + margin <= y < y0 + ch - margin
                    for x, y in tips
                ]
                near = [
                    x0 - margin <= x < x0 + cw + margin and y0 - margin <= y < y0 + ch + margin
                    for x, y in tips
                ]
                label = 1 if any(inside) else (0 if not any(near) else -1)
                if label >= 0 and label not in found:
                    found[label] = (x0, y0, cw, ch)
                if len(found) == 2:
                    break
            for label, (x0, y0, cw, ch) in found.items():
                crop = s.image[y0 : y0 + ch, x0 : x0 + cw]
                crops.append(cv2.resize(crop, (INPUT_W, INPUT_H), interpolation=cv2.INTER_LINEAR))
                labels.append(label)
                keys.append(f"{s.group}/{s.index // 25}" if s.source == "robotic" else s.name)
        if not crops:
            continue
        maps = predict(model, crops)
        for m, label, key in zip(maps, labels, keys, strict=True):
            found_inst = instances_from_maps(
                m[0],
                m[1],
                (INPUT_W, INPUT_H),
                instrument_threshold=thresholds["instrument"],
                tip_threshold=thresholds["tip"],
                min_area_fraction=thresholds["min_instrument_area"],
            )
            out_labels.append(label)
            out_scores.append(max((i.tip_score for i in found_inst), default=0.0))
            blocks.append(key)
    y, sc = np.array(out_labels), np.array(out_scores)

    def stat(idx: list[int]) -> dict[str, float]:
        ii = np.array(idx)
        return {
            "auroc": auroc(y[ii], sc[ii]),
            "spec_at_95sens": specificity_at_sensitivity(y[ii], sc[ii]),
        }

    point = stat(list(range(len(y))))
    ci = bootstrap(list(range(len(y))), blocks, stat, n=1000, seed=seed)
    return {
        "auroc": {"value": point["auroc"], "ci95": ci["auroc"]},
        "spec_at_95sens": {"value": point["spec_at_95sens"], "ci95": ci["spec_at_95sens"]},
        "positives": int((y == 1).sum()),
        "negatives": int((y == 0).sum()),
    }


def _fmt(entry: dict) -> str:
    v, ci = entry["value"], entry["ci95"]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if ci and not any(math.isnan(c) for c in ci):
        return f"{v:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"
    return f"{v:.3f}"


def metrics_markdown(result: dict) -> str:
    lines = ["| metric | all | rigid (LOOO) | robotic (LOVO) |", "|---|---|---|---|"]
    for k in result["instruments_all"]:
        lines.append(
            f"| {k} | "
            + " | ".join(_fmt(result[f"instruments_{g}"][k]) for g in ("all", "rigid", "robotic"))
            + " |"
        )
    lines.append("")
    lines.append("| counts | all | rigid | robotic |")
    lines.append("|---|---|---|---|")
    for k in result["counts_all"]:
        lines.append(
            f"| {k} | "
            + " | ".join(str(result[f"counts_{g}"][k]) for g in ("all", "rigid", "robotic"))
            + " |"
        )
    crops = result.get("tip_visibility_crops")
    if crops:
        lines.append("")
        lines.append(
            f"tip visibility on crops of held-out frames ({crops['positives']} with a tip, "
            f"{crops['negatives']} without): AUROC {_fmt(crops['auroc'])}, specificity at 95% "
            f"sensitivity {_fmt(crops['spec_at_95sens'])}"
        )
    lines.append("")
    lines.append("| bleeding (held-out frames) | all | laparoscopic_frames | cholec80 | EndoVis |")
    lines.append("|---|---|---|---|---|")
    for k in result["bleeding_all"]:
        lines.append(
            f"| {k} | "
            + " | ".join(
                _fmt(result[f"bleeding_{g}"][k]) for g in ("all", "lap", "cholec", "endovis")
            )
            + " |"
        )
    lines.append(
        "| frames | "
        + " | ".join(
            str(result[f"bleeding_frames_{g}"]) for g in ("all", "lap", "cholec", "endovis")
        )
        + " |"
    )
    return "\n".join(lines) + "\n"


def evaluate_folds(samples: list[Sample], fold_steps: int) -> dict:
    """The --evaluate command: fold models (trained if missing), their out-of-fold maps (cached
    in runs/eval/oof_STEPS.npz), metrics and thresholds in runs/eval/metrics.json."""
    maps_path = RUNS / "eval" / f"oof_{fold_steps}.npz"
    if maps_path.is_file():
        maps = dict(np.load(maps_path))
    else:
        maps = run_folds(samples, fold_steps)
        maps_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(maps_path, **maps)
    metrics = evaluate(samples, maps, RUNS / "eval", log=training.log_to(RUNS / "eval" / "log.txt"))
    metrics["fold_steps"] = fold_steps
    (RUNS / "eval" / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(metrics_markdown(metrics))
    return metrics
