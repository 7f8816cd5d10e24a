"""The main window: a composition of controllers around the shared state, the views and the
panels. It builds the widgets and the menus, hands each controller a small context, and wires
what a controller emits to the views that show it.

What happens where:
- `ViewerState` holds the playhead, overlays, clip selection and teaching mode; views subscribe.
- `FrameLoader` opens the video and decodes frames on its own thread (newest request wins).
- Controllers built from a context (README, Architecture) own their part of the menus and the
  work behind it: `CaseController` (opening videos and cases, recent files, reading the case
  off the GUI thread, bookmarks, case details, procedure), `PlaybackController` (the playhead,
  the J/K/L shuttle, the clip range and its loop, the frame on screen), `AnalysisController`
  (the background analysis, its progress, cancel and resume), `ReviewController` (edits and
  undo, corrections), `ExportController` (the Export menu and its worker); beside them
  `TelestrationController` (drawings) and `ViewModes` (zoom, full screen, go to).
- Closing the window cancels background work and waits, so the case file keeps every finished
  batch.
- The window's public attributes that are a controller's (`open_video`, `start_analysis`,
  `seek_frame`, `case_path`, ...) forward to it: they are what tests and the UI probe call.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from scrubline.core.edits import Edit
from scrubline.core.overlay import OVERLAY_KEYS
from scrubline.core.paths import cases_dir
from scrubline.ui import placement
from scrubline.ui.analysis_controller import AnalysisContext, AnalysisController
from scrubline.ui.case_controller import CaseContext, CaseController
from scrubline.ui.case_reader import CaseSnapshot, OutcomeSnapshot
from scrubline.ui.dialogs import TextDialog, show_error
from scrubline.ui.export_controller import ExportContext, ExportController
from scrubline.ui.frame_view import QtFrameView
from scrubline.ui.frames import FrameLoader, VideoOpened
from scrubline.ui.help_text import shortcuts_text
from scrubline.ui.library import LibraryWidget, reanalyse
from scrubline.ui.overlays import OVERLAY_NAMES
from scrubline.ui.panels import Banner, BookmarksWidget, OutcomeWidget
from scrubline.ui.playback import PlaybackContext, PlaybackController
from scrubline.ui.player import TransportWidget
from scrubline.ui.preferences import (
    Preferences,
    PreferencesDialog,
    read_preferences,
    write_preferences,
)
from scrubline.ui.review import ReviewContext, ReviewController
from scrubline.ui.settings import (
    app_settings,
    read_bool,
    read_overlays,
    write_overlays,
)
from scrubline.ui.state import ViewerState
from scrubline.ui.telestration import TelestrationController
from scrubline.ui.theme import apply_theme
from scrubline.ui.timeline_view import TimelineView
from scrubline.ui.view_modes import ViewModes
from scrubline.ui.warm_imports import warm_imports

log = logging.getLogger("scrubline.ui")

GUI_SWITCH_INTERVAL_S = 0.001
TIMELINE_PANE_LEAST = 110  # px: the ruler and a lane stay in view however short the window
OUTCOME_DOCK_SHARE = 0.62  # of the right-hand column's height, when no saved layout says otherwise


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
    video_path = _forward("cases", "video_path")
    info = _forward("cases", "info")
    case_path = _forward("cases", "case_path")
    timeline = _forward("cases", "timeline")
    bookmarks = _forward("cases", "bookmarks")
    outcome = _forward("cases", "outcome")
    open_video = _forward("cases", "open_video")
    open_case = _forward("cases", "open_case")
    open_demo = _forward("cases", "open_demo")
    recent_menu = _forward("cases", "recent_menu")
    clear_recent_files = _forward("cases", "clear_recent_files")
    procedure_menu = _forward("cases", "procedure_menu")
    set_procedure = _forward("cases", "set_procedure")
    ask_case_details = _forward("cases", "ask_case_details")
    refresh_case = _forward("cases", "refresh_case")
    set_event_start = _forward("cases", "set_event_start")
    add_bookmark = _forward("cases", "add_bookmark")
    ask_add_bookmark = _forward("cases", "ask_add_bookmark")
    player = _forward("playback", "clock")
    seek_frame = _forward("playback", "seek_frame")
    seek_time = _forward("playback", "seek_time")
    step = _forward("playback", "step")
    shuttle = _forward("playback", "shuttle")
    jump_event = _forward("playback", "jump_event")
    event_kinds = _forward("playback", "event_kinds", settable=True)
    event_kind_actions = _forward("playback", "event_kind_actions")
    mark_clip = _forward("playback", "mark_clip")
    go_to_clip = _forward("playback", "go_to_clip")
    loop_action = _forward("playback", "loop_action")
    shown = _forward("playback", "shown")
    frame_latencies = _forward("playback", "frame_latencies")
    preview_latencies = _forward("playback", "preview_latencies")
    ask_analysis = _forward("analysis", "ask")
    start_analysis = _forward("analysis", "start")
    cancel_analysis = _forward("analysis", "cancel")
    default_analysis_settings = _forward("analysis", "default_settings")
    progress = _forward("analysis", "progress")
    cancel_button = _forward("analysis", "cancel_button")
    analyse_action = _forward("analysis", "analyse_action")
    cancel_action = _forward("analysis", "cancel_action")

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
        self.errors: list[str] = []  # what the user was told went wrong (tests read it)
        self._closing = False
        self._error_boxes: list[Any] = []

        self.preferences = read_preferences(self.settings)
        if self.preferences.theme != "dark":  # the application starts dark
            apply_theme(self.preferences.theme)
        self.state = ViewerState()
        self.state.set_overlays(read_overlays(self.settings))
        self.loader = FrameLoader(parent=self)
        self._build_widgets()
        self._build_controllers()
        self.view_modes = ViewModes(self)
        self.telestration = TelestrationController(self)
        self._build_menus()
        self._connect()
        warm_imports()
        # Worker threads (decoding, analysis, the frame loader) run Python between their C calls;
        # the interpreter hands the lock over every 5 ms by default, so with three of them busy
        # the GUI thread can wait 10-20 ms for its turn. 1 ms keeps the window responsive.
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))
        self.state.set_teaching(read_bool(self.settings, "teaching", False))
        self.teaching_action.setChecked(self.state.teaching)
        placement.place_on_screen(self, self.settings)
        self._docks_restored, self._split_restored = placement.restore_layout(
            self, self.splitter, self.settings
        )

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
        self.banner = Banner()
        self.banner_label, self.banner_button = self.banner.label, self.banner.button
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

        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.outcome_panel = OutcomeWidget()
        self.outcome_dock = self._dock("Outcome", "outcome_dock", self.outcome_panel, right)
        self.bookmarks_panel = BookmarksWidget()
        self.bookmarks_dock = self._dock("Bookmarks", "bookmarks_dock", self.bookmarks_panel, right)
        self.library_panel = LibraryWidget(
            self.settings, self.case_dir or cases_dir(), lambda: self.case_path
        )
        self.library_dock = QDockWidget("Case library", self)
        self.library_dock.setObjectName("library_dock")
        self.library_dock.setWidget(self.library_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.library_dock)
        self.library_dock.hide()

    def _dock(self, title: str, name: str, panel: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A side panel in a dock, scrolling when the dock is smaller than the panel."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(_scrolling(panel, horizontal=True))
        self.addDockWidget(area, dock)
        return dock

    def _build_controllers(self) -> None:
        closing, status = (lambda: self._closing), self._show_status
        self.review = ReviewController(
            ReviewContext(lambda create: self.cases.case_for_edit(create), self.report_error), self
        )
        self.cases = CaseController(
            CaseContext(
                parent=self,
                settings=self.settings,
                case_dir=self.case_dir,
                loader=self.loader,
                state=self.state,
                registry=lambda: self.registry,
                apply_edit=self.review.apply,
                show_history=self.review.show_case,
                offer_analysis=lambda analysed, planned: self.analysis.offer(analysed, planned),
                start_analysis=lambda: self.analysis.start(),
                stop_analysis=lambda: self.analysis.shutdown(),
                pause_playback=lambda: self.player.pause(),
                show_banner=self.show_banner,
                show_status=status,
                report_error=self.report_error,
                closing=closing,
                add_action=self._action,
            ),
            self,
        )
        cases = self.cases
        self.playback = PlaybackController(
            PlaybackContext(
                state=self.state,
                loader=self.loader,
                transport=self.transport,
                timeline_view=self.timeline_view,
                frame_view=self.frame_view,
                settings=self.settings,
                has_video=lambda: cases.info is not None,
                timeline=lambda: cases.timeline,
                bookmarks=lambda: cases.bookmarks,
                mask_opacity=lambda: self.preferences.mask_opacity,
                show_status=status,
                closing=closing,
                add_action=self._action,
            ),
            self,
        )
        self.analysis = AnalysisController(
            AnalysisContext(
                parent=self,
                settings=self.settings,
                status_bar=self.statusBar(),
                video_path=lambda: cases.video_path,
                info=lambda: cases.info,
                case_path=lambda: cases.case_path,
                existing_case=cases.existing_case,
                generation=lambda: cases.generation,
                registry=lambda: self.registry,
                procedure=lambda: self.preferences.procedure,
                case_created=self.loader.set_case,
                refresh_case=cases.refresh_case,
                refresh_outcome=cases.refresh_outcome,
                show_banner=self.show_banner,
                hide_banner=self.banner.hide,
                show_status=status,
                report_error=self.report_error,
                closing=closing,
                add_action=self._action,
            ),
            self,
        )
        self.exports = ExportController(ExportContext.of_window(self), self)

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
        self.cases.build_file_menu(file_menu)
        self._action(file_menu, "Case &library", self.show_library, "Ctrl+Shift+L")
        file_menu.addSeparator()
        self._action(file_menu, "Case &details…", self.cases.ask_case_details)
        self._action(file_menu, "&Preferences…", self.ask_preferences, "Ctrl+,")
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        self.playback.build_playback_menu(bar.addMenu("&Playback"))

        nav = bar.addMenu("&Navigate")
        self.playback.build_event_menu(nav)
        nav.addSeparator()
        self._action(nav, "Add bookmark…", self.cases.ask_add_bookmark, "Ctrl+B")
        self.telestration.build_menu(nav.addMenu("&Draw (telestration)"))

        analysis = bar.addMenu("&Analysis")
        self.analysis.build_menu(analysis)
        analysis.addSeparator()
        self.cases.build_procedure_menu(analysis)

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
        state, cases, outcome = self.state, self.cases, self.outcome_panel
        state.overlays_changed.connect(self._on_overlays_changed)
        state.teaching_changed.connect(self._on_teaching_changed)
        self.transport.go_requested.connect(self.view_modes.go_to)
        self.timeline_view.event_start_moved.connect(cases.set_event_start)
        cases.opening.connect(self._on_opening)
        cases.preparing_demo.connect(
            lambda: self.frame_view.set_message("Preparing the demo case…")
        )
        cases.video_opened.connect(self._on_video_opened)
        cases.open_failed.connect(self._on_open_failed)
        cases.video_ready.connect(self.video_ready)
        cases.bookmarks_changed.connect(self._on_bookmarks_changed)
        cases.case_refreshed.connect(self._on_case_refreshed)
        cases.outcome_computing.connect(lambda: outcome.set_busy("Computing the prediction…"))
        cases.outcome_refreshed.connect(self._on_outcome_refreshed)
        cases.event_start_moved.connect(self.timeline_view.set_event_start)
        self.review.edited.connect(cases.on_edited)
        self.analysis.finished.connect(self.analysis_finished)
        self.playback.frame_shown.connect(self.frame_shown)
        self.library_panel.open_requested.connect(cases.open_case)
        self.library_panel.reanalyse_requested.connect(lambda path: reanalyse(self, path))
        self.library_panel.width_wanted.connect(self._widen_library)
        self.bookmarks_panel.jump_requested.connect(self.playback.seek_time)
        self.bookmarks_panel.add_requested.connect(cases.ask_add_bookmark)
        self.bookmarks_panel.edit_requested.connect(cases.ask_edit_bookmark)
        self.bookmarks_panel.delete_requested.connect(cases.delete_bookmark)
        outcome.event_start_set.connect(cases.set_event_start)
        outcome.event_start_at_playhead.connect(lambda: cases.set_event_start(state.time_s))
        outcome.reveal_requested.connect(lambda: state.reveal(True))
        outcome.outside_domain_requested.connect(cases.set_outcome_outside_domain)
        self.frame_view.context_requested.connect(self._on_frame_context_requested)
        self.timeline_view.context_requested.connect(self._on_timeline_context_requested)

    # ================================================================== errors, banner, status
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
        self.banner.show_message(text, button, action)

    # ================================================================== what the case shows
    def _on_opening(self, path: Path) -> None:
        """Another video is being opened: the views drop the last one."""
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

    def _on_video_opened(self, opened: VideoOpened) -> None:
        info = opened.info
        self.transport.set_frame_count(len(opened.times))
        self.timeline_view.set_duration(info.duration_s)
        self.timeline_view.set_frame_times(opened.times)
        self.outcome_panel.set_duration(info.duration_s)
        self.frame_view.set_video_size(info.width, info.height)
        self.setWindowTitle(f"{info.name} — Scrubline")

    def _on_open_failed(self) -> None:
        self.transport.set_frame_count(0)
        self.timeline_view.set_duration(0.0)
        self.frame_view.set_message("Open a video or a case (File → Open, or drop a file here)")

    def _on_bookmarks_changed(self, bookmarks: list[Any]) -> None:
        self.bookmarks_panel.set_bookmarks(bookmarks)
        self.timeline_view.set_bookmarks(bookmarks)

    def _on_case_refreshed(self, snapshot: CaseSnapshot) -> None:
        self.timeline_view.set_timeline(snapshot.timeline, snapshot.bookmarks)
        self.bookmarks_panel.set_bookmarks(snapshot.bookmarks)
        self.telestration.reload()
        self.playback.refresh_frame()
        self.case_refreshed.emit()

    def _on_outcome_refreshed(self, snapshot: OutcomeSnapshot) -> None:
        self.outcome_panel.set_outcome(
            snapshot.outcome, snapshot.metrics, moved_by_user=snapshot.moved_by_user
        )
        self.timeline_view.set_event_start(snapshot.outcome.get("event_start_s"))
        self.outcome_refreshed.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if CaseController.dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = CaseController.dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.cases.open_video(path)

    # ================================================================== edits and corrections
    def apply_edit(self, edit: Edit, *, create: bool = True) -> bool:
        """Make a reviewer's edit to the case, one undo step (creating the case file if `create`
        and it has none yet); False, with the reason shown, when it could not be saved."""
        return self.review.apply(edit, create=create)

    def correction_menu_at(self, x: float, y: float) -> QMenu | None:
        """The corrections menu of the box under source pixel (x, y) on the frame shown."""
        result = self.shown.result if self.shown is not None else None
        return self.review.box_menu_at(result, x, y, self.timeline, self)

    def _on_frame_context_requested(self, x: float, y: float, where: QPoint) -> None:
        menu = self.correction_menu_at(x, y)
        if menu is not None:
            menu.popup(where)

    def _on_timeline_context_requested(self, time_s: float, where: QPoint) -> None:
        if self.cases.existing_case() is None:
            return
        self.review.timeline_menu(time_s, self.timeline, self.state.selection, self).popup(where)

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

    def ask_preferences(self) -> None:
        from scrubline.core.case import procedure_templates

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

    def _widen_library(self, wanted: int) -> None:
        """A docked library opens as wide as its columns (the date was cut off behind a scroll
        bar), taking the room from the video, never from the other docks, and never wider than
        half the window: the video stays the largest thing."""
        dock, central = self.library_dock, self.centralWidget()
        if (
            central is None
            or not dock.isVisible()
            or dock.isFloating()
            or self.library_panel.width() >= wanted
        ):
            return
        # The dock's own frame, and a few pixels the dock area's separator can round away.
        wanted += dock.width() - self.library_panel.width() + 4
        spare = max(0, central.width() - central.minimumSizeHint().width())
        width = min(wanted, dock.width() + spare, self.width() // 2)
        if width > dock.width():
            self.resizeDocks([dock], [width], Qt.Orientation.Horizontal)

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
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not getattr(self, "_split_done", False):
            self._split_done = True
            if not self._split_restored:
                pane = self.timeline_pane
                full = self.timeline_view.minimumSizeHint().height() + 2 * pane.frameWidth()
                placement.share_height(self.splitter, full, TIMELINE_PANE_LEAST)
            if not self._docks_restored:
                # The outcome panel gets most of the column (its text is not known yet when the
                # window opens): the bookmark list scrolls happily, the prediction less so.
                placement.share_column(
                    self, self.outcome_dock, self.bookmarks_dock, OUTCOME_DOCK_SHARE
                )

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel background work and wait for it: every finished batch stays in the case."""
        self._closing = True
        self.player.pause()
        placement.save_layout(self, self.splitter, self.settings)
        if self.analysis.running():
            self.statusBar().showMessage("Stopping the analysis; finished frames are kept…")
        self.analysis.shutdown()
        self.exports.shutdown()
        self.cases.shutdown()
        self.library_panel.shutdown()
        self.loader.close()
        super().closeEvent(event)


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
