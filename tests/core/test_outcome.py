"""Outcome prediction: per-second features from hand-made detections, event-start detection, the
out-of-domain refusals, and the bundled `outcome-socal` model through the registry. Tests on the
real SOCAL tables skip when the shared data folder is absent."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.models import SequenceModel, load_model, load_registry
from scrubline.core.outcome import (
    FEATURES,
    OutcomeError,
    detect_event_start,
    predict_case_outcome,
    sequence_features,
    window_coverage,
)

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "outcome-socal"
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


def test_model_outputs_are_finite_and_ordered(model: SequenceModel):
    rng = np.random.default_rng(1)
    cases = [np.zeros((60, len(FEATURES)), np.float32)]
    for _ in range(50):
        times = frames(1)
        n = rng.integers(0, 3, size=60)
        rows = []
        for t, k in zip(times, n, strict=True):
            for _ in range(k):
                x, y = rng.uniform(0, 1500), rng.uniform(0, 800)
                rows.append((t, x, y, x + rng.uniform(50, 400), y + rng.uniform(50, 300)))
        cases.append(sequence_features(boxes(rows), (1920, 1080), 0.0, analysed_times=times))
    for seq in cases:
        out = model.predict_outcome(seq)
        low, high = out.blood_loss_interval_ml
        assert all(
            math.isfinite(v) for v in (out.blood_loss_ml, low, high, out.success_probability)
        )
        assert 0.0 <= low <= out.blood_loss_ml <= high
        assert 0.0 <= out.success_probability <= 1.0


def _still_case(seconds: float = 120.0, fps: float = 2.0):
    times = frames(fps, seconds=seconds)
    det = boxes([(t, 600, 400, 1000, 900) for t in times])
    bleeding = pd.Series(np.where(times >= 20.0, 0.3, 0.01), index=times)
    return det, times, bleeding


def test_prediction_with_detected_event_start(model: SequenceModel):
    det, times, bleeding = _still_case()
    out = predict_case_outcome(det, (1920, 1080), times, model, bleeding=bleeding)
    assert out["reason"] is None
    assert out["event_start_s"] == pytest.approx(20.0, abs=1.0)
    low, high = out["blood_loss_interval_ml"]
    assert low <= out["blood_loss_ml"] <= high
    assert 0.0 <= out["success_probability"] <= 1.0
    assert out["model"]["id"] == MODEL_ID and out["model"]["version"] == model.version
    json.dumps(out)  # summary.json must be able to hold it
    # A start the user moved wins over the detected one.
    moved = predict_case_outcome(
        det, (1920, 1080), times, model, bleeding=bleeding, event_start_s=40.0
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
        predict_case_outcome(det, (1920, 1080), times, model), "set the event start by hand"
    )
    flat = pd.Series(np.full(times.size, 0.01), index=times)
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), times, model, bleeding=flat), "no bleeding event"
    )
    # The bleeding starts 30 s before the analysed video ends.
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), times, model, event_start_s=90.0),
        "covers only 30 s",
    )
    # Only every third second analysed.
    sparse = times[(times.astype(int) % 3) == 0]
    _assert_refused(
        predict_case_outcome(det, (1920, 1080), sparse, model, event_start_s=0.0), "were analysed"
    )
    # Analysed, but no instrument anywhere in the window.
    empty = det.iloc[0:0]
    _assert_refused(
        predict_case_outcome(empty, (1920, 1080), times, model, event_start_s=0.0),
        "no instruments were seen",
    )
    # Instruments in view for 2 s only.
    brief = det[det.time_s < 2.0]
    _assert_refused(
        predict_case_outcome(brief, (1920, 1080), times, model, event_start_s=0.0), "only 2 s"
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
    predicted, truth, p, success = [], [], [], []
    for trial in trials.values():
        if trial.analysed_times.max() < 59:
            continue  # shorter than the window: the app refuses these
        out = predict_case_outcome(
            trial.detections,
            trial.frame_size,
            trial.analysed_times,
            model,
            event_start_s=0.0,
            labels=instruments,
        )
        assert out["reason"] is None, (trial.trial_id, out["reason"])
        low, high = out["blood_loss_interval_ml"]
        assert low <= out["blood_loss_ml"] <= high
        predicted.append(out["blood_loss_ml"])
        truth.append(trial.blood_loss_ml)
        p.append(out["success_probability"])
        success.append(trial.success)
    assert len(predicted) == 138
    # The bundled model was fitted on these trials: in sample it must at least rank them.
    assert np.corrcoef(predicted, truth)[0, 1] > 0.3
    p, success = np.array(p), np.array(success)
    assert p[success == 1].mean() > p[success == 0].mean() + 0.05
