"""The outcome rules, stated as a user meets them: what a shown prediction carries, what every
refusal still says, the exact words of the CLI line, how the window statistics are pooled, how
each second picks its frame, and where a bleeding event starts.

Written for the survivors of mutation testing of `scrubline.core.outcome`
(`tests/mutation/run.sh outcome`): each test here fails on mutants that the earlier outcome tests
let through (a dropped argument, an off-by-one, a flipped comparison). A small stand-in model
(`_model`) is used so that the numbers the model returns are known exactly."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scrubline.core.outcome import (
    ENTROPY_WORDS,
    FEATURES,
    describe_statistic,
    detect_event_start,
    domain_words,
    out_of_range,
    outcome_line,
    outside_domain_warning,
    pooled_names,
    pooled_statistics,
    predict_case_outcome,
    sequence_features,
    window_coverage,
)
from tests.core.test_outcome import boxes, frames

COL = {name: i for i, name in enumerate(FEATURES)}
SIZE = (1000, 1000)


def _model(
    loss: float = 120.0,
    interval: tuple[float, float] | None = (100.0, 150.0),
    success: float = 0.8,
    *,
    features: tuple[str, ...] = FEATURES,
    domain: dict[str, Any] | None = None,
    headline: str = "cv_rmse_ml",
    steps: int = 60,
) -> SimpleNamespace:
    """A stand-in sequence model that returns fixed numbers and keeps the sequence it was given."""
    manifest = SimpleNamespace(
        id="outcome-test",
        version="9.9.9",
        extra={"headline_metric": headline, "domain": domain or {}},
        metrics={"cv_rmse_ml": 123.4},
    )
    model = SimpleNamespace(manifest=manifest, steps=steps, features=features, seen=[])

    def predict_outcome(sequence: np.ndarray) -> SimpleNamespace:
        assert sequence.shape == (steps, len(features))
        model.seen.append(sequence)
        return SimpleNamespace(
            blood_loss_ml=loss, blood_loss_interval_ml=interval, success_probability=success
        )

    model.predict_outcome = predict_outcome
    return model


def _still(seconds: int = 60, in_view: range | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """1-fps analysis; one still instrument (a quarter of the frame) in the seconds `in_view`."""
    times = frames(1, seconds=seconds)
    seen = in_view if in_view is not None else range(seconds)
    return boxes([(t, 250, 250, 750, 750) for t in times if int(t) in seen]), times


def _refused(
    out: dict[str, Any],
    fragment: str,
    start: float | None = 0.0,
    model_id: str | None = "outcome-test",
) -> None:
    """`fragment` is the whole reason when it ends a sentence (no trailing space), else a part."""
    assert out["blood_loss_ml"] is None and out["success_probability"] is None
    assert out["blood_loss_interval_ml"] is None
    assert fragment in out["reason"], out["reason"]
    # A refusal still says where the bleeding starts and which model declined.
    assert out["event_start_s"] == start
    assert (out["model"] or {}).get("id") == model_id


# ---------------------------------------------------------------------------------------------
# A shown prediction


def test_a_prediction_is_shown_as_the_model_gave_it_rounded_for_reading():
    det, times = _still()
    model = _model(123.456, (100.06, 150.06), 0.812345)
    out = predict_case_outcome(det, SIZE, times, model, event_start_s=0.0, procedure="x")
    assert out["reason"] is None and out["warning"] is None
    assert out["blood_loss_ml"] == 123.5
    assert out["blood_loss_interval_ml"] == [100.1, 150.1]
    assert out["success_probability"] == 0.8123
    assert out["procedure"] == "x" and out["outside_domain"] is False
    assert out["model"] == {
        "id": "outcome-test",
        "version": "9.9.9",
        "headline_metric": "cv_rmse_ml",
        "headline_value": 123.4,
    }
    # A model whose headline names no metric it reports shows no headline.
    out = predict_case_outcome(det, SIZE, times, _model(headline="auroc"), event_start_s=0.0)
    assert out["model"] == {"id": "outcome-test", "version": "9.9.9"}
    # A model that gives no interval is shown without one.
    out = predict_case_outcome(det, SIZE, times, _model(interval=None), event_start_s=0.0)
    assert out["blood_loss_ml"] == 120.0 and out["blood_loss_interval_ml"] is None


def test_an_estimate_on_the_low_end_of_its_interval_is_shown_on_the_high_end_refused():
    det, times = _still()
    low_end = predict_case_outcome(det, SIZE, times, _model(100.0), event_start_s=0.0)
    assert low_end["blood_loss_ml"] == 100.0
    high_end = predict_case_outcome(det, SIZE, times, _model(150.0), event_start_s=0.0)
    assert high_end["reason"] == (
        "the model's estimate (150 mL) falls outside its own 80% interval (100-150 mL), which "
        "happens only far from its training cases"
    )
    _refused(high_end, "estimate (150 mL) falls outside its own 80% interval (100-150 mL)")


def test_a_non_finite_number_from_the_model_is_never_shown():
    det, times = _still()
    for model in (_model(math.nan), _model(interval=(math.nan, 150.0)), _model(success=math.inf)):
        out = predict_case_outcome(det, SIZE, times, model, event_start_s=0.0)
        _refused(out, "the model gave a non-finite result")
        assert out["reason"] == "the model gave a non-finite result"


def test_the_model_reads_only_the_instruments_and_scores_it_is_told_to():
    times = frames(1)
    det = pd.concat(
        [
            boxes([(t, 0, 0, 100, 100) for t in times], label="suction", score=0.9),
            boxes([(t, 500, 500, 600, 600) for t in times], label="cottonoid", score=0.9),
            boxes([(t, 800, 800, 900, 900) for t in times], label="suction", score=0.2),
        ]
    )
    model = _model()
    out = predict_case_outcome(
        det, SIZE, times, model, event_start_s=0.0, labels=["suction"], min_score=0.5
    )
    assert out["reason"] is None
    np.testing.assert_allclose(model.seen[-1][:, COL["instrument_count"]], 1.0)


def test_a_model_that_reads_the_bleeding_area_is_given_it():
    det, times = _still()
    bleeding = pd.Series(np.full(times.size, 0.25), index=times)
    model = _model(features=("bleeding_fraction", "instrument_present"))
    out = predict_case_outcome(det, SIZE, times, model, event_start_s=0.0, bleeding=bleeding)
    assert out["reason"] is None
    np.testing.assert_allclose(model.seen[-1][:, 0], 0.25)
    # Without the bleeding timeline it cannot compute its features, and says so.
    out = predict_case_outcome(det, SIZE, times, model, event_start_s=0.0)
    _refused(out, "the features could not be computed: feature 'bleeding_fraction' needs the")


# ---------------------------------------------------------------------------------------------
# Every refusal says why, where the bleeding starts, and which model declined


def test_three_seconds_of_instruments_is_enough_two_is_not_one_is_named():
    def predict(seconds_in_view: int, features: tuple[str, ...]) -> dict[str, Any]:
        det, times = _still(in_view=range(seconds_in_view))
        return predict_case_outcome(det, SIZE, times, _model(features=features), event_start_s=0.0)

    for features in (FEATURES, ("box_area_sum", "centre_x")):  # with and without presence
        assert predict(3, features)["reason"] is None
        two = predict(2, features)
        _refused(two, "instruments were in view for only 2 s of the 60 s")
        assert two["reason"] == (
            "instruments were in view for only 2 s of the 60 s after the bleeding starts; too "
            "little to predict from"
        )
        _refused(predict(1, features), "instruments were in view for only 1 s of the 60 s")
        none = predict(0, features)
        _refused(none, "no instruments were seen")
        assert none["reason"] == (
            "no instruments were seen in the 60 s after the bleeding starts; the model was trained "
            "only on cases where the surgeon works in view"
        )


def test_a_model_without_a_presence_feature_still_counts_only_the_named_instruments():
    times = frames(1)
    det = pd.concat(
        [
            boxes([(t, 0, 0, 100, 100) for t in times if t < 2], label="suction", score=0.9),
            boxes([(t, 0, 0, 100, 100) for t in times], label="cottonoid", score=0.9),
            boxes([(t, 0, 0, 100, 100) for t in times], label="suction", score=0.1),
        ]
    )
    model = _model(features=("box_area_sum", "centre_x"))
    out = predict_case_outcome(
        det, SIZE, times, model, event_start_s=0.0, labels=["suction"], min_score=0.5
    )
    _refused(out, "instruments were in view for only 2 s")


def test_a_thirty_second_model_reads_thirty_seconds():
    # Instruments only from 30 s; the analysis covers 0-40 s.
    det, times = _still(seconds=41, in_view=range(30, 41))
    for features in (FEATURES, ("box_area_sum", "centre_x")):  # with and without presence
        model = _model(features=features, steps=30)
        out = predict_case_outcome(det, SIZE, times, model, event_start_s=0.0)
        _refused(out, "no instruments were seen in the 30 s after the bleeding starts")
        out = predict_case_outcome(det, SIZE, times, model, event_start_s=5.0)
        assert out["reason"] is None, out["reason"]
        assert model.seen[-1].shape == (30, len(features))


def test_the_analysed_video_must_reach_the_last_second_of_the_window():
    det, _ = _still(seconds=100)
    reaches = np.arange(59.0)  # seconds 0-58: the window's last second has the one before it
    assert predict_case_outcome(det, SIZE, reaches, _model(), event_start_s=0.0)["reason"] is None
    short = np.arange(58.0)
    _refused(
        predict_case_outcome(det, SIZE, short, _model(), event_start_s=0.0),
        "but the analysed video covers only 58 s of it",
    )
    before = np.arange(30.0)
    _refused(
        predict_case_outcome(det, SIZE, before, _model(), event_start_s=100.0),
        "but the analysed video covers only 0 s of it",
        start=100.0,
    )


def test_exactly_the_required_share_of_analysed_seconds_is_enough():
    det, _ = _still()
    every_other = np.arange(0.0, 60.0, 2.0)  # 30 of 60 seconds
    out = predict_case_outcome(
        det, SIZE, every_other, _model(), event_start_s=0.0, min_coverage=0.5
    )
    assert out["reason"] is None
    _refused(
        predict_case_outcome(det, SIZE, every_other, _model(), event_start_s=0.0, min_coverage=0.6),
        "only 50% of the 60 s after the bleeding starts were analysed; "
        "the model needs at least 60%",
    )


def test_refusals_before_the_window_keep_the_model_and_the_start_they_know():
    det, times = _still(seconds=120)
    out = predict_case_outcome(det, SIZE, times, None, event_start_s=12.0)
    _refused(out, "no outcome model is installed", start=12.0, model_id=None)
    assert out["reason"] == "no outcome model is installed"
    out = predict_case_outcome(det, SIZE, times, _model())
    _refused(out, "no bleeding timeline", start=None)
    assert out["reason"] == (
        "no bleeding timeline, so no bleeding event start; set the event start by hand"
    )
    for flat in (pd.Series([0.01] * 120, index=times), pd.Series([0.01], index=[0.0])):
        out = predict_case_outcome(det, SIZE, times, _model(), bleeding=flat)
        _refused(out, "no bleeding event was found", start=None)
        assert out["reason"] == "no bleeding event was found in the bleeding timeline"


def test_a_case_outside_the_domain_names_its_procedure_or_says_it_names_none():
    det, times = _still(seconds=120)
    domain = {"procedures": ["socal-carotid"], "description": "carotid injury (SOCAL)"}
    bleeding = pd.Series(np.where(times >= 20, 0.3, 0.01), index=times)
    for procedure, words in (
        (None, "this case names none"),
        ("chole", "this case's procedure is 'chole'"),
    ):
        out = predict_case_outcome(
            det, SIZE, times, _model(domain=domain), bleeding=bleeding, procedure=procedure
        )
        _refused(out, words, start=20.0)
        assert out["reason"] == (
            "the outcome model was validated only on carotid injury (SOCAL; procedure "
            f"'socal-carotid') and {words}, so no prediction is shown"
        )
        assert out["procedure"] == procedure
    # With no bleeding timeline there is no start to show, and the refusal is the same.
    out = predict_case_outcome(det, SIZE, times, _model(domain=domain), procedure="chole")
    _refused(out, "procedure is 'chole'", start=None)


def test_a_model_whose_statistics_do_not_match_its_features_is_refused():
    det, times = _still()
    domain = {"max_abs_z": 4.0, "statistics": ["nonsense"], "mean": [0.0], "sd": [1.0]}
    out = predict_case_outcome(det, SIZE, times, _model(domain=domain), event_start_s=0.0)
    _refused(out, "the model's training statistics do not match its input features")
    assert out["reason"] == "the model's training statistics do not match its input features"


def _domain_around_the_still_case(**offsets: float) -> dict[str, Any]:
    """A training range centred on the still case's own statistics (SD 1), moved by `offsets`
    (statistic -> mean - value, i.e. minus the z the case will have)."""
    features = ("instrument_present", "two_or_more", "box_area_sum")
    value = {"instrument_present": 1.0, "two_or_more": 0.0, "box_area_sum": 0.25}
    names = pooled_names(features)
    mean = [value.get(n.split(".")[0], 0.0) for n in names]
    for name, shift in offsets.items():
        mean[names.index(name.replace("__", "."))] -= shift
    # The count entropy of "always exactly one instrument" is ~3e-5: well inside 0.5 SD of 0.01.
    sd = [1.0] * (len(names) - 1) + [0.01]
    return {"max_abs_z": 0.5, "statistics": names, "mean": mean, "sd": sd}


def test_an_out_of_range_case_names_the_three_farthest_statistics_and_counts_the_rest():
    det, times = _still()
    features = ("instrument_present", "two_or_more", "box_area_sum")
    four = _domain_around_the_still_case(
        instrument_present__mean=-5.0,
        instrument_present__first30=3.0,
        box_area_sum__last10=2.0,
        two_or_more__mean=0.75,
        two_or_more__last10=0.5,  # exactly at the limit: not beyond it
    )
    out = predict_case_outcome(
        det, SIZE, times, _model(features=features, domain=four), event_start_s=0.0
    )
    _refused(out, "this case is unlike every case the model was trained on")
    assert out["reason"] == (
        "this case is unlike every case the model was trained on, beyond 0.5 standard "
        "deviations in: time with an instrument in view over the minute 5.0 SD below the "
        "training average; time with an instrument in view in the first 30 s 3.0 SD above the "
        "training average; area the instruments cover in the last 10 s 2.0 SD above the "
        "training average (and 1 more)"
    )
    three = _domain_around_the_still_case(
        instrument_present__mean=-5.0, box_area_sum__last10=2.0, two_or_more__mean=0.75
    )
    out = predict_case_outcome(
        det, SIZE, times, _model(features=features, domain=three), event_start_s=0.0
    )
    assert out["reason"].endswith(
        "the instruments cover in the last 10 s 2.0 SD above the training average; time with "
        "two or more instruments in view over the minute 0.8 SD above the training average"
    )


def test_out_of_range_lists_the_farthest_first_and_not_those_at_the_limit():
    seq = sequence_features(*_still()[:1], SIZE, 0.0, analysed_times=_still()[1])
    features = FEATURES
    names = pooled_names(features)
    stats = pooled_statistics(seq, features)[0]
    mean = list(stats)
    for name, z in (("motion.mean", 2.0), ("centre_x.last10", -3.0), ("exits.mean", 1.0)):
        mean[names.index(name)] = stats[names.index(name)] - z
    domain = {"max_abs_z": 1.0, "statistics": names, "mean": mean, "sd": [1.0] * len(names)}
    far = out_of_range(seq, features, domain)
    assert [name for name, _ in far] == ["centre_x.last10", "motion.mean"]
    assert far[0][1] == pytest.approx(-3.0) and far[1][1] == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# The words


def test_the_cli_line_says_the_numbers_the_interval_the_model_and_the_warning():
    outcome = {
        "blood_loss_ml": 123.4,
        "blood_loss_interval_ml": [100.0, 150.4],
        "success_probability": 0.8123,
        "model": {"id": "outcome-socal", "version": "2.0.0"},
        "warning": "outside the validated domain: x",
    }
    assert outcome_line(outcome) == (
        "predicted blood loss 123 mL (80% interval 100-150 mL), chance of hemostasis 81% "
        "[outcome-socal 2.0.0]; outside the validated domain: x"
    )
    plain = {"blood_loss_ml": 5.0, "success_probability": 1.0, "model": {"id": "m"}}
    assert outcome_line(plain) == "predicted blood loss 5 mL, chance of hemostasis 100% [m]"
    assert outcome_line({**plain, "model": {"version": "1"}}).endswith("[? 1]")
    assert outcome_line({**plain, "model": None}) == (
        "predicted blood loss 5 mL, chance of hemostasis 100%"
    )
    assert outcome_line({"blood_loss_ml": 5.0, "success_probability": None}) == (
        "no prediction: the model gave no prediction"
    )
    assert outcome_line({"reason": "too short"}) == "no prediction: too short"


def test_the_domain_is_described_in_words():
    assert domain_words({"description": "carotid injury (SOCAL)", "procedures": ["a"]}) == (
        "carotid injury (SOCAL; procedure 'a')"
    )
    assert domain_words({"description": "carotid injury", "procedures": ["a", "b"]}) == (
        "carotid injury (procedures 'a', 'b')"
    )
    assert domain_words({"procedures": ["a"]}) == "the procedure 'a'"
    assert outside_domain_warning({"procedures": ["a"]}, None) == (
        "outside the validated domain: the model was validated only on the procedure 'a'; "
        "on this case's procedure, an unnamed procedure, its error is unknown"
    )


def test_statistics_are_described_in_words_and_unknown_ones_by_their_names():
    assert describe_statistic("count_entropy") == ENTROPY_WORDS
    assert describe_statistic("motion.last10") == "instrument movement in the last 10 s"
    assert describe_statistic("tool_x.median") == "tool_x median"


# ---------------------------------------------------------------------------------------------
# Pooling


def test_window_statistics_are_the_minute_its_halves_and_its_last_ten_seconds():
    seq = np.zeros((60, len(FEATURES)))
    seq[:20, COL["instrument_present"]] = 1.0  # the first 20 s
    seq[50:, COL["two_or_more"]] = 1.0  # the last 10 s
    seq[:, COL["box_area_sum"]] = np.arange(60.0)
    pooled = dict(zip(pooled_names(), pooled_statistics(seq)[0], strict=True))
    assert pooled["box_area_sum.mean"] == pytest.approx(29.5)
    assert pooled["box_area_sum.first30"] == pytest.approx(14.5)
    assert pooled["box_area_sum.last30"] == pytest.approx(44.5)
    assert pooled["box_area_sum.last10"] == pytest.approx(54.5)
    assert pooled["instrument_present.first30"] == pytest.approx(2 / 3)
    assert pooled["instrument_present.last30"] == pytest.approx(0.0)
    assert pooled["two_or_more.mean"] == pytest.approx(1 / 6)
    # None 2/3 of the minute, one 1/6, two or more 1/6.
    p = np.array([2 / 3, 1 / 6, 1 / 6])
    assert pooled["count_entropy"] == pytest.approx(-(p * np.log(p)).sum())


# ---------------------------------------------------------------------------------------------
# Which frame each second reads


def test_an_analysis_started_between_whole_seconds_reads_the_frame_just_after_each_second():
    times = np.arange(60.0) + 0.3  # frames at 0.3, 1.3, ... 59.3 s
    det = boxes([(5.3, 0, 0, 100, 100), (59.3, 0, 0, 100, 100)])
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times)
    present = seq[:, COL["instrument_present"]]
    assert present[5] == 1 and present[59] == 1 and present.sum() == 2
    assert window_coverage(times, 0.0) == (1.0, 60.0)
    # One analysed frame is read by the one second it is near.
    assert window_coverage(np.array([0.0]), 0.0) == (1 / 60, 1.0)


def test_seconds_before_the_first_analysed_frame_take_its_values():
    times = np.arange(10.0, 60.0)  # the analysis started 10 s into the window
    det = boxes([(t, 0, 0, 100, 100) for t in times if t < 15])
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times)
    present = seq[:, COL["instrument_present"]]
    assert present[:15].sum() == 15 and present[15:].sum() == 0


def test_detections_alone_give_the_analysed_frames_when_none_are_passed():
    det = boxes([(t, 0, 0, 100, 100) for t in np.arange(10.0, 20.0, 0.5)])
    seq = sequence_features(det, SIZE, 0.0)
    # Seconds 10-19 read their frames; the others carry the nearest analysed one.
    np.testing.assert_allclose(seq[:, COL["instrument_present"]], 1.0)
    np.testing.assert_allclose(seq[:, COL["box_area_sum"]], 0.01)


def test_a_time_off_by_less_than_a_microsecond_is_still_the_same_frame():
    times = np.arange(60.0)
    det = boxes([(10.0000004, 0, 0, 100, 100)])
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times)
    assert seq[10, COL["instrument_present"]] == 1
    det = boxes([(10.0, 0, 0, 100, 100)])
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times + 4e-7)
    assert seq[10, COL["instrument_present"]] == 1
    bleeding = pd.Series(np.where(times == 10, 0.5, 0.0), index=times + 4e-7)
    seq = sequence_features(
        det, SIZE, 0.0, bleeding=bleeding, analysed_times=times, features=("bleeding_fraction",)
    )
    assert seq[10, 0] == pytest.approx(0.5) and seq[:, 0].sum() == pytest.approx(0.5)


def test_the_bleeding_area_of_a_two_fps_analysis_is_read_at_whole_seconds():
    times = frames(2)
    bleeding = pd.Series(times / 100.0, index=times)  # 0.00, 0.005, 0.01, ...
    seq = sequence_features(
        boxes([(0.0, 0, 0, 1, 1)]),
        SIZE,
        0.0,
        bleeding=bleeding,
        analysed_times=times,
        features=("bleeding_fraction",),
    )
    np.testing.assert_allclose(seq[:, 0], np.arange(60) / 100.0, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Geometry


def test_boxes_beyond_the_frame_count_only_up_to_its_edges():
    times = np.arange(60.0)
    det = boxes(
        [(t, -500, -600, -100, -200) for t in times if t < 20]  # wholly above and left
        + [(t, 1100, 1200, 1500, 1600) for t in times if 20 <= t < 40]  # below and right
        + [(t, -1000, -1000, 2000, 2000) for t in times if t >= 40]  # bigger than the frame
    )
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times)
    np.testing.assert_allclose(seq[:20, COL["centre_x"]], 0.0)
    np.testing.assert_allclose(seq[:20, COL["centre_y"]], 0.0)
    np.testing.assert_allclose(seq[:20, COL["box_bottom"]], 0.0)
    np.testing.assert_allclose(seq[20:40, COL["centre_x"]], 1.0)
    np.testing.assert_allclose(seq[20:40, COL["centre_y"]], 1.0)
    np.testing.assert_allclose(seq[20:40, COL["box_bottom"]], 1.0)
    np.testing.assert_allclose(seq[40:, COL["box_area_max"]], 1.0)
    np.testing.assert_allclose(seq[40:, COL["box_bottom"]], 1.0)
    # Two frame-filling boxes still cover the frame once.
    two = pd.concat([det[det.time_s >= 40]] * 2)
    seq = sequence_features(two, SIZE, 40.0, analysed_times=times + 40.0)
    np.testing.assert_allclose(seq[:20, COL["box_area_sum"]], 1.0)


def test_instruments_stacked_on_one_spot_have_no_spread():
    times = np.arange(60.0)
    apart = [(t, x, 0, x + 100, 100) for t in times if t < 30 for x in (0, 800)]
    stacked = [(t, 0, 0, 100, 100) for t in times if t >= 30 for _ in range(3)]
    seq = sequence_features(boxes(apart + stacked), SIZE, 0.0, analysed_times=times)
    assert seq[0, COL["spread"]] > 0.2
    np.testing.assert_allclose(seq[30:, COL["spread"]], 0.0)


def test_position_and_offset_are_neutral_when_nothing_is_in_view():
    times = np.arange(60.0)
    det = boxes([(t, 700, 450, 800, 550) for t in times if t >= 30])  # centre (0.75, 0.5)
    seq = sequence_features(det, SIZE, 0.0, analysed_times=times)
    np.testing.assert_allclose(seq[:30, COL["centre_y"]], 0.5)
    np.testing.assert_allclose(seq[:30, COL["centre_offset"]], 0.0)
    np.testing.assert_allclose(seq[30:, COL["centre_offset"]], 0.25 / (math.sqrt(2) / 2))


def test_motion_is_measured_in_pixels_over_the_diagonal_in_a_wide_frame_too():
    times = np.arange(60.0)
    # A 2:1 frame; the instrument comes in at 5 s and moves 100 px right each second.
    det = boxes([(t, 100 * t, 400, 100 * t + 50, 450) for t in times if 5 <= t < 15])
    seq = sequence_features(det, (2000, 1000), 0.0, analysed_times=times)
    np.testing.assert_allclose(seq[6:15, COL["motion"]], 100 / math.hypot(2000, 1000), rtol=1e-4)
    assert seq[5, COL["motion"]] == 0.0  # coming into view is not a movement


def test_a_box_scoring_exactly_the_minimum_counts_and_a_zero_height_frame_is_refused():
    det = boxes([(t, 0, 0, 100, 100) for t in range(60)], score=0.5)
    seq = sequence_features(det, SIZE, 0.0, analysed_times=np.arange(60.0), min_score=0.5)
    np.testing.assert_allclose(seq[:, COL["instrument_count"]], 1.0)
    from scrubline.core.outcome import OutcomeError

    with pytest.raises(OutcomeError, match=r"frame size \(100, 0\) is not positive"):
        sequence_features(det, (100, 0), 0.0)
    # Any positive size is a size: a 1 x 1 frame wholly covered by its box.
    one = boxes([(t, 0, 0, 1, 1) for t in range(60)])
    seq = sequence_features(one, (1, 1), 0.0, analysed_times=np.arange(60.0))
    np.testing.assert_allclose(seq[:, COL["box_area_sum"]], 1.0)


def test_bad_feature_names_and_missing_columns_are_each_named():
    from scrubline.core.outcome import KNOWN_FEATURES, OutcomeError

    det = boxes([(0.0, 0, 0, 10, 10)])
    known = ", ".join(KNOWN_FEATURES)
    with pytest.raises(OutcomeError) as error:
        sequence_features(det, SIZE, 0.0, features=("tool_colour", "motion", "tool_size"))
    assert str(error.value) == f"unknown feature(s) tool_colour, tool_size; known: {known}"
    with pytest.raises(OutcomeError) as error:
        sequence_features(det.drop(columns=["x2", "y2"]), SIZE, 0.0)
    assert str(error.value) == "detections lack column(s) x2, y2"


# ---------------------------------------------------------------------------------------------
# Coverage and the event start


def test_coverage_counts_a_frame_at_the_start_and_a_last_frame_on_a_whole_second():
    assert window_coverage(np.arange(60.0), 0.0) == (1.0, 60.0)
    assert window_coverage(np.array([5.0]), 5.0)[1] == 1.0
    assert window_coverage(np.array([1.0, 2.0]), 5.0) == (0.0, 0.0)


def _start(values: list[float], t0: float = 0.0, step: float = 1.0, **kwargs: float):
    times = t0 + step * np.arange(len(values))
    return detect_event_start(times, np.asarray(values, dtype=float), **kwargs)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # A rise held for 3 s is an event; one held for 2 s (here, the video's last 2 s) is not.
        ([0.0] * 20 + [0.2] * 3, 20.0),
        ([0.0] * 20 + [0.2] * 2, None),
        # A bleed one second into the recording is found.
        ([0.0] + [0.2] * 10, 1.0),
        # Exactly the minimum area counts.
        ([0.0] * 5 + [0.03] * 5, 5.0),
        # Red tissue 10 s back is outside the baseline: 0.035 is not 0.02 above the 0.02 before.
        ([0.0] + [0.02] * 10 + [0.035] * 10, None),
        # Stepping back: a steady ramp is followed down to where it leaves the baseline...
        ([0.0] * 10 + [0.01, 0.04, 0.04, 0.04], 10.0),
        # ...but not across a dip or a plateau...
        ([0.0] * 10 + [0.02, 0.01, 0.04, 0.04, 0.04], 11.0),
        ([0.0] * 10 + [0.01, 0.01, 0.04, 0.04, 0.04], 11.0),
        # ...and not onto a second within a quarter of the minimum rise of the baseline.
        ([0.0] * 10 + [0.005, 0.04, 0.04, 0.04], 11.0),
        ([0.0] * 10 + [0.0045, 0.04, 0.04, 0.04], 11.0),
    ],
)
def test_event_start(values: list[float], expected: float | None):
    assert _start(values) == expected


def test_event_start_with_a_rise_of_exactly_the_minimum():
    values = [0.25] * 5 + [0.375] * 5
    assert _start(values, min_rise=0.125) == 5.0


def test_event_start_in_video_time_when_the_samples_are_sparse_or_start_late():
    values = [0.0] * 23 + [0.2] * 10  # one sample every 2 s from 100 s: the rise at 146 s
    assert _start(values, t0=100.0, step=2.0) == 146.0
    # A sample with no time is ignored.
    times = np.append(np.arange(30.0), np.nan)
    fraction = np.append(np.where(np.arange(30.0) >= 12, 0.2, 0.0), 0.2)
    assert detect_event_start(times, fraction) == 12.0
