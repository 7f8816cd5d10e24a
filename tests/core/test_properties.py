"""Rules that are properties, checked on many generated inputs (hypothesis): episode spans
against their sample-by-sample definition, phase smoothing's invariants, hysteresis, the
nearest-analysed-sample lookup, and store/export round trips.

Examples are derandomised (see tests/conftest.py): a run is repeatable, and a failure prints the
smallest input that shows it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrubline.core.export import export_case
from scrubline.core.phases import Signal, _segments, _switch, smooth_segments
from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore
from scrubline.core.timeline import spans_from_flags

# ---------------------------------------------------------------------------------------------
# Episode spans


@st.composite
def sampled_flags(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Increasing sample times (regular, with gaps, or irregular), flags and values."""
    period = draw(st.sampled_from([0.04, 0.2, 0.5, 1.0]))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, 7]), min_size=1, max_size=80))
    times = np.cumsum([0, *steps[1:]]) * period + draw(st.sampled_from([0.0, 3.0, 17.2]))
    flags = np.array(draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times))))
    values = np.array(draw(st.lists(st.floats(0, 1), min_size=len(times), max_size=len(times))))
    return times.astype(float), flags, values, period


def _spans_by_definition(times, flags, values, period, merge_gap, min_duration):  # type: ignore[no-untyped-def]
    """Walk the samples: a flagged sample extends the open span when it starts no more than
    `merge_gap` after that span ends, else opens a new one; short spans are dropped."""
    spans: list[list[float]] = []
    for t, flag, value in zip(times, flags, values, strict=True):
        if not flag:
            continue
        if spans and t - spans[-1][1] <= merge_gap + 1e-9:
            spans[-1][1] = t + period
            spans[-1][2] = max(spans[-1][2], value)
        else:
            spans.append([t, t + period, value])
    return [tuple(s) for s in spans if s[1] - s[0] >= min_duration - 1e-9]


@given(
    sampled_flags(), st.sampled_from([0.0, 0.3, 1.0, 2.5]), st.sampled_from([0.0, 0.5, 1.0, 3.0])
)
def test_spans_follow_the_sample_by_sample_definition(
    sample, merge_gap: float, min_duration: float
) -> None:  # type: ignore[no-untyped-def]
    times, flags, values, period = sample
    found = spans_from_flags(
        times, flags, period=period, min_duration=min_duration, merge_gap=merge_gap, values=values
    )
    expected = _spans_by_definition(times, flags, values, period, merge_gap, min_duration)
    assert len(found) == len(expected)
    if expected:
        np.testing.assert_allclose(
            np.asarray(found, dtype=float), np.asarray(expected, dtype=float)
        )
    # Spans are ordered, disjoint, and each starts at a flagged sample.
    for (_, end, _), (start, _, _) in zip(found, found[1:], strict=False):
        assert end + merge_gap < start + 1e-9
    assert all(np.isclose(times[flags], start).any() for start, _, _ in found)


# ---------------------------------------------------------------------------------------------
# Phase smoothing


@st.composite
def segments(draw: st.DrawFn) -> list[list[object]]:
    """Consecutive [label, start, end] phases, neighbours differently labelled."""
    durations = draw(
        st.lists(
            st.sampled_from([0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 12.0]), min_size=1, max_size=25
        )
    )
    labels = [draw(st.sampled_from("abcd"))]
    for _ in durations[1:]:
        labels.append(draw(st.sampled_from([c for c in "abcd" if c != labels[-1]])))
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    return [[label, float(edges[i]), float(edges[i + 1])] for i, label in enumerate(labels)]


@given(segments(), st.sampled_from([0.0, 1.0, 2.0, 3.0, 10.0]))
def test_smoothing_leaves_no_phase_shorter_than_the_minimum(segs, min_phase_s: float) -> None:  # type: ignore[no-untyped-def]
    before = [list(s) for s in segs]
    out = smooth_segments(segs, min_phase_s)
    assert segs == before  # the input is not modified
    # Still the same stretch of time, tiled without gaps or overlaps.
    assert out[0][1] == segs[0][1] and out[-1][2] == segs[-1][2]
    assert all(a[2] == b[1] for a, b in zip(out, out[1:], strict=False))
    # No phase shorter than the minimum, unless the whole case is.
    total = segs[-1][2] - segs[0][1]
    if total >= min_phase_s:
        assert all(s[2] - s[1] >= min_phase_s - 1e-9 for s in out)
    else:
        assert len(out) == 1
    # Labels come from the input, neighbours still differ, and nothing long enough changes.
    assert {s[0] for s in out} <= {s[0] for s in segs}
    assert all(a[0] != b[0] for a, b in zip(out, out[1:], strict=False))
    if all(s[2] - s[1] >= min_phase_s for s in segs):
        assert out == segs
    # Smoothing what is smooth changes nothing.
    assert smooth_segments(out, min_phase_s) == out


@given(st.lists(st.sampled_from("xyz"), min_size=1, max_size=60), st.sampled_from([0.2, 1.0]))
def test_raw_segments_reproduce_the_labels(labels: list[str], step: float) -> None:
    times = np.arange(len(labels)) * step
    segs = _segments(labels, times)
    rebuilt = [next(s[0] for s in segs if s[1] <= t + 1e-9 < s[2]) for t in times]
    assert rebuilt == labels
    # The last phase lasts one sample period (1 s when a single sample gives no spacing).
    assert segs[-1][2] == pytest.approx(times[-1] + (step if len(labels) > 1 else 1.0))


@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=60),
    st.floats(0.05, 1.0),
    st.floats(0.0, 1.0),
)
def test_hysteresis_switches_on_at_on_and_off_below_off(
    values: list[float], on: float, ratio: float
) -> None:
    off = on * ratio
    state = _switch(
        np.asarray(values), np.arange(len(values), dtype=float), Signal("s", "s", on, off)
    )
    previous = False
    for value, now in zip(values, state, strict=True):
        if value >= on:
            assert now
        elif value < off:
            assert not now
        else:  # between off and on: it keeps its state
            assert now == previous
        previous = bool(now)


# ---------------------------------------------------------------------------------------------
# Store: nearest sample and round trips

_SLOW = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SLOW
@given(
    st.sets(st.integers(0, 400), min_size=1, max_size=40),
    st.lists(st.integers(-5, 410), min_size=1, max_size=20),
)
def test_nearest_analysed_frame_is_the_closest_earlier_on_ties(
    tmp_path: Path, analysed: set[int], asked: list[int]
) -> None:
    path = tmp_path / "nearest.scrub"
    path.unlink(missing_ok=True)
    with CaseStore(path, create=True) as store:
        store.write_results([FrameResult(f, f / 25) for f in sorted(analysed)])
        for frame in asked:
            expected = min(analysed, key=lambda f: (abs(f - frame), f))
            assert store.nearest_analysed(frame) == expected


finite = st.floats(0, 2000, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def frame_results(draw: st.DrawFn) -> list[FrameResult]:
    frames = sorted(draw(st.sets(st.integers(0, 5000), min_size=1, max_size=12)))
    results = []
    for frame in frames:
        instruments = []
        for _ in range(draw(st.integers(0, 4))):
            x1, y1 = draw(finite), draw(finite)
            box = (x1, y1, x1 + draw(finite), y1 + draw(finite))
            tip = draw(st.none() | st.tuples(finite, finite))
            instruments.append(
                Instrument(
                    draw(st.sampled_from(["grasper", "hook", "clip applier"])),
                    round(draw(st.floats(0, 1)), 4),
                    box,
                    tip,
                    round(draw(st.floats(0, 1)), 4),
                    draw(st.booleans()),
                )
            )
        fraction = draw(st.none() | st.floats(0, 1))
        bleeding = (
            None
            if fraction is None
            else BleedingMask(np.full((6, 8), int(fraction * 255), np.uint8), fraction)
        )
        results.append(FrameResult(frame, frame / 30, instruments, bleeding))
    return results


@_SLOW
@given(frame_results())
def test_results_read_back_as_written(tmp_path: Path, results: list[FrameResult]) -> None:
    path = tmp_path / "round.scrub"
    path.unlink(missing_ok=True)
    with CaseStore(path, create=True) as store:
        store.write_results(results)
        table = store.frames_table()
        assert table["frame"].tolist() == [r.frame for r in results]
        for result, row in zip(results, table.itertuples(), strict=True):
            back = store.result_at(result.frame)
            assert back is not None

            def fields(i: Instrument) -> tuple[object, ...]:
                return (i.label, i.score, i.box, i.tip, i.tip_score, i.tip_visible)

            assert sorted(map(repr, map(fields, back.instruments))) == sorted(
                map(repr, map(fields, result.instruments))
            )
            scores = [i.score for i in back.instruments]
            assert scores == sorted(scores, reverse=True)  # best first
            visible = sum(i.tip_visible for i in result.instruments)
            assert (row.n_instruments, row.tips_visible, row.tips_hidden) == (
                len(result.instruments),
                visible,
                len(result.instruments) - visible,
            )
            if result.bleeding is None:
                assert back.bleeding is None and pd.isna(row.bleeding_fraction)
            else:
                assert (
                    back.bleeding is not None and back.bleeding.fraction == result.bleeding.fraction
                )
                assert np.array_equal(back.bleeding.mask, result.bleeding.mask)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame_results())
def test_detections_csv_holds_every_stored_box(tmp_path: Path, results: list[FrameResult]) -> None:
    path = tmp_path / "export.scrub"
    path.unlink(missing_ok=True)
    with CaseStore(path, create=True) as store:
        store.set_meta("video", {"duration_s": 200.0, "width": 4000, "height": 4000})
        store.write_results(results)
        export_case(store, tmp_path / "out")
    written = pd.read_csv(tmp_path / "out" / "detections.csv")
    expected = sorted(
        (r.frame, i.label, i.score, *i.box, *(i.tip or (np.nan, np.nan)), int(i.tip_visible))
        for r in results
        for i in r.instruments
    )
    got = sorted(
        (
            int(row.frame),
            row.label,
            row.score,
            row.x1,
            row.y1,
            row.x2,
            row.y2,
            row.tip_x,
            row.tip_y,
            int(row.tip_visible),
        )
        for row in written.itertuples()
    )
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a[:2] == b[:2] and a[-1] == b[-1]
        np.testing.assert_allclose(
            np.asarray(a[2:-1], dtype=float), np.asarray(b[2:-1], dtype=float), atol=1e-9
        )
    frames = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert frames["frame"].tolist() == [r.frame for r in results]
