"""Undo/redo and reviewer corrections: the review controller alone (a `Case` and pytest-qt, no
window), then the window's Edit menu, right-click corrections on the video and the timeline, and
a correction that survives closing the case and reaches the PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scrubline.core.case import Case
from scrubline.core.edits import AddBookmark, SetEventStart
from scrubline.ui.review import ReviewContext, ReviewController, nearest_phase_change
from tests.report.synthetic import make_case

FRAME_12S = 300  # synthetic case: a grasper and a hook in view at 12 s


@pytest.fixture
def controller(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    case = Case.open(make_case(tmp_path / "c.scrub", bookmarks=False), readonly=False)
    errors: list[str] = []
    review = ReviewController(ReviewContext(lambda create: case, lambda t, m: errors.append(m)))
    review.case, review.errors = case, errors  # type: ignore[attr-defined]
    yield review
    case.close()


def test_bookmarks_undo_and_redo_keep_the_same_bookmark(controller) -> None:  # type: ignore[no-untyped-def]
    case = controller.case
    heard: list[object] = []
    controller.edited.connect(heard.append)
    assert controller.apply(AddBookmark(5.0, 125, "look", "note"))
    (mark,) = case.bookmarks()
    assert controller.undo_stack.undoText() == "add bookmark"
    controller.undo()
    assert case.bookmarks() == []
    controller.redo()
    assert [(b.id, b.note) for b in case.bookmarks()] == [(mark.id, "look")]
    assert len(heard) == 3  # done, undone, redone: each one tells the views


def test_event_start_nudges_merge_into_one_step(controller) -> None:  # type: ignore[no-untyped-def]
    case = controller.case
    for t in (20.0, 20.5, 21.0):
        controller.apply(SetEventStart(t))
    assert controller.undo_stack.count() == 1 and case.event_start_s == 21.0
    controller.undo()
    assert case.event_start_s is None
    controller.redo()
    assert case.event_start_s == 21.0


def test_corrections_are_undoable(controller) -> None:  # type: ignore[no-untyped-def]
    case = controller.case
    result = case.result_at(FRAME_12S)
    hook = next(i for i in result.instruments if i.label == "hook")
    assert controller.correct_box("delete_box", result, hook)
    assert [i.label for i in case.result_at(FRAME_12S).instruments] == ["grasper"]
    controller.undo()
    assert case.corrections() == []
    assert len(case.result_at(FRAME_12S).instruments) == 2
    controller.redo()
    assert [i.label for i in case.result_at(FRAME_12S).instruments] == ["grasper"]


def test_an_edit_that_cannot_be_saved_is_reported_and_not_stacked(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    with Case.open(make_case(tmp_path / "c.scrub")) as readonly:
        review = ReviewController(
            ReviewContext(lambda create: readonly, lambda t, m: errors.append(m))
        )
        assert not review.apply(SetEventStart(3.0))
    assert review.undo_stack.count() == 0
    assert errors and "reading only" in errors[0]


def test_the_box_menu_offers_each_correction(controller) -> None:  # type: ignore[no-untyped-def]
    case = controller.case
    result = case.result_at(FRAME_12S)
    grasper = next(i for i in result.instruments if i.label == "grasper")
    menu = controller.box_menu(result, grasper, ["grasper", "hook", "clipper"])
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == "Remove this grasper box (nothing is there)"
    assert "Its tip is hidden" in texts  # the model says visible: the menu offers the other
    relabel = next(a for a in menu.actions() if a.menu() is not None).menu()
    assert [a.text() for a in relabel.actions()] == ["hook", "clipper"]
    relabel.actions()[1].trigger()
    labels = sorted(i.label for i in case.result_at(FRAME_12S).instruments)
    assert labels == ["clipper", "hook"]


def test_the_timeline_menu_moves_a_phase_change_and_marks_out_of_body(controller) -> None:  # type: ignore[no-untyped-def]
    case = controller.case
    timeline = case.timeline()
    change = nearest_phase_change(timeline, 5.0, within_s=60.0)
    assert change is not None
    target = change - 1.0
    menu = controller.timeline_menu(target, timeline, (40.0, 45.0))
    actions = {a.text(): a for a in menu.actions()}
    move = next(a for t, a in actions.items() if t.startswith("Move the phase change"))
    move.trigger()
    assert target in [p.start_s for p in case.timeline().episodes_of("phase")]
    actions["Mark 40.0–45.0 s out of body"].trigger()
    menu = controller.timeline_menu(42.0, case.timeline(), None)
    (remove,) = [a for a in menu.actions() if a.text().startswith("Not out of body")]
    remove.trigger()
    assert [c.kind for c in case.corrections()] == ["phase_boundary"]


# --------------------------------------------------------------------------------- the window
def test_edit_menu_undoes_and_redoes_a_bookmark(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    edit = [a.text() for a in menus["&Edit"].actions()]
    assert edit[0].startswith("&Undo") and edit[1].startswith("&Redo")
    assert window.review.undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [k.toString() for k in window.review.redo_action.shortcuts()]
    window.add_bookmark("undo me", "note")
    assert [b.note for b in window.bookmarks] == ["undo me"]
    window.review.undo_action.trigger()
    assert window.bookmarks == [] and window.bookmarks_panel.list.count() == 0
    window.review.redo_action.trigger()
    assert [b.note for b in window.bookmarks] == ["undo me"]


def _shown_with_boxes(qtbot, window: Any) -> Any:  # type: ignore[no-untyped-def]
    """Seek to an analysed frame with boxes on it and wait until it is shown with its result."""
    with Case.open(window.case_path) as case:
        detections = case.detections()
    frame = int(detections["frame"].iloc[len(detections) // 2])
    window.seek_frame(frame)
    qtbot.waitUntil(
        lambda: (
            window.shown is not None
            and window.shown.index == frame
            and not window.shown.proxy
            and window.shown.result is not None
            and bool(window.shown.result.instruments)
        ),
        timeout=10_000,
    )
    return window.shown


def test_right_click_on_a_box_removes_it_and_it_stays_removed_after_reopening(
    qtbot, with_case: Path, open_window, demo_clip: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    qtbot.waitUntil(lambda: window.timeline is not None, timeout=10_000)
    shown = _shown_with_boxes(qtbot, window)
    before = len(shown.result.instruments)
    box = shown.result.instruments[0].box
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert window.frame_view.source_point(window.frame_view.widget_point(x, y)) == pytest.approx(
        (x, y), abs=0.5
    )
    menu = window.correction_menu_at(x, y)
    assert menu is not None
    with qtbot.waitSignal(window.case_refreshed, timeout=10_000):
        menu.actions()[0].trigger()  # "Remove this … box"
    qtbot.waitUntil(
        lambda: (
            window.shown is not None
            and window.shown.result is not None
            and len(window.shown.result.instruments) == before - 1
        ),
        timeout=10_000,
    )
    assert len(window.frame_view.plan.boxes) <= before - 1
    window.close()

    # The correction is in the case file: a new reader, the export and the report all see it.
    from pypdf import PdfReader

    from scrubline.report import write_report

    with Case.open(with_case) as case:
        (correction,) = case.corrections()
        assert correction.kind == "delete_box" and not correction.stale
        write_report(case, tmp_path / "r.pdf")
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(tmp_path / "r.pdf").pages
    )
    assert "A reviewer corrected 1 result: 1 false tool box removed" in text


def test_picture_exports_draw_the_corrected_results(
    with_case: Path, demo_clip: Path, tmp_path: Path
) -> None:
    """The PNG export reads through Case: a box the reviewer removed is not burned in."""
    import cv2
    import numpy as np

    from scrubline.core.edits import AddCorrection
    from scrubline.core.overlay import OverlayFlags
    from scrubline.core.pictures import export_frame_png

    with Case.open(with_case) as case:
        detections = case.detections()
    frame = int(detections["frame"].iloc[len(detections) // 2])
    flags = OverlayFlags(bleeding=False, badge=False)
    before = export_frame_png(demo_clip, with_case, frame, tmp_path / "before.png", flags)
    with Case.open(with_case, readonly=False) as case:
        result = case.result_at(frame)
        for instrument in result.instruments:
            case.apply(AddCorrection(case.correction_for_box("delete_box", frame, instrument)))
    after = export_frame_png(demo_clip, with_case, frame, tmp_path / "after.png", flags)
    plain = export_frame_png(demo_clip, None, frame, tmp_path / "plain.png", flags)
    pictures = [cv2.imread(str(p)).astype(int) for p in (before, after, plain)]
    assert np.abs(pictures[0] - pictures[2]).max() > 0  # boxes drawn before the correction
    assert np.abs(pictures[1] - pictures[2]).max() == 0  # none after: all were removed


def test_the_window_is_told_about_stale_corrections(tmp_path: Path) -> None:
    from scrubline.core.edits import AddCorrection
    from scrubline.core.results import FrameResult
    from scrubline.core.store import CaseStore
    from scrubline.ui.case_reader import read_case

    path = make_case(tmp_path / "c.scrub", bookmarks=False)
    with Case.open(path, readonly=False) as case:
        hook = case.result_at(FRAME_12S).instruments[1]
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, hook)))
    assert read_case(path, 0).notices == []
    with CaseStore(path) as store:  # analysed again by another model version
        store.write_results([FrameResult(FRAME_12S, 12.0, [hook])], models=["tiny@2"])
    assert read_case(path, 0).notices == [
        "1 reviewer correction not applied: made against an earlier analysis"
    ]


def test_each_case_keeps_its_own_undo_history(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = Case.open(make_case(tmp_path / "a.scrub", bookmarks=False), readonly=False)
    second = Case.open(make_case(tmp_path / "b.scrub", bookmarks=False), readonly=False)
    open_case = [first]
    review = ReviewController(ReviewContext(lambda create: open_case[0], lambda t, m: None))
    review.show_case(first.path)
    review.apply(AddBookmark(5.0, 125, "in a", "note"))
    open_case[0] = second
    review.show_case(second.path)
    assert not review.undo_stack.canUndo()  # b has no history
    review.apply(SetEventStart(3.0))
    open_case[0] = first
    review.show_case(first.path)  # back to a: its bookmark can still be undone
    assert review.undo_stack.undoText() == "add bookmark"
    review.undo()
    assert first.bookmarks() == [] and second.event_start_s == 3.0
    review.reset()
    assert not review.undo_stack.canUndo()
    first.close()
    second.close()


def test_a_step_begun_before_the_case_file_existed_stays_one_step(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A drawing made before any analysis creates the case with its bookmark: the macro begun
    on the nameless history continues on the new case's, and undoes as one step."""
    path = make_case(tmp_path / "c.scrub", bookmarks=False)
    made: list[Case] = []

    def case_for_edit(create: bool) -> Case | None:
        if not made and create:
            made.append(Case.open(path, readonly=False))
        if made:
            review.show_case(made[0].path)
        return made[0] if made else None

    review = ReviewController(ReviewContext(case_for_edit, lambda t, m: None))
    stack = review.undo_stack
    stack.beginMacro("draw arrow")
    review.apply(AddBookmark(5.0, 125, "", "teaching point"))
    review.apply(SetEventStart(4.0))
    stack.endMacro()
    assert review.undo_stack is stack and stack.count() == 1
    review.undo()
    assert made[0].bookmarks() == [] and made[0].event_start_s is None
    made[0].close()
