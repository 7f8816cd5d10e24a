"""The review window as surgeons and educators use it (issue 16): procedures the case cannot
support, the clip range, bookmarks, event jumps, help, and the timeline's empty state."""

from __future__ import annotations

import numpy as np
import pytest

from scrubline.core.store import CaseStore

TIMEOUT = 60_000


def test_a_procedure_whose_signals_the_case_lacks_is_refused_and_the_phases_stay(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    before = [(e.label, e.start_s, e.end_s) for e in window.timeline.episodes_of("phase")]
    assert before, "the demo case has generic phases"
    with CaseStore(with_case) as store:
        stored = store.get_meta("procedure")
    # SOCAL's carotid template reads suction, grasper, cottonoid, ...: the demo's models give
    # class-agnostic instruments and bleeding only.
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.set_procedure("socal-carotid")
    assert window.banner.isVisible()
    text = window.banner_label.text()
    assert "suction" in text and "cottonoid" in text and "Phases unchanged" in text
    after = [(e.label, e.start_s, e.end_s) for e in window.timeline.episodes_of("phase")]
    assert after == before
    with CaseStore(with_case) as store:
        assert store.get_meta("procedure") == stored


def _open(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.video_ready, timeout=TIMEOUT):
        window.open_video(demo_clip)
    qtbot.waitUntil(lambda: window.frame_view.shown_index == 0, timeout=TIMEOUT)


def test_out_point_is_inclusive_and_go_to_in_and_out(qtbot, window, demo_clip, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.choices import clip_plan

    _open(qtbot, window, demo_clip)
    window.seek_frame(101)
    window.mark_clip(start=True)  # I on 101
    window.seek_frame(150)
    window.mark_clip(start=False)  # O on 150: the clip ends with frame 150
    plan = clip_plan(window.state.times, window.state.selection)
    assert (plan.first, plan.last) == (101, 150)
    window.seek_frame(0)
    window.go_to_clip(start=False)
    assert window.state.frame == 150
    window.go_to_clip(start=True)
    assert window.state.frame == 101
    # O on the last frame keeps the last frame.
    window.seek_frame(window.state.frame_count - 1)
    window.mark_clip(start=False)
    plan = clip_plan(window.state.times, window.state.selection)
    assert plan.last == window.state.frame_count - 1 and plan.first == 101
    # No range: going to its start says so.
    window.state.set_selection(None)
    window.go_to_clip(start=True)
    assert "No clip range" in window.statusBar().currentMessage()


def test_playback_loops_over_the_clip_range() -> None:
    from scrubline.ui.navigation import looped_time

    loop = (2.0, 3.0)
    assert looped_time(2.5, 1.0, loop, 29.9) is None
    assert looped_time(3.0, 1.0, loop, 29.9) == 2.0  # past the end: back to the start
    assert looped_time(1.0, 1.0, loop, 29.9) is None  # before the range: play into it
    assert looped_time(1.9, -1.0, loop, 29.9) == pytest.approx(3.0, abs=1e-5)  # reverse wraps
    assert looped_time(29.9, 1.0, (20.0, 30.0), 29.9) == 20.0  # a range to the very end


def test_loop_action_feeds_the_player(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, window, demo_clip)
    window.state.set_selection((5.0, 6.0))
    assert window.player.loop is None
    window.loop_action.trigger()
    assert window.player.loop == (5.0, 6.0)
    window.seek_time(5.9)
    window.player.set_rate(1.0)
    qtbot.waitUntil(lambda: window.state.time_s < 5.5, timeout=5_000)  # wrapped to the start
    window.player.pause()
    assert 5.0 <= window.state.time_s <= 6.0
    window.state.set_selection(None)
    assert window.player.loop is None


def test_speed_box_follows_the_shuttle(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, window, demo_clip)
    box = window.transport.speed
    window.shuttle("L")
    window.shuttle("L")
    assert window.player.rate == 2.0 and box.currentData() == 2.0
    window.shuttle("J")
    assert box.currentData() == 1.0
    window.shuttle("K")
    assert window.player.rate == 0.0 and box.currentData() == window.player.speed == 1.0


def test_f1_help_is_fixed_width_and_lists_every_key_the_window_answers_to(window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFontMetricsF, QKeySequence

    from scrubline.ui.dialogs import TextDialog
    from scrubline.ui.help_text import listed_keys, shortcuts_text

    actions = list(window.actions())
    menus = [a.menu() for a in window.menuBar().actions() if a.menu()]
    while menus:  # and every menu's, submenus too (Undo / Redo live only in the Edit menu)
        menu = menus.pop()
        actions += menu.actions()
        menus += [a.menu() for a in menu.actions() if a.menu()]
    keys = {
        shortcut.toString(QKeySequence.SequenceFormat.PortableText)
        for action in actions
        for shortcut in action.shortcuts()
    }
    listed = listed_keys()
    assert keys - listed == set(), "keys missing from the F1 help"
    keyboard = {
        k
        for k in listed
        if " " not in k and k not in ("wheel", "drag", "double-click", "click", "right-click")
    }
    assert keyboard - keys == set(), "the help lists keys no action answers to"
    for key in ("PgUp", "PgDown", "Ctrl+2", "Ctrl+O", "Ctrl+Shift+A", "Ctrl+=", "Ctrl+-", "Ctrl+0"):
        assert key in listed
    dialog = TextDialog("Keyboard and mouse", shortcuts_text(), window)
    # Fixed width in fact: every character of the help is as wide as every other in the dialog's
    # font (Qt's fixedPitch() flag is False for some monospace fonts, e.g. Noto Sans Mono).
    metrics = QFontMetricsF(dialog.view.font())
    assert len({metrics.horizontalAdvance(c) for c in set(shortcuts_text()) - {"\n"}}) == 1
    # The columns line up: every row's description starts at the same column.
    rows = [line for line in shortcuts_text().splitlines() if line.startswith("  ")]
    starts = {len(line) - len(line[2:].split("   ", 1)[1].lstrip()) for line in rows}
    assert len(starts) == 1
    dialog.close()


def test_bookmark_dialog_focuses_the_note_and_ctrl_enter_saves(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    from scrubline.ui.dialogs import BookmarkDialog

    dialog = BookmarkDialog("0:12.000")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is dialog.note
    qtbot.keyClicks(dialog.note, "Watch the clip")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)  # a new line, not "save"
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.note, "placement")
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        qtbot.keyClick(dialog.note, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.note.toPlainText() == "Watch the clip\nplacement"


def test_bookmark_notes_wrap_in_the_list(qtbot) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from scrubline.ui.panels import BookmarksWidget

    panel = BookmarksWidget()
    qtbot.addWidget(panel)
    panel.resize(260, 300)
    panel.show()
    note = "The clip is placed too close to the common bile duct; " * 3
    panel.set_bookmarks(
        [SimpleNamespace(id=1, time_s=12.0, frame=120, category="complication", note=note)]
    )
    assert panel.list.wordWrap()
    rect = panel.list.visualItemRect(panel.list.item(0))
    assert rect.width() <= panel.list.viewport().width()
    assert rect.height() > 2 * panel.list.fontMetrics().height()  # several lines


def test_event_jumps_name_the_event(qtbot, with_case, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.event_kinds = ["bleeding"]
    time_s = window.jump_event(True)
    assert time_s is not None
    message = window.statusBar().currentMessage()
    assert "bleeding episode begins" in message


def test_a_failed_open_clears_the_opening_status_and_the_hover_line(
    qtbot, window, demo_clip, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, window, demo_clip)
    window.timeline_view.hover_label.setText("0:03.000 · tools: instrument")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with qtbot.waitSignal(window.loader.open_failed, timeout=TIMEOUT):
        window.open_video(broken)
    assert window.timeline_view.hover_label.text() == ""
    assert "Opening" not in window.statusBar().currentMessage()
    assert window.state.frame_count == 0
    for box in window._error_boxes:
        box.close()


def test_empty_timeline_has_no_time_labels_and_no_default_ticks(qtbot) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.timeline_view import TimelineView

    view = TimelineView()
    qtbot.addWidget(view)
    axis = view.plots["bleeding"].getAxis("bottom")
    assert axis.tickStrings([0.1, 0.2], 1.0, 0.1) == ["", ""]
    tools_ticks = view.plots["tools"].getAxis("left")._tickLevels
    assert tools_ticks == [[(0.5, "no tools yet")], []]
    view.set_duration(30.0)
    assert axis.tickStrings([10.0], 1.0, 10.0) == ["0:10"]


def test_parse_position_reads_times_and_frames() -> None:
    import numpy as np

    from scrubline.ui.navigation import parse_position

    times = np.arange(3000) / 25.0  # 2 minutes at 25 fps
    assert parse_position("#1500", times) == 1500
    assert parse_position("f 12", times) == 12 and parse_position("frame 7", times) == 7
    assert parse_position("1:02.5", times) == 1562
    assert parse_position("62.5", times) == 1562 and parse_position("62.5 s", times) == 1562
    assert parse_position("0:01:00", times) == 1500
    for bad, says in (
        ("#3000", "past the last frame"),
        ("soon", "neither a time"),
        ("5:00", "past the end"),
        ("1::2", "neither a time"),
        ("-3", "not a time"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_position(bad, times)


def test_the_video_zooms_around_the_pointer_pans_and_fits(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    _open(qtbot, window, demo_clip)
    view = window.frame_view
    fitted = view.frame_rect()
    pointer = QPointF(fitted.x() + fitted.width() * 0.25, fitted.y() + fitted.height() * 0.25)
    under = view.to_frame(pointer)
    wheel = QWheelEvent(
        pointer,
        QPointF(view.mapToGlobal(pointer.toPoint())),
        QPoint(0, 0),
        QPoint(0, 480),  # four notches: the frame overflows the view both ways
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    sizes: list[tuple[int, int]] = []
    view.size_changed.connect(lambda w, h: sizes.append((w, h)))
    QApplication.sendEvent(view, wheel)
    assert view.zoom == pytest.approx(1.25**4)
    assert view.frame_rect().width() > view.width() and view.frame_rect().height() > view.height()
    assert view.to_frame(pointer) == pytest.approx(under, abs=1e-3)  # the point stays put
    assert sizes and sizes[-1][0] > view.width()  # frames are converted at the zoomed size
    # A drag pans: the frame point under the pointer follows it.
    start = view.frame_rect().center().toPoint()
    before = view.to_frame(QPointF(start))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(40, 20))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(40, 20))
    assert view.to_frame(QPointF(start + QPoint(40, 20))) == pytest.approx(before, abs=0.02)
    # The frame never leaves an empty border at an edge it could cover.
    view.pan_by(10_000, 10_000)
    rect = view.frame_rect()
    assert rect.left() <= 0.5 and rect.top() <= 0.5
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=start)
    assert view.zoom == 1.0 and view.frame_rect() == fitted
    # The keys go through the window's actions.
    for action in window.actions():
        if action.text() == "Zoom video in":
            action.trigger()
    assert view.zoom == pytest.approx(1.5)


def test_full_screen_video_only_and_escape(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, window, demo_clip)
    window.show_library()  # every dock goes in video-only mode, the library too
    modes = window.view_modes
    modes.video_only_action.trigger()
    assert modes.video_only
    for widget in (window.timeline_pane, window.transport, window.menuBar(), window.statusBar()):
        assert not widget.isVisible()
    assert not window.outcome_dock.isVisible() and window.frame_view.isVisible()
    assert not window.library_dock.isVisible()
    modes.fullscreen_action.trigger()
    assert window.isFullScreen()
    modes.leave()
    assert not modes.video_only and not window.isFullScreen()
    for widget in (window.timeline_pane, window.transport, window.menuBar(), window.statusBar()):
        assert widget.isVisible()
    assert window.outcome_dock.isVisible() and window.library_dock.isVisible()


def test_go_to_a_typed_time_or_frame(qtbot, window, demo_clip) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    _open(qtbot, window, demo_clip)
    readout = window.transport.readout
    window.view_modes.ask_go_to()
    assert readout.hasFocus() or readout.selectedText() == readout.text()
    readout.setFocus()
    readout.selectAll()
    qtbot.keyClicks(readout, "0:12.5")
    qtbot.keyClick(readout, Qt.Key.Key_Return)
    assert window.state.frame == 125
    assert "0:12.500" in readout.text()
    readout.setFocus()
    readout.selectAll()
    qtbot.keyClicks(readout, "#37")
    qtbot.keyClick(readout, Qt.Key.Key_Return)
    assert window.state.frame == 37
    assert window.view_modes.go_to("later today") is None
    assert "Cannot go there" in window.statusBar().currentMessage() and window.state.frame == 37


def test_case_library_lists_opens_and_removes_cases(
    qtbot, with_case, window, demo_clip, case_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from PySide6.QtWidgets import QMessageBox

    _open(qtbot, window, demo_clip)  # remembers where the demo's video is
    with CaseStore(with_case) as store:
        store.set_case_info(label="Demo 1")
    other = case_dir / "0123456789abcdef.scrub"
    shutil.copy(with_case, other)
    panel = window.library_panel
    with qtbot.waitSignal(panel.job.done, timeout=TIMEOUT):
        window.show_library()
    assert window.library_dock.isVisible()
    rows = {e.path: e for e in panel.entries}
    assert rows[with_case].label == "Demo 1" and rows[with_case].status == "complete"
    assert rows[with_case].duration_s == pytest.approx(30.0, abs=0.2)
    item_texts = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert "Demo 1" in item_texts
    # The open case is never removed under the window.
    assert panel.select(with_case)
    assert not panel.remove(with_case) and with_case.exists()
    assert "open in the window" in panel.note.text()
    # Another one is, after asking.
    assert panel.select(other)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(panel.job.done, timeout=TIMEOUT):
        assert panel.ask_remove()
    assert not other.exists() and other not in {e.path for e in panel.entries}
    # Opening from the library opens the case with its video.
    window.open_video(demo_clip.with_name("missing.mp4"))
    assert panel.select(with_case)
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        panel.buttons["open"].click()
    assert window.case_path == with_case and window.info is not None


def test_reanalyse_from_the_library_asks_for_settings(
    qtbot, with_case, window, demo_clip, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui import library

    _open(qtbot, window, demo_clip)
    asked: list[bool] = []
    monkeypatch.setattr(window.analysis, "ask", lambda: asked.append(True))
    with qtbot.waitSignal(window.video_ready, timeout=TIMEOUT):
        library.reanalyse(window, with_case)
    assert asked == [True]
    window.open_video(demo_clip)  # the one-shot hook is gone: no second question
    qtbot.waitSignal(window.video_ready, timeout=TIMEOUT).wait()
    assert asked == [True]


def test_preferences_round_trip_and_dialog(qtbot, tiny_registry) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.overlays import OverlayFlags
    from scrubline.ui.preferences import (
        Preferences,
        PreferencesDialog,
        model_thresholds,
        read_preferences,
        write_preferences,
    )
    from scrubline.ui.settings import app_settings

    settings = app_settings()
    assert read_preferences(settings) == Preferences()
    chosen = Preferences(
        fps=2.5,
        procedure="socal-carotid",
        device="auto",
        overlays=OverlayFlags(tips=False),
        mask_opacity=0.8,
        theme="light",
    )
    write_preferences(settings, chosen)
    assert read_preferences(app_settings()) == chosen
    settings.setValue("analysis/device", "quantum")  # a hand-edited file: back to the CPU
    assert read_preferences(settings).device == "cpu"

    models = list(tiny_registry.manifests.values())
    dialog = PreferencesDialog(chosen, ["generic", "socal-carotid"], models)
    qtbot.addWidget(dialog)
    assert dialog.chosen() == chosen
    rows = model_thresholds(models)
    assert rows and all(row[0].split()[0] in tiny_registry.manifests for row in rows)
    assert dialog.thresholds.topLevelItemCount() == len(rows)
    dialog.fps.setValue(10.0)
    dialog.overlay_boxes["boxes"].setChecked(False)
    assert dialog.chosen().fps == 10.0 and not dialog.chosen().overlays.boxes
    dialog.restore_defaults()
    assert dialog.chosen() == Preferences()


def test_preferences_apply_to_the_window_and_a_new_case(qtbot, window, demo_clip, case_dir) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from scrubline.ui.overlays import OverlayFlags

    _open(qtbot, window, demo_clip)
    original = QApplication.palette()
    prefs = replace(
        window.preferences,
        fps=2.0,
        procedure="socal-carotid",
        overlays=OverlayFlags(badge=False),
        mask_opacity=0.2,
        theme="light",
    )
    window.set_preferences(prefs)
    assert not window.state.overlays.badge and not window.overlay_actions["badge"].isChecked()
    window_colour = QApplication.palette().color(QPalette.ColorRole.Window)
    assert window_colour.lightness() > 128
    assert window.default_analysis_settings().fps == 2.0
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT):
        assert window.start_analysis()
    with CaseStore(window.case_path) as store:
        assert store.get_meta("procedure") == "socal-carotid"
    window.seek_time(14.0)
    qtbot.waitUntil(
        lambda: (
            window.shown is not None
            and window.shown.index == 140
            and window.frame_view.plan.mask_rgba is not None
        ),
        timeout=TIMEOUT,
    )
    assert window.frame_view.plan.mask_rgba[..., 3].max() <= 51  # 20% opacity
    window.set_preferences(replace(prefs, theme="dark"))
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
    QApplication.setPalette(original)


def test_telestration_is_kept_with_a_bookmark_undone_in_one_step_and_burned_into_exports(
    qtbot, with_case, window, demo_clip, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import cv2
    from PySide6.QtCore import QPoint, Qt

    from scrubline.core.case import Case
    from scrubline.report.keyframes import FrameSource, KeyFrame

    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.seek_frame(140)
    qtbot.waitUntil(lambda: window.frame_view.shown_index == 140, timeout=TIMEOUT)
    marks_before = len(window.bookmarks)
    tele = window.telestration
    tele.draw_action.trigger()
    assert window.frame_view.draw_kind == "arrow" and tele.toolbar.isVisible()
    view = window.frame_view
    rect = view.frame_rect()
    start = QPoint(int(rect.x() + rect.width() * 0.2), int(rect.y() + rect.height() * 0.8))
    end = QPoint(int(rect.x() + rect.width() * 0.45), int(rect.y() + rect.height() * 0.5))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    assert len(window.bookmarks) == marks_before + 1  # the frame's bookmark was made
    assert [d.kind for d in tele.drawings] == ["arrow"] and view.drawings == tele.drawings
    arrow = tele.drawings[0]
    assert arrow.frame == 140 and arrow.points[0] == pytest.approx((0.2, 0.8), abs=0.01)
    tele.set_tool("circle")
    tele.set_colour("#18ffff")
    assert tele.add("circle", [(0.55, 0.3), (0.8, 0.7)])
    assert len(window.bookmarks) == marks_before + 1  # the same bookmark
    assert [d.kind for d in tele.drawings] == ["arrow", "circle"]
    # Shown on its frame (and just after while playing), not elsewhere.
    window.seek_frame(100)
    assert view.drawings == []
    window.seek_frame(140)
    assert len(view.drawings) == 2
    # Undo takes the circle, then the arrow together with the bookmark it made.
    window.review.undo()
    assert [d.kind for d in tele.drawings] == ["arrow"]
    window.review.undo()
    assert tele.drawings == [] and len(window.bookmarks) == marks_before
    window.review.redo()
    window.review.redo()
    assert [d.kind for d in tele.drawings] == ["arrow", "circle"]
    tele.set_tool(None)
    assert view.draw_kind is None and not tele.toolbar.isVisible()

    # Burned into the PNG export: the cyan circle is in the picture.
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.frame(tmp_path / "frame.png")
    picture = cv2.cvtColor(cv2.imread(str(done.args[0][2][0])), cv2.COLOR_BGR2RGB)
    cyan = (picture[..., 0] < 100) & (picture[..., 1] > 200) & (picture[..., 2] > 200)
    h, w = cyan.shape
    assert cyan[int(0.25 * h) : int(0.75 * h), int(0.5 * w) : int(0.85 * w)].sum() > 20

    # Kept in the case: closed and reopened, and drawn on the report's bookmark key frame.
    window.open_video(demo_clip.with_name("elsewhere.mp4"))
    with Case.open(with_case) as case:
        kept = case.drawings()
        assert [d.kind for d in kept] == ["arrow", "circle"]
        source = FrameSource(case, demo_clip)
        try:
            pic = source.picture(KeyFrame("Bookmark 1", 140, 14.0))
        finally:
            source.close()
    assert pic is not None
    image = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(pic.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    cyan = (image[..., 0] < 110) & (image[..., 1] > 190) & (image[..., 2] > 190)
    assert cyan.sum() > 50


def test_drawings_are_burned_into_an_exported_clip_from_their_frame_on(
    qtbot, with_case, window, demo_clip, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import av

    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.seek_frame(140)
    tele = window.telestration
    tele.set_colour("#18ffff")
    assert tele.add("circle", [(0.3, 0.3), (0.7, 0.7)])
    window.state.set_selection((13.5, 14.5))  # frames 135..144: the circle from 140 on
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.clip(tmp_path / "clip.mp4")
    with av.open(str(done.args[0][2][0])) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(pictures) == 10

    def cyan(rgb: np.ndarray) -> int:
        return int(((rgb[..., 0] < 110) & (rgb[..., 1] > 190) & (rgb[..., 2] > 190)).sum())

    assert [cyan(p) > 30 for p in pictures] == [False] * 5 + [True] * 5


def test_a_library_panel_shown_at_start_lists_the_cases(qtbot, with_case, case_dir) -> None:  # type: ignore[no-untyped-def]
    """A library dock the window restores as open is read when it shows, not left empty until
    someone presses Refresh."""
    from PySide6.QtCore import QSettings

    from scrubline.ui.library import LibraryWidget

    panel = LibraryWidget(QSettings(), case_dir)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.job.done, timeout=TIMEOUT):
        panel.show()
    assert with_case in {e.path for e in panel.entries}
    assert panel.tree.topLevelItemCount() == len(panel.entries) >= 1
    panel.shutdown()


def test_the_library_opens_wide_enough_for_its_columns(qtbot, with_case, window) -> None:  # type: ignore[no-untyped-def]
    """The docked library used to open narrow, its 'Analysed' date cut off behind a horizontal
    scroll bar; it now opens as wide as its columns, taking the room from the video (down to its
    least width), never from the other docks."""
    window.resize(1800, 900)
    panel = window.library_panel
    with qtbot.waitSignal(panel.job.done, timeout=TIMEOUT):
        window.show_library()
    assert panel.entries
    assert panel.width_for_all_columns() < window.width() // 2  # room for it here
    others = {d.objectName(): d.width() for d in (window.outcome_dock, window.bookmarks_dock)}
    qtbot.waitUntil(lambda: not panel.tree.horizontalScrollBar().isVisible(), timeout=5_000)
    from scrubline.ui.library import COLUMNS

    header, analysed = panel.tree.header(), COLUMNS.index("Analysed")
    end_of_date = header.sectionViewportPosition(analysed) + header.sectionSize(analysed)
    assert end_of_date <= panel.tree.viewport().width()
    assert {
        d.objectName(): d.width() for d in (window.outcome_dock, window.bookmarks_dock)
    } == others
