"""Cholec80 phase accuracy with the tool detector's own errors (issue 13 §3, last sentence).

The bundled phase model (`cholec80-phases`) reads per-second tool presence. Its card measures it
on Cholec80's true presence and on presence corrupted by made-up error rates. Here the errors
are those the bundled tool detector (`scrubline-vision` 2.x) was measured to make:

* per class, the share of seconds a tool in view is missed and the share of seconds a tool not
  in view is reported, from the detector's out-of-fold presence on m2cai16 (every annotated
  frame, grouped 4-fold by video; `vision_detect.py --evaluate` writes them), at the app's
  `tool_score` threshold;
* the mean length of a run of misses and of a run of false alarms, from the detector on the
  cholec80 clips second by second against Cholec80's labels (`vision_detect.py --presence`):
  the only data here with consecutive labelled seconds. Too few runs per class there, so one
  mean for misses and one for false alarms, pooled over classes.

Each test video's (41-80) true presence is corrupted per class by two-state Markov chains with
those shares and run lengths (`phases_cholec80.degrade`'s model, per class), the phase model
decodes it, and accuracy against the true phases is averaged over 5 random draws.

    python -m models.train.phases_detector_errors     # prints the table for the phases card
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from models.train.phases_cholec80 import TOOLS, _markov_runs, data_root, load_videos, metrics

WORK = Path(__file__).resolve().parents[2] / ".work" / "det"
DRAWS = 5


def degrade_per_class(
    tools: np.ndarray,
    miss: dict[str, float],
    false_alarm: dict[str, float],
    miss_run_s: float,
    false_run_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    out = tools.copy()
    n = tools.shape[0]
    for j, name in enumerate(TOOLS):
        on = tools[:, j] > 0.5
        missed = _markov_runs(n, min(0.99, miss[name]), max(1.0, miss_run_s), rng)
        false = _markov_runs(n, min(0.99, false_alarm[name]), max(1.0, false_run_s), rng)
        out[:, j] = np.where(on, ~missed, false).astype(float)
    return out


def error_model(evaluation: dict, presence: dict) -> dict:
    rates = evaluation["presence_errors"]
    return {
        "miss": {t: rates[t]["miss"] for t in TOOLS},
        "false_alarm": {t: rates[t]["false_alarm"] for t in TOOLS},
        "miss_run_s": presence["runs"]["miss_mean_s"],
        "false_run_s": presence["runs"]["false_alarm_mean_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--evaluation", default=str(WORK / "eval.json"))
    parser.add_argument("--presence", default=str(WORK / "presence.json"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in (args.evaluation, args.presence):
        if not Path(path).is_file():
            print(f"error: {path}: missing (run models.train.vision_detect first)", file=sys.stderr)
            return 2
    from scrubline.core.models import load_registry
    from scrubline.core.phase_model import PhaseModel

    model = PhaseModel(load_registry().get("cholec80-phases"))
    errors = error_model(
        json.loads(Path(args.evaluation).read_text()), json.loads(Path(args.presence).read_text())
    )
    test = [v for v in load_videos(data_root(args.data)) if v.number > 40]
    truths = [v.phases for v in test]
    clean = metrics([model.predict(v.tools) for v in test], truths)
    accuracies, edits, jaccards = [], [], []
    for draw in range(DRAWS):
        rng = np.random.default_rng([args.seed, draw])
        preds = [
            model.predict(
                degrade_per_class(
                    v.tools,
                    errors["miss"],
                    errors["false_alarm"],
                    errors["miss_run_s"],
                    errors["false_run_s"],
                    rng,
                )
            )
            for v in test
        ]
        m = metrics(preds, truths)
        accuracies.append(m["accuracy"])
        edits.append(m["edit"])
        jaccards.append(m["jaccard"])
    print(f"{len(test)} test videos (41-80); error model: {json.dumps(errors)}")
    print("| presence | accuracy | Jaccard | edit |")
    print("|---|---|---|---|")
    print(
        f"| true (Cholec80 labels) | {clean['accuracy']:.3f} | {clean['jaccard']:.3f} | {clean['edit']:.1f} |"
    )
    print(
        f"| with the detector's measured errors (mean of {DRAWS} draws; range) | "
        f"{np.mean(accuracies):.3f} ({min(accuracies):.3f}–{max(accuracies):.3f}) | "
        f"{np.mean(jaccards):.3f} | {np.mean(edits):.1f} |"
    )
    result = {
        "clean": clean["accuracy"],
        "degraded_mean": float(np.mean(accuracies)),
        "degraded_draws": accuracies,
        "errors": errors,
    }
    (WORK / "phases_degraded.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
