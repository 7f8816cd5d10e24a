"""The window's Qt-free logic: playhead arithmetic, the shuttle, overlay plans, the outcome
panel's words, and the "do" half of the actions."""

from __future__ import annotations

import numpy as np
import pytest

from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore, StoreError
from scrubline.core.timeline import Episode
from scrubline.core.tips import NOT_VALIDATED, ClassRule, TipRules
from scrubline.ui import choices, navigation
from scrubline.ui.outcome_text import event_start_text, prediction_html, validation_text
from scrubline.ui.overlays import OverlayFlags, mask_rgba, plan_overlay

TIMES = np.arange(100) / 10.0  # 10 s at 10 fps


def test_index_step_and_jump() -> None:
    assert navigation.index_at(TIMES, 1.25) == 12
    assert navigation.index_at(TIMES, -3) == 0 and navigation.index_at(TIMES, 99) == 99
    assert navigation.step_frames(0, -1, 100) == 0 and navigation.step_frames(98, 5, 100) == 99
    assert navigation.jump_seconds(TIMES, 10, 1.0) == 20
    assert navigation.jump_seconds(TIMES, 95, 10.0) == 99
    slow = np.array([0.0, 2.0, 4.0])  # a jump shorter than a frame still moves one frame
    assert (
        navigation.jump_seconds(slow, 0, 1.0) == 1 and navigation.jump_seconds(slow, 1, -1.0) == 0
    )


def test_shuttle_and_playback_clock() -> None:
    rate = 0.0
    rates = []
    for key in "LLLLKJJ":
        rate = navigation.shuttle(rate, key)
        rates.append(rate)
    assert rates == [1.0, 2.0, 4.0, 4.0, 0.0, -1.0, -2.0]
    assert navigation.shuttle(-2.0, "L", base=0.5) == 0.5
    with pytest.raises(ValueError):
        navigation.shuttle(0, "X")
    assert navigation.playback_time(2.0, 1.0, 2.0, 10.0) == (4.0, False)
    assert navigation.playback_time(9.5, 1.0, 1.0, 10.0) == (10.0, True)
    assert navigation.playback_time(0.5, 1.0, -1.0, 10.0) == (0.0, True)


def test_clock_and_recent() -> None:
    assert navigation.format_clock(12.48) == "0:12.480"
    assert navigation.format_clock(3723.5, millis=False) == "1:02:03"
    assert navigation.updated_recent(["a", "b", "c"], "b", limit=3) == ["b", "a", "c"]
    assert navigation.updated_recent(["a", "b", "c"], "d", limit=3) == ["d", "a", "b"]


def _result(frame: int, time_s: float, *, hidden: bool = False) -> FrameResult:
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 2:5] = 220
    return FrameResult(
        frame,
        time_s,
        [
            Instrument("grasper", 0.91, (10, 10, 50, 40), (45, 35), 0.9, True),
            Instrument("hook", 0.7, (60, 10, 90, 40), (88, 38), 0.2 if hidden else 0.8, not hidden),
        ],
        BleedingMask(mask, 0.125),
    )


VALIDATED = TipRules({name: ClassRule(name, True, 0.5) for name in ("grasper", "hook")})


def test_overlay_plan_gives_no_badge_for_an_unvalidated_tool() -> None:
    """Without a validated rule for its class a hidden tip gets no badge: the plan says tip
    visibility is not validated, naming the tools; a validated class next to it still warns."""
    plan = plan_overlay(_result(10, 1.0, hidden=True), 10, 1.0, OverlayFlags())
    assert plan.badge is None
    assert plan.tip_note == f"{NOT_VALIDATED} (grasper, hook)"
    only_grasper = TipRules({"grasper": ClassRule("grasper", True, 0.5)})
    mixed = plan_overlay(
        _result(10, 1.0, hidden=True), 10, 1.0, OverlayFlags(), tip_rules=only_grasper
    )
    assert mixed.badge is None and mixed.tip_note == f"{NOT_VALIDATED} (hook)"
    only_hook = TipRules({"hook": ClassRule("hook", True, 0.5)})
    warned = plan_overlay(
        _result(10, 1.0, hidden=True), 10, 1.0, OverlayFlags(), tip_rules=only_hook
    )
    assert warned.badge == "TIP HIDDEN" and warned.tip_note == f"{NOT_VALIDATED} (grasper)"


def test_overlay_plan_marks_and_provenance() -> None:
    plan = plan_overlay(_result(10, 1.0, hidden=True), 10, 1.0, OverlayFlags(), tip_rules=VALIDATED)
    assert [b.text for b in plan.boxes] == ["grasper 0.91", "hook 0.70"]
    assert [t.visible for t in plan.tips] == [True, False]
    assert plan.tips[0].colour != plan.tips[1].colour  # visible and hidden tips look different
    assert plan.badge == "TIP HIDDEN" and plan.bleeding_text == "bleeding area 12.5%"
    assert (
        plan.mask_rgba is not None and plan.mask_rgba[3, 3, 3] > 0 and plan.mask_rgba[0, 0, 3] == 0
    )
    assert plan.note is None
    near = plan_overlay(_result(10, 1.0), 11, 1.1, OverlayFlags(), tip_rules=VALIDATED)
    assert near.note == (
        "overlays from analysed frame 10, 0.10 s earlier (the nearest analysed frame within 0.5 s)"
    )
    assert near.badge is None
    far = plan_overlay(_result(10, 1.0), 90, 9.0, OverlayFlags(), period_s=1.0)
    assert far.empty and "not analysed here" in far.note and "within 2 s" in far.note
    # The same rule as the exports: two periods, at least half a second.
    assert plan_overlay(_result(10, 1.0), 16, 1.6, OverlayFlags(), period_s=0.2).empty
    assert not plan_overlay(_result(10, 1.0), 14, 1.4, OverlayFlags(), period_s=0.2).empty
    assert plan_overlay(None, 5, 0.5, OverlayFlags()).note == "not analysed"
    bare = plan_overlay(
        _result(10, 1.0, hidden=True),
        10,
        1.0,
        OverlayFlags(boxes=False, tips=False, bleeding=False, badge=False),
    )
    assert bare.empty


def test_mask_layer_is_transparent_where_not_blood() -> None:
    decided = BleedingMask.from_probability(np.array([[0.0, 0.19, 0.2, 0.6, 1.0]]), 0.2)
    layer = mask_rgba(decided)
    assert layer[0, :, 3].tolist()[:2] == [0, 0]
    assert 0 < layer[0, 2, 3] < layer[0, 3, 3] < layer[0, 4, 3]


def test_overlay_flags_toggle() -> None:
    flags = OverlayFlags().with_("tips", False)
    assert flags.as_dict() == {"boxes": True, "tips": False, "bleeding": True, "badge": True}
    with pytest.raises(KeyError):
        flags.with_("nothing", True)


def test_outcome_words() -> None:
    model = {
        "id": "outcome-gru",
        "version": "1.0.0",
        "headline_metric": "mae_ml",
        "headline_value": 112.4,
    }
    shown = {
        "event_start_s": 61.0,
        "blood_loss_ml": 350.0,
        "blood_loss_interval_ml": [210.0, 540.0],
        "success_probability": 0.82,
        "model": model,
        "reason": None,
    }
    text = prediction_html(shown)
    assert "350 mL" in text and "210–540 mL" in text and "82%" in text
    assert "<b>mae_ml 112</b>" in validation_text(model, {"mae_ml": 112.4, "auc": 0.71})
    assert "auc 0.71" in validation_text(model, {"mae_ml": 112.4, "auc": 0.71})
    refused = dict(
        shown,
        blood_loss_ml=None,
        success_probability=None,
        reason="only 40% of the window was analysed",
    )
    assert prediction_html(refused) == "<b>No prediction:</b> only 40% of the window was analysed."
    assert "set by hand" in event_start_text(shown, True)
    assert (
        event_start_text(dict(shown, event_start_s=None), False) == "No bleeding event start found."
    )
    assert "once the case is analysed" in event_start_text(None, False)
    assert validation_text(None, None) == "No outcome model is installed."


def test_analysis_settings_are_validated() -> None:
    settings = choices.analysis_settings(
        model_ids=["a"], fps=2.5, whole=False, start_s=10, end_s=20, duration_s=60
    )
    assert (settings.fps, settings.start_s, settings.end_s, settings.model_ids) == (
        2.5,
        10.0,
        20.0,
        ["a"],
    )
    assert choices.analysis_settings(model_ids=None, fps=5).start_s is None
    for bad in (
        {"fps": 0},
        {"fps": 5, "whole": False, "start_s": 5, "end_s": 5},
        {"fps": 5, "device": "tpu"},
        {"fps": 5, "whole": False, "start_s": 70, "end_s": 80, "duration_s": 60},
    ):
        with pytest.raises(ValueError):
            choices.analysis_settings(model_ids=["a"], **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one model"):
        choices.analysis_settings(model_ids=[], fps=5)


class _Timeline:
    def __init__(self) -> None:
        self.episodes = [
            Episode("phase", "prep", 0, 3),
            Episode("bleeding", "bleeding", 2.05, 4),
            Episode("phase", "dissection", 3, 9),
            Episode("tip_hidden", "tip hidden", 6, 7),
        ]

    def episodes_of(self, kind: str) -> list[Episode]:
        return [e for e in self.episodes if e.kind == kind]


class _Mark:
    def __init__(self, time_s: float) -> None:
        self.time_s = time_s


def test_events_and_neighbours() -> None:
    events = navigation.event_times(_Timeline(), [_Mark(5.0)])
    assert events == [2.05, 3.0, 5.0, 6.0]  # the first phase's start is no "change"
    assert navigation.event_times(_Timeline(), [_Mark(5.0)], ["bleeding"]) == [2.05]
    # 2.05 s shows frame 20 (2.0 s); from frame 20 the next event is the phase change.
    assert navigation.neighbour_event(TIMES, events, 0, True) == (2.05, 20)
    assert navigation.neighbour_event(TIMES, events, 20, True) == (3.0, 30)
    assert navigation.neighbour_event(TIMES, events, 30, False) == (2.05, 20)
    assert navigation.neighbour_event(TIMES, events, 60, True) is None


def test_clip_plan() -> None:
    plan = choices.clip_plan(TIMES, (2.0, 3.0))
    assert (plan.first, plan.last, plan.frames) == (20, 29, 10)
    for selection, message in (
        (None, "select a range"),
        ((1.0, 400.0), "limited"),
        ((20.0, 30.0), "no frames"),
    ):
        with pytest.raises(ValueError, match=message):
            choices.clip_plan(TIMES, selection)
    assert (
        choices.default_export_name("case 7", "clip", ".mp4", 12.5) == "case 7-clip-00012_50s.mp4"
    )
    assert choices.default_export_name(None, "debrief", ".pdf") == "case-debrief.pdf"
    assert choices.default_export_name("a/b: c", "frame", ".png") == "a_b_ c-frame.png"


def test_add_bookmark_checks_the_category(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scrubline.core.case import Case
    from scrubline.core.edits import AddBookmark, DeleteBookmark

    with Case.create(tmp_path / "c.scrub") as case:
        assert isinstance(
            case.apply(AddBookmark(1.5, 15, "  look here ", "complication")), DeleteBookmark
        )
        assert [(b.note, b.category) for b in case.bookmarks()] == [("look here", "complication")]
        with pytest.raises(ValueError):
            case.apply(AddBookmark(1.5, 15, "", "gossip"))
        assert case.progress() == (0, 0)
    with pytest.raises(StoreError):
        CaseStore(tmp_path / "missing.scrub")


def test_describe_at() -> None:
    class Line:
        frames = np.array([0, 2, 4])
        times = np.array([0.0, 0.2, 0.4])
        sample_period_s = 0.2
        labels = ["grasper"]
        presence = np.array([[1], [0], [1]])
        tips_visible = np.array([1, 0, 0])
        tips_hidden = np.array([0, 0, 1])
        bleeding = np.array([0.0, 0.05, np.nan])
        episodes = [Episode("bleeding", "bleeding", 0.2, 0.6)]

        def phase_at(self, t: float) -> str | None:
            return "prep"

        def phase_name(self, label: str) -> str:
            return {"prep": "Preparation"}.get(label, label)

    text = navigation.describe_at(
        Line(), 0.25, [type("B", (), {"time_s": 0.3, "category": "note", "note": "x"})()]
    )
    assert "phase: Preparation" in text and "tools: none" in text and "bleeding area 5.0%" in text
    assert "in bleeding episode" in text and "bookmark (note): x" in text
    assert "not analysed here" in navigation.describe_at(Line(), 9.0)
    assert navigation.describe_at(None, 1.0).endswith("not analysed")


def test_outcome_validation_is_in_words_not_manifest_keys() -> None:
    model = {
        "id": "outcome-socal",
        "version": "1.0.0",
        "headline_metric": "cv_rmse_ml",
        "headline_value": 345.2,
    }
    metrics = {
        "cv_rmse_ml": 345.2,
        "cv_mean_error_ml": 10.6,
        "cv_r2": 0.202,
        "cv_accuracy": 0.729,
        "cv_auroc": 0.724,
        "interval_coverage": 0.799,
    }
    text = validation_text(model, metrics)
    assert "cv_" not in text and "interval_coverage" not in text
    assert "blood loss <b>RMSE 345 mL</b>, mean error 10.6 mL" in text
    assert "80% interval held the true loss in 80% of cases" in text
    assert "success accuracy 73%, AUROC 0.724" in text
    assert "baseline" not in validation_text(model, {**metrics, "baseline_cv_rmse_ml": 388.0})


def test_the_tips_lane_and_the_overlay_name_tools_by_display_name(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the window shows of an unvalidated tool: 'Specimen bag', as in the tool lanes."""
    from scrubline.core.timeline import build_timeline
    from scrubline.ui.timeline_view import TimelineView

    bag = Instrument("SpecimenBag", 0.9, (10, 10, 50, 40), (45, 35), 0.9, True)
    with CaseStore(tmp_path / "t.scrub", create=True) as store:
        store.set_meta("video", {"duration_s": 2.0, "width": 100, "height": 100})
        store.set_meta("settings", {"fps": 5.0})
        store.write_results([FrameResult(i * 5, i * 0.2, [bag]) for i in range(10)])
        timeline = build_timeline(store)
    view = TimelineView()
    qtbot.addWidget(view)
    view.set_duration(2.0)
    view.set_timeline(timeline, [])
    assert view.tip_note.toPlainText() == f"{NOT_VALIDATED}: Specimen bag"
    plan = plan_overlay(FrameResult(5, 1.0, [bag]), 5, 1.0, OverlayFlags())
    assert plan.tip_note == f"{NOT_VALIDATED} (Specimen bag)"
