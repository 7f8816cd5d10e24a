"""The timeline's rules at their edges (each test kills mutants that survived `tests/mutation/run.sh
timeline`): what counts as present, bleeding and hidden exactly at the threshold, the sample
period of a one-sample case, phases that read the bleeding track, event navigation, and the
rounding of the summary totals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.export import frames_dataframe, load_procedure
from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore
from scrubline.core.timeline import Episode, TimelineSettings, build_timeline, spans_from_flags
from scrubline.core.tips import ClassRule, TipRules

# The classes these tests use, validated at threshold 0.5 (tip scores are 0.9 or 0.1).
VALIDATED = TipRules(
    {name: ClassRule(name, True, 0.5) for name in ("grasper", "hook", "instrument")}
)


def _tool(label: str = "instrument", score: float = 0.9, visible: bool = True) -> Instrument:
    return Instrument(label, score, (0, 0, 10, 10), (5, 5), 0.9 if visible else 0.1, visible)


def _store(
    path: Path, results: list[FrameResult], *, fps: float = 5.0, duration_s: float | None = None
) -> CaseStore:
    store = CaseStore(path, create=True)
    video = {"width": 100, "height": 100}
    if duration_s is not None:
        video["duration_s"] = duration_s
    store.set_meta("video", video)
    store.set_meta("settings", {"fps": fps})
    store.write_results(results)
    return store


def _mask(fraction: float) -> BleedingMask:
    return BleedingMask(np.zeros((4, 4), np.uint8), fraction)


def test_exactly_at_a_threshold_counts(tmp_path: Path) -> None:
    """A box scored exactly at the presence score is present; a bleeding area exactly at the
    threshold is bleeding; a single hidden tip makes a tip-hidden episode."""
    settings = TimelineSettings(presence_score=0.5, bleeding_threshold=0.03, min_episode_s=1.0)
    results = [
        FrameResult(
            i,
            i * 0.2,
            [_tool("grasper", 0.5, visible=not 5 <= i < 15)],
            _mask(0.03 if i >= 10 else 0.0),
        )
        for i in range(20)
    ]
    with _store(tmp_path / "edge.scrub", results) as store:
        timeline = build_timeline(store, settings, tip_rules=VALIDATED)
    assert timeline.labels == ["grasper"] and timeline.presence[:, 0].tolist() == [1] * 20
    assert timeline.tips_hidden.tolist() == [0] * 5 + [1] * 10 + [0] * 5
    (bleeding,) = timeline.episodes_of("bleeding")
    assert (bleeding.label, bleeding.start_s, bleeding.end_s) == (
        "bleeding",
        pytest.approx(2.0),
        pytest.approx(4.0),
    )
    (hidden,) = timeline.episodes_of("tip_hidden")
    assert (hidden.label, hidden.start_s, hidden.end_s, hidden.peak) == (
        "tip hidden",
        pytest.approx(1.0),
        pytest.approx(3.0),
        None,
    )
    # Just below the presence score: not present, so its tip is not counted either.
    low = [FrameResult(i, i * 0.2, [_tool("grasper", 0.49, visible=False)]) for i in range(10)]
    with _store(tmp_path / "low.scrub", low) as store:
        faint = build_timeline(store, settings, tip_rules=VALIDATED)
    assert (
        faint.labels == []
        and faint.tips_hidden.tolist() == [0] * 10
        and not faint.episodes_of("tip_hidden")
    )


def test_a_one_sample_case_takes_its_period_from_the_sampling_rate(tmp_path: Path) -> None:
    with _store(tmp_path / "one.scrub", [FrameResult(0, 0.0, [_tool()])], fps=4.0) as store:
        timeline = build_timeline(store)
    assert timeline.sample_period_s == pytest.approx(0.25)
    assert timeline.duration_s == pytest.approx(0.25)  # no duration stored: the sample's span
    assert timeline.totals()["analysed_span_s"] == pytest.approx([0.0, 0.25])
    with _store(tmp_path / "slow.scrub", [FrameResult(0, 0.0)], fps=0.5) as store:
        assert build_timeline(store).sample_period_s == 2.0
    with _store(tmp_path / "norate.scrub", [FrameResult(0, 0.0)], fps=0.0) as store:
        assert build_timeline(store).sample_period_s == 1.0
    with _store(tmp_path / "empty.scrub", []) as store:
        assert build_timeline(store).duration_s == 0.0  # nothing analysed, no duration stored
    # Two samples: the spacing is the period, whatever the setting says.
    with _store(
        tmp_path / "two.scrub", [FrameResult(0, 0.0), FrameResult(1, 0.5)], fps=4.0, duration_s=9.0
    ) as store:
        two = build_timeline(store)
    assert two.sample_period_s == pytest.approx(0.5) and two.duration_s == 9.0


def test_phases_read_the_bleeding_track_and_name_every_frame(tmp_path: Path) -> None:
    """The generic template's bleeding phases come from the stored bleeding areas; frames.csv
    names each analysed frame's phase."""
    results = [
        FrameResult(i, i * 0.2, [_tool()] if i < 50 else [], _mask(0.2 if 25 <= i < 75 else 0.0))
        for i in range(100)
    ]
    with _store(tmp_path / "phases.scrub", results) as store:
        timeline = build_timeline(store, phase_template=load_procedure("generic"))
        labels = frames_dataframe(timeline)["phase"].tolist()
    phases = [
        (p.label, round(p.start_s, 1), round(p.end_s, 1)) for p in timeline.episodes_of("phase")
    ]
    assert phases == [
        ("one instrument", 0.0, 5.0),
        ("bleeding, instrument in view", 5.0, 10.0),
        ("bleeding, no instrument", 10.0, 15.0),
        ("no instrument in view", 15.0, 20.0),
    ]
    assert (
        labels[0] == labels[24] == "one instrument" and labels[25] == "bleeding, instrument in view"
    )
    assert (
        labels[74] == "bleeding, no instrument"
        and labels[75] == labels[99] == "no instrument in view"
    )
    assert all(p.peak is None for p in timeline.episodes_of("phase"))
    assert (
        timeline.phase_at(5.0) == "bleeding, instrument in view"
        and timeline.phase_at(4.9) == "one instrument"
    )
    assert timeline.phase_at(20.0) is None  # after the analysed span
    assert timeline.totals()["phases"] == {
        "one instrument": 5.0,
        "bleeding, instrument in view": 5.0,
        "bleeding, no instrument": 5.0,
        "no instrument in view": 5.0,
    }
    # Each phase change after the first is an event to jump to.
    assert [t for t, label in timeline.events() if label.startswith("phase:")] == pytest.approx(
        [5.0, 10.0, 15.0]
    )
    # Without a template no frame has a phase.
    with _store(tmp_path / "none.scrub", results) as store:
        assert set(frames_dataframe(build_timeline(store))["phase"]) == {""}


def test_an_episode_contains_its_start_but_not_its_end() -> None:
    episode = Episode("phase", "dissection", 2.0, 5.0)
    assert episode.contains(2.0) and episode.contains(4.999) and not episode.contains(5.0)
    assert not episode.contains(1.999)


def test_event_navigation_goes_to_the_nearest_event_of_the_chosen_kinds(tmp_path: Path) -> None:
    results = [
        FrameResult(i, i * 0.2, [], _mask(0.2 if 10 <= i < 20 or 40 <= i < 50 else 0.0))
        for i in range(60)
    ]
    with _store(tmp_path / "events.scrub", results) as store:
        store.add_bookmark(5.0, 25, "look", "note")
        store.add_bookmark(5.5, 27, "again", "note")
        timeline = build_timeline(store)
    # Bleeding starts at 2 s and 8 s; bookmarks at 5 s and 5.5 s.
    assert timeline.next_event(0.0) == pytest.approx(2.0)
    assert timeline.next_event(5.0) == pytest.approx(5.5)  # half a second on, not skipped
    assert timeline.next_event(5.0, kinds=("bleeding",)) == pytest.approx(8.0)
    assert timeline.next_event(8.0) is None  # nothing after the last event
    assert timeline.previous_event(8.0) == pytest.approx(5.5)
    assert timeline.previous_event(5.5) == pytest.approx(5.0)
    assert timeline.previous_event(8.0, kinds=("bleeding",)) == pytest.approx(2.0)
    assert timeline.previous_event(2.0) is None
    assert timeline.previous_event(100.0, kinds=("tip_hidden",)) is None


def test_totals_count_seconds_to_the_hundredth(tmp_path: Path) -> None:
    """At 30 analysed frames a second, one frame with a tool is 0.03 s in view (not 0.033);
    areas are given to four decimals."""
    results = [
        FrameResult(
            i, i / 30, [_tool("hook")] if i == 3 else [], _mask(0.123456 if i < 31 else 0.0)
        )
        for i in range(60)
    ]
    with _store(tmp_path / "round.scrub", results, fps=30.0) as store:
        totals = build_timeline(store).totals()
    assert totals["tools"]["hook"] == {"time_in_view_s": 0.03, "entries": 1}
    assert totals["bleeding_total_s"] == 1.03 and totals["bleeding_peak_fraction"] == 0.1235
    assert totals["analysed_frames"] == 60 and totals["bleeding_episodes"] == 1
    assert totals["tip_hidden_episodes"] == 0 and totals["tip_hidden_total_s"] == 0.0
    assert totals["tip_hidden_longest_s"] == 0.0
    # A tip hidden for 31 frames: 1.0333 s, given as 1.03.
    hidden = [FrameResult(i, i / 30, [_tool("hook", visible=i >= 31)]) for i in range(60)]
    with _store(tmp_path / "hidden.scrub", hidden, fps=30.0) as store:
        totals = build_timeline(store, tip_rules=VALIDATED).totals()
    assert totals["tip_hidden_total_s"] == 1.03 and totals["tip_hidden_longest_s"] == 1.03


def test_unmeasured_bleeding_is_not_bleeding(tmp_path: Path) -> None:
    """Frames the bleeding model did not run on (no mask) are not counted as bleeding."""
    results = [FrameResult(i, i * 0.2, [], None if i < 30 else _mask(0.0)) for i in range(40)]
    settings = TimelineSettings(bleeding_threshold=0.05)
    with _store(tmp_path / "unmeasured.scrub", results) as store:
        timeline = build_timeline(store, settings)
    assert np.isnan(timeline.bleeding[:30]).all() and not timeline.episodes_of("bleeding")
    assert timeline.totals()["bleeding_peak_fraction"] == 0.0
    assert timeline.settings is settings  # the report states the threshold the timeline used


def test_runs_exactly_merge_gap_apart_merge() -> None:
    """`merge_gap` is inclusive: a gap of exactly that length joins two runs; a sample period
    more does not."""
    times = np.arange(20) * 0.5
    flags = np.zeros(20, bool)
    flags[[0, 1, 4, 5]] = True  # 0.0-1.0 and 2.0-3.0: a 1.0 s gap
    assert spans_from_flags(times, flags, period=0.5, min_duration=0, merge_gap=1.0) == [
        (0.0, 3.0, None)
    ]
    assert len(spans_from_flags(times, flags, period=0.5, min_duration=0, merge_gap=0.5)) == 2
