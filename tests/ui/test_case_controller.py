"""The case controller built from its context alone (no main window): the real frame loader
indexes the small demo clip, the real review controller makes its edits undoable, and a recorder
stands in for the rest of the window (analysis, banner, status bar, errors)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from scrubline.core.edits import AddBookmark
from scrubline.ui import case_controller as case_controller_module
from scrubline.ui.case_controller import CaseContext, CaseController
from scrubline.ui.frames import FrameLoader
from scrubline.ui.review import ReviewContext, ReviewController
from scrubline.ui.settings import app_settings, read_list
from scrubline.ui.state import ViewerState

TIMEOUT = 60_000


class Host:
    """What a window would give the controller, and a record of what it was asked to do."""

    def __init__(self, case_dir: Path, registry: Any) -> None:
        self.case_dir = case_dir
        self.registry = registry
        self.state = ViewerState()
        self.loader = FrameLoader()
        self.settings = app_settings()
        self.offers: list[tuple[int, int]] = []
        self.starts = 0
        self.stops = 0
        self.pauses = 0
        self.banners: list[str] = []
        self.statuses: list[str] = []
        self.errors: list[str] = []
        self.review: ReviewController | None = None

    def context(self) -> CaseContext:
        def start() -> bool:
            self.starts += 1
            return True

        def add_action(menu: QMenu, text: str, slot: Any, shortcuts: Any = ()) -> QAction:
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
            return action

        def report_error(title: str, message: str, details: str = "") -> None:
            self.errors.append(f"{title}: {message}")

        return CaseContext(
            parent=None,
            settings=self.settings,
            case_dir=self.case_dir,
            loader=self.loader,
            state=self.state,
            registry=lambda: self.registry,
            apply_edit=lambda edit, create=True: self.review.apply(edit, create=create),
            show_history=lambda path: self.review.show_case(path),
            offer_analysis=lambda analysed, planned: self.offers.append((analysed, planned)),
            start_analysis=start,
            stop_analysis=lambda: setattr(self, "stops", self.stops + 1),
            pause_playback=lambda: setattr(self, "pauses", self.pauses + 1),
            show_banner=lambda text, button="", action=None: self.banners.append(text),
            show_status=lambda message, ms: self.statuses.append(message),
            report_error=report_error,
            closing=lambda: False,
            add_action=add_action,
        )


@pytest.fixture
def host(case_dir: Path, tiny_registry) -> Host:  # type: ignore[no-untyped-def]
    return Host(case_dir, tiny_registry)


@pytest.fixture
def cases(host: Host) -> Any:
    controller = CaseController(host.context())
    host.review = ReviewController(
        ReviewContext(controller.case_for_edit, lambda title, message: host.errors.append(title))
    )
    host.review.edited.connect(controller.on_edited)
    menu = QMenu()
    controller.build_file_menu(menu)
    controller.build_procedure_menu(menu)
    controller._menu = menu  # kept alive with the controller
    yield controller
    controller.shutdown()
    host.loader.close()


def _open(qtbot, cases: Any, video: Path, **kwargs: Any) -> dict[str, list[Any]]:  # type: ignore[no-untyped-def]
    """Open `video` and wait until it is ready; what was emitted on the way."""
    seen: dict[str, list[Any]] = {"opening": [], "video_opened": [], "bookmarks": []}
    cases.opening.connect(seen["opening"].append)
    cases.video_opened.connect(seen["video_opened"].append)
    cases.bookmarks_changed.connect(seen["bookmarks"].append)
    with qtbot.waitSignal(cases.video_ready, timeout=TIMEOUT):
        cases.open_video(video, **kwargs)
    return seen


def test_opening_the_demo_clip_opens_its_case_and_reads_it(
    qtbot, host: Host, cases: Any, with_case: Path, demo_clip: Path
) -> None:  # type: ignore[no-untyped-def]
    with (
        qtbot.waitSignal(cases.case_refreshed, timeout=TIMEOUT) as read,
        qtbot.waitSignal(cases.outcome_refreshed, timeout=TIMEOUT) as outcome,
    ):
        seen = _open(qtbot, cases, demo_clip)
    assert seen["opening"] == [demo_clip]
    assert [o.path for o in seen["video_opened"]] == [demo_clip]
    assert host.stops == 1 and host.pauses == 1  # the last video's analysis and playback
    assert cases.info is not None and cases.case_path == with_case and cases.case is not None
    assert host.state.frame_count == 300 and host.state.frame == 0
    assert seen["bookmarks"] == [[]]
    snapshot = read.args[0]
    assert snapshot.timeline is not None and snapshot.analysed == snapshot.planned == 150
    assert cases.timeline is snapshot.timeline and len(cases.timeline.times) == 150
    assert outcome.args[0].outcome is cases.outcome and "event_start_s" in cases.outcome
    assert host.offers == [] and host.starts == 0  # complete: nothing to offer
    assert read_list(host.settings, "recent")[0] == str(demo_clip.resolve())
    assert any(s.startswith("demo.mp4: 320×180") for s in host.statuses)
    assert host.errors == []


def test_an_unanalysed_video_is_offered_for_analysis_or_analysed_at_once(
    qtbot, host: Host, cases: Any, demo_clip: Path
) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, cases, demo_clip)
    assert host.offers == [(0, 0)] and host.starts == 0
    assert cases.case is None and cases.case_path is not None and not cases.case_path.exists()
    _open(qtbot, cases, demo_clip, analyse=True)
    assert host.starts == 1


def test_a_case_file_opens_with_its_video_and_is_remembered(
    qtbot, host: Host, cases: Any, with_case: Path, demo_clip: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path / "elsewhere" / "debrief.scrub"
    elsewhere.parent.mkdir()
    shutil.copy(with_case, elsewhere)
    asked: list[str] = []

    def ask(parent: Any, case_name: str, video_name: str, folder: Path) -> Path:
        asked.append(case_name)
        return demo_clip

    monkeypatch.setattr(case_controller_module, "ask_case_video", ask)
    with qtbot.waitSignal(cases.video_ready, timeout=TIMEOUT):
        assert cases.open_case(elsewhere)
    assert asked == ["debrief.scrub"]  # not beside it, not remembered: asked once
    assert cases.case_path == elsewhere and cases.video_path == demo_clip
    assert read_list(host.settings, "recent")[0] == str(elsewhere.resolve())
    cases.fill_recent_menu()
    assert [a.text() for a in cases.recent_menu.actions()] == ["debrief.scrub (case)"]

    broken = tmp_path / "broken.scrub"
    broken.write_bytes(b"not a case")
    assert not cases.open_case(broken)
    assert host.errors and host.errors[-1].startswith("Cannot open broken.scrub")


def test_bookmarks_and_the_event_start_are_undoable_edits(
    qtbot, host: Host, cases: Any, with_case: Path, demo_clip: Path
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(cases.outcome_refreshed, timeout=TIMEOUT):
        _open(qtbot, cases, demo_clip)
    host.state.set_frame(120)
    with qtbot.waitSignal(cases.bookmarks_changed) as changed:
        bookmark_id = cases.add_bookmark("  clip placed  ", "complication")
    (mark,) = changed.args[0]
    assert mark.id == bookmark_id and mark.frame == 120 and mark.note == "clip placed"
    assert host.statuses[-1] == "Bookmarked 0:12.000 (complication)"
    assert host.review.undo_stack.command(0).text() == AddBookmark(12.0, 120, "", "").describe()
    with qtbot.waitSignal(cases.bookmarks_changed) as undone:
        host.review.undo()
    assert undone.args[0] == [] and cases.bookmarks == []

    with (
        qtbot.waitSignal(cases.event_start_moved) as moved,
        qtbot.waitSignal(cases.outcome_refreshed, timeout=TIMEOUT) as outcome,
    ):
        cases.set_event_start(99.0)  # past the end: clamped to the video
    assert moved.args[0] == pytest.approx(30.0)
    assert outcome.args[0].moved_by_user and cases.outcome["event_start_s"] == pytest.approx(30.0)


def test_a_video_that_cannot_be_opened_empties_the_views_and_says_why(
    qtbot, host: Host, cases: Any, demo_clip: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _open(qtbot, cases, demo_clip)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with qtbot.waitSignal(cases.open_failed, timeout=TIMEOUT):
        cases.open_video(broken)
    assert cases.video_path is None and cases.info is None
    assert host.state.frame_count == 0
    assert host.errors and host.errors[-1].startswith("Cannot open broken.mp4")
    assert host.statuses[-1] == ""  # not "Opening broken.mp4…" any more
