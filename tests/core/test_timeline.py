"""Timelines: tracks and episodes derived from stored per-frame results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore
from scrubline.core.timeline import TimelineSettings, build_timeline, spans_from_flags
from scrubline.core.tips import ClassRule, TipRules

# Both classes validated (threshold 0.5), as a rule file would say for a validated model.
VALIDATED = TipRules({name: ClassRule(name, True, 0.5) for name in ("grasper", "hook")})


def _case(
    tmp_path: Path, bleeding: list[float], hidden: list[bool], tools: list[list[str]]
) -> CaseStore:
    store = CaseStore(tmp_path / "t.scrub", create=True)
    store.set_meta("video", {"duration_s": len(bleeding) * 0.2, "width": 100, "height": 100})
    store.set_meta("settings", {"fps": 5.0})
    results = []
    for i, (fraction, tip_hidden, labels) in enumerate(zip(bleeding, hidden, tools, strict=True)):
        instruments = [
            Instrument(
                label, 0.9, (0, 0, 10, 10), (5, 5), 0.2 if tip_hidden else 0.9, not tip_hidden
            )
            for label in labels
        ]
        results.append(
            FrameResult(
                i * 5, i * 0.2, instruments, BleedingMask(np.zeros((4, 4), np.uint8), fraction)
            )
        )
    store.write_results(results)
    return store


def test_spans_merge_gaps_and_drop_short_runs() -> None:
    times = np.arange(20) * 0.5
    flags = np.zeros(20, bool)
    flags[[2, 3, 5, 6, 15]] = (
        True  # 1.0-2.0 and 2.5-3.5 merge across a 0.5 s gap; 7.5 alone is short
    )
    spans = spans_from_flags(
        times, flags, period=0.5, min_duration=1.0, merge_gap=1.0, values=times
    )
    assert spans == [(1.0, 3.5, 3.0)]


def test_episodes_and_tracks(tmp_path: Path) -> None:
    n = 50  # 10 s at 5 fps
    bleeding = [0.0] * 10 + [0.1] * 15 + [0.2] * 5 + [0.0] * 20  # 2.0–6.0 s, peak 0.2
    hidden = [False] * 30 + [True] * 10 + [False] * 10  # 6.0–8.0 s
    tools = [["grasper"]] * 20 + [["grasper", "hook"]] * 20 + [[]] * 10
    with _case(tmp_path, bleeding, hidden, tools) as store:
        timeline = build_timeline(store, tip_rules=VALIDATED)
    (bleed,) = timeline.episodes_of("bleeding")
    assert (bleed.start_s, bleed.end_s, bleed.peak) == pytest.approx((2.0, 6.0, 0.2))
    (tip,) = timeline.episodes_of("tip_hidden")
    assert (tip.start_s, tip.end_s) == pytest.approx((6.0, 8.0))
    assert timeline.labels == ["grasper", "hook"]
    assert timeline.presence[:, 1].sum() == 20
    totals = timeline.totals()
    assert totals["tools"]["grasper"] == {"time_in_view_s": 8.0, "entries": 1}
    assert totals["tools"]["hook"]["entries"] == 1
    assert totals["bleeding_total_s"] == pytest.approx(4.0)
    assert np.isnan(timeline.tip_visibility[-1]) and timeline.tip_visibility[0] == 1.0
    assert timeline.next_event(0.0) == pytest.approx(2.0)
    assert timeline.next_event(2.0) == pytest.approx(6.0)
    assert timeline.previous_event(7.0) == pytest.approx(6.0)
    assert len(timeline.times) == n


def test_threshold_setting_and_bookmarks(tmp_path: Path) -> None:
    bleeding = [0.04] * 20
    with _case(tmp_path, bleeding, [False] * 20, [[]] * 20) as store:
        store.add_bookmark(1.5, 37, "look here", "teaching point")
        assert len(build_timeline(store).episodes_of("bleeding")) == 1
        strict = build_timeline(store, TimelineSettings(bleeding_threshold=0.05))
        assert strict.episodes_of("bleeding") == []
        (mark,) = strict.episodes_of("bookmark")
        assert mark.label == "look here" and mark.start_s == 1.5
        assert strict.next_event(0.0, kinds=("bookmark",)) == 1.5


def test_empty_case(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "e.scrub", create=True) as store:
        timeline = build_timeline(store)
    assert len(timeline.times) == 0 and timeline.episodes == []
    assert timeline.totals()["analysed_span_s"] is None


def test_generic_phases_tell_one_instrument_from_two(tmp_path: Path) -> None:
    from scrubline.core.export import load_procedure

    n = 100  # 20 s
    tools = [["instrument"]] * 40 + [["instrument", "instrument"]] * 40 + [[]] * 20
    with _case(tmp_path, [0.0] * n, [False] * n, tools) as store:
        timeline = build_timeline(store, phase_template=load_procedure("generic"))
    labels = [(p.label, round(p.start_s), round(p.end_s)) for p in timeline.episodes_of("phase")]
    assert [label for label, _, _ in labels] == [
        "one instrument",
        "two or more instruments",
        "no instrument in view",
    ]
    assert labels[1][1] == 8


def test_generic_phases_count_named_tools_as_instruments(tmp_path: Path) -> None:
    """The generic template counts instrument boxes; a class-aware model names them (Grasper,
    Hook): they are still instruments, one or two."""
    from scrubline.core.export import load_procedure

    n = 100  # 20 s
    tools = [["Grasper"]] * 40 + [["Grasper", "Hook"]] * 40 + [[]] * 20
    with _case(tmp_path, [0.0] * n, [False] * n, tools) as store:
        timeline = build_timeline(store, phase_template=load_procedure("generic"))
    labels = [p.label for p in timeline.episodes_of("phase")]
    assert labels == ["one instrument", "two or more instruments", "no instrument in view"]


def test_spans_match_a_sample_by_sample_walk() -> None:
    """The vectorised spans equal the plain definition on irregular, gappy sampling."""
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.choice([0.2, 0.2, 0.2, 0.4, 1.0], 400))
    flags = rng.random(400) < 0.6
    values = rng.random(400)
    period, merge_gap, min_duration = 0.2, 0.3, 0.5
    expected: list[list[float]] = []
    for t, flag, value in zip(times, flags, values, strict=True):
        if not flag:
            continue
        if expected and t - expected[-1][1] <= merge_gap + 1e-9:
            expected[-1][1] = t + period
            expected[-1][2] = max(expected[-1][2], value)
        else:
            expected.append([t, t + period, value])
    kept = [tuple(span) for span in expected if span[1] - span[0] >= min_duration - 1e-9]
    found = spans_from_flags(
        times, flags, period=period, min_duration=min_duration, merge_gap=merge_gap, values=values
    )
    assert len(found) == len(kept) > 10
    assert np.allclose(np.asarray(found, dtype=float), np.asarray(kept, dtype=float))
    assert (
        spans_from_flags(times, np.zeros(400, bool), period=period, min_duration=0, merge_gap=0)
        == []
    )


def test_every_class_of_the_case_tool_model_is_a_lane_and_a_frames_column(tmp_path: Path) -> None:
    """A case analysed by a class-aware tool model: its 7 classes are lanes and frames.csv
    columns in the model's order, seen or not (a tool never in view is zeros, not missing),
    and the window's lanes read display names."""
    from scrubline.core.export import frames_dataframe
    from scrubline.core.tools import TOOL_NAMES, display_name

    tools = [["Hook"]] * 5 + [["Grasper", "Hook"]] * 5
    with _case(tmp_path, [0.0] * 10, [False] * 10, tools) as store:
        store.set_meta(
            "models",
            [{"id": "scrubline-vision", "task": "segmenter", "labels": list(TOOL_NAMES)}],
        )
        timeline = build_timeline(store)
    assert timeline.labels == list(TOOL_NAMES)
    table = frames_dataframe(timeline)
    columns = [c for c in table.columns if c.startswith("tool_")]
    assert columns == [
        "tool_grasper",
        "tool_bipolar",
        "tool_hook",
        "tool_scissors",
        "tool_clipper",
        "tool_irrigator",
        "tool_specimenbag",
    ]
    assert table["tool_hook"].sum() == 10 and table["tool_grasper"].sum() == 5
    assert table["tool_specimenbag"].sum() == 0
    assert [display_name(label) for label in timeline.labels][-1] == "Specimen bag"
