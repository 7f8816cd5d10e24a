"""`python -m models.train.vision --write-manifest`: the bundled model's manifest and the
generated block of its model card, from measured numbers only (runs/eval/metrics.json and
`--bench`): without fold metrics the manifest carries default thresholds and no metrics.
"""

from __future__ import annotations

import json
import tomllib

from models.train.vision_config import MANIFEST_PATH, MODEL_ID, MODELS, RUNS, SEED, VERSION
from models.train.vision_data import INPUT_H, INPUT_W, OUT_H, OUT_W
from models.train.vision_folds import metrics_markdown

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


def write_manifest_and_card(name: str) -> None:
    """The --write-manifest command: latency (--bench, saved as runs/bench.json), the bundled
    run's steps (runs/NAME/model.pt) and the fold metrics, when evaluated, into the manifest and
    the card's generated block."""
    from models.train.vision_bench import bench
    from models.train.vision_config import ONNX_PATH, load_torch
    from models.train.vision_net import VisionNet, count_parameters

    metrics_path = RUNS / "eval" / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    latency = bench() if ONNX_PATH.is_file() else {}
    (RUNS / "bench.json").write_text(json.dumps(latency, indent=2))
    steps = {
        "steps": int(load_torch().load(RUNS / name / "model.pt", weights_only=False)["steps"]),
        "fold_steps": int(metrics["fold_steps"]) if metrics else 0,
        "batch_size": 8,
    }
    write_manifest(metrics, latency, count_parameters(VisionNet()), steps)
    if metrics:
        update_card(metrics, latency)
