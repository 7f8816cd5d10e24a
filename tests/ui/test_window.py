"""The real main window, driven offscreen: open a generated clip, analyse it to completion with
results streaming in, seek by clicking the timeline, toggle overlays, bookmark, jump between
events, cancel and resume an analysis, close during one, and the player's keys."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import QDropEvent

from scrubline.core.store import CaseStore
from scrubline.ui import analysis_controller as analysis_controller_module
from scrubline.ui.dialogs import BookmarkDialog
from scrubline.ui.settings import app_settings, read_list, read_overlays

TIMEOUT = 60_000


def shown(window) -> bool:  # type: ignore[no-untyped-def]
    return (
        window.shown is not None
        and not window.shown.proxy
        and window.frame_view.shown_index == window.state.frame
    )


def test_analysis_runs_to_completion_and_streams_into_the_timeline(
    qtbot, open_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    assert window.banner.isVisible() and "not been analysed" in window.banner_label.text()
    monkeypatch.setattr(analysis_controller_module, "REFRESH_DURING_ANALYSIS_S", 0.0)
    seen: list[int] = []
    partial_drawn = threading.Event()

    def on_refresh() -> None:
        seen.append(len(window.timeline.times))
        if 0 < seen[-1] < 150:
            partial_drawn.set()

    window.case_refreshed.connect(on_refresh)

    class Poke(QObject):
        fired = Signal()

    poke = Poke()  # lives on the GUI thread: emitting from the analysis thread queues the call
    poke.fired.connect(window.refresh_case)
    # Hold the analysis after its first batch until the window has drawn it, so the test sees
    # streaming however fast this machine analyses. The window is asked to read the case again
    # once that batch is on disk: a refresh that ran just before the write saw nothing, and no
    # progress (which refreshes) comes while the analysis is held, so waiting on progress alone
    # hung until the timeout. The wait is bounded, never a sleep.
    original_write = CaseStore.write_results
    written = threading.local()

    def gated_write(self, results, thumbnails=(), **options):  # type: ignore[no-untyped-def]
        original_write(self, results, thumbnails, **options)
        if not getattr(written, "once", False):
            written.once = True
            poke.fired.emit()
            partial_drawn.wait(timeout=30)

    monkeypatch.setattr(CaseStore, "write_results", gated_write)
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as finished:
        assert window.start_analysis()
        assert window.progress.isVisible() and window.cancel_button.isVisible()
    report = finished.args[0]
    assert report.complete and report.done_now == report.planned == 150
    assert any(0 < n < 150 for n in seen)  # partial results were drawn while it ran
    qtbot.waitUntil(
        lambda: window.timeline is not None and len(window.timeline.times) == 150, timeout=TIMEOUT
    )
    assert not window.progress.isVisible()
    assert window.timeline.episodes_of("bleeding"), "the demo bleed shows as an episode"
    assert window.timeline_view.bleeding_curve.getData()[0] is not None
    assert "Analysis complete" in window.statusBar().currentMessage()


def test_an_analysed_case_appears_at_once_and_a_timeline_click_seeks(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    assert not window.banner.isVisible()
    assert len(window.timeline.times) == 150
    qtbot.waitUntil(lambda: shown(window), timeout=10_000)
    viewport, point = window.timeline_view.point_for(12.0, "bleeding")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point)
    assert window.state.time_s == pytest.approx(12.0, abs=0.15)
    qtbot.waitUntil(lambda: shown(window), timeout=10_000)
    assert window.timeline_view.lines[0].value() == pytest.approx(window.state.time_s)
    assert window.transport.slider.value() == window.state.frame


def test_overlays_come_from_the_nearest_sample_and_toggle(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.seek_time(14.0)  # the bleed is near its peak; frame 140 was analysed (every other frame)
    qtbot.waitUntil(lambda: shown(window) and window.shown.result is not None, timeout=10_000)
    plan = window.frame_view.plan
    assert plan.mask_rgba is not None and plan.bleeding_text.startswith("bleeding area")
    assert plan.boxes and plan.note is None
    window.step(1)  # frame 141 was not analysed: its overlays come from 140 and say so
    qtbot.waitUntil(lambda: shown(window) and window.frame_view.shown_index == 141, timeout=10_000)
    assert "analysed frame 140" in window.frame_view.plan.note
    window.overlay_actions["bleeding"].trigger()
    assert window.frame_view.plan.mask_rgba is None and not window.state.overlays.bleeding
    window.overlay_actions["boxes"].trigger()
    assert not window.frame_view.plan.boxes
    assert read_overlays(app_settings()).bleeding is False  # remembered for next time
    window.overlay_actions["bleeding"].trigger()
    assert window.frame_view.plan.mask_rgba is not None


def test_bookmark_then_jump_between_events(
    qtbot, with_case, window, demo_clip, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.seek_time(5.0)
    monkeypatch.setattr(
        BookmarkDialog, "ask", staticmethod(lambda *a, **k: ("suction first", "good technique"))
    )
    window.ask_add_bookmark()
    with CaseStore(with_case) as store:
        marks = store.bookmarks()
    assert [(m.note, m.category, m.frame) for m in marks] == [
        ("suction first", "good technique", 50)
    ]
    assert window.bookmarks_panel.list.count() == 1
    assert "suction first" in window.bookmarks_panel.list.item(0).text()

    # Only bleeding episodes: from the start, "next event" lands on the bleed's start.
    for kind, action in window.event_kind_actions.items():
        action.setChecked(kind == "bleeding")
    window.seek_frame(0)
    bleed_start = window.timeline.episodes_of("bleeding")[0].start_s
    qtbot.keyClick(window.frame_view, Qt.Key.Key_BracketRight)
    assert window.state.time_s == pytest.approx(bleed_start, abs=0.11)
    assert window.jump_event(True) is None  # one bleed only

    # Bookmarks too: back from the bleed lands on the bookmark; the list jumps there as well.
    window.event_kind_actions["bookmark"].setChecked(True)
    qtbot.keyClick(window.frame_view, Qt.Key.Key_BracketLeft)
    assert window.state.frame == 50
    window.seek_frame(200)
    window.bookmarks_panel.list.itemClicked.emit(window.bookmarks_panel.list.item(0))
    assert window.state.frame == 50
    assert read_list(app_settings(), "recent")  # the clip is in the recent list


def test_cancel_then_resume_redoes_nothing(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    window.analysis.progressed.connect(
        lambda fraction, message: fraction > 0 and window.cancel_analysis()
    )
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as stopped:
        window.start_analysis()
    first = stopped.args[0]
    assert first.cancelled and 0 < first.done_now < first.planned
    assert window.banner.isVisible() and window.banner_button.text() == "Resume"
    window.analysis.progressed.disconnect()
    window.analysis.progressed.connect(window.analysis._on_progress_changed)
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as resumed:
        qtbot.mouseClick(window.banner_button, Qt.MouseButton.LeftButton)
    second = resumed.args[0]
    assert second.complete and second.already_done == first.done_now
    assert second.done_now == first.planned - first.done_now


def test_closing_during_analysis_cancels_and_keeps_the_results(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    progressed: list[float] = []
    window.analysis.progressed.connect(lambda fraction, message: progressed.append(fraction))
    window.start_analysis()
    qtbot.waitUntil(lambda: any(f > 0 for f in progressed), timeout=TIMEOUT)
    case = window.case_path
    window.close()
    assert not window.analysis.running()
    db = sqlite3.connect(case)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] > 0
    db.close()


def test_teaching_mode_hides_the_prediction_and_the_event_start_moves(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.outcome_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    detected = window.outcome["event_start_s"]
    assert detected is not None and 6.0 <= detected <= 12.0
    assert "no outcome model" in window.outcome_panel.prediction_label.text()
    window.teaching_action.trigger()
    assert window.outcome_panel.prediction_hidden
    qtbot.mouseClick(window.outcome_panel.reveal_button, Qt.MouseButton.LeftButton)
    assert not window.outcome_panel.prediction_hidden
    with qtbot.waitSignal(window.outcome_refreshed, timeout=TIMEOUT):
        window.set_event_start(5.0)
    assert window.outcome["event_start_s"] == pytest.approx(5.0)
    assert "set by hand" in window.outcome_panel.event_label.text()
    assert window.timeline_view.event_line.value() == pytest.approx(5.0)
    with qtbot.waitSignal(window.outcome_refreshed, timeout=TIMEOUT):
        qtbot.mouseClick(window.outcome_panel.detect_button, Qt.MouseButton.LeftButton)
    assert window.outcome["event_start_s"] == pytest.approx(detected)


def test_player_keys_step_jump_and_shuttle(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window
    view = window.frame_view
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert window.state.frame == 1
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert window.state.frame == 11  # 10 fps: one second
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert window.state.frame == 111
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert window.state.frame == 110
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert window.player.rate == 1.0
    qtbot.waitUntil(lambda: window.state.frame > 113, timeout=10_000)  # it plays
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert window.player.rate == 2.0
    qtbot.keyClick(view, Qt.Key.Key_K)
    assert window.player.rate == 0.0
    paused_at = window.state.frame
    qtbot.keyClick(view, Qt.Key.Key_J)
    assert window.player.rate == -1.0
    qtbot.waitUntil(lambda: window.state.frame < paused_at, timeout=10_000)  # it plays backwards
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not window.player.playing
    window.transport.speed.setCurrentIndex(window.transport.speed.findData(0.5))
    assert window.player.speed == 0.5
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert window.state.frame == 299
    qtbot.waitUntil(lambda: shown(window), timeout=10_000)


def test_drop_a_video_and_reject_a_broken_one(qtbot, window, demo_clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_clip))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.video_ready, timeout=TIMEOUT):
        window.dropEvent(event)
    assert window.info.name == demo_clip.name
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    window.open_video(broken)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=TIMEOUT)
    assert "broken.mp4" in window.errors[-1]


def test_export_tables_from_the_window(qtbot, with_case, window, demo_clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.tables(tmp_path / "out")
    kind, _, written = done.args[0]
    assert kind == "tables" and {p.name for p in written} >= {"frames.csv", "summary.json"}
    assert all(p.exists() for p in written)


def test_export_frame_clip_and_report(qtbot, with_case, window, demo_clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import av
    import cv2

    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    window.exports.update_actions()
    assert window.exports.png_action.isEnabled() and window.exports.clip_action.isEnabled()
    assert window.exports.report_action.isEnabled()
    window.seek_time(14.0)
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.frame(tmp_path / "frame.png")
    picture = cv2.imread(str(done.args[0][2][0]))
    assert picture.shape[:2] == (180, 320)

    window.seek_time(12.0)
    qtbot.keyClick(window.frame_view, Qt.Key.Key_I)
    window.seek_time(13.0)
    qtbot.keyClick(window.frame_view, Qt.Key.Key_O)
    # The out point is inclusive: the frame O was pressed on ends the clip.
    assert window.state.selection == pytest.approx((12.0, 13.1))
    assert window.timeline_view.selection_region.isVisible()
    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.clip(tmp_path / "clip.mp4")
    clip = done.args[0][2][0]
    with av.open(str(clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 11  # 12.0 <= t <= 13.0 at 10 fps

    with qtbot.waitSignal(window.exports.finished, timeout=TIMEOUT) as done:
        assert window.exports.report(tmp_path / "debrief.pdf")
    assert done.args[0][0] == "report" and (tmp_path / "debrief.pdf").read_bytes()[:4] == b"%PDF"
    assert not window.errors


def test_case_details_and_procedure(qtbot, with_case, window, demo_clip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from scrubline.core.export import procedure_templates
    from scrubline.ui.dialogs import CaseDetailsDialog

    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    monkeypatch.setattr(
        CaseDetailsDialog, "ask", staticmethod(lambda parent, info: dict(info, label="Case 12"))
    )
    window.ask_case_details()
    templates = sorted(procedure_templates())
    assert "generic" in templates, "bundled phase templates"
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.set_procedure("generic")
    with CaseStore(with_case) as store:
        assert store.case_info["label"] == "Case 12" and store.get_meta("procedure") == "generic"
    window.cases.fill_procedure_menu()
    checked = [a.text() for a in window.procedure_menu.actions() if a.isChecked()]
    assert checked == ["generic"]


def test_run_app_opens_the_demo_case_and_analyses_it(
    qtbot, demo_clip, tiny_registry, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """`scrubline` with no video: the window opens the demo clip and analyses it by itself."""
    from PySide6.QtWidgets import QApplication

    import scrubline.core.demo
    import scrubline.core.models
    from scrubline.ui.app import run_app
    from scrubline.ui.main_window import MainWindow

    monkeypatch.setattr(scrubline.core.demo, "demo_video_path", lambda: demo_clip)
    monkeypatch.setattr(scrubline.core.models, "load_registry", lambda *a, **k: tiny_registry)
    seen: list[object] = []

    def exec_until_analysed() -> int:
        windows = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        assert len(windows) == 1
        window = windows[0]
        with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as done:
            pass
        seen.append(done.args[0])
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(exec_until_analysed))
    assert run_app(None, []) == 0
    assert seen and seen[0].complete and seen[0].planned == 150


def test_closing_during_slow_inference_ends_within_a_second_and_joins_the_threads(  # type: ignore[no-untyped-def]
    qtbot, open_window, monkeypatch
) -> None:
    """Closing the window while a model is slower than decoding froze it for 10 s and left the
    decoding thread behind (it waited forever to hand over its last frames)."""
    import time

    import scrubline.core.analysis as analysis

    real = analysis.load_model

    def load_slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        model = real(*args, **kwargs)
        predict = model.predict

        def slow_predict(inputs, frame_size):  # type: ignore[no-untyped-def]
            # The fake model's work, stopping when told to as onnxruntime does between nodes.
            working_until = time.monotonic() + 0.5
            while time.monotonic() < working_until:
                if model.run_options.terminate:
                    raise RuntimeError("Exiting due to terminate flag being set to true.")
                time.sleep(0.01)
            return predict(inputs, frame_size)

        model.predict = slow_predict
        return model

    monkeypatch.setattr(analysis, "load_model", load_slow)
    window = open_window
    progressed: list[float] = []
    window.analysis.progressed.connect(lambda fraction, message: progressed.append(fraction))
    window.start_analysis()
    qtbot.waitUntil(lambda: any(f > 0 for f in progressed), timeout=TIMEOUT)
    started = time.monotonic()
    window.close()
    took = time.monotonic() - started
    assert not window.analysis.running()
    assert took < 2.0, (
        f"closing took {took:.1f} s"
    )  # the aim is 1 s; the margin is for a busy machine
    analysis_threads = ("scrubline-decode", "scrubline-cancel-watch", "scrubline-analysis")
    assert [
        t.name for t in threading.enumerate() if t.name in analysis_threads and t.is_alive()
    ] == []


def test_another_rate_asks_before_replacing_the_analysis(qtbot, with_case, open_window) -> None:  # type: ignore[no-untyped-def]
    """The case was analysed at 5 fps; analysing at 2 fps must not mix the two: the window says
    so, touches nothing, and offers to start afresh."""
    from scrubline.core.analysis import AnalysisSettings, PlanChanged

    window = open_window
    assert window.default_analysis_settings().fps == 5  # Resume continues the case's own plan
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as refused:
        assert window.start_analysis(AnalysisSettings(fps=2))
    assert isinstance(refused.args[0], PlanChanged)
    assert window.banner.isVisible() and "would mix the two" in window.banner_label.text()
    assert window.banner_button.text() == "Start afresh"
    with CaseStore(window.case_path) as store:
        assert store.frame_count() == 150  # untouched
    with qtbot.waitSignal(window.analysis_finished, timeout=TIMEOUT) as afresh:
        qtbot.mouseClick(window.banner_button, Qt.MouseButton.LeftButton)
    report = afresh.args[0]
    assert report.complete and report.planned == report.done_now < 150
    with CaseStore(window.case_path) as store:
        assert store.settings["fps"] == 2
        assert store.analysed_frames().tolist() == store.planned_frames().tolist()
        assert set(range(0, 300, 5)) <= set(store.analysed_frames().tolist())
