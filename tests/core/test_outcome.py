"""Outcome prediction: per-second features from hand-made detections, event-start detection, the
out-of-domain refusals, and the bundled `outcome-socal` model through the registry. Tests on the
real SOCAL tables skip when the shared data folder is absent."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from scrubline.core.models import SequenceModel, load_model, load_registry
from scrubline.core.outcome import (
    FEATURES,
    OutcomeError,
    describe_statistic,
    detect_event_start,
    model_domain,
    out_of_range,
    outcome_line,
    pooled_names,
    pooled_statistics,
    predict_case_outcome,
    sequence_features,
    window_coverage,
)

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "outcome-socal"
PROCEDURE = "socal-carotid"  # the procedure the bundled model was validated on
COL = {name: i for i, name in enumerate(FEATURES)}


def _data_dir() -> Path:
    return Path(os.environ.get("SCRUBLINE_DATA", REPO.parent / "shared" / "data"))


def boxes(
    rows: list[tuple[float, float, float, float, float]],
    label: str = "instrument",
    score: float = 0.9,
) -> pd.DataFrame:
    """rows: (time_s, x1, y1, x2, y2) in pixels."""
    return pd.DataFrame(
        [(t, label, score, x1, y1, x2, y2) for t, x1, y1, x2, y2 in rows],
        columns=["time_s", "label", "score", "x1", "y1", "x2", "y2"],
    )


def frames(fps: float, start: float = 0.0, seconds: float = 60.0) -> np.ndarray:
    return start + np.arange(int(round(seconds * fps))) / fps


# ---------------------------------------------------------------------------------------------
# Features


def test_one_still_centred_instrument():
    times = frames(5)
    # 640 x 360 box centred in a 1280 x 720 frame: a quarter of the frame.
    det = boxes([(t, 320, 180, 960, 540) for t in times])
    seq = sequence_features(det, (1280, 720), 0.0, analysed_times=times)
    assert seq.shape == (60, len(FEATURES)) and seq.dtype == np.float32
    np.testing.assert_allclose(seq[:, COL["instrument_count"]], 1.0)
    np.testing.assert_allclose(seq[:, COL["instrument_present"]], 1.0)
    np.testing.assert_allclose(seq[:, COL["two_or_more"]], 0.0)
    np.testing.assert_allclose(seq[:, COL["box_area_sum"]], 0.25, atol=1e-6)
    np.testing.assert_allclose(seq[:, COL["box_area_max"]], 0.25, atol=1e-6)
    np.testing.assert_allclose(seq[:, COL["centre_x"]], 0.5)
    np.testing.assert_allclose(seq[:, COL["centre_y"]], 0.5)
    np.testing.assert_allclose(seq[:, COL["centre_offset"]], 0.0, atol=1e-6)
    np.testing.assert_allclose(seq[:, COL["box_bottom"]], 0.75, atol=1e-6)
    for name in ("motion", "area_change", "entries", "exits", "spread"):
        np.testing.assert_allclose(seq[:, COL[name]], 0.0, atol=1e-6)


def test_entry_and_exit_are_counted_in_the_right_seconds():
    times = frames(1)
    det = boxes([(t, 0, 0, 100, 100) for t in times if 10 <= t < 20])
    seq = sequence_features(det, (1000, 1000), 0.0, analysed_times=times)
    present = seq[:, COL["instrument_present"]]
    assert present[:10].sum() == 0 and present[10:20].sum() == 10 and present[20:].sum() == 0
    entries, exits = seq[:, COL["entries"]], seq[:, COL["exits"]]
    assert entries[10] == 1 and entries.sum() == 1
    assert exits[20] == 1 and exits.sum() == 1
    # Positions are neutral (frame centre) when nothing is in view.
    assert seq[0, COL["centre_x"]] == pytest.approx(0.5)
    assert seq[15, COL["centre_x"]] == pytest.approx(0.05)


def test_motion_is_the_displacement_over_the_diagonal():
    times = frames(1)
    # A square frame; the box moves 30 px right and 40 px down each second: 50 px per second.
    det = boxes([(t, 100 + 30 * t, 100 + 40 * t, 120 + 30 * t, 120 + 40 * t) for t in times[:10]])
    seq = sequence_features(det, (5000, 5000), 0.0, analysed_times=times)
    expected = 50.0 / (5000 * math.sqrt(2.0))
    np.testing.assert_allclose(seq[1:10, COL["motion"]], expected, rtol=1e-4)
    assert seq[0, COL["motion"]] == 0.0
    # Leaving the view is not a movement.
    assert seq[10, COL["motion"]] == 0.0 and seq[10, COL["exits"]] == 1.0


def test_two_instruments_give_count_and_spread():
    times = frames(2)
    det = pd.concat(
        [
            boxes([(t, 0, 450, 100, 550) for t in times]),  # centre (50, 500)
            boxes([(t, 900, 450, 1000, 550) for t in times]),  # centre (950, 500)
        ]
    )
    seq = sequence_features(det, (1000, 1000), 0.0, analysed_times=times)
    np.testing.assert_allclose(seq[:, COL["instrument_count"]], 2.0)
    np.testing.assert_allclose(seq[:, COL["two_or_more"]], 1.0)
    np.testing.assert_allclose(seq[:, COL["box_area_sum"]], 0.02, atol=1e-6)
    np.testing.assert_allclose(seq[:, COL["box_area_max"]], 0.01, atol=1e-6)
    # Centres 0.9 of the width apart: spread = sqrt(var_x) / sqrt(2) = 0.45 / sqrt(2).
    np.testing.assert_allclose(seq[:, COL["spread"]], 0.45 / math.sqrt(2.0), rtol=1e-4)


def test_frame_rate_and_frame_size_do_not_change_the_features():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0.2, 0.8, size=(60, 2))
    present = rng.uniform(size=60) > 0.3

    def make(fps: float, size: tuple[int, int]) -> np.ndarray:
        w, h = size
        times = frames(fps)
        rows = []
        for t in times:
            k = int(t)
            if present[k]:
                cx, cy = centres[k]
                rows.append((t, (cx - 0.1) * w, (cy - 0.1) * h, (cx + 0.1) * w, (cy + 0.1) * h))
        return sequence_features(boxes(rows), size, 0.0, analysed_times=times)

    a = make(1, (1920, 1080))
    np.testing.assert_allclose(make(5, (1920, 1080)), a, atol=1e-5)
    np.testing.assert_allclose(make(25, (1280, 720)), a, atol=1e-5)


def test_unanalysed_seconds_differ_from_empty_seconds():
    det = boxes([(t, 0, 0, 100, 100) for t in range(60)])
    analysed = np.array([t for t in range(60) if not 20 <= t < 30], dtype=float)
    # Seconds 20-29 were not analysed: they carry second 19 forward (an instrument was there).
    seq = sequence_features(
        det[~det.time_s.between(20, 29)], (1000, 1000), 0.0, analysed_times=analysed
    )
    np.testing.assert_allclose(seq[20:30, COL["instrument_present"]], 1.0)
    # The same seconds analysed and empty read as "no instrument".
    seq = sequence_features(
        det[~det.time_s.between(20, 29)], (1000, 1000), 0.0, analysed_times=np.arange(60.0)
    )
    np.testing.assert_allclose(seq[20:30, COL["instrument_present"]], 0.0)
    assert seq[20, COL["exits"]] == 1.0 and seq[30, COL["entries"]] == 1.0


def test_event_start_shifts_the_window():
    times = np.arange(0.0, 200.0)
    det = boxes([(t, 0, 0, 100, 100) for t in times if t >= 130])
    seq = sequence_features(det, (1000, 1000), 100.0, analysed_times=times)
    assert seq[:30, COL["instrument_present"]].sum() == 0
    assert seq[30:, COL["instrument_present"]].sum() == 30


def test_label_and_score_filters():
    times = frames(1)
    det = pd.concat(
        [
            boxes([(t, 0, 0, 100, 100) for t in times], label="suction", score=0.9),
            boxes([(t, 500, 500, 600, 600) for t in times], label="cottonoid", score=0.9),
            boxes([(t, 800, 800, 900, 900) for t in times], label="suction", score=0.2),
        ]
    )
    everything = sequence_features(det, (1000, 1000), 0.0, analysed_times=times)
    assert everything[0, COL["instrument_count"]] == 3
    only = sequence_features(
        det, (1000, 1000), 0.0, analysed_times=times, labels=["suction"], min_score=0.5
    )
    assert only[0, COL["instrument_count"]] == 1


def test_feature_selection_and_bleeding():
    times = frames(1)
    det = boxes([(t, 0, 0, 100, 100) for t in times])
    bleeding = pd.Series(np.linspace(0.0, 0.59, 60), index=times)
    seq = sequence_features(
        det,
        (1000, 1000),
        0.0,
        bleeding=bleeding,
        analysed_times=times,
        features=("bleeding_fraction", "instrument_count"),
    )
    assert seq.shape == (60, 2)
    np.testing.assert_allclose(seq[:, 0], np.linspace(0.0, 0.59, 60), atol=1e-6)
    with pytest.raises(OutcomeError, match="needs the bleeding timeline"):
        sequence_features(
            det, (1000, 1000), 0.0, analysed_times=times, features=("bleeding_fraction",)
        )
    with pytest.raises(OutcomeError, match="unknown feature"):
        sequence_features(det, (1000, 1000), 0.0, analysed_times=times, features=("tool_colour",))


def test_bad_inputs_raise_clear_errors():
    det = boxes([(0.0, 0, 0, 10, 10)])
    with pytest.raises(OutcomeError, match="no analysed frame"):
        sequence_features(det, (100, 100), 500.0, analysed_times=np.arange(60.0))
    with pytest.raises(OutcomeError, match="frame size"):
        sequence_features(det, (0, 100), 0.0)
    with pytest.raises(OutcomeError, match="lack column"):
        sequence_features(det.drop(columns=["x2"]), (100, 100), 0.0)


def test_window_coverage():
    fraction, reach = window_coverage(np.arange(10.0, 40.0, 0.5), 10.0)
    assert fraction == pytest.approx(0.5) and reach == pytest.approx(30.0)
    fraction, reach = window_coverage(np.arange(0.0, 300.0, 2.0), 10.0)
    assert fraction == pytest.approx(0.5) and reach == pytest.approx(60.0)


# ---------------------------------------------------------------------------------------------
# Event start


def test_event_start_is_the_first_sustained_rise():
    rng = np.random.default_rng(0)
    times = np.arange(0.0, 120.0, 0.2)
    fraction = 0.01 + 0.005 * rng.uniform(size=times.size)
    fraction[times >= 45.0] += 0.2  # the bleed
    assert detect_event_start(times, fraction) == pytest.approx(45.0, abs=1.0)


def test_event_start_ignores_flashes_and_steady_red_tissue():
    times = np.arange(0.0, 120.0, 0.2)
    # Red tissue fills 20% of the frame all along (a colour-threshold model marks it as blood)...
    fraction = np.full(times.size, 0.20)
    # ...a one-frame flash at 10 s and a 1-s flicker at 20 s are not events...
    fraction[times == 10.0] = 0.9
    fraction[(times >= 20.0) & (times < 21.0)] = 0.5
    assert detect_event_start(times, fraction) is None
    # ...a sustained rise to 35% at 70 s is.
    fraction[times >= 70.0] = 0.35
    assert detect_event_start(times, fraction) == pytest.approx(70.0, abs=1.0)


def test_event_start_on_empty_or_flat_input():
    assert detect_event_start(np.array([]), np.array([])) is None
    assert detect_event_start(np.arange(100.0), np.zeros(100)) is None
    assert detect_event_start(np.arange(100.0), np.full(100, np.nan)) is None


# ---------------------------------------------------------------------------------------------
# The bundled model and the refusals


@pytest.fixture(scope="module")
def model() -> SequenceModel:
    registry = load_registry(include_bundled=True)
    assert MODEL_ID in registry.manifests, registry.problems
    loaded = load_model(registry.get(MODEL_ID), threads=1)
    assert isinstance(loaded, SequenceModel)
    return loaded


def test_manifest_matches_the_feature_code(model: SequenceModel):
    m = model.manifest
    assert m.task == "sequence" and model.steps == 60
    assert model.features == FEATURES
    for key in (
        "cv_rmse_ml",
        "cv_mean_error_ml",
        "cv_r2",
        "cv_accuracy",
        "cv_sensitivity",
        "cv_specificity",
        "cv_auroc",
        "interval_coverage",
    ):
        assert isinstance(m.metrics[key], float), key
    assert m.extra["headline_metric"] in m.metrics
    assert 0.0 < m.metrics["interval_coverage"] <= 1.0
    for key in ("data", "data_licence", "split", "script", "seed"):
        assert key in m.training
    assert "CC BY-NC" in m.training["data_licence"]


def _random_sequences(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        times = frames(1)
        counts = rng.integers(0, 3, size=60)
        rows = []
        for t, k in zip(times, counts, strict=True):
            for _ in range(k):
                x, y = rng.uniform(0, 1500), rng.uniform(0, 800)
                rows.append((t, x, y, x + rng.uniform(50, 400), y + rng.uniform(50, 300)))
        cases.append(sequence_features(boxes(rows), (1920, 1080), 0.0, analysed_times=times))
    return cases


def _socal_like(seed: int) -> np.ndarray:
    """One instrument working in the middle of the view all minute, a second one coming in for a
    few spells: random variations of how a SOCAL trial looks."""
    rng = np.random.default_rng(seed)
    times = frames(1)
    x0, y0 = rng.uniform(500, 900), rng.uniform(350, 500)
    w, h = rng.uniform(350, 600), rng.uniform(400, 600)
    amplitude, period = rng.uniform(50, 250), rng.uniform(4, 12)
    starts = rng.uniform(0, 50, size=rng.integers(0, 3))
    lengths = rng.uniform(5, 20, size=starts.size)
    rows = []
    for t in times:
        x = x0 + amplitude * math.sin(t / period)
        rows.append((t, x, y0, x + w, min(1080.0, y0 + h)))
        if any(s <= t < s + n for s, n in zip(starts, lengths, strict=True)):
            x2 = 1000 + rng.uniform(-60, 60)
            rows.append((t, x2, 300, x2 + 450, 900))
    return sequence_features(boxes(rows), (1920, 1080), 0.0, analysed_times=times)


def test_model_outputs_are_finite_and_ordered(model: SequenceModel):
    domain = model_domain(model)
    in_range = 0
    cases = [np.zeros((60, len(FEATURES)), np.float32), *_random_sequences(20, 1)]
    cases += [_socal_like(seed) for seed in range(30)]
    for seq in cases:
        out = model.predict_outcome(seq)
        low, high = out.blood_loss_interval_ml
        assert all(
            math.isfinite(v) for v in (out.blood_loss_ml, low, high, out.success_probability)
        )
        assert 0.0 <= low <= high and out.blood_loss_ml > 0.0
        assert 0.0 <= out.success_probability <= 1.0
        if not out_of_range(seq, model.features, domain):
            in_range += 1
            # Inside the training range the estimate lies strictly inside its interval.
            assert low <= out.blood_loss_ml < high
    assert in_range >= 10


def _far_case() -> tuple[pd.DataFrame, np.ndarray]:
    """Big boxes right of centre, one or two of them in 10-s blocks: far from every SOCAL trial
    in a direction that drives the square-root-scale blood loss below zero."""
    times = frames(1)
    rows = []
    for t in times:
        for j in range((2, 2, 1, 2, 2, 1)[int(t // 10)]):
            x1 = (0.7 - 0.41 / 2) * 1920 + j * 50
            rows.append((t, x1, 1080 * 0.1, x1 + 0.41 * 1920, 1080))
    return boxes(rows), times


def test_an_estimate_outside_its_interval_is_never_shown(model: SequenceModel):
    """Version 1.0.0 printed "64 mL (80% interval 0-64 mL)" for inputs far from its training
    cases: its graph clamped the interval's upper end onto the estimate (the smearing constant
    alone, for a square-root-scale prediction below zero). Now the graph reports the interval
    as it is and the app refuses such an estimate."""
    det, times = _far_case()
    seq = sequence_features(det, (1920, 1080), 0.0, analysed_times=times)
    raw = model.predict_outcome(seq)
    low, high = raw.blood_loss_interval_ml
    assert high < raw.blood_loss_ml, "interval clamped onto the estimate"
    out = predict_case_outcome(
        det, (1920, 1080), times, model, event_start_s=0.0, procedure=PROCEDURE
    )
    _assert_refused(out, "unlike every case the model was trained on")
    # Without the range check (a model that states no training statistics), the interval check
    # alone refuses it.
    domain = {k: v for k, v in model_domain(model).items() if k != "max_abs_z"}
    unchecked = SimpleNamespace(
        manifest=dataclasses.replace(model.manifest, extra={"domain": domain}),
        steps=model.steps,
        features=model.features,
        predict_outcome=model.predict_outcome,
    )
    out = predict_case_outcome(
        det, (1920, 1080), times, unchecked, event_start_s=0.0, procedure=PROCEDURE
    )
    _assert_refused(out, "falls outside its own 80% interval")
    # Whatever the inputs, a shown interval holds its estimate with room above it.
    for seq_det in (det, *(_boxes_of(seed) for seed in range(5))):
        shown = predict_case_outcome(
            seq_det, (1920, 1080), times, model, event_start_s=0.0, procedure=PROCEDURE
        )
        if shown["blood_loss_ml"] is not None:
            low, high = shown["blood_loss_interval_ml"]
            assert low <= shown["blood_loss_ml"] < high


def _boxes_of(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for t in frames(1):
        for _ in range(rng.integers(0, 3)):
            x, y = rng.uniform(300, 1200), rng.uniform(200, 600)
            rows.append((t, x, y, x + rng.uniform(200, 600), y + rng.uniform(200, 450)))
    return boxes(rows)


def _still_case(seconds: float = 120.0, fps: float = 2.0):
    times = frames(fps, seconds=seconds)
    det = boxes([(t, 600, 400, 1000, 900) for t in times])
    bleeding = pd.Series(np.where(times >= 20.0, 0.3, 0.01), index=times)
    return det, times, bleeding


def test_prediction_with_detected_event_start(model: SequenceModel):
    det, times, bleeding = _in_range_case()
    out = predict_case_outcome(
        det, (1920, 1080), times, model, procedure=PROCEDURE, bleeding=bleeding
    )
    assert out["reason"] is None
    assert out["event_start_s"] == pytest.approx(20.0, abs=1.0)
    low, high = out["blood_loss_interval_ml"]
    assert low <= out["blood_loss_ml"] <= high
    assert 0.0 <= out["success_probability"] <= 1.0
    assert out["model"]["id"] == MODEL_ID and out["model"]["version"] == model.version
    json.dumps(out)  # summary.json must be able to hold it
    # A start the user moved wins over the detected one.
    moved = predict_case_outcome(
        det, (1920, 1080), times, model, procedure=PROCEDURE, bleeding=bleeding, event_start_s=40.0
    )
    assert moved["event_start_s"] == 40.0 and moved["reason"] is None


def _assert_refused(out: dict, fragment: str) -> None:
    assert out["blood_loss_ml"] is None
    assert out["blood_loss_interval_ml"] is None
    assert out["success_probability"] is None
    assert fragment in out["reason"], out["reason"]
    json.dumps(out)


def test_refusals_out_of_domain(model: SequenceModel):
    det, times, bleeding = _still_case()
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), times, None, bleeding=bleeding), "no outcome model"
    )
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), times, model, procedure=PROCEDURE),
        "set the event start by hand",
    )
    flat = pd.Series(np.full(times.size, 0.01), index=times)
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), times, model, procedure=PROCEDURE, bleeding=flat),
        "no bleeding event",
    )
    # The bleeding starts 30 s before the analysed video ends.
    _assert_refused(
        predict_case_outcome(
            det, (1920, 1080), times, model, procedure=PROCEDURE, event_start_s=90.0
        ),
        "covers only 30 s",
    )
    # Only every third second analysed.
    sparse = times[(times.astype(int) % 3) == 0]
    _assert_refused(
        predict_case_outcome(
            det, (1920, 1080), sparse, model, procedure=PROCEDURE, event_start_s=0.0
        ),
        "were analysed",
    )
    # Analysed, but no instrument anywhere in the window.
    empty = det.iloc[0:0]
    _assert_refused(
        predict_case_outcome(
            empty, (1920, 1080), times, model, procedure=PROCEDURE, event_start_s=0.0
        ),
        "no instruments were seen",
    )
    # Instruments in view for 2 s only.
    brief = det[det.time_s < 2.0]
    _assert_refused(
        predict_case_outcome(
            brief, (1920, 1080), times, model, procedure=PROCEDURE, event_start_s=0.0
        ),
        "only 2 s",
    )


# ---------------------------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def socal():
    root = _data_dir()
    if not (root / "socal" / "socal.csv").is_file():
        pytest.skip(f"SOCAL data not found under {root}")
    sys.path.insert(0, str(REPO))
    try:
        from models.train.outcome_data import SOCAL_INSTRUMENTS, load_socal
    finally:
        sys.path.remove(str(REPO))
    return load_socal(root, "truth"), SOCAL_INSTRUMENTS


def test_real_socal_trials_predict_and_rank(model: SequenceModel, socal):
    trials, instruments = socal
    assert len(trials) == 143
    predicted, truth, p, success, refused = [], [], [], [], []
    for trial in trials.values():
        if trial.analysed_times.max() < 59:
            continue  # shorter than the window: the app refuses these
        out = predict_case_outcome(
            trial.detections,
            trial.frame_size,
            trial.analysed_times,
            model,
            event_start_s=0.0,
            procedure=PROCEDURE,
            labels=instruments,
        )
        if out["reason"] is not None:
            # The card: 3 training trials lie beyond |z| > 4 themselves; none of the others.
            assert "standard deviations in" in out["reason"], (trial.trial_id, out["reason"])
            refused.append(trial.trial_id)
            continue
        low, high = out["blood_loss_interval_ml"]
        assert low <= out["blood_loss_ml"] <= high
        predicted.append(out["blood_loss_ml"])
        truth.append(trial.blood_loss_ml)
        p.append(out["success_probability"])
        success.append(trial.success)
    assert len(predicted) + len(refused) == 138 and len(refused) <= 3
    # The bundled model was fitted on these trials: in sample it must at least rank them.
    assert np.corrcoef(predicted, truth)[0, 1] > 0.3
    p, success = np.array(p), np.array(success)
    assert p[success == 1].mean() > p[success == 0].mean() + 0.05


# ---------------------------------------------------------------------------------------------
# The validated domain: procedure and training range


def test_manifest_states_its_domain(model: SequenceModel):
    from scrubline.core.export import procedure_templates

    domain = model_domain(model)
    assert domain["procedures"] == [PROCEDURE]
    assert set(domain["procedures"]) <= set(procedure_templates())
    assert "carotid" in domain["description"]
    assert domain["max_abs_z"] == 4.0
    assert domain["statistics"] == pooled_names(model.features)
    assert len(domain["mean"]) == len(domain["sd"]) == len(domain["statistics"])
    assert all(sd > 0 for sd in domain["sd"])
    card = (REPO / "models" / f"{MODEL_ID}.md").read_text()
    assert "|z| > 4" in card and PROCEDURE in card


def test_other_procedures_get_one_sentence_and_no_number(model: SequenceModel):
    det, times, bleeding = _in_range_case()
    for procedure in ("generic", "cholecystectomy", None):
        out = predict_case_outcome(
            det, (1920, 1080), times, model, bleeding=bleeding, procedure=procedure
        )
        _assert_refused(out, "validated only on simulated internal carotid artery injury")
        assert out["outside_domain"] is True and out["warning"] is None
        assert out["reason"].count(". ") == 0  # one sentence
        assert out["event_start_s"] == pytest.approx(20.0, abs=1.0)  # still found and shown
        assert outcome_line(out).startswith("no prediction: the outcome model was validated")
    assert (
        "'generic'"
        in predict_case_outcome(
            det, (1920, 1080), times, model, bleeding=bleeding, procedure="generic"
        )["reason"]
    )


def test_asked_for_explicitly_it_is_shown_with_a_warning(model: SequenceModel):
    det, times, bleeding = _in_range_case()
    inside = predict_case_outcome(
        det, (1920, 1080), times, model, bleeding=bleeding, procedure=PROCEDURE
    )
    assert inside["reason"] is None and inside["warning"] is None
    assert inside["outside_domain"] is False
    asked = predict_case_outcome(
        det,
        (1920, 1080),
        times,
        model,
        bleeding=bleeding,
        procedure="cholecystectomy",
        outside_domain=True,
    )
    assert asked["blood_loss_ml"] == inside["blood_loss_ml"]
    assert asked["outside_domain"] is True and asked["outside_domain_requested"] is True
    assert asked["warning"].startswith("outside the validated domain")
    assert "'cholecystectomy'" in asked["warning"]
    assert "outside the validated domain" in outcome_line(asked)
    json.dumps(asked)


def test_inputs_beyond_four_sd_are_refused_naming_the_feature(model: SequenceModel):
    det, times, _ = _in_range_case()
    # The same case with the instruments shrunk to slivers in the top-left corner.
    tiny = det.assign(x1=0.0, y1=0.0, x2=12.0, y2=8.0)
    for outside_domain in (False, True):  # asking for it does not lift this refusal
        out = predict_case_outcome(
            tiny,
            (1920, 1080),
            times,
            model,
            event_start_s=20.0,
            procedure=PROCEDURE,
            outside_domain=outside_domain,
        )
        _assert_refused(out, "unlike every case the model was trained on, beyond 4 standard")
        assert "SD above the training average" in out["reason"]
        assert "distance of the instruments from the centre of the view" in out["reason"]
        assert "_" not in out["reason"]  # plain words, not feature keys
    seq = sequence_features(tiny, (1920, 1080), 20.0, analysed_times=times)
    far = out_of_range(seq, model.features, model_domain(model))
    assert far and all(abs(z) > 4 for _, z in far)
    assert describe_statistic(far[0][0]) in out["reason"]
    assert describe_statistic("box_area_sum.first30") == (
        "area the instruments cover in the first 30 s"
    )


def test_bad_domain_tables_are_refused(tmp_path: Path):
    from scrubline.core.models import ManifestError, load_manifest

    source = (REPO / "models" / f"{MODEL_ID}.toml").read_text()
    (tmp_path / f"{MODEL_ID}.onnx").write_bytes(b"")
    for old, new, message in (
        ("max_abs_z = 4.0", "max_abs_z = -1.0", "max_abs_z"),
        ("statistics = [", 'statistics = [\n    "nonsense",', "same length"),
        ('"instrument_count.mean"', '"instrument_count.median"', "pooled statistics"),
        ("[domain]", "[domain]\nzone = 1", "unknown field 'zone' in [domain]"),
    ):
        assert old in source
        path = tmp_path / f"{MODEL_ID}.toml"
        path.write_text(source.replace(old, new, 1))
        with pytest.raises(ManifestError, match=re.escape(message)):
            load_manifest(path)


def _in_range_case() -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Two instruments working in the middle of the view after a bleed at 20 s, roughly as a
    SOCAL trial looks (within its training range)."""
    rng = np.random.default_rng(5)
    times = frames(1, seconds=100.0)
    rows = []
    for t in times:
        x = 700 + 200 * math.sin(t / 7.0)
        rows.append((t, x, 450, x + 500, 1000))
        if t % 40 >= 30:
            x2 = 1100 + rng.uniform(-80, 80)
            rows.append((t, x2, 300, x2 + 450, 900))
    bleeding = pd.Series(np.where(times >= 20.0, 0.3, 0.01), index=times)
    return boxes(rows), times, bleeding


def test_training_statistics_are_the_apps_pooling_of_socal(model: SequenceModel, socal):
    """The manifest's means and SDs are reproduced by the app's own features and pooling of the
    143 training trials (so the |z| check measures what the model was trained on)."""
    trials, instruments = socal
    seqs = np.stack(
        [
            sequence_features(
                t.detections, t.frame_size, 0.0, analysed_times=t.analysed_times, labels=instruments
            )
            for t in trials.values()
        ]
    )
    pooled = pooled_statistics(seqs, model.features)
    domain = model_domain(model)
    np.testing.assert_allclose(pooled.mean(axis=0), domain["mean"], rtol=1e-4, atol=1e-6)
    sd = pooled.std(axis=0)
    np.testing.assert_allclose(np.where(sd < 1e-9, 1.0, sd), domain["sd"], rtol=1e-4)
