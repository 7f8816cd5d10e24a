"""The main window: it wires the shared state, the frame loader, the player, the timeline, the
panels and the background tasks together, and owns the menus.

What happens where:
- `ViewerState` holds the playhead, overlays, clip selection and teaching mode; views subscribe.
- `FrameLoader` opens the video and decodes frames on its own thread (newest request wins).
- `TaskRunner`s run analysis and exports (plain core functions) on worker threads; closing the
  window cancels them and waits, so the case file keeps every finished batch.
- `LatestJob`s rebuild the timeline and the outcome from the case file off the GUI thread
  (`scrubline.ui.case_reader`), so results stream into the timeline while the analysis runs.
- Controllers built from a context own their part of the menus and the work behind it:
  `PlaybackController` (the playhead and the frame on screen), `ReviewController` (edits and
  undo), `ExportController` (the Export menu and its worker). The window's public attributes
  that are a controller's (`seek_frame`, `player`, ...) forward to it.
- Actions are asked by dialogs (`scrubline.ui.dialogs`) and done by plain functions
  (`scrubline.ui.actions`, the core); the public methods here (`open_video`, `start_analysis`,
  `add_bookmark`, `jump_event`, ...) are what menus, tests and the UI probe call.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from scrubline.core.analysis import AnalysisSettings, PlanChanged, analyse_video, plan_settings
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
from scrubline.core.overlay import OVERLAY_KEYS
from scrubline.core.paths import cases_dir
from scrubline.core.video import VIDEO_SUFFIXES
from scrubline.ui import window_geometry
from scrubline.ui.case_files import (
    CaseFileError,
    CaseVideo,
    check_chosen_video,
    locate_video,
    read_case_video,
)
from scrubline.ui.case_reader import CaseSnapshot, OutcomeSnapshot, read_case, read_outcome
from scrubline.ui.dialogs import (
    AnalysisDialog,
    BookmarkDialog,
    CaseDetailsDialog,
    TextDialog,
    ask_case_video,
    show_error,
)
from scrubline.ui.export_controller import ExportContext, ExportController
from scrubline.ui.frame_view import QtFrameView
from scrubline.ui.frames import FrameLoader, VideoOpened
from scrubline.ui.help_text import shortcuts_text
from scrubline.ui.library import LibraryWidget, reanalyse
from scrubline.ui.navigation import format_clock, updated_recent
from scrubline.ui.overlays import OVERLAY_NAMES
from scrubline.ui.panels import BookmarksWidget, OutcomeWidget
from scrubline.ui.playback import PlaybackContext, PlaybackController
from scrubline.ui.player import TransportWidget
from scrubline.ui.preferences import (
    Preferences,
    PreferencesDialog,
    read_preferences,
    set_default_procedure,
    write_preferences,
)
from scrubline.ui.review import ReviewContext, ReviewController
from scrubline.ui.settings import (
    app_settings,
    clear_recent,
    read_bool,
    read_float,
    read_list,
    read_overlays,
    write_overlays,
)
from scrubline.ui.state import ViewerState
from scrubline.ui.tasks import LatestJob, TaskRunner
from scrubline.ui.telestration import TelestrationController
from scrubline.ui.theme import apply_theme
from scrubline.ui.timeline_view import TimelineView
from scrubline.ui.view_modes import ViewModes

log = logging.getLogger("scrubline.ui")

GUI_SWITCH_INTERVAL_S = 0.001
TIMELINE_PANE_LEAST = 110  # px: the ruler and a lane stay in view however short the window
OUTCOME_DOCK_SHARE = 0.62  # of the right-hand column's height, when no saved layout says otherwise
REFRESH_DURING_ANALYSIS_S = 1.5  # how often streamed results are re-read into the timeline


def _forward(controller: str, name: str, *, settable: bool = False) -> Any:
    """A window attribute that is attribute `name` of the window's `controller`."""

    def get(window: Any) -> Any:
        return getattr(getattr(window, controller), name)

    def set_(window: Any, value: Any) -> None:
        setattr(getattr(window, controller), name, value)

    return property(get, set_ if settable else None)


class MainWindow(QMainWindow):
    video_ready = Signal()
    case_refreshed = Signal()
    outcome_refreshed = Signal()
    analysis_finished = Signal(object)  # AnalysisReport, or the exception
    frame_shown = Signal(int)  # an exact frame is on screen

    # The window's public API (menus, tests, the UI probe, the case library) is the controllers'.
    player = _forward("playback", "clock")
    seek_frame = _forward("playback", "seek_frame")
    seek_time = _forward("playback", "seek_time")
    step = _forward("playback", "step")
    jump = _forward("playback", "jump")
    shuttle = _forward("playback", "shuttle")
    jump_event = _forward("playback", "jump_event")
    event_kinds = _forward("playback", "event_kinds", settable=True)
    event_kind_actions = _forward("playback", "event_kind_actions")
    mark_clip = _forward("playback", "mark_clip")
    go_to_clip = _forward("playback", "go_to_clip")
    set_looping = _forward("playback", "set_looping")
    loop_action = _forward("playback", "loop_action")
    shown = _forward("playback", "shown")
    frame_latencies = _forward("playback", "frame_latencies")
    preview_latencies = _forward("playback", "preview_latencies")

    def __init__(
        self,
        *,
        registry: Any = None,
        models_dirs: list[Path] | None = None,
        case_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Scrubline")
        self.setAcceptDrops(True)
        self._registry = registry
        self._models_dirs = list(models_dirs or [])
        self.case_dir = case_dir
        self.settings = app_settings()
        self.video_path: Path | None = None
        self.info: Any = None
        self.case_path: Path | None = None
        self.opened_case: CaseVideo | None = None  # the case file opened directly, if one was
        self.case: Case | None = None  # the open case file: every read and edit goes through it
        self.timeline: Any = None
        self.bookmarks: list[Any] = []
        self.outcome: dict[str, Any] | None = None
        self.errors: list[str] = []  # what the user was told went wrong (tests read it)
        self._generation = 0
        self._auto_analyse = False
        self._closing = False
        self._last_refresh = 0.0
        self._analysis_settings: AnalysisSettings | None = None  # of the running (or last) analysis
        self._error_boxes: list[Any] = []

        self.preferences = read_preferences(self.settings)
        if self.preferences.theme != "dark":  # the application starts dark
            apply_theme(self.preferences.theme)
        self.state = ViewerState()
        self.state.set_overlays(read_overlays(self.settings))
        self.loader = FrameLoader(parent=self)
        self.analysis = TaskRunner("analysis", self)
        self.exports = ExportController(ExportContext.of_window(self), self)
        self.review = ReviewController(ReviewContext(self._case_for_edit, self.report_error), self)
        self.case_job = LatestJob("case", self)
        self.outcome_job = LatestJob("outcome", self)

        self._build_widgets()
        self.playback = PlaybackController(
            PlaybackContext(
                state=self.state,
                loader=self.loader,
                transport=self.transport,
                timeline_view=self.timeline_view,
                frame_view=self.frame_view,
                settings=self.settings,
                has_video=lambda: self.info is not None,
                timeline=lambda: self.timeline,
                bookmarks=lambda: self.bookmarks,
                mask_opacity=lambda: self.preferences.mask_opacity,
                show_status=self._show_status,
                closing=lambda: self._closing,
                add_action=self._action,
            ),
            self,
        )
        self.view_modes = ViewModes(self)
        self.telestration = TelestrationController(self)
        self._build_menus()
        self._connect()
        _warm_imports()
        # Worker threads (decoding, analysis, the frame loader) run Python between their C calls;
        # the interpreter hands the lock over every 5 ms by default, so with three of them busy
        # the GUI thread can wait 10-20 ms for its turn. 1 ms keeps the window responsive.
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))
        self.state.set_teaching(read_bool(self.settings, "teaching", False))
        self.teaching_action.setChecked(self.state.teaching)
        self._place_on_screen()
        layout = self.settings.value("window/state")
        self._docks_restored = isinstance(layout, QByteArray) and self.restoreState(layout)
        splitter_state = self.settings.value("window/splitter")
        self._split_restored = isinstance(
            splitter_state, QByteArray
        ) and self.splitter.restoreState(splitter_state)

    # ================================================================== construction
    @property
    def registry(self) -> Any:
        if self._registry is None:
            from scrubline.core.models import load_registry

            self._registry = load_registry(self._models_dirs)
        return self._registry

    def _build_widgets(self) -> None:
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        self.banner = QFrame()
        self.banner.setStyleSheet("QFrame { background: #37474f; } QLabel { color: #eceff1; }")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 4, 10, 4)
        self.banner_label = QLabel("")
        self.banner_label.setWordWrap(True)
        banner_layout.addWidget(self.banner_label, 1)
        self.banner_button = QPushButton("")
        banner_layout.addWidget(self.banner_button)
        banner_close = QToolButton()
        banner_close.setText("\u2715")
        banner_close.setAutoRaise(True)
        banner_close.clicked.connect(self.banner.hide)
        banner_layout.addWidget(banner_close)
        self.banner.hide()
        self._banner_action: Any = None
        self.banner_button.clicked.connect(lambda: self._banner_action and self._banner_action())
        top_layout.addWidget(self.banner)
        self.frame_view = QtFrameView()
        self.frame_view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        top_layout.addWidget(self.frame_view, 1)
        self.transport = TransportWidget()
        top_layout.addWidget(self.transport)
        self.timeline_view = TimelineView()
        # The timeline keeps its height and the video takes what the window gains or loses;
        # when the height is short (a laptop, 150% scaling) the timeline's rows scroll inside
        # their pane instead of the bleeding lane and the status bar leaving the screen.
        self.timeline_pane = _scrolling(self.timeline_view, horizontal=False)
        self.timeline_pane.setMinimumHeight(TIMELINE_PANE_LEAST)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("main_splitter")
        splitter.addWidget(top)
        splitter.addWidget(self.timeline_pane)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.outcome_panel = OutcomeWidget()
        self.outcome_dock = QDockWidget("Outcome", self)
        self.outcome_dock.setObjectName("outcome_dock")
        self.outcome_dock.setWidget(_scrolling(self.outcome_panel, horizontal=True))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.outcome_dock)
        self.bookmarks_panel = BookmarksWidget()
        self.bookmarks_dock = QDockWidget("Bookmarks", self)
        self.bookmarks_dock.setObjectName("bookmarks_dock")
        self.bookmarks_dock.setWidget(_scrolling(self.bookmarks_panel, horizontal=True))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.bookmarks_dock)

        self.library_panel = LibraryWidget(
            self.settings, self.case_dir or cases_dir(), lambda: self.case_path
        )
        self.library_dock = QDockWidget("Case library", self)
        self.library_dock.setObjectName("library_dock")
        self.library_dock.setWidget(self.library_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.library_dock)
        self.library_dock.hide()

        status = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip(
            "Stop the analysis after the current batch; what is done is kept"
        )
        self.cancel_button.clicked.connect(self.cancel_analysis)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            status.addPermanentWidget(widget)
            widget.hide()

    def _action(
        self,
        menu: Any,
        text: str,
        slot: Any,
        shortcuts: Any = (),
        *,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcuts, str | QKeySequence.StandardKey):
            shortcuts = [shortcuts]
        keys = [QKeySequence(s) for s in shortcuts]
        if keys:
            action.setShortcuts(keys)
        action.setCheckable(checkable)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work while the menu bar is hidden or a dock has focus
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.review.build_menu(bar.addMenu("&Edit"))
        self._action(
            file_menu, "&Open video or case…", self.ask_open, QKeySequence.StandardKey.Open
        )
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._action(file_menu, "C&lear recent files", self.clear_recent_files)
        self._action(file_menu, "Open the &demo case", self.open_demo)
        self._action(file_menu, "Case &library", self.show_library, "Ctrl+Shift+L")
        file_menu.addSeparator()
        self._action(file_menu, "Case &details…", self.ask_case_details)
        self._action(file_menu, "&Preferences…", self.ask_preferences, "Ctrl+,")
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        self.playback.build_playback_menu(bar.addMenu("&Playback"))

        nav = bar.addMenu("&Navigate")
        self.playback.build_event_menu(nav)
        nav.addSeparator()
        self._action(nav, "Add bookmark…", self.ask_add_bookmark, "Ctrl+B")
        self.telestration.build_menu(nav.addMenu("&Draw (telestration)"))

        analysis = bar.addMenu("&Analysis")
        self.analyse_action = self._action(analysis, "&Analyse…", self.ask_analysis, "Ctrl+Shift+A")
        self.cancel_action = self._action(analysis, "&Cancel analysis", self.cancel_analysis)
        self.cancel_action.setEnabled(False)
        analysis.addSeparator()
        self.procedure_menu = analysis.addMenu("&Procedure (phase template)")
        self.procedure_menu.aboutToShow.connect(self._fill_procedure_menu)

        view = bar.addMenu("&View")
        self.overlay_actions: dict[str, QAction] = {}
        for number, key in enumerate(OVERLAY_KEYS, start=1):
            action = self._action(
                view,
                OVERLAY_NAMES[key],
                lambda on, k=key: self.state.set_overlay(k, on),
                f"Ctrl+{number}",
                checkable=True,
            )
            action.setChecked(getattr(self.state.overlays, key))
            self.overlay_actions[key] = action
        view.addSeparator()
        self.teaching_action = self._action(
            view,
            "&Teaching mode (hide the prediction)",
            lambda on: self.state.set_teaching(on),
            "Ctrl+T",
            checkable=True,
        )
        self._action(view, "&Reveal the prediction", lambda: self.state.reveal(True), "Ctrl+R")
        view.addSeparator()
        self._action(view, "Zoom timeline in", lambda: self.timeline_view.zoom_by(0.5), "Ctrl+=")
        self._action(view, "Zoom timeline out", lambda: self.timeline_view.zoom_by(2.0), "Ctrl+-")
        self._action(view, "Show the whole case", self.timeline_view.fit, "Ctrl+0")
        view.addSeparator()
        self.view_modes.build_menu(view)
        view.addSeparator()
        view.addAction(self.outcome_dock.toggleViewAction())
        view.addAction(self.bookmarks_dock.toggleViewAction())

        export = bar.addMenu("&Export")
        self.exports.build_menu(export)
        export.addSeparator()
        self.playback.build_clip_menu(export)

        help_menu = bar.addMenu("&Help")
        self._action(
            help_menu,
            "Keyboard and mouse",
            lambda: TextDialog("Keyboard and mouse", shortcuts_text(), self).exec(),
            "F1",
        )
        self._action(help_menu, "Model cards folder", self._open_models_folder)
        self._action(help_menu, "Open &log folder", self.open_log_folder)
        self._action(help_menu, "About Scrubline", self._about)

    def _connect(self) -> None:
        state = self.state
        state.overlays_changed.connect(self._on_overlays_changed)
        state.teaching_changed.connect(self._on_teaching_changed)
        self.loader.opened.connect(self._on_video_opened)
        self.loader.open_failed.connect(self._on_open_failed)
        self.transport.go_requested.connect(self.view_modes.go_to)
        self.timeline_view.event_start_moved.connect(self.set_event_start)
        self.analysis.progressed.connect(self._on_analysis_progress)
        self.analysis.finished.connect(self._on_analysis_finished)
        self.analysis.failed.connect(self._on_analysis_failed)
        self.case_job.done.connect(self._on_case_read)
        self.case_job.failed.connect(
            lambda exc, details: self.report_error("Reading the case failed", str(exc), details)
        )
        self.outcome_job.done.connect(self._on_outcome_read)
        self.outcome_job.failed.connect(
            lambda exc, details: self.report_error(
                "Computing the outcome failed", str(exc), details
            )
        )
        self.library_panel.open_requested.connect(self.open_case)
        self.library_panel.reanalyse_requested.connect(partial(reanalyse, self))
        self.bookmarks_panel.jump_requested.connect(self.seek_time)
        self.bookmarks_panel.add_requested.connect(self.ask_add_bookmark)
        self.bookmarks_panel.edit_requested.connect(self.ask_edit_bookmark)
        self.bookmarks_panel.delete_requested.connect(self.delete_bookmark)
        self.outcome_panel.event_start_set.connect(self.set_event_start)
        self.outcome_panel.event_start_at_playhead.connect(
            lambda: self.set_event_start(self.state.time_s)
        )
        self.outcome_panel.reveal_requested.connect(lambda: self.state.reveal(True))
        self.review.edited.connect(self._on_case_edited)
        self.playback.frame_shown.connect(self.frame_shown)
        self.frame_view.context_requested.connect(self._on_frame_context_requested)
        self.timeline_view.context_requested.connect(self._on_timeline_context_requested)
        self.outcome_panel.outside_domain_requested.connect(self.set_outcome_outside_domain)

    # ================================================================== errors and banner
    def report_error(self, title: str, message: str, details: str = "") -> None:
        log.warning("%s: %s", title, message)
        self.errors.append(f"{title}: {message}")
        if self._closing:
            return
        box = show_error(self, title, message, details)
        self._error_boxes = [b for b in self._error_boxes if b.isVisible()] + [box]

    def _show_status(self, message: str, milliseconds: int = 0) -> None:
        self.statusBar().showMessage(message, milliseconds)

    def show_banner(self, text: str, button: str = "", action: Any = None) -> None:
        self.banner_label.setText(text)
        self.banner_button.setText(button)
        self.banner_button.setVisible(bool(button))
        self._banner_action = action
        self.banner.show()

    # ================================================================== opening
    def ask_open(self) -> None:
        start = self.settings.value("paths/last_dir", str(Path.home()))
        videos = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self,
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
        try:
            case = read_case_video(Path(path))
        except CaseFileError as exc:
            self.report_error(f"Cannot open {Path(path).name}", str(exc))
            return False
        remembered = [Path(p) for p in read_list(self.settings, f"case_videos/{case.fingerprint}")]
        video = locate_video(case, remembered)
        if video is None:
            chosen = ask_case_video(self, case.case_path.name, case.name, case.case_path.parent)
            if chosen is None:
                self.statusBar().showMessage(
                    f"{case.case_path.name} was not opened: its video was not found", 8000
                )
                return False
            try:
                video = check_chosen_video(case, chosen)
            except CaseFileError as exc:
                self.report_error("Not the video of this case", str(exc))
                return False
        self.settings.setValue(f"case_videos/{case.fingerprint}", [str(video.resolve())])
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
        if self.analysis.running():
            self.analysis.shutdown()  # keeps what is done; the finished signal is ignored below
        self.player.pause()
        self._close_case()
        self._generation += 1
        self._auto_analyse = analyse
        self.video_path = path
        self.opened_case = case
        self.info = None
        self.case_path = None
        self.timeline = None
        self.bookmarks = []
        self.outcome = None
        self.playback.clear_frame()
        self.banner.hide()
        self.timeline_view.set_timeline(None, [])
        self.timeline_view.set_frame_times(None)
        self.bookmarks_panel.set_bookmarks([])
        self.telestration.set_tool(None)
        self.telestration.reload()
        self.outcome_panel.set_outcome(None, None, moved_by_user=False)
        self.frame_view.set_video_size(0, 0)
        self.frame_view.set_message(f"Opening {path.name}…")
        self.statusBar().showMessage(f"Opening {path.name}…")
        self.loader.open(path, self._case_path_for_fingerprint)

    def open_demo(self) -> None:
        """Open the generated demo clip (rendered once, in the background) and analyse it if it
        has no case yet."""
        from scrubline.core.demo import demo_video_path, ensure_demo_video

        if demo_video_path().exists():
            self.open_video(demo_video_path(), analyse=True)
            return
        self.frame_view.set_message("Preparing the demo case…")
        self.statusBar().showMessage("Rendering the demo clip (once)…")
        runner = TaskRunner("demo", self)
        runner.finished.connect(lambda path: self.open_video(path, analyse=True))
        runner.failed.connect(
            lambda exc, details: self.report_error(
                "The demo clip could not be made", str(exc), details
            )
        )
        runner.start(lambda state: ensure_demo_video())
        self._demo_runner = runner

    def _case_path_for_fingerprint(self, fingerprint: str) -> Path:
        """Where the case of a video lives (called on the loader's thread too: pure)."""
        opened = self.opened_case
        if opened is not None and opened.fingerprint == fingerprint:
            return opened.case_path
        if self.case_dir is not None:
            return self.case_dir / f"{fingerprint}{SUFFIX}"
        return default_case_path(fingerprint)

    def _case_path_for(self, info: Any) -> Path:
        return self._case_path_for_fingerprint(info.fingerprint)

    def _on_video_opened(self, opened: VideoOpened) -> None:
        if self._closing or opened.path != self.video_path:
            return
        self.info = opened.info
        self.state.set_video(opened.times, opened.info.duration_s)
        self.transport.set_frame_count(len(opened.times))
        self.timeline_view.set_duration(opened.info.duration_s)
        self.timeline_view.set_frame_times(opened.times)
        self.outcome_panel.set_duration(opened.info.duration_s)
        self.frame_view.set_video_size(opened.info.width, opened.info.height)
        self.setWindowTitle(f"{opened.info.name} — Scrubline")
        # A case opened directly is what the user will want again, rather than its video.
        reopen = self.opened_case.case_path if self.opened_case is not None else opened.path
        recent = updated_recent(read_list(self.settings, "recent"), str(reopen.resolve()))
        self.settings.setValue("recent", recent)
        self.settings.setValue("paths/last_dir", str(opened.path.resolve().parent))
        # Where this video is, so its case opens from the library without asking for it.
        self.settings.setValue(
            f"case_videos/{opened.info.fingerprint}", [str(opened.path.resolve())]
        )
        self.case_path = self._case_path_for(opened.info)
        message = (
            f"{opened.info.name}: {opened.info.width}×{opened.info.height}, "
            f"{opened.info.fps:.2f} fps, {format_clock(opened.info.duration_s, millis=False)}"
        )
        if opened.problems:
            message += (
                f" — {len(opened.problems)} decoding problem(s); see Analysis → Analyse… notes"
            )
            log.warning("%s: %s", opened.info.name, "; ".join(opened.problems[:5]))
        self.statusBar().showMessage(message, 8000)
        complete = False
        if self.case_path.exists():
            try:
                self.case = Case.for_video(opened.info, self.case_path)
            except StoreError as exc:
                self.report_error("The case file cannot be used", str(exc))
                self.case = None
            if self.case is not None:
                self.loader.set_case(self.case_path)
                self.review.show_case(self.case_path)  # its undo history, if it had one
                analysed, planned = self.case.progress()
                complete = bool(planned) and analysed >= planned
                self.bookmarks = self.case.bookmarks()
                self.bookmarks_panel.set_bookmarks(self.bookmarks)
                self.refresh_case()
                self.refresh_outcome()
                if not complete:
                    self._offer_analysis(analysed, planned)
        else:
            self._offer_analysis(0, 0)
        self.state.set_frame(0, force=True)
        self.video_ready.emit()
        if self._auto_analyse and not complete:
            self.start_analysis()

    def _on_open_failed(self, exc: object, details: str, generation: int) -> None:
        # Queued: another video may have been asked for since this one failed.
        if self._closing or generation != self.loader.generation:
            return
        name = self.video_path.name if self.video_path else "the video"
        self.video_path = None
        self.statusBar().clearMessage()  # not "Opening …" any more
        self.state.set_video(np.zeros(0), 0.0)
        self.transport.set_frame_count(0)
        self.timeline_view.set_duration(0.0)
        self.frame_view.set_message("Open a video or a case (File → Open, or drop a file here)")
        self.report_error(f"Cannot open {name}", str(exc), details)

    def _offer_analysis(self, analysed: int, planned: int) -> None:
        if planned and analysed:
            self.show_banner(
                f"Analysis incomplete: {analysed} of {planned} frames analysed. "
                "Resume to finish; nothing done is redone.",
                "Resume",
                self.start_analysis,
            )
        else:
            self.show_banner(
                "This video has not been analysed yet. Analysis runs in the background; "
                "you can keep reviewing meanwhile.",
                "Analyse…",
                self.ask_analysis,
            )

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in read_list(self.settings, "recent") if Path(p).exists()]
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in recent:
            label = Path(path).name + (" (case)" if Path(path).suffix.lower() == SUFFIX else "")
            self.recent_menu.addAction(label, partial(self.open_video, path)).setToolTip(path)

    def clear_recent_files(self) -> None:
        """Forget the recent videos and last folders: full paths that may name patients."""
        clear_recent(self.settings)
        self.statusBar().showMessage("Recent files cleared", 4000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_video(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_video(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_video(path)

    @staticmethod
    def _dropped_video(mime: Any) -> Path | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in (*VIDEO_SUFFIXES, SUFFIX):
                    return path
        return None

    def _close_case(self) -> None:
        self.review.reset()
        if self.case is not None:
            self.case.close()
            self.case = None

    def _existing_case(self) -> Case | None:
        """The case file if it exists (opened on first use), without creating one."""
        if self.case is None and self.case_path is not None and self.case_path.exists():
            return self._ensure_case()
        return self.case

    def _ensure_case(self) -> Case | None:
        """The case file, created if the video has none yet (a bookmark before any analysis)."""
        if self.case is None and self.info is not None and self.case_path is not None:
            try:
                self.case = Case.for_video(self.info, self.case_path)
            except StoreError as exc:
                self.report_error("The case file cannot be used", str(exc))
                return None
            self.loader.set_case(self.case_path)
        return self.case

    def _case_for_edit(self, create: bool) -> Case | None:
        case = self._ensure_case() if create else self._existing_case()
        if case is not None:
            self.review.show_case(case.path)  # the history of the case being edited
        return case

    def apply_edit(self, edit: Edit, *, create: bool = True) -> bool:
        """Make a reviewer's edit to the case, one undo step (creating the case file if `create`
        and it has none yet); False, with the reason shown, when it could not be saved."""
        return self.review.apply(edit, create=create)

    def correction_menu_at(self, x: float, y: float) -> QMenu | None:
        """The corrections menu of the box under source pixel (x, y) on the frame shown."""
        result = self.shown.result if self.shown is not None else None
        instrument = result.instrument_at(x, y) if result is not None else None
        case = self._existing_case()
        if result is None or instrument is None or case is None:
            return None
        # The classes the case's detector knows, then any other class seen in the case.
        detector = [
            str(label)
            for m in case.models
            if m.get("task") == "detector"
            for label in m.get("labels") or []
        ]
        seen = self.timeline.labels if self.timeline is not None else []
        choices = list(dict.fromkeys([*detector, *seen]))
        return self.review.box_menu(result, instrument, choices, self)

    def _on_frame_context_requested(self, x: float, y: float, where: QPoint) -> None:
        menu = self.correction_menu_at(x, y)
        if menu is not None:
            menu.popup(where)

    def _on_timeline_context_requested(self, time_s: float, where: QPoint) -> None:
        if self._existing_case() is None:
            return
        self.review.timeline_menu(time_s, self.timeline, self.state.selection, self).popup(where)

    def _on_case_edited(self, edit: Edit) -> None:
        """An edit was made, undone or redone: refresh what shows the part it changed."""
        if isinstance(edit, AddBookmark | DeleteBookmark | UpdateBookmark):
            self._reload_bookmarks()
        elif isinstance(edit, SetEventStart):
            if edit.time_s is not None:
                self.timeline_view.set_event_start(edit.time_s)
            self.refresh_outcome()
        elif isinstance(edit, SetOutcomeOutsideDomain):
            self.refresh_outcome()
        elif isinstance(edit, SetProcedure | AddCorrection | RemoveCorrection):
            self.refresh_case()
            self.refresh_outcome()

    # ================================================================== view state
    def _on_overlays_changed(self, flags: Any) -> None:
        for key, action in self.overlay_actions.items():
            action.blockSignals(True)
            action.setChecked(getattr(flags, key))
            action.blockSignals(False)
        write_overlays(self.settings, flags)
        self.playback.update_overlay()

    def _on_teaching_changed(self, teaching: bool, revealed: bool) -> None:
        self.teaching_action.blockSignals(True)
        self.teaching_action.setChecked(teaching)
        self.teaching_action.blockSignals(False)
        self.outcome_panel.set_teaching(teaching, revealed)
        self.settings.setValue("teaching", teaching)

    # ================================================================== analysis
    def default_analysis_settings(self) -> AnalysisSettings:
        """The open case's own plan (rate, range, models) when it has one: what Resume continues.
        The rate last chosen for any video only proposes the settings of a new case."""
        chosen = AnalysisSettings(
            fps=read_float(self.settings, "analysis/fps", 5.0),
            device=str(self.settings.value("analysis/device", "cpu")),
        )
        if self.case_path is None:
            return chosen
        try:
            return plan_settings(self.case_path, chosen)
        except StoreError:
            return chosen

    def ask_analysis(self) -> None:
        if self.info is None:
            self.report_error("Nothing to analyse", "Open a video first.")
            return
        if self.analysis.running():
            self.statusBar().showMessage("An analysis is already running", 4000)
            return
        note = ""
        case = self._existing_case()
        if case is not None:
            analysed, planned = case.progress()
            if analysed:
                note = (
                    f"{analysed} frames are already analysed; they are kept and not redone "
                    "unless you choose to start again."
                )
        answer = AnalysisDialog.ask(
            self,
            self.registry.frame_models(),
            self.info.duration_s,
            self.default_analysis_settings(),
            note,
        )
        if answer is None:
            return
        settings, fresh = answer
        self.settings.setValue("analysis/fps", settings.fps)
        self.settings.setValue("analysis/device", settings.device)
        self.start_analysis(settings, fresh=fresh)

    def start_analysis(
        self, settings: AnalysisSettings | None = None, *, fresh: bool = False
    ) -> bool:
        """Analyse (or resume) the open video in the background; False if that cannot start."""
        if (
            self.video_path is None
            or self.info is None
            or self.case_path is None
            or self.analysis.running()
        ):
            return False
        # The analysis creates the case file on its own thread: creating a SQLite file in WAL
        # mode waits for the disk (measured: 0.8 s on a busy one), which the window must not.
        settings = settings or self.default_analysis_settings()
        self._analysis_settings = settings
        video, case, registry = self.video_path, self.case_path, self.registry
        generation, procedure = self._generation, self.preferences.procedure

        def run(state: Any) -> Any:
            report = analyse_video(
                video, case, settings, registry=registry, state=state, fresh=fresh
            )
            set_default_procedure(case, procedure)  # a new case starts with the preferred one
            return generation, report

        if not self.analysis.start(run):
            return False
        self.banner.hide()
        self.loader.set_case(case)  # read as soon as the analysis has created it
        self._analysis_generation = generation
        self.progress.setValue(0)
        self.progress_label.setText("Starting analysis…")
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.show()
        self.cancel_action.setEnabled(True)
        self.analyse_action.setEnabled(False)
        return True

    def cancel_analysis(self) -> None:
        if self.analysis.running():
            self.analysis.cancel()
            self.progress_label.setText("Stopping after this batch…")

    def _on_analysis_progress(self, fraction: float, message: str) -> None:
        if self._closing or getattr(self, "_analysis_generation", -1) != self._generation:
            return
        self.progress.setValue(int(round(fraction * 1000)))
        if not self.analysis.cancelled():
            self.progress_label.setText(message)
        now = time.monotonic()
        if now - self._last_refresh >= REFRESH_DURING_ANALYSIS_S:
            self._last_refresh = now
            self.refresh_case()

    def _end_analysis_ui(self) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.hide()
        self.cancel_action.setEnabled(False)
        self.analyse_action.setEnabled(True)

    def _on_analysis_finished(self, result: Any) -> None:
        generation, report = result
        if self._closing:
            return
        self._end_analysis_ui()
        if generation != self._generation:
            self.analysis_finished.emit(report)
            return
        saved = report.already_done + report.done_now
        if report.cancelled:
            self.show_banner(
                f"Analysis stopped: {saved} of {report.planned} frames are saved. "
                "Resume to finish; nothing done is redone.",
                "Resume",
                self.start_analysis,
            )
        else:
            rate = report.done_now / report.elapsed_s if report.elapsed_s > 0 else 0.0
            self.statusBar().showMessage(
                f"Analysis complete: {report.done_now} frames in {report.elapsed_s:.1f} s "
                f"({rate:.1f} frames/s)"
                + (f"; {report.already_done} were already done" if report.already_done else ""),
                10000,
            )
        notes = list(report.notices) + list(report.problems[:5])
        if notes:
            self.show_banner("Notes from the analysis: " + "; ".join(notes))
        self.refresh_case()
        self.refresh_outcome()
        self.analysis_finished.emit(report)

    def _on_analysis_failed(self, exc: object, details: str) -> None:
        if self._closing:
            return
        self._end_analysis_ui()
        if isinstance(exc, PlanChanged):
            # Nothing was touched: ask whether to replace the case's analysis with the new one.
            settings = self._analysis_settings or self.default_analysis_settings()
            self.show_banner(
                f"{exc.summary}. Start afresh with these settings? The analysed frames are "
                "discarded; bookmarks and notes are kept.",
                "Start afresh",
                lambda: self.start_analysis(settings, fresh=True),
            )
            self.analysis_finished.emit(exc)
            return
        self.report_error(
            "The analysis stopped with an error",
            f"{exc}\n\nResults saved before the error are kept in the case file.",
            details,
        )
        self.refresh_case()
        self.show_banner(
            "The analysis stopped with an error; what was done is saved.",
            "Analyse…",
            self.ask_analysis,
        )
        self.analysis_finished.emit(exc)

    # ================================================================== reading the case
    def refresh_case(self, procedure: str | None = None) -> None:
        if self.case_path is None or not self.case_path.exists():
            return
        path, generation = self.case_path, self._generation
        self.case_job.submit(lambda: read_case(path, generation, procedure))

    def refresh_outcome(self) -> None:
        if self.case_path is None or not self.case_path.exists():
            return
        path, generation, registry = self.case_path, self._generation, self.registry
        self.outcome_panel.set_busy("Computing the prediction…")
        self.outcome_job.submit(lambda: read_outcome(path, registry, generation))

    def _on_case_read(self, snapshot: CaseSnapshot) -> None:
        if self._closing or snapshot.generation != self._generation:
            return
        if snapshot.refused:
            self.show_banner(f"Phases unchanged: {snapshot.refused}.")
            self.statusBar().showMessage("The procedure was not changed", 8000)
        elif snapshot.procedure is not None and self.apply_edit(
            SetProcedure(snapshot.procedure), create=False
        ):
            self.statusBar().showMessage(f"Procedure: {snapshot.procedure}", 4000)
        self.timeline = snapshot.timeline
        self.bookmarks = snapshot.bookmarks
        self.timeline_view.set_timeline(snapshot.timeline, snapshot.bookmarks)
        self.bookmarks_panel.set_bookmarks(snapshot.bookmarks)
        self.telestration.reload()
        for notice in snapshot.notices:
            self.statusBar().showMessage(notice, 8000)
        self.playback.refresh_frame()
        self.case_refreshed.emit()

    def _on_outcome_read(self, snapshot: OutcomeSnapshot) -> None:
        if self._closing or snapshot.generation != self._generation:
            return
        self.outcome = snapshot.outcome
        self.outcome_panel.set_outcome(
            snapshot.outcome, snapshot.metrics, moved_by_user=snapshot.moved_by_user
        )
        self.timeline_view.set_event_start(snapshot.outcome.get("event_start_s"))
        self.outcome_refreshed.emit()

    def set_event_start(self, time_s: float | None) -> None:
        """Move the bleeding event start (None: detect it again) and recompute the prediction."""
        value = (
            None
            if time_s is None
            else round(min(max(float(time_s), 0.0), self.state.duration_s), 3)
        )
        self.apply_edit(SetEventStart(value))

    def set_outcome_outside_domain(self, requested: bool) -> None:
        """Ask for (or stop asking for) the prediction outside the model's validated domain: a
        case setting, shown with a warning here and in the report."""
        self.apply_edit(SetOutcomeOutsideDomain(bool(requested)))

    # ================================================================== bookmarks and events
    def ask_add_bookmark(self) -> None:
        if self.info is None:
            return
        self.player.pause()
        answer = BookmarkDialog.ask(self, format_clock(self.state.time_s))
        if answer is not None:
            self.add_bookmark(*answer)

    def add_bookmark(self, note: str, category: str = "teaching point") -> int | None:
        before = {b.id for b in self.bookmarks}
        if not self.apply_edit(
            AddBookmark(float(self.state.time_s), int(self.state.frame), note.strip(), category)
        ):
            return None
        bookmark_id = next((b.id for b in self.bookmarks if b.id not in before), None)
        self.statusBar().showMessage(
            f"Bookmarked {format_clock(self.state.time_s)} ({category})", 4000
        )
        return bookmark_id

    def ask_edit_bookmark(self, bookmark_id: int) -> None:
        mark = next((b for b in self.bookmarks if b.id == bookmark_id), None)
        if mark is None or self._existing_case() is None:
            return
        answer = BookmarkDialog.ask(self, format_clock(mark.time_s), mark.note, mark.category)
        if answer is not None:
            self.apply_edit(
                UpdateBookmark(bookmark_id, note=answer[0].strip(), category=answer[1]),
                create=False,
            )

    def delete_bookmark(self, bookmark_id: int) -> None:
        if self._existing_case() is None:
            return
        if (
            QMessageBox.question(self, "Delete bookmark", "Delete this bookmark?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        self.apply_edit(DeleteBookmark(bookmark_id), create=False)

    def _reload_bookmarks(self) -> None:
        case = self._existing_case()
        if case is None:
            return
        self.bookmarks = case.bookmarks()
        self.bookmarks_panel.set_bookmarks(self.bookmarks)
        self.timeline_view.set_bookmarks(self.bookmarks)

    # ================================================================== case details and procedure
    def ask_case_details(self) -> None:
        case = self._ensure_case()
        if case is None:
            return
        answer = CaseDetailsDialog.ask(self, case.case_info)
        if answer is not None and self.apply_edit(SetCaseInfo(answer)):
            self.statusBar().showMessage("Case details saved", 4000)

    def _fill_procedure_menu(self) -> None:
        from scrubline.core.case import procedure_templates

        self.procedure_menu.clear()
        case = self._existing_case()
        current = case.procedure if case is not None else None
        for name in procedure_templates():
            action = self.procedure_menu.addAction(name, partial(self.set_procedure, name))
            action.setCheckable(True)
            action.setChecked(name == current)
            action.setEnabled(self.info is not None)

    def set_procedure(self, name: str) -> None:
        """Choose the phase template. It is tried on the case first (off the GUI thread): if the
        case lacks a signal it reads, the window says which and keeps the phases it had; else it
        is stored (one undoable edit), and phases and the outcome are recomputed."""
        if self._ensure_case() is None or self.case_path is None:
            return
        self.refresh_case(procedure=name)

    def ask_preferences(self) -> None:
        from scrubline.core.export import procedure_templates

        answer = PreferencesDialog.ask(
            self,
            self.preferences,
            sorted(procedure_templates()),
            list(self.registry.manifests.values()),
        )
        if answer is not None:
            self.set_preferences(answer)

    def set_preferences(self, prefs: Preferences) -> None:
        """Store and apply preferences: overlays and mask at once, the theme, and the rate,
        procedure and device for the next analysis of a new case."""
        write_preferences(self.settings, prefs)
        self.preferences = prefs
        apply_theme(prefs.theme)
        self.state.set_overlays(prefs.overlays)
        self.playback.update_overlay()

    def show_library(self) -> None:
        """The case library panel, read afresh."""
        self.library_dock.show()
        self.library_dock.raise_()
        self.library_panel.refresh()

    # ================================================================== help
    def _open_models_folder(self) -> None:
        from scrubline.core.models.registry import bundled_models_dir

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(bundled_models_dir())))

    def open_log_folder(self) -> Path:
        from scrubline.core.paths import log_dir

        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        return folder

    def _about(self) -> None:
        from scrubline import __version__

        QMessageBox.about(
            self,
            "About Scrubline",
            f"Scrubline {__version__}\n\nOffline review of surgical video. Everything runs on this "
            "computer; nothing leaves it.\n\nDecision support for review and teaching; "
            "not a medical device.",
        )

    # ================================================================== size and placement
    def _place_on_screen(self) -> None:
        """Restore the saved geometry if it still fits a screen; else open at the preferred size,
        shrunk to the available area of the screen the window opens on, centred."""
        geometry = self.settings.value("window/geometry")
        # Checked on the rectangle saved beside it: Qt's restoreGeometry squeezes an oversized
        # window into the screen itself, which hides that it no longer fits.
        saved = [
            int(v)
            for v in read_list(self.settings, "window/normal_rect")
            if v.lstrip("-").isdigit()
        ]
        screens = [_rect(s.availableGeometry()) for s in QGuiApplication.screens()]
        if (
            isinstance(geometry, QByteArray)
            and len(saved) == 4
            and window_geometry.fits((saved[0], saved[1], saved[2], saved[3]), screens)
            and self.restoreGeometry(geometry)
        ):
            return
        if isinstance(geometry, QByteArray):
            log.info(
                "the saved window geometry does not fit the screens now; using the default size"
            )
        screen = self.screen() or QGuiApplication.primaryScreen()
        available = (
            _rect(screen.availableGeometry())
            if screen is not None
            else (0, 0, *window_geometry.PREFERRED_SIZE)
        )
        size = window_geometry.initial_size((available[2], available[3]))
        self.resize(*size)
        self.move(*window_geometry.centred(available, size))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not getattr(self, "_split_done", False):
            self._split_done = True
            if not self._split_restored:
                total = sum(self.splitter.sizes())
                full = (
                    self.timeline_view.minimumSizeHint().height()
                    + 2 * self.timeline_pane.frameWidth()
                )
                self.splitter.setSizes(
                    list(window_geometry.split_heights(total, full, TIMELINE_PANE_LEAST))
                )
            if not self._docks_restored:
                # The outcome panel gets most of the column (its text is not known yet when the
                # window opens): the bookmark list scrolls happily, the prediction less so.
                total = self.outcome_dock.height() + self.bookmarks_dock.height()
                outcome = int(total * OUTCOME_DOCK_SHARE)
                self.resizeDocks(
                    [self.outcome_dock, self.bookmarks_dock],
                    [outcome, total - outcome],
                    Qt.Orientation.Vertical,
                )

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel background work and wait for it: every finished batch stays in the case."""
        self._closing = True
        self.player.pause()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/normal_rect", [str(v) for v in _rect(self.normalGeometry())])
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        if self.analysis.running():
            self.statusBar().showMessage("Stopping the analysis; finished frames are kept…")
        for runner in (self.analysis, self.exports.runner, getattr(self, "_demo_runner", None)):
            if runner is not None:
                runner.shutdown()
        self.case_job.shutdown()
        self.outcome_job.shutdown()
        self.library_panel.shutdown()
        self.loader.close()
        self._close_case()
        super().closeEvent(event)


def _rect(rect: Any) -> window_geometry.Rect:
    return rect.x(), rect.y(), rect.width(), rect.height()


def _scrolling(widget: QWidget, *, horizontal: bool) -> QScrollArea:
    """`widget` in a frameless scroll area that resizes it: it fills the space it gets and
    scrolls (vertically; horizontally too if asked) when that is less than it needs."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    if not horizontal:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


_WARM_MODULES = (
    "av",
    "cv2",
    "pandas",
    "onnxruntime",
    "scrubline.core.analysis",
    "scrubline.core.case",
    "scrubline.core.export",
    "scrubline.core.outcome",
    "scrubline.core.phases",
    "scrubline.core.overlay",
    "scrubline.core.proxy",
    "scrubline.core.pictures",
)
_warmed = False
imports_warmed = (
    threading.Event()
)  # set once the warm-up imports are done (the UI probe waits for it)


def _warm_imports() -> None:
    """Import the heavy modules on a background thread while the window opens. An import holds
    the interpreter lock while it runs; done on first use (the first analysis, the first outcome)
    it would freeze the window for a few hundred milliseconds just when the user is watching."""
    global _warmed
    if _warmed:
        return
    _warmed = True

    def warm() -> None:
        import importlib

        for name in _WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # a missing optional piece shows up, readably, when it is used
                log.debug("warm-up import of %s failed", name, exc_info=True)
        imports_warmed.set()

    threading.Thread(target=warm, name="scrubline-warm-imports", daemon=True).start()
