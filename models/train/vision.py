"""Train, export, evaluate and look at the Scrubline vision network (`scrubline-vision`).

One small encoder–decoder (`vision_net.py`) with three heads: instrument mask, tip map and
bleeding mask, trained from scratch on the real frames in the shared data folder
(`vision_data.py`): EndoVis 2015 rigid and robotic instruments with their masks and clasper
keypoints, and laparoscopic / cholec80 frames with refined HSV pseudo-masks for blood
(`vision_bleeding.py`). Frames without a head's labels do not train that head (masked losses).

Commands (run from the repository root with the training environment, `.venv-train`):

    python -m models.train.vision --train                 # bundled model: all data -> runs/full
    python -m models.train.vision --export                # runs/full -> models/scrubline-vision.onnx
    python -m models.train.vision --evaluate              # 4 folds: train each, metrics, thresholds
    python -m models.train.vision --write-manifest        # metrics + thresholds -> the .toml
    python -m models.train.vision --render                # overlays -> runs/overlays (git-ignored)
    python -m models.train.vision --bench                 # onnxruntime CPU latency
    python -m models.train.vision --compare-separate      # shared vs separate models, fold 1
    python -m models.train.vision --finetune-bleeding IMAGES MASKS -o DIR

Folds: fold k holds out EndoVis rigid operation OPk and robotic Datasetk (so leave-one-
operation-out and leave-one-video-out at once), plus whole laparoscopic_frames videos and one
cholec80 source surgery for the bleeding head (see `vision_data.LAP_FOLDS`, `CHOLEC_FOLDS`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
from models.train import training
from models.train.vision_data import (
    FOLDS,
    INPUT_H,
    INPUT_W,
    MIN_GT_AREA,
    OUT_H,
    OUT_W,
    REPO,
    Augment,
    Sample,
    default_data_dir,
    load_samples,
    make_example,
)

RUNS = REPO / "models" / "train" / "runs"
MODELS = REPO / "models"
ONNX_PATH = MODELS / "scrubline-vision.onnx"
MANIFEST_PATH = MODELS / "scrubline-vision.toml"
MODEL_ID = "scrubline-vision"
VERSION = "1.1.0"
SEED = 0
THREADS = 2

# How often each source is drawn into a batch (within a source, frames are drawn uniformly).
SOURCE_WEIGHTS = {"rigid": 0.32, "robotic": 0.28, "cholec": 0.22, "lap": 0.18}
HEAD_WEIGHTS = {"instrument": 1.0, "tip": 1.0, "bleeding": 0.5}

INSTRUMENT_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_AREA_GRID = (0.001, 0.002, 0.004, 0.008)
TIP_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
BLEED_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def _torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


# --------------------------------------------------------------------------------------------
# training


def masked_losses(logits, batch, heads: tuple[str, ...]):
    """BCE + soft Dice per head, over the samples that carry that head's labels only."""
    torch = _torch()
    from models.train.vision_net import HEADS
    from torch.nn import functional as F

    losses = {}
    for name, logit in zip(HEADS, logits, strict=True):
        if name not in heads:
            continue
        w = batch[f"w_{name}"]
        if float(w.sum()) == 0:
            losses[name] = logit.sum() * 0.0
            continue
        target = batch[name].unsqueeze(1)
        keep = w > 0
        lg, tg = logit[keep], target[keep]
        bce = F.binary_cross_entropy_with_logits(lg, tg)
        p = torch.sigmoid(lg)
        # Dice over the whole (masked) batch: frames with nothing to find do not divide by zero.
        dice = 1 - (2 * (p * tg).sum() + 1.0) / (p.sum() + tg.sum() + 1.0)
        losses[name] = bce + dice
    return losses


def collate(examples: list[dict[str, np.ndarray]]):
    torch = _torch()
    return {k: torch.from_numpy(np.stack([e[k] for e in examples])) for k in examples[0]}


def train(
    samples: list[Sample],
    out_dir: Path,
    *,
    steps: int,
    held_out: set[int],
    heads: tuple[str, ...] = ("instrument", "tip", "bleeding"),
    batch_size: int = 8,
    lr: float = 3e-3,
    seed: int = SEED,
    checkpoint_every: int = 200,
) -> Path:
    """Train (or resume) a model; returns the final checkpoint path."""
    torch = _torch()
    from models.train.vision_net import VisionNet, count_parameters

    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / training.FINAL).is_file():
        return out_dir / training.FINAL
    log = training.log_to(out_dir / "log.txt")
    pool = [s for s in samples if s.fold not in held_out]
    by_source: dict[str, list[Sample]] = {}
    for s in pool:
        by_source.setdefault(s.source, []).append(s)
    weights = {k: v for k, v in SOURCE_WEIGHTS.items() if k in by_source}
    if "bleeding" not in heads:  # instrument-only model: only labelled sources help
        weights = {k: v for k, v in weights.items() if k in ("rigid", "robotic")}
    names = list(weights)
    probs = np.array([weights[k] for k in names]) / sum(weights.values())

    torch.manual_seed(seed)
    # channels-last runs the depthwise convolutions and BatchNorm much faster on the CPU
    model = VisionNet().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = training.cosine_schedule(opt, steps, warmup_div=30, floor=0.02)
    run = training.Run(out_dir, model, opt, sched, steps, log, 50, checkpoint_every)
    start = run.resume()
    if start == 0:
        log(
            f"training {out_dir.name}: {count_parameters(model)} parameters, held out folds {sorted(held_out)}, "
            f"heads {heads}, {len(pool)} frames ({ {k: len(v) for k, v in by_source.items()} }), "
            f"{steps} steps of {batch_size}, seed {seed}"
        )
    augment = Augment()
    model.train()
    running: dict[str, float] = {}
    for step in range(start, steps):
        # One generator per step, derived from the seed: resuming gives the same batches.
        rng = np.random.default_rng([seed, step])
        picks = rng.choice(len(names), size=batch_size, p=probs)
        batch_samples = [by_source[names[i]][rng.integers(len(by_source[names[i]]))] for i in picks]
        batch = collate([make_example(s, rng, augment) for s in batch_samples])
        logits = model(batch["image"].contiguous(memory_format=torch.channels_last), logits=True)
        losses = masked_losses(logits, batch, heads)
        loss = sum(HEAD_WEIGHTS[k] * v for k, v in losses.items())
        training.optimise(loss, model.parameters(), opt, sched)
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) * 0.95 + float(v.detach()) * 0.05
        run.after_step(step + 1, running)
    return run.finish(steps=steps, held_out=sorted(held_out), heads=heads, seed=seed)


def load_trained(path: Path):
    torch = _torch()
    from models.train.vision_net import VisionNet

    model = VisionNet()
    model.load_state_dict(torch.load(path, weights_only=False)["model"])
    model.eval()
    return model


def predict(model, inputs: list[np.ndarray], batch: int = 16) -> np.ndarray:
    """uint8 RGB frames at the input size -> float32 N×3×OUT_H×OUT_W maps (instrument, tip,
    bleeding), with the same arithmetic as the exported graph."""
    torch = _torch()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            x = torch.from_numpy(
                np.stack(inputs[i : i + batch]).astype(np.float32) / 255.0
            ).permute(0, 3, 1, 2)
            maps = model(x.contiguous())
            out.append(torch.cat(maps, dim=1).numpy())
    return np.concatenate(out)


# --------------------------------------------------------------------------------------------
# export


def export_onnx(model, path: Path) -> None:
    """Fold BatchNorm, export with a dynamic batch, check against torch."""
    torch = _torch()
    import copy

    import onnx
    from models.train.vision_net import fuse_batchnorm

    fused = fuse_batchnorm(copy.deepcopy(model).eval())
    x = torch.rand(2, 3, INPUT_H, INPUT_W)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ["instrument", "tip", "bleeding"]
    if getattr(model, "detect", False):  # keep the 2.x tool detection outputs
        names += ["tool_heatmap", "tool_size", "tool_offset"]
    torch.onnx.export(
        fused,
        (x,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_axes={n: {0: "N"} for n in ("image", *names)},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    proto.producer_name = "scrubline models/train/vision.py"
    proto.doc_string = f"{MODEL_ID} {VERSION}: instrument, tip and bleeding maps (sigmoid), N x 1 x {OUT_H} x {OUT_W}"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = model(x)
    err = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))
    if err > 1e-4:
        raise RuntimeError(f"ONNX export differs from torch by {err}")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB), max |onnx - torch| = {err:.2e}")


def load_onnx_weights(path: Path):
    """Rebuild a trainable (BatchNorm-fused) network from an exported ONNX file, so that the
    bundled model can be fine-tuned without the training run's checkpoint."""
    torch = _torch()
    import onnx
    from models.train.vision_net import fused_skeleton
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    # 2.x files carry the tool detection branch (`vision_detect.py`): rebuild it too
    model = fused_skeleton(detect=any(name.startswith("det.") for name in inits))
    state = model.state_dict()
    # Conv weights keep their parameter names; a bias may have been renamed (identical
    # initializers are shared), so take it from the Conv node that uses the named weight.
    conv_bias = {}
    for node in proto.graph.node:
        if node.op_type == "Conv" and len(node.input) == 3:
            conv_bias[node.input[1]] = node.input[2]
    new = {}
    for name in state:
        if name in inits:
            new[name] = torch.from_numpy(inits[name].copy())
        elif name.endswith(".bias") and name[:-5] + ".weight" in conv_bias:
            new[name] = torch.from_numpy(inits[conv_bias[name[:-5] + ".weight"]].copy())
        else:
            raise ValueError(f"{path}: no initializer for {name}")
    model.load_state_dict(new)
    return model


# --------------------------------------------------------------------------------------------
# evaluation


FOLD_STEPS = 1200  # set from --fold-steps: which fold models evaluation and overlays use


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


# --------------------------------------------------------------------------------------------
# latency


def bench(path: Path = ONNX_PATH, runs: int = 100) -> dict[str, float]:
    """Median onnxruntime latency per frame (2 intra-op threads, as the app's default on this
    machine), for the network alone and for the app's whole per-frame path through the
    registry's Segmenter wrapper (resize + network + instances + bleeding fraction)."""
    import cv2
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for b in (1, 4):
        x = rng.random((b, 3, INPUT_H, INPUT_W), dtype=np.float32)
        for _ in range(10):
            session.run(None, {"image": x})
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            session.run(None, {"image": x})
            times.append(time.perf_counter() - t)
        out[f"network_ms_per_frame_batch{b}"] = 1000 * float(np.median(times)) / b
    if MANIFEST_PATH.is_file() and path == ONNX_PATH:
        from scrubline.core.models import load_manifest, load_model

        model = load_model(load_manifest(MANIFEST_PATH), threads=THREADS)
        frame = rng.integers(0, 255, (480, 854, 3), dtype=np.uint8)
        for b in (1, 4):
            times = []
            for i in range(runs // 2 + 5):
                t = time.perf_counter()
                resized = [
                    cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
                    for _ in range(b)
                ]
                model.predict(resized, (854, 480))
                if i >= 5:
                    times.append(time.perf_counter() - t)
            out[f"app_path_ms_per_frame_batch{b}"] = 1000 * float(np.median(times)) / b
    return out


# --------------------------------------------------------------------------------------------
# manifest


DEFAULT_THRESHOLDS = {"instrument": 0.5, "tip": 0.5, "bleeding": 0.5, "min_instrument_area": 0.002}


def write_manifest(
    metrics: dict | None, latency: dict, params: int, steps: dict[str, int] | None = None
) -> None:
    """The manifest, from measured numbers only: without fold metrics it carries the default
    thresholds and an empty [metrics] table."""
    thr = metrics["thresholds"] if metrics else DEFAULT_THRESHOLDS
    lines = [
        "schema = 1",
        f'id = "{MODEL_ID}"',
        f'version = "{VERSION}"',
        'name = "Scrubline vision (instruments, tips, bleeding)"',
        'task = "segmenter"',
        'file = "scrubline-vision.onnx"',
        'card = "scrubline-vision.md"',
        'licence = "Apache-2.0 (model); trained on EndoVis 2015 (challenge data, research use), '
        "EndoVis 2015 keypoints (MIT), Cholec80/CholecT50 clips (CC BY-NC-SA 4.0) and "
        'laparoscopic_frames (MIT): research and non-commercial use only"',
        'summary = "One small encoder-decoder (MobileNetV2-style blocks, U-Net decoder) with three heads: '
        "instrument probability, tip (working end) probability and bleeding probability per pixel, at half "
        "the 256x192 input. Instruments are connected components of the instrument map; each tip is the tip "
        "map peak on it. Trained from scratch on EndoVis 2015 (rigid and robotic) and, for blood, on refined "
        "HSV pseudo-masks of laparoscopic and cholec80 frames: it learns a colour rule, not surgeon-drawn "
        'bleeding."',
        'labels = ["instrument"]',
        'headline_metric = "instrument_dice"',
        'supersedes = ["bleeding-hsv"]',
        "",
        "[input]",
        'name = "image"',
        f"width = {INPUT_W}",
        f"height = {INPUT_H}",
        'colour = "RGB"',
        'layout = "NCHW"',
        "scale = 0.00392156862745098",
        "mean = [0.0, 0.0, 0.0]",
        "std = [1.0, 1.0, 1.0]",
        "",
    ]
    for name, role in (
        ("instrument", "instrument_mask"),
        ("tip", "tip_map"),
        ("bleeding", "bleeding_mask"),
    ):
        lines += [
            "[[outputs]]",
            f'name = "{name}"',
            f'role = "{role}"',
            f'shape = ["N", 1, {OUT_H}, {OUT_W}]',
            "",
        ]
    lines += (
        [
            "[thresholds]",
            f"instrument = {thr['instrument']}",
            f"tip = {thr['tip']}",
            f"bleeding = {thr['bleeding']}",
            f"min_instrument_area = {thr['min_instrument_area']}",
            "",
            "[training]",
            'data = "EndoVis 2015 rigid instrument segmentation (4 operations x 40 frames: instrument, shaft and '
            "manipulator masks); EndoVis 2015 robotic videos 1-4 (ground-truth segmentation videos, head vs shaft) "
            "with clasper keypoints (Du et al. 2018); laparoscopic_frames (120 frames, 6 videos) and 6 cholec80 clips "
            '(3 surgeries, 2 frames/s) with refined HSV bleeding pseudo-masks"',
            'data_licence = "EndoVis 2015: challenge data, research use; keypoints: MIT; Cholec80/CholecT50: '
            'CC BY-NC-SA 4.0; laparoscopic_frames: MIT"',
            'split = "4 folds: fold k holds out rigid operation OPk and robotic Dataset k (leave-one-operation-out '
            "and leave-one-video-out), plus whole laparoscopic videos and one cholec80 surgery for the bleeding head; "
            'thresholds for each fold chosen on the other three; the bundled model is trained on all data"',
            'script = "models/train/vision.py"',
            f"seed = {SEED}",
        ]
        + [f"{k} = {v}" for k, v in (steps or {}).items()]
        + [
            "",
            "[metrics]",
        ]
    )
    if metrics:
        lines += metric_lines(metrics)
    if latency:
        lines.append(
            f"cpu_ms_per_frame_batch1 = {round(latency['network_ms_per_frame_batch1'], 1)}"
        )
        lines.append(
            f"cpu_ms_per_frame_batch4 = {round(latency['network_ms_per_frame_batch4'], 1)}"
        )
    if metrics:
        lines.append(f"parameters = {params}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # refuse to write a manifest that does not parse
    MANIFEST_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {MANIFEST_PATH}")


def metric_lines(metrics: dict) -> list[str]:
    ia, ir, io = (
        metrics["instruments_all"],
        metrics["instruments_rigid"],
        metrics["instruments_robotic"],
    )
    bl = metrics["bleeding_all"]

    def v(entry: dict) -> float:
        return round(float(entry["value"]), 4)

    def ci(entry: dict) -> list[float]:
        return [round(float(c), 4) for c in entry["ci95"]]

    return [
        "# out-of-fold, pooled over the 4 folds; *_ci95 = block-bootstrap 95% interval",
        f"instrument_dice = {v(ia['instrument_dice'])}",
        f"instrument_dice_ci95 = {ci(ia['instrument_dice'])}",
        f"instrument_iou = {v(ia['instrument_iou'])}",
        f"instrument_iou_ci95 = {ci(ia['instrument_iou'])}",
        f"box_ap50 = {v(ia['box_ap50'])}",
        f"box_ap50_ci95 = {ci(ia['box_ap50'])}",
        f"box_ap50_rigid = {v(ir['box_ap50'])}",
        f"box_ap50_robotic = {v(io['box_ap50'])}",
        f"instrument_dice_rigid = {v(ir['instrument_dice'])}",
        f"instrument_dice_robotic = {v(io['instrument_dice'])}",
        f"tip_recall_20px = {v(ia['tip_recall_20px'])}",
        f"tip_recall_20px_ci95 = {ci(ia['tip_recall_20px'])}",
        f"tip_precision_20px = {v(ia['tip_precision_20px'])}",
        f"tip_visibility_auroc = {v(ia['tip_visibility_auroc'])}",
        f"tip_visibility_auroc_ci95 = {ci(ia['tip_visibility_auroc'])}",
        f"tip_visibility_spec_at_95sens = {v(ia['tip_visibility_spec_at_95sens'])}",
        f"tip_visibility_instance_auroc = {v(ia['tip_visibility_instance_auroc'])}",
        f"bleeding_dice_vs_refined = {v(bl['bleeding_dice_vs_refined'])}",
        f"bleeding_dice_vs_refined_ci95 = {ci(bl['bleeding_dice_vs_refined'])}",
        f"bleeding_dice_vs_hsv = {v(bl['bleeding_dice_vs_hsv'])}",
        f"refined_dice_vs_hsv = {v(bl['refined_dice_vs_hsv'])}",
        f"eval_frames = {metrics['counts_all']['frames']}",
    ] + (
        [
            f"tip_visibility_crops_auroc = {v(metrics['tip_visibility_crops']['auroc'])}",
            f"tip_visibility_crops_auroc_ci95 = {ci(metrics['tip_visibility_crops']['auroc'])}",
            f"tip_visibility_crops_spec_at_95sens = {v(metrics['tip_visibility_crops']['spec_at_95sens'])}",
            f"tip_visibility_crops_spec_at_95sens_ci95 = {ci(metrics['tip_visibility_crops']['spec_at_95sens'])}",
        ]
        if "tip_visibility_crops" in metrics
        else []
    )


CARD_PATH = MODELS / "scrubline-vision.md"
CARD_START, CARD_END = (
    "<!-- metrics:start (written by vision.py --write-manifest) -->",
    "<!-- metrics:end -->",
)


def update_card(metrics: dict, latency: dict) -> None:
    """Replace the card's generated block with the measured tables, so the card never carries
    a number the evaluation did not write."""
    text = CARD_PATH.read_text(encoding="utf-8")
    if CARD_START not in text or CARD_END not in text:
        print(f"{CARD_PATH} has no generated metrics block; not updated")
        return
    thr = metrics["thresholds"]
    block = [
        CARD_START,
        "",
        f"Fold models: {metrics.get('fold_steps', '?')} steps each; thresholds applied to each fold were chosen "
        "on the other three folds ("
        + "; ".join(
            f"fold {k}: instrument {t['instrument']}, tip {t['tip']}, bleeding {t['bleeding']}, "
            f"area {t['min_instrument_area']}"
            for k, t in metrics["per_fold_thresholds"].items()
        )
        + "). Bundled thresholds, chosen on "
        f"all four folds: instrument {thr['instrument']}, tip {thr['tip']}, bleeding {thr['bleeding']}, "
        f"min_instrument_area {thr['min_instrument_area']}. Values are pooled over the held-out frames; "
        "brackets are 95% block-bootstrap intervals (1,000 resamples).",
        "",
        metrics_markdown(metrics).rstrip(),
        "",
        f"Median tip error of the tips found within 20 px: "
        f"{metrics['tip_error_px_median_all']:.1f} px (rigid {metrics['tip_error_px_median_rigid']:.1f}, "
        f"robotic {metrics['tip_error_px_median_robotic']:.1f}).",
        "",
    ]
    if latency:
        block += [
            "Latency measured by `python -m models.train.vision --bench` (onnxruntime CPU, 2 intra-op threads, "
            "median of 100 runs) on this machine when it was written: network "
            f"{latency['network_ms_per_frame_batch1']:.1f} ms/frame at batch 1 and "
            f"{latency['network_ms_per_frame_batch4']:.1f} ms/frame at batch 4"
            + (
                f"; the app's whole per-frame path (resize of an 854×480 frame, network, instances, bleeding "
                f"fraction) {latency['app_path_ms_per_frame_batch1']:.1f} ms/frame at batch 1 and "
                f"{latency['app_path_ms_per_frame_batch4']:.1f} ms at batch 4"
                if "app_path_ms_per_frame_batch1" in latency
                else ""
            )
            + ".",
            "",
        ]
    separate = RUNS / "eval" / "separate.json"
    if separate.is_file():
        sep = json.loads(separate.read_text())
        keys = (
            "instrument_dice",
            "box_ap50",
            "tip_recall_20px",
            "tip_f1_20px",
            "tip_visibility_instance_auroc",
            "bleeding_dice_vs_refined",
        )
        block += [
            "Shared vs separate models, fold 1 only (held out: OP1, Dataset1, laparoscopic 00001/00010, "
            "cholec80 VID15), bundled thresholds; point values, no intervals (one fold):",
            "",
            "| model | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for name, values in sep["models"].items():
            block.append(f"| {name} | " + " | ".join(f"{values[k]:.3f}" for k in keys) + " |")
        block.append("")
    block.append(CARD_END)
    head, _, rest = text.partition(CARD_START)
    _, _, tail = rest.partition(CARD_END)
    CARD_PATH.write_text(head + "\n".join(block) + tail, encoding="utf-8")
    print(f"updated {CARD_PATH}")


# --------------------------------------------------------------------------------------------
# overlays (git-ignored: frames of the shared data must never be committed)


def draw(frame_rgb: np.ndarray, result, bleeding_threshold: float, label: str = "") -> np.ndarray:
    """What the app shows, drawn onto the source frame: bleeding (red tint), instrument boxes
    (green; score), tips (filled yellow = visible working end, hollow grey = estimated)."""
    import cv2

    img = frame_rgb.copy()
    h, w = img.shape[:2]
    if result.bleeding is not None:
        prob = cv2.resize(
            result.bleeding.mask.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR
        )
        m = prob >= bleeding_threshold
        img[m] = (0.45 * img[m] + 0.55 * np.array([255, 0, 0])).astype(np.uint8)
        contours, _ = cv2.findContours(
            m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(img, contours, -1, (255, 60, 60), 1)
    t = max(1, w // 320)
    for inst in result.instruments:
        x1, y1, x2, y2 = (int(round(c)) for c in inst.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), t)
        cv2.putText(
            img,
            f"{inst.score:.2f} tip {inst.tip_score:.2f}",
            (x1 + 2, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * t,
            (0, 255, 0),
            t,
        )
        if inst.tip is not None:
            c = (int(round(inst.tip[0])), int(round(inst.tip[1])))
            if inst.tip_visible:
                cv2.circle(img, c, 5 * t, (255, 255, 0), -1)
                cv2.circle(img, c, 5 * t, (0, 0, 0), 1)
            else:
                cv2.circle(img, c, 5 * t, (160, 160, 160), t)
    if label:
        cv2.putText(img, label, (6, 18 * t), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * t, (255, 255, 255), t)
    return img


def sheet(tiles: list[np.ndarray], columns: int, tile_w: int = 320) -> np.ndarray:
    import cv2

    resized = [cv2.resize(t, (tile_w, int(round(t.shape[0] * tile_w / t.shape[1])))) for t in tiles]
    th = max(t.shape[0] for t in resized)
    resized = [np.pad(t, ((0, th - t.shape[0]), (0, 0), (0, 0))) for t in resized]
    while len(resized) % columns:
        resized.append(np.zeros_like(resized[0]))
    rows = [np.hstack(resized[i : i + columns]) for i in range(0, len(resized), columns)]
    return np.vstack(rows)


def _save(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1])
    print(f"wrote {path}")


def _fold_manifest(fold: int) -> Path:
    """Export a fold model beside a copy of the bundled manifest, so its overlays go through the
    app's own loader and wrapper with the bundled thresholds."""
    folder = fold_dir(fold)
    onnx_path = folder / "scrubline-vision.onnx"
    if not onnx_path.is_file():
        export_onnx(load_trained(folder / "model.pt"), onnx_path)
    manifest = folder / "scrubline-vision.toml"
    manifest.write_text(MANIFEST_PATH.read_text().replace('card = "scrubline-vision.md"\n', ""))
    return manifest


def render(data: Path, out: Path = RUNS / "overlays", frames_per_clip: int = 8) -> None:
    import cv2
    from models.train.vision_data import _decode_video, cholec_clips

    from scrubline.core.models import load_manifest, load_model

    bundled = load_manifest(MANIFEST_PATH)
    thr = bundled.threshold("bleeding", 0.5)
    model = load_model(bundled, threads=THREADS)

    def run(m, frame):
        resized = cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
        return m.predict([resized], (frame.shape[1], frame.shape[0]))[0]

    # cholec80: no instrument labels were used from these clips, so for instruments they are
    # unseen surgeries (their frames did train the bleeding head).
    by_group: dict[str, list[np.ndarray]] = {}
    for clip in cholec_clips(data):
        frames = list(_decode_video(clip))
        picks = np.linspace(0, len(frames) - 1, frames_per_clip).round().astype(int)
        for i in picks:
            label = f"{clip.parent.name} {clip.stem[:14]} t={i / 25:.1f}s"
            by_group.setdefault(clip.parent.name, []).append(
                draw(frames[i], run(model, frames[i]), thr, label)
            )
    for group, tiles in by_group.items():
        _save(out / f"cholec_{group}.png", sheet(tiles, 4))

    # EndoVis robotic and rigid: each drawn by the fold model that never saw it.
    robotic, rigid = [], []
    for fold in FOLDS:
        if not (fold_dir(fold) / "model.pt").is_file():
            print(
                f"fold {fold} has no trained model yet (run --evaluate): no held-out EndoVis overlays"
            )
            continue
        fm = load_model(load_manifest(_fold_manifest(fold)), threads=THREADS)
        frames = list(
            _decode_video(data / "endovis15" / "robotic_testing" / f"Dataset{fold}" / "Video.avi")
        )
        for i in np.linspace(0, len(frames) - 1, 6).round().astype(int):
            robotic.append(
                draw(frames[i], run(fm, frames[i]), thr, f"Dataset{fold} f{i} (held out)")
            )
        for n in (3, 11, 19, 27, 35):
            raw = cv2.imread(
                str(
                    data
                    / "endovis15"
                    / "rigid_training"
                    / f"OP{fold}"
                    / "Raw"
                    / f"img_{n:02d}_raw.png"
                )
            )[..., ::-1]
            rigid.append(draw(raw, run(fm, raw), thr, f"OP{fold} img {n} (held out)"))
    if robotic:
        _save(out / "endovis_robotic_heldout.png", sheet(robotic, 6))
        _save(out / "endovis_rigid_heldout.png", sheet(rigid, 5))

    lap = sorted((data / "laparoscopic_frames").glob("*.jpg"))
    tiles = []
    for p in lap[::5]:
        raw = cv2.imread(str(p))[..., ::-1]
        tiles.append(draw(raw, run(model, raw), thr, p.stem[:11]))
    _save(out / "laparoscopic_frames.png", sheet(tiles, 6))
    sample = data / "endovis17_sample" / "short_source.mp4"
    if sample.is_file():
        frames = list(_decode_video(sample))
        tiles = [
            draw(f, run(model, f), thr, f"endovis17 f{i}")
            for i, f in enumerate(frames)
            if i % 4 == 0
        ]
        _save(out / "endovis17_sample.png", sheet(tiles, 5))


def render_bleeding_differences(
    samples: list[Sample],
    maps: dict[str, np.ndarray],
    threshold: float,
    out: Path = RUNS / "overlays",
    count: int = 12,
) -> None:
    """Held-out frames where the plain HSV rule and the learned head disagree most, side by side:
    frame | HSV baseline (cyan) | refined pseudo-mask (green) | learned head (red)."""
    import cv2

    scored = []
    for s in samples:
        if s.name not in maps:
            continue
        pred = maps[s.name][2].astype(np.float32) >= threshold
        scored.append((float((pred ^ s.hsv_out).mean()), s, pred))
    scored.sort(key=lambda x: -x[0])
    # at most two frames per group, so the sheet shows several videos
    seen: dict[str, int] = {}
    rows = []
    for diff, s, pred in scored:
        if seen.get(s.group, 0) >= 2:
            continue
        seen[s.group] = seen.get(s.group, 0) + 1
        base = s.input.copy()
        panels = [base]
        for mask, colour in (
            (s.hsv_out, (0, 255, 255)),
            (s.bleed_out, (0, 255, 0)),
            (pred, (255, 0, 0)),
        ):
            m = (
                cv2.resize(
                    mask.astype(np.uint8), (INPUT_W, INPUT_H), interpolation=cv2.INTER_NEAREST
                )
                > 0
            )
            p = base.copy()
            p[m] = (0.4 * p[m] + 0.6 * np.array(colour)).astype(np.uint8)
            panels.append(p)
        cv2.putText(
            panels[0],
            f"{s.name[:26]} diff {diff:.2f}",
            (4, 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
        )
        rows.append(np.hstack(panels))
        if len(rows) >= count:
            break
    _save(out / "bleeding_differences.png", np.vstack(rows))


# --------------------------------------------------------------------------------------------
# fine-tuning the bleeding head on real masks (stage 2 of the UBE study)


def finetune_bleeding(
    images: Path, masks: Path, output: Path, steps: int = 600, source: Path = ONNX_PATH
) -> None:
    """Fine-tune on pairs `IMAGES/<stem>.<ext>` + `MASKS/<stem>.<ext>` (mask > 0 = blood).

    Starts from the bundled ONNX weights; every parameter may move, but the instrument and tip
    outputs are held to the original network's outputs (distillation), so improving the blood
    head does not silently degrade the instrument head. Writes a model and manifest with the
    same id into `output`: point the app at that folder (`--models`) and it replaces the
    bundled model."""
    torch = _torch()
    import copy

    import cv2
    from models.train.vision_data import WORK_H, WORK_W
    from torch.nn import functional as F

    pairs = []
    mask_files = {p.stem: p for p in masks.iterdir() if p.is_file()}
    for img in sorted(images.iterdir()):
        if img.stem in mask_files:
            pairs.append((img, mask_files[img.stem]))
    if not pairs:
        raise SystemExit(f"no image/mask pairs with matching names in {images} and {masks}")
    data = []
    for img, msk in pairs:
        rgb = cv2.resize(
            cv2.imread(str(img))[..., ::-1], (WORK_W, WORK_H), interpolation=cv2.INTER_AREA
        )
        m = cv2.resize(
            (cv2.imread(str(msk), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8),
            (WORK_W, WORK_H),
            interpolation=cv2.INTER_NEAREST,
        )
        data.append(
            Sample(
                source="user", group="user", name=img.stem, index=-1, fold=0, image=rgb, bleeding=m
            )
        )
    print(f"fine-tuning on {len(data)} image/mask pairs")
    model = load_onnx_weights(source)
    teacher = copy.deepcopy(model).eval()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
    augment = Augment()
    for step in range(steps):
        rng = np.random.default_rng([SEED, step])
        batch = collate(
            [make_example(data[rng.integers(len(data))], rng, augment) for _ in range(8)]
        )
        outputs = model(batch["image"], logits=True)
        inst, tip, bleed = outputs[:3]
        with torch.no_grad():
            taught = teacher(batch["image"], logits=True)
        t_inst, t_tip = taught[:2]
        target = batch["bleeding"].unsqueeze(1)
        p = torch.sigmoid(bleed)
        loss = (
            F.binary_cross_entropy_with_logits(bleed, target)
            + 1
            - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        )
        loss = (
            loss
            + F.mse_loss(torch.sigmoid(inst), torch.sigmoid(t_inst))
            + F.mse_loss(torch.sigmoid(tip), torch.sigmoid(t_tip))
        )
        for mine, theirs in zip(outputs[3:], taught[3:], strict=True):  # 2.x tool outputs
            loss = loss + F.mse_loss(torch.sigmoid(mine), torch.sigmoid(theirs))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{steps} loss {float(loss):.3f}")
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    export_onnx(model, output / "scrubline-vision.onnx")
    text = MANIFEST_PATH.read_text()
    bundled = tomllib.loads(text)["version"]
    text = text.replace(f'version = "{bundled}"', f'version = "{bundled}+finetuned"')
    text = text.replace('card = "scrubline-vision.md"\n', "")
    head, _, _ = text.partition("[metrics]")
    head = head.replace('headline_metric = "instrument_dice"\n', "")
    (output / "scrubline-vision.toml").write_text(
        head
        + "[metrics]\n# fine-tuned on the user's bleeding masks: the bundled metrics no longer apply\n"
    )
    print(f"wrote {output}")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="shared data folder (default ../shared/data or $SCRUBLINE_DATA)",
    )
    parser.add_argument(
        "--train", action="store_true", help="train the bundled model on all data (runs/full)"
    )
    parser.add_argument(
        "--steps", type=int, default=2400, help="training steps for the bundled model"
    )
    parser.add_argument(
        "--fold-steps", type=int, default=1200, help="training steps for each fold model"
    )
    parser.add_argument(
        "--name", default="full", help="run folder under runs/ for --train and --export"
    )
    parser.add_argument(
        "--export", action="store_true", help="export runs/NAME to models/scrubline-vision.onnx"
    )
    parser.add_argument(
        "--evaluate", action="store_true", help="train fold models (if needed) and compute metrics"
    )
    parser.add_argument(
        "--write-manifest",
        action="store_true",
        help="write the manifest from runs/eval/metrics.json",
    )
    parser.add_argument(
        "--render", action="store_true", help="overlays and contact sheets into runs/overlays"
    )
    parser.add_argument(
        "--bench", action="store_true", help="measure CPU latency of the bundled ONNX model"
    )
    parser.add_argument(
        "--compare-separate", action="store_true", help="shared vs separate models on fold 1"
    )
    parser.add_argument(
        "--check-alignment",
        action="store_true",
        help="measure keypoint and segmentation-video alignment with Video.avi",
    )
    parser.add_argument("--finetune-bleeding", nargs=2, type=Path, metavar=("IMAGES", "MASKS"))
    parser.add_argument("--finetune-steps", type=int, default=600)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=RUNS / "finetuned",
        help="folder for the fine-tuned model and its manifest",
    )
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    global FOLD_STEPS
    FOLD_STEPS = args.fold_steps

    if args.finetune_bleeding:
        finetune_bleeding(*args.finetune_bleeding, args.output, steps=args.finetune_steps)
        return
    if args.check_alignment:
        from models.train.vision_data import check_keypoint_alignment, check_segmentation_alignment

        print(
            "mean distance (px) from clasper points of keypoint entry i to GT instrument of GT frame i+d:"
        )
        for video, scores in check_keypoint_alignment(data).items():
            print(f"  Dataset{video}: " + ", ".join(f"{d:+d}: {v:.2f}" for d, v in scores.items()))
        print(
            "saturation inside minus outside GT frame i's instrument, in video frame i+d (lower = better fit):"
        )
        for video, scores in check_segmentation_alignment(data).items():
            print(f"  Dataset{video}: " + ", ".join(f"{d:+d}: {v:.4f}" for d, v in scores.items()))
    needs_samples = args.train or args.evaluate or args.compare_separate
    samples = load_samples(data) if needs_samples else []
    if args.train:
        train(samples, RUNS / args.name, steps=args.steps, held_out=set())
    if args.export:
        export_onnx(load_trained(RUNS / args.name / "model.pt"), ONNX_PATH)
    if args.evaluate:
        maps_path = RUNS / "eval" / f"oof_{args.fold_steps}.npz"
        if maps_path.is_file():
            maps = dict(np.load(maps_path))
        else:
            maps = run_folds(samples, args.fold_steps)
            maps_path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(maps_path, **maps)
        metrics = evaluate(
            samples, maps, RUNS / "eval", log=training.log_to(RUNS / "eval" / "log.txt")
        )
        metrics["fold_steps"] = args.fold_steps
        (RUNS / "eval" / "metrics.json").write_text(json.dumps(metrics, indent=2))
        print(metrics_markdown(metrics))
    if args.compare_separate:
        compare_separate(samples, args.fold_steps)
    if args.bench:
        print(json.dumps(bench(), indent=2))
    if args.write_manifest:
        from models.train.vision_net import VisionNet, count_parameters

        metrics_path = RUNS / "eval" / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
        latency = bench() if ONNX_PATH.is_file() else {}
        (RUNS / "bench.json").write_text(json.dumps(latency, indent=2))
        steps = {
            "steps": int(_torch().load(RUNS / args.name / "model.pt", weights_only=False)["steps"]),
            "fold_steps": int(metrics["fold_steps"]) if metrics else 0,
            "batch_size": 8,
        }
        write_manifest(metrics, latency, count_parameters(VisionNet()), steps)
        if metrics:
            update_card(metrics, latency)
    if args.render:
        render(data)
        maps_path = RUNS / "eval" / f"oof_{args.fold_steps}.npz"
        if maps_path.is_file():
            samples = load_samples(data)
            thr = json.loads((RUNS / "eval" / "metrics.json").read_text())["thresholds"]["bleeding"]
            render_bleeding_differences(samples, dict(np.load(maps_path)), thr)


def compare_separate(
    samples: list[Sample], steps: int, fold: int = 1, thresholds: dict | None = None
) -> None:
    """Fold 1 only: the shared three-head model vs an instrument+tip model and a bleeding-only
    model, each trained for `steps`. The shared model is also evaluated at twice the steps when
    that fold model exists: the same total training compute as the two separate models.
    Thresholds: the bundled ones (or `thresholds`). Writes runs/eval/separate.json."""
    from models.train.vision_eval import bleed_record, summarise, summarise_bleeding

    log = training.log_to(RUNS / "eval" / "log.txt")
    test = [s for s in samples if s.fold == fold]
    thr = thresholds or json.loads((RUNS / "eval" / "metrics.json").read_text())["thresholds"]
    inst_model = load_trained(
        train(
            samples,
            fold_dir(fold, "_insttip", steps),
            steps=steps,
            held_out={fold},
            heads=("instrument", "tip"),
        )
    )
    bleed_model = load_trained(
        train(
            samples,
            fold_dir(fold, "_bleed", steps),
            steps=steps,
            held_out={fold},
            heads=("bleeding",),
        )
    )
    candidates = [
        (
            f"shared, {steps} steps",
            load_trained(train(samples, fold_dir(fold, "", steps), steps=steps, held_out={fold})),
            None,
        )
    ]
    if (fold_dir(fold, "", 2 * steps) / "model.pt").is_file():
        candidates.append(
            (
                f"shared, {2 * steps} steps",
                load_trained(fold_dir(fold, "", 2 * steps) / "model.pt"),
                None,
            )
        )
    candidates.append((f"separate, {steps} + {steps} steps", inst_model, bleed_model))
    results: dict = {"thresholds": thr, "models": {}}
    for name, im, bm in candidates:
        pi = predict(im, [s.input for s in test])
        pb = predict(bm, [s.input for s in test]) if bm is not None else pi
        maps = {s.name: pi[k] for k, s in enumerate(test)}
        recs = instrument_records(
            [s for s in test if s.evaluable],
            maps,
            thr["instrument"],
            thr["tip"],
            thr["min_instrument_area"],
        )
        brecs = [
            bleed_record(s.name, s.source, pb[k][2], thr["bleeding"], s.bleed_out, s.hsv_out)
            for k, s in enumerate(test)
        ]
        results["models"][name] = {**summarise(recs), **summarise_bleeding(brecs)}
        log(f"fold {fold} {name}: {results['models'][name]}")
    (RUNS / "eval" / "separate.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
