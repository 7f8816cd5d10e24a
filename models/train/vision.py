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
    python -m models.train.vision --check-alignment       # label vs video frame offsets

Each command lives in its own module beside this entry point: `vision_train.py` (--train),
`vision_export.py` (--export), `vision_folds.py` (--evaluate), `vision_compare.py`
(--compare-separate), `vision_bench.py` (--bench), `vision_manifest.py` (--write-manifest),
`vision_render.py` (--render) and `vision_finetune.py` (--finetune-bleeding); --check-alignment
prints `vision_data.py`'s checks. The data are read by `vision_data.py`, the network is
`vision_net.py`, the metrics `vision_eval.py`, and the paths and settings they share
`vision_config.py`.

Folds: fold k holds out EndoVis rigid operation OPk and robotic Datasetk (so leave-one-
operation-out and leave-one-video-out at once), plus whole laparoscopic_frames videos and one
cholec80 source surgery for the bleeding head (see `vision_data.LAP_FOLDS`, `CHOLEC_FOLDS`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.train import vision_folds
from models.train.vision_config import ONNX_PATH, RUNS
from models.train.vision_data import default_data_dir, load_samples


def build_parser() -> argparse.ArgumentParser:
    """The command line the model card documents; one flag per command, any combination."""
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
    return parser


def print_alignment(data: Path) -> None:
    """--check-alignment: how well the keypoints and segmentation videos line up with Video.avi
    at small frame offsets (the offset with the best score is the true alignment)."""
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


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    data = args.data or default_data_dir()
    # which fold models evaluation, the comparison and the overlays read
    vision_folds.FOLD_STEPS = args.fold_steps

    if args.finetune_bleeding:
        from models.train.vision_finetune import finetune_bleeding

        finetune_bleeding(*args.finetune_bleeding, args.output, steps=args.finetune_steps)
        return
    if args.check_alignment:
        print_alignment(data)
    needs_samples = args.train or args.evaluate or args.compare_separate
    samples = load_samples(data) if needs_samples else []
    if args.train:
        from models.train.vision_train import train

        train(samples, RUNS / args.name, steps=args.steps, held_out=set())
    if args.export:
        from models.train.vision_export import export_onnx
        from models.train.vision_train import load_trained

        export_onnx(load_trained(RUNS / args.name / "model.pt"), ONNX_PATH)
    if args.evaluate:
        vision_folds.evaluate_folds(samples, args.fold_steps)
    if args.compare_separate:
        from models.train.vision_compare import compare_separate

        compare_separate(samples, args.fold_steps)
    if args.bench:
        from models.train.vision_bench import bench

        print(json.dumps(bench(), indent=2))
    if args.write_manifest:
        from models.train.vision_manifest import write_manifest_and_card

        write_manifest_and_card(args.name)
    if args.render:
        from models.train.vision_render import render_all

        render_all(data, args.fold_steps)


if __name__ == "__main__":
    sys.exit(main())
