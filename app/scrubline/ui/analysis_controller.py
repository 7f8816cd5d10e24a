"""The analysis controller: analysing the open video in the background, with its progress.

`analyse_video` (a plain core function) runs on the controller's own worker (`TaskRunner`);
its progress calls arrive as queued signals and move the progress bar in the status bar, and
every `REFRESH_DURING_ANALYSIS_S` the case is read again, so results stream into the timeline
while the analysis runs. Cancel stops it after the current batch: what is done is kept, and
Resume (the banner's button, or Analyse again) continues where it stopped without redoing a
frame. If the chosen settings no longer match the case's plan (`PlanChanged`), nothing is
touched and the banner offers to start afresh; any other failure is reported and what was saved
before it stays in the case file.

It is built from an `AnalysisContext` (what it reads of the open video and case, and callables
for what it asks the host to do: refresh the case, show a banner, report an error), not from
the window (README, Architecture: "Controllers are built from a context, not the window"), so a
pytest-qt test runs a real analysis of a tiny clip with it alone
(`tests/ui/test_analysis_controller.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QProgressBar, QStatusBar, QToolButton, QWidget

from scrubline.core.analysis import AnalysisSettings, PlanChanged, analyse_video, plan_settings
from scrubline.core.case import Case, StoreError
from scrubline.ui.dialogs import AnalysisDialog
from scrubline.ui.preferences import set_default_procedure
from scrubline.ui.settings import read_float
from scrubline.ui.tasks import TaskRunner

REFRESH_DURING_ANALYSIS_S = 1.5  # how often streamed results are re-read into the timeline


@dataclass(frozen=True)
class AnalysisContext:
    """What the analysis controller needs from whoever hosts it."""

    parent: QWidget | None  # parent of the analysis dialog
    settings: QSettings  # remembers the rate and device last chosen
    status_bar: QStatusBar  # where the progress bar and Cancel go
    video_path: Callable[[], Path | None]
    info: Callable[[], Any]  # the open video's VideoInfo, None until it is indexed
    case_path: Callable[[], Path | None]  # where its case file is (or will be)
    existing_case: Callable[[], Case | None]  # the open case, if its file exists
    generation: Callable[[], int]  # which opened video is current (a result of another is stale)
    registry: Callable[[], Any]
    procedure: Callable[[], str]  # the phase template a new case starts with
    case_created: Callable[[Path], None]  # the analysis is about to create (or extend) this case
    refresh_case: Callable[[], None]  # read the case again (timeline, bookmarks)
    refresh_outcome: Callable[[], None]
    show_banner: Callable[..., None]  # (text, button="", action=None)
    hide_banner: Callable[[], None]
    show_status: Callable[[str, int], None]  # message, milliseconds
    report_error: Callable[[str, str, str], None]  # title, message, details
    closing: Callable[[], bool]
    add_action: Callable[..., QAction]  # (menu, text, slot, shortcuts) -> the action added


class AnalysisController(QObject):
    """Starts, follows, cancels and resumes the analysis of the open video."""

    finished = Signal(object)  # the AnalysisReport, or the exception it failed with

    def __init__(self, context: AnalysisContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = TaskRunner("analysis", self)
        self.runner.progressed.connect(self._on_progress_changed)
        self.runner.finished.connect(self._on_finished_changed)
        self.runner.failed.connect(self._on_failed_changed)
        self.last_settings: AnalysisSettings | None = None  # of the running (or last) analysis
        self._generation = -1  # of the video the running analysis is of
        self._last_refresh = 0.0
        self.analyse_action: QAction | None = None
        self.cancel_action: QAction | None = None
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
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            context.status_bar.addPermanentWidget(widget)
            widget.hide()

    def build_menu(self, menu: QMenu) -> None:
        """Analyse… (Ctrl+Shift+A) and Cancel analysis."""
        self.analyse_action = self.context.add_action(menu, "&Analyse…", self.ask, "Ctrl+Shift+A")
        self.cancel_action = self.context.add_action(menu, "&Cancel analysis", self.cancel)
        self.cancel_action.setEnabled(False)

    # ------------------------------------------------------------------ the worker
    @property
    def progressed(self) -> Any:
        """The worker's progress signal (fraction, message)."""
        return self.runner.progressed

    def running(self) -> bool:
        return self.runner.running()

    def cancelled(self) -> bool:
        return self.runner.cancelled()

    def shutdown(self) -> None:
        """Cancel and wait: every finished batch stays in the case file. Its result, delivered
        afterwards, is stale if another video was opened meanwhile."""
        if self.running():
            self.runner.shutdown()

    # ------------------------------------------------------------------ ask, start, cancel
    def default_settings(self) -> AnalysisSettings:
        """The open case's own plan (rate, range, models) when it has one: what Resume continues.
        The rate last chosen for any video only proposes the settings of a new case."""
        chosen = AnalysisSettings(
            fps=read_float(self.context.settings, "analysis/fps", 5.0),
            device=str(self.context.settings.value("analysis/device", "cpu")),
        )
        case_path = self.context.case_path()
        if case_path is None:
            return chosen
        try:
            return plan_settings(case_path, chosen)
        except StoreError:
            return chosen

    def ask(self) -> None:
        """Analyse…: ask for the settings (the case's plan proposed), then start."""
        info = self.context.info()
        if info is None:
            self.context.report_error("Nothing to analyse", "Open a video first.", "")
            return
        if self.running():
            self.context.show_status("An analysis is already running", 4000)
            return
        note = ""
        case = self.context.existing_case()
        if case is not None:
            analysed, _ = case.progress()
            if analysed:
                note = (
                    f"{analysed} frames are already analysed; they are kept and not redone "
                    "unless you choose to start again."
                )
        answer = AnalysisDialog.ask(
            self.context.parent,
            self.context.registry().frame_models(),
            info.duration_s,
            self.default_settings(),
            note,
        )
        if answer is None:
            return
        settings, fresh = answer
        self.context.settings.setValue("analysis/fps", settings.fps)
        self.context.settings.setValue("analysis/device", settings.device)
        self.start(settings, fresh=fresh)

    def start(self, settings: AnalysisSettings | None = None, *, fresh: bool = False) -> bool:
        """Analyse (or resume) the open video in the background; False if that cannot start."""
        video, case = self.context.video_path(), self.context.case_path()
        if video is None or self.context.info() is None or case is None or self.running():
            return False
        # The analysis creates the case file on its own thread: creating a SQLite file in WAL
        # mode waits for the disk (measured: 0.8 s on a busy one), which the window must not.
        settings = settings or self.default_settings()
        self.last_settings = settings
        registry = self.context.registry()
        generation, procedure = self.context.generation(), self.context.procedure()

        def run(state: Any) -> Any:
            report = analyse_video(
                video, case, settings, registry=registry, state=state, fresh=fresh
            )
            set_default_procedure(case, procedure)  # a new case starts with the preferred one
            return generation, report

        if not self.runner.start(run):
            return False
        self.context.hide_banner()
        self.context.case_created(case)  # read as soon as the analysis has created it
        self._generation = generation
        self.progress.setValue(0)
        self.progress_label.setText("Starting analysis…")
        self._show_progress(True)
        return True

    def cancel(self) -> None:
        """Stop after the current batch; what is done is kept."""
        if self.running():
            self.runner.cancel()
            self.progress_label.setText("Stopping after this batch…")

    def offer(self, analysed: int, planned: int) -> None:
        """The open video's case is not (fully) analysed: a banner offers to resume or start."""
        if planned and analysed:
            self.context.show_banner(
                f"Analysis incomplete: {analysed} of {planned} frames analysed. "
                "Resume to finish; nothing done is redone.",
                "Resume",
                self.start,
            )
        else:
            self.context.show_banner(
                "This video has not been analysed yet. Analysis runs in the background; "
                "you can keep reviewing meanwhile.",
                "Analyse…",
                self.ask,
            )

    def _show_progress(self, running: bool) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(running)
        if self.cancel_action is not None and self.analyse_action is not None:
            self.cancel_action.setEnabled(running)
            self.analyse_action.setEnabled(not running)

    # ------------------------------------------------------------------ results
    def _on_progress_changed(self, fraction: float, message: str) -> None:
        if self.context.closing() or self._generation != self.context.generation():
            return
        self.progress.setValue(int(round(fraction * 1000)))
        if not self.cancelled():
            self.progress_label.setText(message)
        now = time.monotonic()
        if now - self._last_refresh >= REFRESH_DURING_ANALYSIS_S:
            self._last_refresh = now
            self.context.refresh_case()

    def _on_finished_changed(self, result: Any) -> None:
        generation, report = result
        if self.context.closing():
            return
        self._show_progress(False)
        if generation != self.context.generation():
            self.finished.emit(report)
            return
        saved = report.already_done + report.done_now
        if report.cancelled:
            self.context.show_banner(
                f"Analysis stopped: {saved} of {report.planned} frames are saved. "
                "Resume to finish; nothing done is redone.",
                "Resume",
                self.start,
            )
        else:
            rate = report.done_now / report.elapsed_s if report.elapsed_s > 0 else 0.0
            self.context.show_status(
                f"Analysis complete: {report.done_now} frames in {report.elapsed_s:.1f} s "
                f"({rate:.1f} frames/s)"
                + (f"; {report.already_done} were already done" if report.already_done else ""),
                10000,
            )
        notes = list(report.notices) + list(report.problems[:5])
        if notes:
            self.context.show_banner("Notes from the analysis: " + "; ".join(notes))
        self.context.refresh_case()
        self.context.refresh_outcome()
        self.finished.emit(report)

    def _on_failed_changed(self, exc: object, details: str) -> None:
        if self.context.closing():
            return
        self._show_progress(False)
        if isinstance(exc, PlanChanged):
            # Nothing was touched: ask whether to replace the case's analysis with the new one.
            settings = self.last_settings or self.default_settings()
            self.context.show_banner(
                f"{exc.summary}. Start afresh with these settings? The analysed frames are "
                "discarded; bookmarks and notes are kept.",
                "Start afresh",
                lambda: self.start(settings, fresh=True),
            )
            self.finished.emit(exc)
            return
        self.context.report_error(
            "The analysis stopped with an error",
            f"{exc}\n\nResults saved before the error are kept in the case file.",
            details,
        )
        self.context.refresh_case()
        self.context.show_banner(
            "The analysis stopped with an error; what was done is saved.",
            "Analyse…",
            self.ask,
        )
        self.finished.emit(exc)
