"""The window's review tools, driven as a user drives them: the Analyse dialog (its fields,
refusals and what it starts), editing and deleting bookmarks, an analysis that fails half-way,
and zooming, panning and scrubbing the timeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QMessageBox

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.store import CaseStore
from scrubline.ui import analysis_controller as analysis_controller_module
from scrubline.ui import main_window as main_window_module
from scrubline.ui.dialogs import AnalysisDialog, BookmarkDialog

TIMEOUT = 60_000


def _when_modal(qtbot: Any, act: Callable[[Any], None]) -> list[str]:
    """Run `act(dialog)` on the next modal dialog once it is shown (the real `exec()` path);
    returns a list that records failures inside `act`, to assert on afterwards."""
    problems: list[str] = []

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, poll)
            return
        try:
            act(dialog)
        except Exception as exc:  # reported by the test, not lost in the event loop
            problems.append(repr(exc))
            dialog.reject()

    QTimer.singleShot(0, poll)
    return problems


def _ok(dialog: Any) -> None:
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()


# ---------------------------------------------------------------------------------------------
# The Analyse dialog


def test_analyse_dialog_offers_every_model_and_refuses_a_backwards_range(
    qtbot, tiny_registry
) -> None:  # type: ignore[no-untyped-def]
    models = tiny_registry.frame_models()
    dialog = AnalysisDialog(models, 30.0, AnalysisSettings(fps=5.0, device="cpu"))
    qtbot.addWidget(dialog)
    assert dialog.models.count() == len(models) >= 1
    assert all(
        dialog.models.item(i).checkState() == Qt.CheckState.Checked
        for i in range(dialog.models.count())
    )
    assert dialog.fps.value() == 5.0 and dialog.whole.isChecked()
    assert not dialog.start.isEnabled() and not dialog.end.isEnabled()  # the whole video by default
    dialog.whole.setChecked(False)
    assert dialog.start.isEnabled() and dialog.end.isEnabled()
    dialog.start.setValue(20.0)
    dialog.end.setValue(10.0)
    _ok(dialog)
    assert dialog.result() != dialog.DialogCode.Accepted and dialog.result_settings is None
    assert "must end after it starts" in dialog.error.text()
    dialog.models.item(0).setCheckState(Qt.CheckState.Unchecked)
    dialog.end.setValue(25.0)
    _ok(dialog)
    if len(models) == 1:
        assert "choose at least one model" in dialog.error.text()
        dialog.models.item(0).setCheckState(Qt.CheckState.Checked)
        _ok(dialog)
    settings = dialog.result_settings
    assert settings is not None and dialog.result() == dialog.DialogCode.Accepted
    assert (settings.start_s, settings.end_s, settings.fps, settings.device) == (
        20.0,
        25.0,
        5.0,
        "cpu",
    )


def test_analyse_dialog_starts_the_analysis_it_describes(
    qtbot, open_window, demo_clip: Path
) -> None:  # type: ignore[no-untyped-def]
    window = open_window

    def fill(dialog: Any) -> None:
        assert isinstance(dialog, AnalysisDialog)
        dialog.fps.setValue(2.0)
        dialog.whole.setChecked(False)
        dialog.start.setValue(10.0)
        dialog.end.setValue(15.0)
        _ok(dialog)

    problems = _when_modal(qtbot, fill)
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as finished:
        window.ask_analysis()
    assert not problems, problems
    report = finished.args[0]
    assert report.complete and report.planned == 10  # 5 s at 2 frames/s
    with CaseStore(window.case_path) as store:
        times = store.frames_table()["time_s"]
        assert store.settings["fps"] == 2.0
    assert times.min() >= 10.0 - 1e-6 and times.max() < 15.0
    assert window.default_analysis_settings().fps == 2.0  # remembered for the next analysis

    # Asked again, the dialog says what is already done; cancelling it starts nothing.
    notes: list[str] = []

    def read_and_cancel(dialog: Any) -> None:
        notes.extend(label.text() for label in dialog.findChildren(QLabel))
        dialog.reject()

    problems = _when_modal(qtbot, read_and_cancel)
    window.ask_analysis()
    assert not problems and not window.analysis.running()
    assert any("10 frames are already analysed" in text for text in notes), notes


# ---------------------------------------------------------------------------------------------
# Bookmarks: edit and delete


def _open_case(qtbot, window, demo_clip: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)


def test_a_bookmark_is_edited_from_its_list(
    qtbot, with_case, window, demo_clip, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _open_case(qtbot, window, demo_clip)
    window.seek_time(9.0)
    window.add_bookmark("bleeder", "complication")
    panel = window.bookmarks_panel
    panel.list.setCurrentRow(0)
    asked: list[tuple[Any, ...]] = []

    def answer(parent: Any, when: str, note: str = "", category: str = "") -> tuple[str, str]:
        asked.append((when, note, category))
        return "  bleeder from the cystic artery  ", "teaching point"

    monkeypatch.setattr(BookmarkDialog, "ask", staticmethod(answer))
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    assert asked == [("0:09.000", "bleeder", "complication")]  # the dialog opens on what is there
    with CaseStore(with_case) as store:
        (mark,) = store.bookmarks()
    assert (mark.note, mark.category, mark.frame) == (
        "bleeder from the cystic artery",
        "teaching point",
        90,
    )
    assert "bleeder from the cystic artery" in panel.list.item(0).text()
    assert "[teaching point]" in panel.list.item(0).text()
    # Cancelling the dialog changes nothing.
    monkeypatch.setattr(BookmarkDialog, "ask", staticmethod(lambda *a, **k: None))
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    with CaseStore(with_case) as store:
        assert store.bookmarks()[0].note == "bleeder from the cystic artery"


def test_a_bookmark_is_deleted_only_when_confirmed(
    qtbot, with_case, window, demo_clip, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _open_case(qtbot, window, demo_clip)
    for at, note in ((4.0, "first"), (16.0, "second")):
        window.seek_time(at)
        window.add_bookmark(note)
    panel = window.bookmarks_panel
    assert panel.list.count() == 2
    panel.list.setCurrentRow(1)
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No)
    )
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert panel.list.count() == 2
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    with CaseStore(with_case) as store:
        assert [m.note for m in store.bookmarks()] == ["first"]
    assert panel.list.count() == 1 and "first" in panel.list.item(0).text()
    assert [b.note for b in window.timeline_view.bookmarks] == [
        "first"
    ]  # gone from the timeline too
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert (
        panel.list.count() == 0
        and not panel.edit_button.isEnabled()
        and not panel.delete_button.isEnabled()
    )


# ---------------------------------------------------------------------------------------------
# An analysis that fails half-way


def test_an_analysis_error_is_shown_and_the_saved_results_stay(
    qtbot, open_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = open_window

    def failing(video: Any, case: Any, settings: AnalysisSettings, **kwargs: Any) -> Any:
        # The first 5 s are analysed and saved, then the model runtime fails.
        analyse_video(
            video, case, AnalysisSettings(fps=settings.fps, start_s=0.0, end_s=5.0), **kwargs
        )
        raise RuntimeError("onnxruntime: out of memory in the segmenter")

    monkeypatch.setattr(analysis_controller_module, "analyse_video", failing)
    monkeypatch.setattr(
        main_window_module, "show_error", lambda *a, **k: QMessageBox()
    )  # no box left open
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as finished:
        assert window.start_analysis(AnalysisSettings(fps=5.0))
    assert isinstance(finished.args[0], RuntimeError)
    assert window.errors and "The analysis stopped with an error" in window.errors[-1]
    assert "out of memory in the segmenter" in window.errors[-1]
    assert "Results saved before the error are kept" in window.errors[-1]
    assert window.banner.isVisible() and "what was done is saved" in window.banner_label.text()
    assert window.banner_button.text() == "Analyse…"
    assert not window.progress.isVisible() and window.analyse_action.isEnabled()
    assert not window.cancel_action.isEnabled()
    # The 25 frames saved before the failure are on the timeline.
    qtbot.waitUntil(
        lambda: window.timeline is not None and len(window.timeline.times) == 25, timeout=TIMEOUT
    )
    with CaseStore(window.case_path) as store:
        assert store.frame_count() == 25


# ---------------------------------------------------------------------------------------------
# The timeline: zoom, pan, scrub


def _drag(widget: Any, start: QPoint, end: QPoint) -> None:
    """A left-button drag as Qt delivers it (press, moves with the button held, release)."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier

    def send(
        kind: QEvent.Type, at: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton
    ) -> None:
        local = QPointF(at)
        QApplication.sendEvent(
            widget, QMouseEvent(kind, local, QPointF(widget.mapToGlobal(at)), button, buttons, mods)
        )

    send(QEvent.Type.MouseButtonPress, start, left, left)
    steps = 8
    for i in range(1, steps + 1):
        at = start + (end - start) * (i / steps)
        send(QEvent.Type.MouseMove, at, none, left)
    send(QEvent.Type.MouseButtonRelease, end, left, none)


def test_zoom_buttons_keep_the_playhead_in_view_and_fit_shows_the_case(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    _open_case(qtbot, window, demo_clip)
    view = window.timeline_view
    view.fit()
    assert view.x_range() == pytest.approx((0.0, 30.0))
    window.seek_time(12.0)
    qtbot.mouseClick(view._buttons["in"], Qt.MouseButton.LeftButton)
    assert view.x_range() == pytest.approx((4.5, 19.5))  # half the width, centred on the playhead
    # Every lane shows the same stretch of time as the ruler.
    for name, plot in view.plots.items():
        low, high = plot.getPlotItem().getViewBox().viewRange()[0]
        assert (low, high) == pytest.approx((4.5, 19.5), abs=1e-6), name
    for _ in range(10):
        view.zoom_by(0.5)
    low, high = view.x_range()
    assert (
        high - low == pytest.approx(0.5) and low <= 12.0 <= high
    )  # no narrower than half a second
    qtbot.mouseClick(view._buttons["out"], Qt.MouseButton.LeftButton)
    assert view.x_range()[1] - view.x_range()[0] == pytest.approx(1.0)
    for _ in range(10):
        view.zoom_by(2.0)
    assert view.x_range() == pytest.approx((0.0, 30.0))  # never wider than the case
    window.seek_time(28.0)
    view.zoom_by(0.25)
    assert view.x_range() == pytest.approx((22.5, 30.0))  # clamped at the end, playhead inside


def test_the_wheel_zooms_time_and_a_drag_on_a_lane_pans_without_seeking(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    _open_case(qtbot, window, demo_clip)
    view = window.timeline_view
    view.set_x_range(10.0, 20.0)
    window.seek_time(2.0)
    frame_before = window.state.frame
    viewport, point = view.point_for(15.0, "bleeding")
    wheel = QWheelEvent(
        QPointF(point),
        QPointF(viewport.mapToGlobal(point)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    low, high = view.x_range()
    assert high - low < 10.0 and low < 15.0 < high  # zoomed in around the pointer
    view.set_x_range(10.0, 20.0)
    viewport, start = view.point_for(16.0, "bleeding")
    _, end = view.point_for(12.0, "bleeding")
    _drag(viewport, start, end)
    low, high = view.x_range()
    assert high - low == pytest.approx(10.0, abs=0.05)
    assert low == pytest.approx(
        14.0, abs=0.5
    )  # dragged 4 s to the left: later time comes into view
    assert window.state.frame == frame_before  # panning does not move the playhead


def test_dragging_on_the_ruler_selects_the_clip_range_and_the_playhead_line_scrubs(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    _open_case(qtbot, window, demo_clip)
    view = window.timeline_view
    view.fit()
    frame_before = window.state.frame
    viewport, start = view.point_for(6.0, "ruler")
    _, end = view.point_for(21.0, "ruler")
    _drag(viewport, start, end)
    assert window.state.selection == pytest.approx((6.0, 21.0), abs=0.3)
    assert view.selection_region.isVisible()
    assert window.state.frame == frame_before  # selecting does not move the playhead
    assert view.x_range() == pytest.approx((0.0, 30.0))  # nor pan
    # Dragged right to left (and past the end), the range is the same, inside the case.
    ruler_box = view.plots["ruler"].getPlotItem().getViewBox()
    ruler_box.range_dragged.emit(31.0, 23.0, True)
    assert window.state.selection == pytest.approx((23.0, 30.0))
    # The yellow playhead line still scrubs.
    scrubbed: list[tuple[float, bool]] = []
    view.scrub_requested.connect(lambda t, finished: scrubbed.append((t, finished)))
    line = view.lines[2]
    line.sigDragged.emit(line)
    line.setValue(12.0)
    line.sigPositionChangeFinished.emit(line)
    assert scrubbed[-1] == (pytest.approx(12.0), True)
    assert window.state.time_s == pytest.approx(12.0, abs=0.11)
