"""The Export menu: PDF report, tables (CSV + JSON), a frame with overlays (PNG) and a short
clip with overlays burned in (MP4).

Each export is asked (a file dialog) and done by a plain function run on the controller's own
worker (`TaskRunner`): `scrubline.report.write_report`, `scrubline.core.export.export_case`,
and `scrubline.core.pictures` for the pictures. Exports that need a piece not present in this
build stay disabled with a tooltip saying so.

The controller is built from an `ExportContext` (what it reads of the open case and the view,
and where it reports), not from the window, so a test builds one around a case and a
`ViewerState` alone; `ExportContext.of_window` is the window's.

"Blur out-of-body frames" (checked by default, remembered in the settings) is the one privacy
option of the picture exports and the report's key frames: frames the in-body gate put out of
body (operating room, menus, drapes) are blurred beyond recognition unless it is unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from scrubline.core.case import Case
from scrubline.ui import choices
from scrubline.ui.settings import read_bool
from scrubline.ui.tasks import TaskRunner

BLUR_SETTING = "export/blur_out_of_body"


@dataclass(frozen=True)
class ExportContext:
    """What the export controller needs from whoever hosts it."""

    parent: QWidget | None  # parent of the file dialogs
    settings: QSettings  # remembers the export folder
    state: Any  # the ViewerState: playhead, clip selection, overlays shown
    case_path: Callable[[], Path | None]
    video_path: Callable[[], Path | None]
    has_video: Callable[[], bool]  # a video is open (indexed)
    registry: Callable[[], Any]
    report_error: Callable[[str, str, str], None]  # title, message, details
    show_status: Callable[[str, int], None]  # message, milliseconds (0: until replaced)
    closing: Callable[[], bool]
    add_action: Callable[..., QAction]  # (menu, text, slot) -> the action added

    @classmethod
    def of_window(cls, window: Any) -> ExportContext:
        return cls(
            parent=window,
            settings=window.settings,
            state=window.state,
            case_path=lambda: window.case_path,
            video_path=lambda: window.video_path,
            has_video=lambda: window.info is not None,
            registry=lambda: window.registry,
            report_error=window.report_error,
            show_status=lambda message, ms: window.statusBar().showMessage(message, ms),
            closing=lambda: window._closing,
            add_action=window._action,
        )


class ExportController(QObject):
    finished = Signal(object)  # (kind, target, [written paths]) or the exception

    def __init__(self, context: ExportContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = TaskRunner("export", self)
        self.runner.progressed.connect(self._on_progress_changed)
        self.runner.finished.connect(self._on_finished_changed)
        self.runner.failed.connect(self._on_failed_changed)

    # ------------------------------------------------------------------ menu
    def build_menu(self, menu: QMenu) -> None:
        add = self.context.add_action
        self.report_action = add(menu, "PDF &report…", self.ask_report)
        self.tables_action = add(menu, "&Tables (CSV + JSON)…", self.ask_tables)
        self.png_action = add(menu, "&Frame with overlays (PNG)…", self.ask_frame)
        self.clip_action = add(menu, "&Clip with overlays (MP4)…", self.ask_clip)
        menu.addSeparator()
        self.blur_action = QAction("&Blur out-of-body frames", self)
        self.blur_action.setCheckable(True)
        self.blur_action.setChecked(read_bool(self.context.settings, BLUR_SETTING, True))
        self.blur_action.setToolTip(
            "Frames showing the operating room, menus or drapes are blurred in PNG and MP4 "
            "exports and in the report's key frames (they can show staff and the patient)"
        )
        self.blur_action.toggled.connect(self._on_blur_toggled)
        menu.addAction(self.blur_action)
        menu.addSeparator()
        self.cancel_action: QAction = add(menu, "Cancel export", self.runner.cancel)
        menu.setToolTipsVisible(True)
        menu.aboutToShow.connect(self.update_actions)
        self.update_actions()

    def update_actions(self) -> None:
        case_path = self.context.case_path()
        has_case = case_path is not None and case_path.exists()
        report = report_writer()
        self.report_action.setEnabled(has_case and report is not None)
        self.report_action.setToolTip(
            "" if report is not None else "The PDF report is not available in this build"
        )
        self.tables_action.setEnabled(has_case)
        renderer = overlay_renderer()
        for action in (self.png_action, self.clip_action):
            action.setEnabled(self.context.has_video() and renderer is not None)
            action.setToolTip(
                "" if renderer is not None else "Overlay rendering is not available in this build"
            )
        self.cancel_action.setEnabled(self.runner.running())

    @property
    def blur_out_of_body(self) -> bool:
        return bool(self.blur_action.isChecked()) if hasattr(self, "blur_action") else True

    def _on_blur_toggled(self, on: bool) -> None:
        self.context.settings.setValue(BLUR_SETTING, bool(on))

    # ------------------------------------------------------------------ ask
    def _folder(self) -> str:
        return str(self.context.settings.value("paths/export_dir", str(Path.home())))

    def _ask_save(
        self, title: str, what: str, suffix: str, pattern: str, time_s: float | None = None
    ) -> Path | None:
        label = None
        case_path = self.context.case_path()
        if case_path is not None and case_path.exists():
            with Case.open(case_path) as case:
                label = case.case_info.get("label")
        name = choices.default_export_name(label, what, suffix, time_s)
        path, _ = QFileDialog.getSaveFileName(
            self.context.parent, title, str(Path(self._folder()) / name), pattern
        )
        if not path:
            return None
        self.context.settings.setValue("paths/export_dir", str(Path(path).parent))
        return Path(path)

    def ask_tables(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.context.parent, "Export tables to", self._folder()
        )
        if folder:
            self.context.settings.setValue("paths/export_dir", folder)
            self.tables(Path(folder))

    def ask_report(self) -> None:
        path = self._ask_save("Save the PDF report", "debrief", ".pdf", "PDF (*.pdf)")
        if path is not None:
            self.report(path)

    def ask_frame(self) -> None:
        path = self._ask_save(
            "Save the frame", "frame", ".png", "PNG (*.png)", self.context.state.time_s
        )
        if path is not None:
            self.frame(path)

    def ask_clip(self) -> None:
        try:
            plan = choices.clip_plan(self.context.state.times, self.context.state.selection)
        except ValueError as exc:
            self.context.report_error("No clip range", str(exc), "")
            return
        path = self._ask_save("Save the clip", "clip", ".mp4", "MP4 (*.mp4)", plan.start_s)
        if path is not None:
            self.clip(path)

    # ------------------------------------------------------------------ do
    def tables(self, folder: Path) -> bool:
        from scrubline.core.export import export_case

        case = self.context.case_path()
        if case is None or not case.exists():
            return False
        registry = self.context.registry()

        def run(state: Any) -> Any:
            state.progress(0.1, "writing tables")
            with Case.open(case, check=True) as opened:
                return ("tables", folder, export_case(opened, folder, registry))

        return self._start(run, "Exporting tables…")

    def report(self, path: Path) -> bool:
        writer = report_writer()
        case, video = self.context.case_path(), self.context.video_path()
        if writer is None or case is None or not case.exists():
            return False
        write_report, options_type = writer
        registry = self.context.registry()
        blur = self.blur_out_of_body

        def run(state: Any) -> Any:
            state.progress(0.1, "writing the report")
            # Label, surgeon and the rest come from the case; the video gives exact key frames.
            options = (
                options_type(video_path=video, blur_out_of_body=blur)
                if video is not None and video.exists()
                else options_type(blur_out_of_body=blur)
            )
            with Case.open(case, check=True) as opened:
                return ("report", path, [write_report(opened, path, options, registry=registry)])

        return self._start(run, "Writing the PDF report…")

    def frame(self, path: Path) -> bool:
        from scrubline.core.pictures import export_frame_png

        video, case, state = self.context.video_path(), self.context.case_path(), self.context.state
        if overlay_renderer() is None or video is None:
            return False
        index, flags = state.frame, state.overlays
        blur = self.blur_out_of_body

        def run(state: Any) -> Any:
            return ("frame", path, [export_frame_png(video, case, index, path, flags, blur)])

        return self._start(run, "Saving the frame…")

    def clip(self, path: Path) -> bool:
        from scrubline.core.pictures import export_clip_mp4

        video, case, state = self.context.video_path(), self.context.case_path(), self.context.state
        if overlay_renderer() is None or video is None:
            return False
        try:
            plan = choices.clip_plan(state.times, state.selection)
        except ValueError as exc:
            self.context.report_error("No clip range", str(exc), "")
            return False
        flags = state.overlays
        blur = self.blur_out_of_body

        def run(state: Any) -> Any:
            return (
                "clip",
                path,
                [export_clip_mp4(video, case, plan, path, flags, state, blur_out_of_body=blur)],
            )

        return self._start(run, f"Writing a {plan.end_s - plan.start_s:.1f} s clip…")

    def _start(self, run: Any, message: str) -> bool:
        if not self.runner.start(run):
            self.context.show_status("An export is already running", 4000)
            return False
        self.context.show_status(message, 0)
        return True

    def shutdown(self) -> None:
        self.runner.shutdown()

    # ------------------------------------------------------------------ results
    def _on_progress_changed(self, fraction: float, message: str) -> None:
        self.context.show_status(f"Export: {message} ({fraction:.0%})", 0)

    def _on_finished_changed(self, result: Any) -> None:
        if self.context.closing():
            return
        _, target, written = result
        if written and written[0] is None:
            self.context.show_status("Export cancelled", 5000)
        else:
            where = target if Path(target).is_dir() else Path(target).parent
            names = ", ".join(Path(p).name for p in written if p)
            self.context.show_status(f"Exported {names} to {where}", 10000)
        self.finished.emit(result)

    def _on_failed_changed(self, exc: object, details: str) -> None:
        self.context.report_error("The export failed", str(exc), details)
        self.finished.emit(exc)


def report_writer() -> tuple[Any, Any] | None:
    """`scrubline.report.write_report` and its options type, when this build has them."""
    try:
        import scrubline.report as report
    except ImportError:
        return None
    writer = getattr(report, "write_report", None)
    options = getattr(report, "ReportOptions", None)
    return (writer, options) if writer is not None and options is not None else None


def overlay_renderer() -> Any:
    """The Qt-free overlay renderer the PNG and MP4 exports draw with, when this build has it."""
    try:
        from scrubline.core import overlay
    except ImportError:
        return None
    return overlay
