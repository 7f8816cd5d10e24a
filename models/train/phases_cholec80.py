"""Train and validate the cholecystectomy phase model on the Cholec80 annotations.

    .venv-train/bin/python -m models.train.phases_cholec80             # train, validate, export
    .venv-train/bin/python -m models.train.phases_cholec80 --evaluate  # recompute the card's numbers

Input: Cholec80's official per-second tool presence (7 tools) and per-frame phase labels, as joined
in `../shared/data/cholec80_annotations/cholec80_1fps_tool_phase.csv` (70 of the 80 videos; video58
has no phase file and is left out; videos 05, 18, 25, 47 and 73-78 are not in this copy).

Model (see `scrubline.core.phase_model`, which both this script and the app use): windowed tool
features per second -> scikit-learn HistGradientBoostingClassifier, fitted on the true presence and
on two copies per video with simulated detector errors at random rates (exported to ONNX as an
ai.onnx.ml TreeEnsembleClassifier, written from the fitted trees) -> an HMM over the 7 phases whose transition
probabilities are counted on the training videos (Viterbi offline, the forward filter online).
Two variants are trained: **offline** (features look before and after each second; the whole video
is known, as in post-operative review; this is the bundled model) and **online** (causal features
and filter; reported for comparison with the literature's online methods).

Validation, all split by video:
1. The literature split: train on videos 1-40, test on videos 41-80 (those present). Accuracy
   (mean ± SD over videos, and pooled), per-phase precision / recall / Jaccard (per video, then
   averaged over the videos where the phase occurs, as in the Cholec80 papers), segmental edit
   score. The offline numbers are computed by running the exported ONNX file through the app's
   own code (`PhaseModel`).
2. Grouped 5-fold cross-validation over all 69 labelled videos (folds by video, seeded).
3. Simulated detector errors (clearly simulated: no class-aware detector exists yet): the test
   videos' true tool presence is corrupted per tool by *runs* of misses and false alarms (a
   two-state Markov chain per tool with a stated share of seconds and mean run length), and the
   1-40 model predicts from that.

The HMM's one free parameter (`emission_weight`) is chosen by grouped 3-fold cross-validation
inside videos 1-40 only.

Writes `models/cholec80-phases.onnx`, `models/cholec80-phases.toml` (manifest, with the decoding
parameters and the measured metrics) and the metrics block of `models/cholec80-phases.md`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrubline.core.phase_model import Decoding, FeatureSpec, PhaseModel, video_features

MODEL_ID = "cholec80-phases"
PHASES = (
    "Preparation",
    "CalotTriangleDissection",
    "ClippingCutting",
    "GallbladderDissection",
    "GallbladderPackaging",
    "CleaningCoagulation",
    "GallbladderRetraction",
)
TOOLS = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag")
WINDOWS_S = (15, 60, 180, 600)
EMISSION_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
TRANSITION_PSEUDO_COUNT = 1e-3  # transitions never seen in training stay possible, barely
# Simulated detector errors: (name, share of seconds a tool in view is missed, share of seconds
# a tool not in view is falsely reported, mean run length in seconds).
DEGRADATIONS = (
    ("mild: 10% missed, 2% false, runs of 5 s", 0.10, 0.02, 5.0),
    ("moderate: 20% missed, 5% false, runs of 5 s", 0.20, 0.05, 5.0),
    ("moderate, long runs: 20% missed, 5% false, runs of 20 s", 0.20, 0.05, 20.0),
    ("severe: 35% missed, 10% false, runs of 20 s", 0.35, 0.10, 20.0),
)
# Training on simulated detector errors too: per video, this many corrupted copies with a miss
# share, false-alarm share and mean run length drawn uniformly from these ranges.
AUGMENT_COPIES = 2
AUGMENT_MISS = (0.0, 0.35)
AUGMENT_FALSE_ALARM = (0.0, 0.10)
AUGMENT_RUN_S = (2.0, 30.0)
TRAIN_STRIDE_S = 10  # fit on every 10th second: neighbouring seconds are near-duplicates
HGB_PARAMS = {
    "max_iter": 80,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
ANCHORS = {"EndoNet": 81.7, "SV-RCNet": 85.3, "TeCNO": 88.6, "TMRNet": 90.1, "Trans-SVNet": 90.3}


def data_root(explicit: str | None = None) -> Path:
    import os

    if explicit:
        return Path(explicit)
    if os.environ.get("SCRUBLINE_DATA"):
        return Path(os.environ["SCRUBLINE_DATA"])
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class Video:
    name: str
    number: int
    tools: np.ndarray  # [T, 7] 0/1
    phases: np.ndarray  # [T] phase index


def load_videos(root: Path) -> list[Video]:
    table = pd.read_csv(root / "cholec80_annotations" / "cholec80_1fps_tool_phase.csv")
    videos = []
    for name, rows in table.groupby("video", sort=True):
        rows = rows.sort_values("second")
        if rows["phase"].isna().any():
            continue  # video58: no phase annotation anywhere
        unknown = set(rows["phase"]) - set(PHASES)
        if unknown:
            raise ValueError(f"{name}: unknown phase names {sorted(unknown)}")
        videos.append(
            Video(
                name=str(name),
                number=int(re.sub(r"\D", "", str(name))),
                tools=rows[list(TOOLS)].to_numpy(float),
                phases=rows["phase"].map(PHASES.index).to_numpy(int),
            )
        )
    return videos


# ---------------------------------------------------------------------------------------------
# Training


def spec(offline: bool) -> FeatureSpec:
    return FeatureSpec(tools=TOOLS, windows_s=WINDOWS_S, offline=offline)


def training_inputs(
    videos: list[Video], seed: int, copies: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each video's true presence, plus `copies` versions with simulated detector errors at
    random rates (so the trees learn not to trust one stray second of a tool)."""
    out = []
    for v in videos:
        out.append((v.tools, v.phases))
        rng = np.random.default_rng([seed, v.number])
        for _ in range(copies):
            miss, false_alarm = rng.uniform(*AUGMENT_MISS), rng.uniform(*AUGMENT_FALSE_ALARM)
            out.append(
                (degrade(v.tools, miss, false_alarm, rng.uniform(*AUGMENT_RUN_S), rng), v.phases)
            )
    return out


def fit_classifier(videos: list[Video], offline: bool, seed: int, copies: int | None = None) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    inputs = training_inputs(videos, seed, AUGMENT_COPIES if copies is None else copies)
    x = np.vstack([video_features(tools, spec(offline))[::TRAIN_STRIDE_S] for tools, _ in inputs])
    y = np.concatenate([phases[::TRAIN_STRIDE_S] for _, phases in inputs])
    model = HistGradientBoostingClassifier(random_state=seed, **HGB_PARAMS)
    return model.fit(x, y)


def fit_decoding(videos: list[Video], weight: float) -> Decoding:
    k = len(PHASES)
    counts = np.full((k, k), TRANSITION_PSEUDO_COUNT)
    first = np.full(k, TRANSITION_PSEUDO_COUNT)
    share = np.zeros(k)
    for v in videos:
        np.add.at(counts, (v.phases[:-1], v.phases[1:]), 1.0)
        first[v.phases[0]] += 1.0
        share += np.bincount(v.phases, minlength=k)
    return Decoding(
        counts / counts.sum(axis=1, keepdims=True), first / first.sum(), share / share.sum(), weight
    )


def predict_proba(
    classifier: Any, video: Video, offline: bool, tools: np.ndarray | None = None
) -> np.ndarray:
    features = video_features(video.tools if tools is None else tools, spec(offline))
    proba = np.zeros((len(features), len(PHASES)))
    proba[:, classifier.classes_] = classifier.predict_proba(features)
    return proba


def decode(decoding: Decoding, proba: np.ndarray, offline: bool) -> np.ndarray:
    return decoding.viterbi(proba) if offline else decoding.forward(proba)


def choose_weight(videos: list[Video], offline: bool, seed: int, log: Any) -> float:
    """The emission weight with the best out-of-fold accuracy inside the training videos."""
    from sklearn.model_selection import GroupKFold

    groups = np.arange(len(videos))
    oof: dict[int, np.ndarray] = {}
    for fit_idx, val_idx in GroupKFold(n_splits=3).split(groups, groups=groups):
        # Without the simulated-error copies: this only sets how far the HMM trusts each second.
        classifier = fit_classifier([videos[i] for i in fit_idx], offline, seed, copies=0)
        for i in val_idx:
            oof[i] = predict_proba(classifier, videos[i], offline)
    best, best_acc = EMISSION_WEIGHTS[0], -1.0
    for weight in EMISSION_WEIGHTS:
        decoding = fit_decoding(videos, weight)
        acc = float(
            np.mean([np.mean(decode(decoding, oof[i], offline) == videos[i].phases) for i in oof])
        )
        log(f"    emission_weight {weight}: inner-CV accuracy {acc:.4f}")
        if acc > best_acc:
            best, best_acc = weight, acc
    return best


# ---------------------------------------------------------------------------------------------
# Metrics


def segments(labels: np.ndarray) -> list[int]:
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    keep = np.concatenate([[True], labels[1:] != labels[:-1]])
    return labels[keep].tolist()


def edit_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """Segmental edit score (Lea et al. 2016): 100 × (1 − Levenshtein distance between the
    segment label sequences / the longer one's length)."""
    a, b = segments(pred), segments(truth)
    if not a and not b:
        return 100.0
    d = np.arange(len(b) + 1, dtype=float)
    for i in range(1, len(a) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(b) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
    return float(100.0 * (1 - d[len(b)] / max(len(a), len(b))))


def metrics(preds: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, Any]:
    acc = np.array([np.mean(p == t) for p, t in zip(preds, truths, strict=True)])
    pooled = float(np.mean(np.concatenate(preds) == np.concatenate(truths)))
    per_phase = {}
    for k, phase in enumerate(PHASES):
        precision, recall, jaccard = [], [], []
        for p, t in zip(preds, truths, strict=True):
            if not (t == k).any():
                continue  # the phase does not occur in this video
            tp = float(np.sum((p == k) & (t == k)))
            recall.append(tp / np.sum(t == k))
            precision.append(tp / np.sum(p == k) if (p == k).any() else 0.0)
            jaccard.append(tp / np.sum((p == k) | (t == k)))
        per_phase[phase] = {
            "precision": float(np.mean(precision)),
            "recall": float(np.mean(recall)),
            "jaccard": float(np.mean(jaccard)),
            "videos": len(recall),
        }
    edit = np.array([edit_score(p, t) for p, t in zip(preds, truths, strict=True)])
    return {
        "videos": len(preds),
        "accuracy": float(acc.mean()),
        "accuracy_sd": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "accuracy_pooled": pooled,
        "edit": float(edit.mean()),
        "precision": float(np.mean([v["precision"] for v in per_phase.values()])),
        "recall": float(np.mean([v["recall"] for v in per_phase.values()])),
        "jaccard": float(np.mean([v["jaccard"] for v in per_phase.values()])),
        "per_phase": per_phase,
    }


# ---------------------------------------------------------------------------------------------
# Simulated detector errors


def _markov_runs(n: int, share: float, mean_run_s: float, rng: np.random.Generator) -> np.ndarray:
    """A 0/1 series whose 1-runs cover `share` of the seconds on average, with geometric run
    lengths of mean `mean_run_s` (a two-state Markov chain, started from its stationary state)."""
    if share <= 0:
        return np.zeros(n, dtype=bool)
    leave = 1.0 / mean_run_s
    enter = share * leave / (1.0 - share)
    out = np.zeros(n, dtype=bool)
    state = rng.random() < share
    t = 0
    while t < n:
        length = int(rng.geometric(leave if state else enter))
        out[t : t + length] = state
        t += length
        state = not state
    return out


def degrade(
    tools: np.ndarray, miss: float, false_alarm: float, run_s: float, rng: np.random.Generator
) -> np.ndarray:
    """True tool presence with per-tool runs of misses (where the tool is in view) and false
    alarms (where it is not), each from its own Markov chain."""
    out = tools.copy()
    n = tools.shape[0]
    for j in range(tools.shape[1]):
        on = tools[:, j] > 0.5
        missed = _markov_runs(n, miss, run_s, rng)
        false = _markov_runs(n, false_alarm, run_s, rng)
        out[:, j] = np.where(on, ~missed, false).astype(float)
    return out


# ---------------------------------------------------------------------------------------------
# Export


def _float32_at_most(value: float) -> float:
    """The largest float32 not above `value`: `x <= t` then decides the same for every float32
    x in float32 as scikit-learn's float64 comparison does."""
    f = np.float32(value)
    return float(np.nextafter(f, np.float32(-np.inf)) if float(f) > value else f)


def export_onnx(classifier: Any, n_features: int, path: Path) -> None:
    """The fitted HistGradientBoostingClassifier as one ai.onnx.ml TreeEnsembleClassifier
    (softmax over per-class sums of tree outputs plus the baseline), written directly from the
    fitted trees: skl2onnx 1.20 fails on scikit-learn 1.9's trees (a boolean missing-value
    attribute), and the node walk is short. The script checks the file against scikit-learn."""
    import onnx
    from onnx import TensorProto, helper

    attrs: dict[str, list[Any]] = {
        k: []
        for k in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_values",
            "nodes_modes",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "class_treeids",
            "class_nodeids",
            "class_ids",
            "class_weights",
        )
    }
    tree_id = 0
    for per_class in classifier._predictors:
        for class_index, predictor in enumerate(per_class):
            for node_id, node in enumerate(predictor.nodes):
                attrs["nodes_treeids"].append(tree_id)
                attrs["nodes_nodeids"].append(node_id)
                if node["is_leaf"]:
                    attrs["nodes_featureids"].append(0)
                    attrs["nodes_values"].append(0.0)
                    attrs["nodes_modes"].append("LEAF")
                    attrs["nodes_truenodeids"].append(0)
                    attrs["nodes_falsenodeids"].append(0)
                    attrs["class_treeids"].append(tree_id)
                    attrs["class_nodeids"].append(node_id)
                    attrs["class_ids"].append(class_index)
                    attrs["class_weights"].append(float(node["value"]))
                else:
                    if node["is_categorical"]:
                        raise ValueError("categorical splits are not exported")
                    attrs["nodes_featureids"].append(int(node["feature_idx"]))
                    attrs["nodes_values"].append(_float32_at_most(float(node["num_threshold"])))
                    attrs["nodes_modes"].append("BRANCH_LEQ")
                    attrs["nodes_truenodeids"].append(int(node["left"]))
                    attrs["nodes_falsenodeids"].append(int(node["right"]))
            tree_id += 1
    classes = [int(c) for c in classifier.classes_]
    if classes != list(range(len(PHASES))):
        raise ValueError(f"the classifier saw classes {classes}, not all {len(PHASES)} phases")
    node = helper.make_node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "probabilities"],
        domain="ai.onnx.ml",
        classlabels_int64s=classes,
        post_transform="SOFTMAX",
        base_values=[float(v) for v in np.asarray(classifier._baseline_prediction).reshape(-1)],
        **attrs,
    )
    graph = helper.make_graph(
        [node],
        "cholec80_phases",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(PHASES)]),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="scrubline models/train/phases_cholec80.py",
    )
    model.ir_version = 8
    model.doc_string = "Cholecystectomy phases from per-second tool presence; trained on Cholec80 annotations (CC BY-NC-SA 4.0)."
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6)) if abs(value) >= 1e-4 or value == 0 else f"{value:.6e}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def manifest_text(decoding: Decoding, headline: dict[str, float], seed: int) -> str:
    names = spec(True).names()
    lines = [
        "# Written by models/train/phases_cholec80.py; edit the script, not this file.",
        "schema = 1",
        f'id = "{MODEL_ID}"',
        'version = "1.0.0"',
        'name = "Cholecystectomy phases from tool presence (Cholec80)"',
        'task = "phase"',
        f'file = "{MODEL_ID}.onnx"',
        f'card = "{MODEL_ID}.md"',
        'licence = "CC BY-NC-SA 4.0 (trained on Cholec80 annotations, CC BY-NC-SA 4.0: non-commercial use only; cite EndoNet, Twinanda et al. 2017)"',
        "summary = "
        + _toml_value(
            "The 7 Cholec80 phases of a laparoscopic cholecystectomy from which of the 7 Cholec80 tools are in view each "
            "second: windowed tool features over the whole video, gradient-boosted trees (fitted on the true presence and on "
            "copies with simulated detector errors), then an HMM (Viterbi) over the phase order counted on the training videos. Trained on the official Cholec80 annotations of videos 1-40; "
            "needs per-tool presence (a class-aware detector or the user's own labels), not a single 'instrument' class."
        ),
        f"labels = {_toml_value(list(PHASES))}",
        'headline_metric = "test_accuracy"',
        "",
        "[input]",
        'name = "features"',
        f"features = {_toml_value(names)}",
        "",
        "[[outputs]]",
        'name = "probabilities"',
        'role = "phase_probabilities"',
        f'shape = ["N", {len(PHASES)}]',
        "",
        "[features]  # how scrubline.core.phase_model computes the input from per-second tool presence",
        f"tools = {_toml_value(list(TOOLS))}",
        f"windows_s = {_toml_value(list(WINDOWS_S))}",
        "offline = true",
        "",
        "[decoding]  # the HMM over phases (per-second transitions), applied in scrubline.core.phase_model",
        f"emission_weight = {_toml_value(decoding.emission_weight)}",
        f"initial = {_toml_value([float(v) for v in decoding.initial])}",
        f"priors = {_toml_value([float(v) for v in decoding.priors])}",
        "transitions = [",
        *[f"    {_toml_value([float(v) for v in row])}," for row in decoding.transitions],
        "]",
        "",
        "[training]",
        'data = "Cholec80 official annotations (Twinanda et al., EndoNet, IEEE TMI 2017): tool presence at 1 fps and phase labels, videos 1-40 of the 70 in the shared copy (37 videos)"',
        'data_licence = "CC BY-NC-SA 4.0"',
        'split = "train videos 1-40, test videos 41-80 (32 with phase labels; the literature split); also grouped 5-fold CV by video over all 69 labelled videos"',
        'script = "models/train/phases_cholec80.py"',
        f"seed = {seed}",
        "",
        "[metrics]",
        *[f"{k} = {_toml_value(round(v, 4))}" for k, v in headline.items()],
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Report


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def results_markdown(r: dict[str, Any]) -> str:
    lit_off, lit_on = r["literature"]["offline"], r["literature"]["online"]
    cv_off, cv_on = r["cv"]["offline"], r["cv"]["online"]
    out = [
        "| validation | variant | videos | accuracy % (mean ± SD over videos) | pooled % | precision % | recall % | Jaccard % | edit score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, (off, on) in (
        ("videos 1-40 → 41-80", (lit_off, lit_on)),
        ("grouped 5-fold CV", (cv_off, cv_on)),
    ):
        for variant, m in (("offline (bundled)", off), ("online / causal", on)):
            out.append(
                f"| {split} | {variant} | {m['videos']} | {pct(m['accuracy'])} ± {pct(m['accuracy_sd'])} | "
                f"{pct(m['accuracy_pooled'])} | {pct(m['precision'])} | {pct(m['recall'])} | {pct(m['jaccard'])} | "
                f"{m['edit']:.1f} |"
            )
    out += [
        "",
        "Per phase, videos 1-40 → 41-80 (per video, averaged over the videos where the phase occurs):",
        "",
        "| phase | offline precision % | recall % | Jaccard % | online precision % | recall % | Jaccard % |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in PHASES:
        a, b = lit_off["per_phase"][phase], lit_on["per_phase"][phase]
        out.append(
            f"| {phase} | {pct(a['precision'])} | {pct(a['recall'])} | {pct(a['jaccard'])} | "
            f"{pct(b['precision'])} | {pct(b['recall'])} | {pct(b['jaccard'])} |"
        )
    out += [
        "",
        "**Simulated** detector errors (true presence of videos 41-80 corrupted per tool by runs of misses and "
        "false alarms; seed fixed; the 1-40 models unchanged):",
        "",
        "| simulated errors | offline accuracy % | offline edit | online accuracy % | offline, trained without simulated errors % |",
        "|---|---|---|---|---|",
        f"| none (true tool presence) | {pct(lit_off['accuracy'])} | {lit_off['edit']:.1f} | {pct(lit_on['accuracy'])} | "
        f"{pct(r['clean_trained']['none']['accuracy'])} |",
    ]
    for name, m in r["degraded"].items():
        out.append(
            f"| {name} | {pct(m['offline']['accuracy'])} | {m['offline']['edit']:.1f} | {pct(m['online']['accuracy'])} | "
            f"{pct(r['clean_trained'][name]['accuracy'])} |"
        )
    raw_off, raw_on = (
        r["literature"]["offline_before_smoothing"],
        r["literature"]["online_before_smoothing"],
    )
    out += [
        "",
        f"Before the HMM (each second's most probable phase), videos 1-40 → 41-80: offline {pct(raw_off['accuracy'])}% "
        f"(edit score {raw_off['edit']:.1f}), online {pct(raw_on['accuracy'])}% (edit score {raw_on['edit']:.1f}).",
    ]
    out += [
        "",
        f"Emission weight chosen inside videos 1-40: offline {r['weights']['offline']}, online {r['weights']['online']}. "
        f"ONNX vs scikit-learn on the test videos: {r['onnx_agreement']:.4%} of seconds decode to the same phase, "
        f"largest probability difference {r['onnx_max_diff']:.2e}.",
    ]
    return "\n".join(out)


def run(root: Path, seed: int, log: Any) -> tuple[dict[str, Any], Any, Decoding]:
    from sklearn.model_selection import GroupKFold

    videos = load_videos(root)
    train = [v for v in videos if v.number <= 40]
    test = [v for v in videos if v.number > 40]
    log(f"{len(videos)} labelled videos: {len(train)} train (1-40), {len(test)} test (41-80)")
    results: dict[str, Any] = {"literature": {}, "cv": {}, "weights": {}, "degraded": {}}
    final: dict[bool, tuple[Any, Decoding]] = {}
    for offline in (True, False):
        variant = "offline" if offline else "online"
        t0 = time.monotonic()
        weight = choose_weight(train, offline, seed, log)
        results["weights"][variant] = weight
        classifier = fit_classifier(train, offline, seed)
        decoding = fit_decoding(train, weight)
        final[offline] = (classifier, decoding)
        probas = [predict_proba(classifier, v, offline) for v in test]
        preds = [decode(decoding, p, offline) for p in probas]
        results["literature"][variant] = metrics(preds, [v.phases for v in test])
        results["literature"][f"{variant}_before_smoothing"] = metrics(
            [p.argmax(axis=1) for p in probas], [v.phases for v in test]
        )
        log(
            f"  {variant}: 1-40 → 41-80 accuracy {results['literature'][variant]['accuracy']:.4f} "
            f"({time.monotonic() - t0:.0f} s)"
        )
        # Grouped 5-fold CV over all labelled videos (same emission weight).
        order = np.random.default_rng(seed).permutation(len(videos))
        groups = np.arange(len(videos))
        cv_preds: list[np.ndarray] = []
        cv_truths: list[np.ndarray] = []
        for fit_idx, val_idx in GroupKFold(n_splits=5).split(groups, groups=groups):
            fit_videos = [videos[order[i]] for i in fit_idx]
            fold_classifier = fit_classifier(fit_videos, offline, seed)
            fold_decoding = fit_decoding(fit_videos, weight)
            for i in val_idx:
                v = videos[order[i]]
                cv_preds.append(
                    decode(fold_decoding, predict_proba(fold_classifier, v, offline), offline)
                )
                cv_truths.append(v.phases)
        results["cv"][variant] = metrics(cv_preds, cv_truths)
        log(f"  {variant}: grouped 5-fold CV accuracy {results['cv'][variant]['accuracy']:.4f}")
    for name, miss, false_alarm, run_s in DEGRADATIONS:
        rng = np.random.default_rng(seed + 1)
        noisy = [degrade(v.tools, miss, false_alarm, run_s, rng) for v in test]
        entry = {}
        for offline in (True, False):
            classifier, decoding = final[offline]
            preds = [
                decode(decoding, predict_proba(classifier, v, offline, x), offline)
                for v, x in zip(test, noisy, strict=True)
            ]
            entry["offline" if offline else "online"] = metrics(preds, [v.phases for v in test])
        results["degraded"][name] = entry
        log(
            f"  simulated {name}: offline {entry['offline']['accuracy']:.4f}, online {entry['online']['accuracy']:.4f}"
        )
    # The same offline model trained on true presence only, for comparison.
    clean = fit_classifier(train, True, seed, copies=0)
    decoding = final[True][1]
    rows = {
        "none": metrics(
            [decode(decoding, predict_proba(clean, v, True), True) for v in test],
            [v.phases for v in test],
        )
    }
    for name, miss, false_alarm, run_s in DEGRADATIONS:
        rng = np.random.default_rng(seed + 1)
        noisy = [degrade(v.tools, miss, false_alarm, run_s, rng) for v in test]
        rows[name] = metrics(
            [
                decode(decoding, predict_proba(clean, v, True, x), True)
                for v, x in zip(test, noisy, strict=True)
            ],
            [v.phases for v in test],
        )
    results["clean_trained"] = rows
    figures = ", ".join(f"{m['accuracy']:.4f}" for m in rows.values())
    log(f"  trained without simulated errors: {figures}")
    return results, final[True][0], final[True][1]


def check_onnx(
    path: Path, manifest_path: Path, classifier: Any, root: Path, results: dict[str, Any]
) -> dict[str, Any]:
    """Run the exported file through the app's own PhaseModel on the test videos: its decoded
    phases are the headline offline numbers."""
    from scrubline.core.models.manifest import load_manifest

    model = PhaseModel(load_manifest(manifest_path))
    test = [v for v in load_videos(root) if v.number > 40]
    preds, agree, max_diff = [], [], 0.0
    for v in test:
        ours = model.probabilities(v.tools)
        theirs = predict_proba(classifier, v, True)
        max_diff = max(max_diff, float(np.abs(ours - theirs).max()))
        path_onnx = model.predict(v.tools)
        agree.append(path_onnx == model.decoding.viterbi(theirs))
        preds.append(path_onnx)
    results["onnx_agreement"] = float(np.mean(np.concatenate(agree)))
    results["onnx_max_diff"] = max_diff
    return metrics(preds, [v.phases for v in test])


def headline(results: dict[str, Any]) -> dict[str, float]:
    lit, cv = results["literature"], results["cv"]
    out = {
        "test_accuracy": lit["offline"]["accuracy"],
        "test_accuracy_sd": lit["offline"]["accuracy_sd"],
        "test_jaccard": lit["offline"]["jaccard"],
        "test_edit": lit["offline"]["edit"],
        "test_accuracy_online": lit["online"]["accuracy"],
        "cv_accuracy": cv["offline"]["accuracy"],
        "cv_accuracy_online": cv["online"]["accuracy"],
    }
    for (name, *_), key in zip(
        DEGRADATIONS, ("mild", "moderate", "moderate_long", "severe"), strict=True
    ):
        out[f"test_accuracy_simulated_{key}"] = results["degraded"][name]["offline"]["accuracy"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", help="shared data folder (default: $SCRUBLINE_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1]), help="models folder"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="recompute every number and compare with the manifest; write nothing",
    )
    args = parser.parse_args(argv)
    root = data_root(args.data)
    if not (root / "cholec80_annotations").is_dir():
        print(
            f"error: {root}: no cholec80_annotations folder (see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)

    def log(message: str) -> None:
        print(message, flush=True)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one thread: faster than OpenMP fighting over a shared machine
        results, classifier, decoding = run(root, args.seed, log)
    if args.evaluate:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            onnx_path, manifest_path = (
                Path(tmp) / f"{MODEL_ID}.onnx",
                Path(tmp) / f"{MODEL_ID}.toml",
            )
            export_onnx(classifier, len(spec(True).names()), onnx_path)
            manifest_path.write_text(
                manifest_text(decoding, headline(results), args.seed), encoding="utf-8"
            )
            results["literature"]["offline"] = check_onnx(
                onnx_path, manifest_path, classifier, root, results
            )
        print(results_markdown(results))
        from scrubline.core.tomlfile import read_toml

        shipped = read_toml(out / f"{MODEL_ID}.toml", ValueError).get("metrics", {})
        now = headline(results)
        diffs = {
            k: (shipped.get(k), round(v, 4))
            for k, v in now.items()
            if shipped.get(k) != round(v, 4)
        }
        print("manifest metrics reproduced" if not diffs else f"differs from the manifest: {diffs}")
        return 0 if not diffs else 1

    onnx_path, manifest_path = out / f"{MODEL_ID}.onnx", out / f"{MODEL_ID}.toml"
    export_onnx(classifier, len(spec(True).names()), onnx_path)
    manifest_path.write_text(
        manifest_text(decoding, headline(results), args.seed), encoding="utf-8"
    )
    results["literature"]["offline"] = check_onnx(
        onnx_path, manifest_path, classifier, root, results
    )
    manifest_path.write_text(
        manifest_text(decoding, headline(results), args.seed), encoding="utf-8"
    )
    table = results_markdown(results)
    card = out / f"{MODEL_ID}.md"
    if card.exists():
        text = card.read_text(encoding="utf-8")
        begin, end = "<!-- metrics:begin -->", "<!-- metrics:end -->"
        if begin in text and end in text:
            text = (
                text[: text.index(begin) + len(begin)]
                + "\n"
                + table
                + "\n"
                + text[text.index(end) :]
            )
            card.write_text(text, encoding="utf-8")
    print(table)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB), {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
