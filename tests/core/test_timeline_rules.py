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


def test_a_phase_keeps_its_colour_from_one_version_to_the_next() -> None:
    """A phase without a colour in its template gets one from its name, the same on every
    machine and in every version (a report from last year and today's window agree); the
    template's own colour wins, an empty one does not."""
    from scrubline.core.timeline import phase_colour

    assert [phase_colour(x) for x in ("Preparation", "idle", "Präparation", "dissection")] == [
        "#7e57c2",
        "#00897b",
        "#7986cb",
        "#26a69a",
    ]
    assert phase_colour("idle", {"idle": "#123456"}) == "#123456"
    assert phase_colour("idle", {"idle": ""}) == "#00897b"
    assert phase_colour("idle", {"other": "#123456"}) == "#00897b"


def test_the_timeline_draws_and_names_phases_as_its_template_says(tmp_path: Path) -> None:
    with _store(tmp_path / "c.scrub", [FrameResult(0, 0.0, [_tool()])]) as store:
        timeline = build_timeline(store)
    timeline.phase_colours = {"dissection": "#010203"}
    timeline.phase_names = {"CalotTriangleDissection": "Calot triangle dissection"}
    assert timeline.phase_colour("dissection") == "#010203"
    assert timeline.phase_colour("idle") == "#00897b"
    assert timeline.phase_name("CalotTriangleDissection") == "Calot triangle dissection"
    assert timeline.phase_name("idle") == "idle"


def test_the_signals_of_a_case_are_what_its_models_report_what_was_seen_and_bleeding(
    tmp_path: Path,
) -> None:
    from scrubline.core.phases import parse_template
    from scrubline.core.timeline import case_signals, missing_signals

    results = [
        FrameResult(0, 0.0, [_tool("grasper")], _mask(0.0)),
        FrameResult(5, 0.2, [_tool("clip")], _mask(0.1)),
    ]
    with _store(tmp_path / "c.scrub", results) as store:
        before = build_timeline(store)  # built before the models were recorded
        store.set_meta(
            "models",
            [
                {"id": "d", "task": "detector", "labels": ["hook", "grasper"]},
                {"id": "s", "task": "segmenter", "labels": ["bag"]},
                {"id": "g", "task": "inbody", "labels": ["in", "out"]},
                {"id": "n", "task": "detector"},
            ],
        )
        assert case_signals(store, before) == ["clip", "grasper", "hook", "bag", "bleeding"]
        assert case_signals(store) == ["hook", "grasper", "bag", "clip", "bleeding"]
        template = parse_template(
            {
                "template": {"id": "t", "name": "T"},
                "signals": {
                    "a": {"column": "hook"},
                    "b": {"column": "scissors"},
                    "c": {"column": "bleeding"},
                    "d": {"column": "needle"},
                },
                "phases": [{"label": "x", "any": ["a", "b", "c", "d"]}],
            },
            "t.toml",
        )
        assert missing_signals(store, template) == ["scissors", "needle"]
    unmeasured = [FrameResult(0, 0.0, [_tool("grasper")]), FrameResult(5, 0.2, [])]
    with _store(tmp_path / "u.scrub", unmeasured) as store:
        assert case_signals(store) == ["grasper"]  # no bleeding measured: no bleeding signal
        assert missing_signals(store, template) == ["hook", "scissors", "bleeding", "needle"]


def test_a_learned_template_misses_the_tools_its_model_reads() -> None:
    from types import SimpleNamespace

    from scrubline.core.phases import bundled_templates
    from scrubline.core.timeline import missing_signals

    timeline = SimpleNamespace(labels=["Grasper", "hook"], bleeding=np.array([np.nan]))
    store = SimpleNamespace(models=[{"task": "detector", "labels": ["Clipper", "specimen_bag"]}])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("scrubline.core.timeline.build_timeline", lambda store: timeline)
        missing = missing_signals(store, bundled_templates()["cholecystectomy"])
    assert missing == ["Bipolar", "Scissors", "Irrigator"]


class _Reviewed:
    """A case whose detections carry a reviewer's tip marks (as `core.case.Case` gives them)."""

    def __init__(self, store: CaseStore, marks: dict[tuple[int, str], bool]) -> None:
        self._store, self._marks = store, marks

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def detections_table(self) -> object:
        table = self._store.detections_table()
        keys = list(zip(table["frame"], table["label"], strict=True))
        table["tip_reviewed"] = [k in self._marks for k in keys]
        shown = zip(keys, table["tip_visible"], strict=True)
        table["tip_visible"] = [self._marks.get(k, v) for k, v in shown]
        return table


def test_a_tip_a_reviewer_marked_counts_as_marked_whatever_its_class_and_score(
    tmp_path: Path,
) -> None:
    """Frames 0-9: the hook's tip marked hidden; frames 10-19: marked visible although the model
    scored it 0.1. The hook has no validated rule: only the reviewer's marks count for it."""
    rules = TipRules({"grasper": ClassRule("grasper", True, 0.5)})
    results = [FrameResult(5 * i, 0.2 * i, [_tool("hook", visible=False)]) for i in range(30)]
    marks = {(5 * i, "hook"): False for i in range(10)}
    marks |= {(5 * i, "hook"): True for i in range(10, 20)}
    with _store(tmp_path / "c.scrub", results) as store:
        timeline = build_timeline(_Reviewed(store, marks), tip_rules=rules)
    assert timeline.tips_hidden.tolist() == [1] * 10 + [0] * 20
    assert timeline.tips_visible.tolist() == [0] * 10 + [1] * 10 + [0] * 10
    (hidden,) = timeline.episodes_of("tip_hidden")
    assert (hidden.start_s, hidden.end_s, hidden.peak) == pytest.approx((0.0, 2.0, None))


def test_totals_give_out_of_body_and_phase_seconds_to_the_hundredth(tmp_path: Path) -> None:
    with _store(tmp_path / "c.scrub", [FrameResult(0, 0.0, [_tool("grasper")])]) as store:
        timeline = build_timeline(store, tip_rules=VALIDATED)
    timeline.episodes = [
        Episode("out_of_body", "out of body", 1.0, 2.23456),
        Episode("out_of_body", "out of body", 3.0, 3.001),
        Episode("phase", "a", 0.0, 1.23456),
        Episode("phase", "b", 1.23456, 5.0),
        Episode("phase", "a", 5.0, 6.001),
    ]
    totals = timeline.totals()
    assert totals["out_of_body_total_s"] == 1.24
    assert totals["phases"] == {"a": 2.24, "b": 3.77}
    assert totals["tip_validated_tools"] == ["grasper"]


def test_a_bleed_counts_when_it_rose_within_the_same_view() -> None:
    from scrubline.core.timeline import bleeding_rises

    settings = TimelineSettings()  # rise 0.02 over the 10 s before, view 2 s before
    times = np.arange(0.0, 30.0, 0.5)
    area = np.full(times.size, 0.05)
    # The lowest area is 10.5 s before the start (outside the baseline) or 0.5 s before (inside).
    early, late = area.copy(), area.copy()
    early[times == 9.5] = 0.0
    late[times == 19.5] = 0.0
    assert not bleeding_rises(times, early, 20.0, 0.06, settings)
    assert bleeding_rises(times, late, 20.0, 0.06, settings)
    # The lowest area is the baseline, wherever it lies in the window.
    dip = area.copy()
    dip[times == 15.0] = 0.0
    assert bleeding_rises(times, dip, 20.0, 0.06, settings)

    def view(pictures: dict[float, np.ndarray | None]):  # noqa: ANN202
        return lambda t: pictures.get(round(t, 3), SCENE)

    # The start 2 s after the first sample: the views are compared; 1 s after: nothing to compare.
    other = {0.0: OTHER_SCENE}
    assert not bleeding_rises(times, area, 2.0, 0.1, settings, view(other))
    assert bleeding_rises(times, area, 1.0, 0.1, settings, view({-1.0: OTHER_SCENE}))
    assert bleeding_rises(times, area, 1.5, 0.1, settings, view({-0.5: OTHER_SCENE}))
    # No picture for one of the two moments: kept, not compared.
    assert bleeding_rises(times, area, 2.0, 0.1, settings, view({0.0: None}))
    # No pictures at all (a case without thumbnails): the area rule alone.
    assert bleeding_rises(times, area, 5.0, 0.1, settings, None)


def test_two_flat_pictures_are_the_same_view() -> None:
    from scrubline.core.timeline import view_correlation

    black = np.zeros((36, 64, 3), np.uint8)
    assert view_correlation(black, black) == 1.0
    assert view_correlation(SCENE, SCENE) == pytest.approx(1.0)
    assert view_correlation(SCENE, OTHER_SCENE) < 0.5


_rows = np.linspace(0, 255, 36, dtype=np.uint8)[:, None, None]
SCENE = np.broadcast_to(_rows, (36, 64, 3)).copy()  # a gradient from top to bottom
OTHER_SCENE = SCENE[::-1].copy()  # the same, upside down


def test_every_out_of_body_run_is_shown_however_short_and_runs_apart_stay_apart(
    tmp_path: Path,
) -> None:
    """One menu frame (0.2 s) is an episode of its own; two out-of-body runs with one in-body
    frame between them are two episodes."""
    inside = [True, False, True, False, False, True, True, False]
    results = [FrameResult(5 * i, 0.2 * i, in_body=flag) for i, flag in enumerate(inside)]
    with _store(tmp_path / "c.scrub", results) as store:
        timeline = build_timeline(store)
    episodes = timeline.episodes_of("out_of_body")
    assert [(e.label, e.start_s, e.end_s) for e in episodes] == [
        ("out of body", pytest.approx(0.2), pytest.approx(0.4)),
        ("out of body", pytest.approx(0.6), pytest.approx(1.0)),
        ("out of body", pytest.approx(1.4), pytest.approx(1.6)),
    ]


def test_the_timeline_takes_phase_colours_and_names_from_its_template(tmp_path: Path) -> None:
    from scrubline.core.phases import parse_template

    template = parse_template(
        {
            "template": {"id": "t", "name": "T", "default": "rest", "default_colour": "grey"},
            "signals": {"i": {"column": "instrument"}},
            "phases": [
                {"label": "work", "all": ["i"], "colour": "#112233", "name": "Working"},
                {"label": "pause", "none": ["i"]},
            ],
        },
        "t.toml",
    )
    with _store(tmp_path / "c.scrub", [FrameResult(0, 0.0, [_tool()])]) as store:
        timeline = build_timeline(store, phase_template=template)
    # "grey" is not a "#rrggbb" colour: the phase gets its colour from its name instead.
    assert timeline.phase_colours == {"work": "#112233"}
    assert timeline.phase_names == {"work": "Working"}


def test_the_signals_a_learned_template_lacks_are_looked_up_in_the_models_given(
    tmp_path: Path,
) -> None:
    from scrubline.core.models import Registry
    from scrubline.core.phase_model import PhaseModelError
    from scrubline.core.phases import bundled_templates
    from scrubline.core.timeline import missing_signals

    with (
        _store(tmp_path / "c.scrub", [FrameResult(0, 0.0, [_tool()])]) as store,
        pytest.raises(PhaseModelError, match="'cholec80-phases' is not installed"),
    ):
        missing_signals(store, bundled_templates()["cholecystectomy"], Registry())


def test_a_case_without_any_tool_class_has_no_instrument_in_view(tmp_path: Path) -> None:
    results = [FrameResult(5 * i, 0.2 * i, [], _mask(0.0)) for i in range(20)]
    with _store(tmp_path / "c.scrub", results) as store:
        timeline = build_timeline(store, phase_template=load_procedure("generic"))
    assert [e.label for e in timeline.episodes_of("phase")] == ["no instrument in view"]
