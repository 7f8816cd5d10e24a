"""`python -m models.train.vision --compare-separate`: is one shared network as good as
separate ones? Fold 1 only, the three-head model against an instrument+tip model and a
bleeding-only model trained for the same steps (and the shared one at twice the steps, the same
compute), written to runs/eval/separate.json for the model card.
"""

from __future__ import annotations

import json

from models.train import training
from models.train.vision_config import RUNS
from models.train.vision_data import Sample
from models.train.vision_folds import fold_dir, instrument_records
from models.train.vision_train import load_trained, predict, train


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

    def fold_model(tag: str, heads: tuple[str, ...]):
        """The fold model with these heads, trained for `steps` unless it already is."""
        folder = fold_dir(fold, tag, steps)
        return load_trained(train(samples, folder, steps=steps, held_out={fold}, heads=heads))

    inst_model = fold_model("_insttip", ("instrument", "tip"))
    bleed_model = fold_model("_bleed", ("bleeding",))
    candidates = [
        (f"shared, {steps} steps", fold_model("", ("instrument", "tip", "bleeding")), None)
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
