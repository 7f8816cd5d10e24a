"""The case controller: which video and case are open, and everything read from or kept in it.

Opening: a video (File → Open, a drop, the recent list, the demo) or a case file (`.scrub`,
also from the case library), whose video is found by fingerprint (where it was last time, beside
the case, or by asking). The frame loader indexes the video on its thread; once it is indexed
the case (`core.case.Case`, the one door to a case file) is opened if it exists, its bookmarks
shown, and its timeline and outcome read off the GUI thread (`LatestJob`s running
`ui/case_reader.py`), so a long case never freezes the window. An unanalysed or unfinished case
is offered for analysis. The recent files remember a case opened directly rather than its
video.

In the case: bookmarks, the bleeding event's start, asking for the prediction outside the
model's domain, the case details and the procedure (phase template, tried on the case first).
Each change is an edit made through the host's undo stack (`apply_edit`, the review
controller's); `on_edited` refreshes what the edit changed.

It is built from a `CaseContext` (the settings, the frame loader, the shared `ViewerState`, and
callables for what it asks of the host), not from the window (README, Architecture:
"Controllers are built from a context, not the window"). It does not touch a widget of the
window: it emits what the views show (`opening`, `video_opened`, `case_refreshed`,
`outcome_refreshed`, ...), so a pytest-qt test opens a case with it alone
(`tests/ui/test_case_controller.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from scrubline.core.case import SUFFIX, Case, StoreError, default_case_path
from scrubline.core.edits import (
    AddBookmark,
    AddCorrection,
    DeleteBookmark,
    Edit,
    RemoveCorrection,
    SetCaseInfo,
    SetEventStart,
    SetOutcomeOutsideDomain,
    SetProcedure,
    UpdateBookmark,
)
from scrubline.core.video import VIDEO_SUFFIXES
from scrubline.ui.case_files import (
    CaseFileError,
    CaseVideo,
    check_chosen_video,
    locate_video,
    read_case_video,
)
from scrubline.ui.case_reader import CaseSnapshot, OutcomeSnapshot, read_case, read_outcome
from scrubline.ui.dialogs import BookmarkDialog, CaseDetailsDialog, ask_case_video
from scrubline.ui.frames import VideoOpened
from scrubline.ui.navigation import format_clock, updated_recent
from scrubline.ui.settings import clear_recent, read_list
from scrubline.ui.state import ViewerState
from scrubline.ui.tasks import LatestJob, TaskRunner

log = logging.getLogger("scrubline.ui")


@dataclass(frozen=True)
class CaseContext:
    """What the case controller needs from whoever hosts it."""

    parent: QWidget | None  # parent of its dialogs
    settings: QSettings  # recent files, last folder, where each case's video was
    case_dir: Path | None  # where cases of new videos go (None: the per-user data folder)
    loader: Any  # FrameLoader: open(), set_case(), generation, opened / open_failed
    state: ViewerState
    registry: Callable[[], Any]
    apply_edit: Callable[..., bool]  # (edit, create=) one undo step; False if not saved
    show_history: Callable[[Path | None], None]  # the undo history of this case (None: none)
    offer_analysis: Callable[[int, int], None]  # analysed, planned frames of an unfinished case
    start_analysis: Callable[[], bool]  # analyse (resume) the open video now
    stop_analysis: Callable[[], None]  # another video is opened: stop (and keep) the analysis
    pause_playback: Callable[[], None]
    show_banner: Callable[..., None]  # (text, button="", action=None)
    show_status: Callable[[str, int], None]  # message, milliseconds ("": clear)
    report_error: Callable[..., None]  # (title, message, details="")
    closing: Callable[[], bool]
    add_action: Callable[..., QAction]  # (menu, text, slot, shortcuts) -> the action added


class CaseController(QObject):
    """Opens videos and cases and keeps what the window shows of the open case."""

    opening = Signal(object)  # Path: a video is being opened; views drop the last one
    video_opened = Signal(object)  # VideoOpened: indexed; views take its size and length
    open_failed = Signal()  # it could not be opened; views are empty
    preparing_demo = Signal()  # the demo clip is being rendered (once)
    video_ready = Signal()  # opened, its case (if any) open, the playhead at frame 0
    bookmarks_changed = Signal(object)  # the case's bookmarks, after an edit
    case_refreshed = Signal(object)  # CaseSnapshot: the timeline and bookmarks read again
    outcome_computing = Signal()
    outcome_refreshed = Signal(object)  # OutcomeSnapshot
    event_start_moved = Signal(float)  # the reviewer moved it (the outcome follows)

    def __init__(self, context: CaseContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.video_path: Path | None = None
        self.info: Any = None  # the open video's VideoInfo, once indexed
        self.case_path: Path | None = None
        self.opened_case: CaseVideo | None = None  # the case file opened directly, if one was
        self.case: Case | None = None  # the open case file: every read and edit goes through it
        self.timeline: Any = None
        self.bookmarks: list[Any] = []
        self.outcome: dict[str, Any] | None = None
        self.generation = 0  # which opened video is current
        self._auto_analyse = False
        self._demo_runner: TaskRunner | None = None
        self.recent_menu: QMenu | None = None
        self.procedure_menu: QMenu | None = None
        self.case_job = LatestJob("case", self)
        self.outcome_job = LatestJob("outcome", self)
        context.loader.opened.connect(self._on_video_opened)
        context.loader.open_failed.connect(self._on_open_failed)
        self.case_job.done.connect(self._on_case_read)
        self.case_job.failed.connect(
            lambda exc, details: context.report_error("Reading the case failed", str(exc), details)
        )
        self.outcome_job.done.connect(self._on_outcome_read)
        self.outcome_job.failed.connect(
            lambda exc, details: context.report_error(
                "Computing the outcome failed", str(exc), details
            )
        )

    # ------------------------------------------------------------------ menus
    def build_file_menu(self, menu: QMenu) -> None:
        """Open…, Open recent, Clear recent files, Open the demo case."""
        add = self.context.add_action
        add(menu, "&Open video or case…", self.ask_open, QKeySequence.StandardKey.Open)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        add(menu, "C&lear recent files", self.clear_recent_files)
        add(menu, "Open the &demo case", self.open_demo)

    def build_procedure_menu(self, menu: QMenu) -> None:
        self.procedure_menu = menu.addMenu("&Procedure (phase template)")
        self.procedure_menu.aboutToShow.connect(self.fill_procedure_menu)

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        recent = [p for p in read_list(self.context.settings, "recent") if Path(p).exists()]
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        for path in recent:
            label = Path(path).name + (" (case)" if Path(path).suffix.lower() == SUFFIX else "")
            menu.addAction(label, partial(self.open_video, path)).setToolTip(path)

    def clear_recent_files(self) -> None:
        """Forget the recent videos and last folders: full paths that may name patients."""
        clear_recent(self.context.settings)
        self.context.show_status("Recent files cleared", 4000)

    def fill_procedure_menu(self) -> None:
        from scrubline.core.case import procedure_templates

        menu = self.procedure_menu
        if menu is None:
            return
        menu.clear()
        case = self.existing_case()
        current = case.procedure if case is not None else None
        for name in procedure_templates():
            action = menu.addAction(name, partial(self.set_procedure, name))
            action.setCheckable(True)
            action.setChecked(name == current)
            action.setEnabled(self.info is not None)

    # ------------------------------------------------------------------ opening
    def ask_open(self) -> None:
        start = self.context.settings.value("paths/last_dir", str(Path.home()))
        videos = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self.context.parent,
            "Open a video or a case",
            str(start),
            f"Videos and cases ({videos} *{SUFFIX});;Cases (*{SUFFIX});;Videos ({videos});;All "
            "files (*)",
        )
        if path:
            self.open_video(path)

    def open_case(self, path: str | Path) -> bool:
        """Open a case file (`.scrub`) directly: find its video by fingerprint (where it was last
        time, beside the case, or by asking), then open that video with this case. False if the
        case cannot be opened or no matching video was given."""
        settings = self.context.settings
        try:
            case = read_case_video(Path(path))
        except CaseFileError as exc:
            self.context.report_error(f"Cannot open {Path(path).name}", str(exc))
            return False
        remembered = [Path(p) for p in read_list(settings, f"case_videos/{case.fingerprint}")]
        video = locate_video(case, remembered)
        if video is None:
            chosen = ask_case_video(
                self.context.parent, case.case_path.name, case.name, case.case_path.parent
            )
            if chosen is None:
                self.context.show_status(
                    f"{case.case_path.name} was not opened: its video was not found", 8000
                )
                return False
            try:
                video = check_chosen_video(case, chosen)
            except CaseFileError as exc:
                self.context.report_error("Not the video of this case", str(exc))
                return False
        settings.setValue(f"case_videos/{case.fingerprint}", [str(video.resolve())])
        self.open_video(video, case=case)
        return True

    def open_video(
        self, path: str | Path, *, analyse: bool = False, case: CaseVideo | None = None
    ) -> None:
        """Open a video (or, for a `.scrub` path, the case: `open_case`); its case appears as soon
        as the video is indexed: `case` when given (a case file opened directly), else the one
        in the per-user folder. With `analyse`, an unanalysed or unfinished case is analysed
        straight away."""
        path = Path(path)
        if path.suffix.lower() == SUFFIX:
            self.open_case(path)
            return
        self.context.stop_analysis()  # keeps what is done; its result is stale from here on
        self.context.pause_playback()
        self.close_case()
        self.generation += 1
        self._auto_analyse = analyse
        self.video_path = path
        self.opened_case = case
        self.info = None
        self.case_path = None
        self.timeline = None
        self.bookmarks = []
        self.outcome = None
        self.opening.emit(path)
        self.context.show_status(f"Opening {path.name}…", 0)
        self.context.loader.open(path, self.case_path_for_fingerprint)

    def open_demo(self) -> None:
        """Open the generated demo clip (rendered once, in the background) and analyse it if it
        has no case yet."""
        from scrubline.core.demo import demo_video_path, ensure_demo_video

        if demo_video_path().exists():
            self.open_video(demo_video_path(), analyse=True)
            return
        self.preparing_demo.emit()
        self.context.show_status("Rendering the demo clip (once)…", 0)
        runner = TaskRunner("demo", self)
        runner.finished.connect(lambda path: self.open_video(path, analyse=True))
        runner.failed.connect(
            lambda exc, details: self.context.report_error(
                "The demo clip could not be made", str(exc), details
            )
        )
        runner.start(lambda state: ensure_demo_video())
        self._demo_runner = runner

    def case_path_for_fingerprint(self, fingerprint: str) -> Path:
        """Where the case of a video lives (called on the loader's thread too: pure)."""
        opened = self.opened_case
        if opened is not None and opened.fingerprint == fingerprint:
            return opened.case_path
        if self.context.case_dir is not None:
            return self.context.case_dir / f"{fingerprint}{SUFFIX}"
        return default_case_path(fingerprint)

    def _on_video_opened(self, opened: VideoOpened) -> None:
        if self.context.closing() or opened.path != self.video_path:
            return
        settings, info = self.context.settings, opened.info
        self.info = info
        self.context.state.set_video(opened.times, info.duration_s)
        self.video_opened.emit(opened)
        # A case opened directly is what the user will want again, rather than its video.
        reopen = self.opened_case.case_path if self.opened_case is not None else opened.path
        recent = updated_recent(read_list(settings, "recent"), str(reopen.resolve()))
        settings.setValue("recent", recent)
        settings.setValue("paths/last_dir", str(opened.path.resolve().parent))
        # Where this video is, so its case opens from the library without asking for it.
        settings.setValue(f"case_videos/{info.fingerprint}", [str(opened.path.resolve())])
        self.case_path = self.case_path_for_fingerprint(info.fingerprint)
        message = (
            f"{info.name}: {info.width}×{info.height}, "
            f"{info.fps:.2f} fps, {format_clock(info.duration_s, millis=False)}"
        )
        if opened.problems:
            message += (
                f" — {len(opened.problems)} decoding problem(s); see Analysis → Analyse… notes"
            )
            log.warning("%s: %s", info.name, "; ".join(opened.problems[:5]))
        self.context.show_status(message, 8000)
        complete = False
        if self.case_path.exists():
            try:
                self.case = Case.for_video(info, self.case_path)
            except StoreError as exc:
                self.context.report_error("The case file cannot be used", str(exc))
                self.case = None
            if self.case is not None:
                self.context.loader.set_case(self.case_path)
                self.context.show_history(self.case_path)  # its undo history, if it had one
                analysed, planned = self.case.progress()
                complete = bool(planned) and analysed >= planned
                self.bookmarks = self.case.bookmarks()
                self.bookmarks_changed.emit(self.bookmarks)
                self.refresh_case()
                self.refresh_outcome()
                if not complete:
                    self.context.offer_analysis(analysed, planned)
        else:
            self.context.offer_analysis(0, 0)
        self.context.state.set_frame(0, force=True)
        self.video_ready.emit()
        if self._auto_analyse and not complete:
            self.context.start_analysis()

    def _on_open_failed(self, exc: object, details: str, generation: int) -> None:
        # Queued: another video may have been asked for since this one failed.
        if self.context.closing() or generation != self.context.loader.generation:
            return
        name = self.video_path.name if self.video_path else "the video"
        self.video_path = None
        self.context.show_status("", 0)  # not "Opening …" any more
        self.context.state.set_video(np.zeros(0), 0.0)
        self.open_failed.emit()
        self.context.report_error(f"Cannot open {name}", str(exc), details)

    @staticmethod
    def dropped_path(mime: QMimeData) -> Path | None:
        """The video or case file among dropped files, if any."""
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in (*VIDEO_SUFFIXES, SUFFIX):
                    return path
        return None

    # ------------------------------------------------------------------ the case file
    def close_case(self) -> None:
        self.context.show_history(None)
        if self.case is not None:
            self.case.close()
            self.case = None

    def existing_case(self) -> Case | None:
        """The case file if it exists (opened on first use), without creating one."""
        if self.case is None and self.case_path is not None and self.case_path.exists():
            return self.ensure_case()
        return self.case

    def ensure_case(self) -> Case | None:
        """The case file, created if the video has none yet (a bookmark before any analysis)."""
        if self.case is None and self.info is not None and self.case_path is not None:
            try:
                self.case = Case.for_video(self.info, self.case_path)
            except StoreError as exc:
                self.context.report_error("The case file cannot be used", str(exc))
                return None
            self.context.loader.set_case(self.case_path)
        return self.case

    def case_for_edit(self, create: bool) -> Case | None:
        """The case an edit goes to (created if `create`), its undo history made current."""
        case = self.ensure_case() if create else self.existing_case()
        if case is not None:
            self.context.show_history(case.path)
        return case

    def shutdown(self) -> None:
        """The window closes: stop reading, close the case file."""
        if self._demo_runner is not None:
            self._demo_runner.shutdown()
        self.case_job.shutdown()
        self.outcome_job.shutdown()
        self.close_case()

    # ------------------------------------------------------------------ reading the case
    def refresh_case(self, procedure: str | None = None) -> None:
        """Read the timeline and bookmarks again, off the GUI thread (with `procedure`: try that
        phase template on the case, and keep it if the case has every signal it reads)."""
        if self.case_path is None or not self.case_path.exists():
            return
        path, generation = self.case_path, self.generation
        self.case_job.submit(lambda: read_case(path, generation, procedure))

    def refresh_outcome(self) -> None:
        if self.case_path is None or not self.case_path.exists():
            return
        path, generation, registry = self.case_path, self.generation, self.context.registry()
        self.outcome_computing.emit()
        self.outcome_job.submit(lambda: read_outcome(path, registry, generation))

    def _on_case_read(self, snapshot: CaseSnapshot) -> None:
        if self.context.closing() or snapshot.generation != self.generation:
            return
        if snapshot.refused:
            self.context.show_banner(f"Phases unchanged: {snapshot.refused}.")
            self.context.show_status("The procedure was not changed", 8000)
        elif snapshot.procedure is not None and self.context.apply_edit(
            SetProcedure(snapshot.procedure), create=False
        ):
            self.context.show_status(f"Procedure: {snapshot.procedure}", 4000)
        self.timeline = snapshot.timeline
        self.bookmarks = snapshot.bookmarks
        for notice in snapshot.notices:
            self.context.show_status(notice, 8000)
        self.case_refreshed.emit(snapshot)

    def _on_outcome_read(self, snapshot: OutcomeSnapshot) -> None:
        if self.context.closing() or snapshot.generation != self.generation:
            return
        self.outcome = snapshot.outcome
        self.outcome_refreshed.emit(snapshot)

    def on_edited(self, edit: Edit) -> None:
        """An edit was made, undone or redone: read again what shows the part it changed."""
        if isinstance(edit, AddBookmark | DeleteBookmark | UpdateBookmark):
            self.reload_bookmarks()
        elif isinstance(edit, SetEventStart):
            if edit.time_s is not None:
                self.event_start_moved.emit(float(edit.time_s))
            self.refresh_outcome()
        elif isinstance(edit, SetOutcomeOutsideDomain):
            self.refresh_outcome()
        elif isinstance(edit, SetProcedure | AddCorrection | RemoveCorrection):
            self.refresh_case()
            self.refresh_outcome()

    # ------------------------------------------------------------------ edits
    def set_event_start(self, time_s: float | None) -> None:
        """Move the bleeding event start (None: detect it again) and recompute the prediction."""
        duration = self.context.state.duration_s
        value = None if time_s is None else round(min(max(float(time_s), 0.0), duration), 3)
        self.context.apply_edit(SetEventStart(value))

    def set_outcome_outside_domain(self, requested: bool) -> None:
        """Ask for (or stop asking for) the prediction outside the model's validated domain: a
        case setting, shown with a warning here and in the report."""
        self.context.apply_edit(SetOutcomeOutsideDomain(bool(requested)))

    def set_procedure(self, name: str) -> None:
        """Choose the phase template. It is tried on the case first (off the GUI thread): if the
        case lacks a signal it reads, the window says which and keeps the phases it had; else it
        is stored (one undoable edit), and phases and the outcome are recomputed."""
        if self.ensure_case() is None or self.case_path is None:
            return
        self.refresh_case(procedure=name)

    def ask_case_details(self) -> None:
        case = self.ensure_case()
        if case is None:
            return
        answer = CaseDetailsDialog.ask(self.context.parent, case.case_info)
        if answer is not None and self.context.apply_edit(SetCaseInfo(answer)):
            self.context.show_status("Case details saved", 4000)

    # ------------------------------------------------------------------ bookmarks
    def ask_add_bookmark(self) -> None:
        if self.info is None:
            return
        self.context.pause_playback()
        answer = BookmarkDialog.ask(self.context.parent, format_clock(self.context.state.time_s))
        if answer is not None:
            self.add_bookmark(*answer)

    def add_bookmark(self, note: str, category: str = "teaching point") -> int | None:
        """Bookmark the playhead's frame; the new bookmark's id, or None if it was not saved."""
        state = self.context.state
        before = {b.id for b in self.bookmarks}
        if not self.context.apply_edit(
            AddBookmark(float(state.time_s), int(state.frame), note.strip(), category)
        ):
            return None
        bookmark_id = next((b.id for b in self.bookmarks if b.id not in before), None)
        self.context.show_status(f"Bookmarked {format_clock(state.time_s)} ({category})", 4000)
        return bookmark_id

    def ask_edit_bookmark(self, bookmark_id: int) -> None:
        mark = next((b for b in self.bookmarks if b.id == bookmark_id), None)
        if mark is None or self.existing_case() is None:
            return
        answer = BookmarkDialog.ask(
            self.context.parent, format_clock(mark.time_s), mark.note, mark.category
        )
        if answer is not None:
            self.context.apply_edit(
                UpdateBookmark(bookmark_id, note=answer[0].strip(), category=answer[1]),
                create=False,
            )

    def delete_bookmark(self, bookmark_id: int) -> None:
        if self.existing_case() is None:
            return
        if (
            QMessageBox.question(self.context.parent, "Delete bookmark", "Delete this bookmark?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        self.context.apply_edit(DeleteBookmark(bookmark_id), create=False)

    def reload_bookmarks(self) -> None:
        case = self.existing_case()
        if case is None:
            return
        self.bookmarks = case.bookmarks()
        self.bookmarks_changed.emit(self.bookmarks)
