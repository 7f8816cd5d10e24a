"""The analysis controller built from its context alone (no main window): it runs a real
analysis of the small generated demo clip with the tiny segmenter on its worker, and tells its
host (here a recorder) what a window would show."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QStatusBar

from scrubline.core.analysis import AnalysisSettings, PlanChanged
from scrubline.ui.analysis_controller import AnalysisContext, AnalysisController
from scrubline.ui.settings import app_settings

TIMEOUT = 60_000


class Host:
    """What a window would give the controller, and a record of what it was asked to do."""

    def __init__(self, qtbot: Any, video: Path, case: Path, registry: Any) -> None:
        self.video: Path | None = video
        self.case = case
        self.registry = registry
        self.generation = 1
        self.closing = False
        self.status_bar = QStatusBar()
        qtbot.addWidget(self.status_bar)
        self.banners: list[tuple[str, str, Any]] = []
        self.statuses: list[str] = []
        self.errors: list[str] = []
        self.refreshes: list[str] = []
        self.created: list[Path] = []

    def context(self) -> AnalysisContext:
        def banner(text: str, button: str = "", action: Any = None) -> None:
            self.banners.append((text, button, action))

        def add_action(menu: QMenu, text: str, slot: Any, shortcuts: Any = ()) -> QAction:
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
            return action

        return AnalysisContext(
            parent=None,
            settings=app_settings(),
            status_bar=self.status_bar,
            video_path=lambda: self.video,
            info=lambda: SimpleNamespace(duration_s=30.0) if self.video else None,
            case_path=lambda: self.case,
            existing_case=lambda: None,
            generation=lambda: self.generation,
            registry=lambda: self.registry,
            procedure=lambda: "generic",
            case_created=self.created.append,
            refresh_case=lambda: self.refreshes.append("case"),
            refresh_outcome=lambda: self.refreshes.append("outcome"),
            show_banner=banner,
            hide_banner=lambda: self.banners.append(("", "", None)),
            show_status=lambda message, ms: self.statuses.append(message),
            report_error=lambda title, message, details: self.errors.append(f"{title}: {message}"),
            closing=lambda: self.closing,
            add_action=add_action,
        )


@pytest.fixture
def host(qtbot, demo_clip: Path, tiny_registry, tmp_path: Path) -> Host:  # type: ignore[no-untyped-def]
    return Host(qtbot, demo_clip, tmp_path / "demo.scrub", tiny_registry)


@pytest.fixture
def analysis(host: Host) -> Any:
    controller = AnalysisController(host.context())
    menu = QMenu()
    controller.build_menu(menu)
    controller._menu = menu  # kept alive with the controller
    yield controller
    controller.shutdown()


def _frames_in(case: Path) -> int:
    db = sqlite3.connect(case)
    try:
        return int(db.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
    finally:
        db.close()


def test_an_analysis_runs_to_completion_with_progress_and_refreshes(
    qtbot, host: Host, analysis: Any
) -> None:  # type: ignore[no-untyped-def]
    fractions: list[float] = []
    analysis.progressed.connect(lambda fraction, message: fractions.append(fraction))
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as done:
        assert analysis.start(AnalysisSettings(fps=5))
        assert analysis.running()
        assert not analysis.progress.isHidden() and not analysis.cancel_button.isHidden()
        assert analysis.cancel_action.isEnabled() and not analysis.analyse_action.isEnabled()
        assert host.created == [host.case]
        assert not analysis.start()  # one analysis at a time
    report = done.args[0]
    assert report.complete and report.done_now == report.planned == 150
    assert fractions and max(fractions) == pytest.approx(1.0)
    assert _frames_in(host.case) == 150
    assert analysis.progress.isHidden() and analysis.cancel_button.isHidden()
    assert analysis.analyse_action.isEnabled() and not analysis.cancel_action.isEnabled()
    assert host.statuses[-1].startswith("Analysis complete: 150 frames")
    assert host.refreshes[-2:] == ["case", "outcome"]
    assert host.errors == []
    # The case's own plan is what Resume would continue.
    assert analysis.default_settings().fps == pytest.approx(5.0)


def test_a_cancel_ends_the_analysis_and_resume_redoes_nothing(
    qtbot, host: Host, analysis: Any
) -> None:  # type: ignore[no-untyped-def]
    analysis.progressed.connect(lambda fraction, message: fraction > 0 and analysis.cancel())
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as stopped:
        analysis.start(AnalysisSettings(fps=5))
    first = stopped.args[0]
    assert first.cancelled and 0 < first.done_now < first.planned
    assert not analysis.running() and analysis.progress.isHidden()
    assert _frames_in(host.case) == first.done_now
    text, button, resume = host.banners[-1]
    assert button == "Resume" and f"{first.done_now} of {first.planned}" in text
    analysis.progressed.disconnect()
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as resumed:
        resume()
    second = resumed.args[0]
    assert second.complete and second.already_done == first.done_now
    assert second.done_now == first.planned - first.done_now


def test_other_settings_offer_to_start_afresh(qtbot, host: Host, analysis: Any) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT):
        analysis.start(AnalysisSettings(fps=5))
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as refused:
        analysis.start(AnalysisSettings(fps=2))
    assert isinstance(refused.args[0], PlanChanged)
    assert _frames_in(host.case) == 150  # nothing touched
    text, button, afresh = host.banners[-1]
    assert button == "Start afresh"
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as again:
        afresh()
    fresh = again.args[0]
    assert fresh.complete and fresh.already_done == 0 and 55 <= fresh.planned <= 65  # 2 fps
    assert _frames_in(host.case) == fresh.planned


def test_a_failure_is_reported_and_analyse_is_offered_again(
    qtbot, host: Host, analysis: Any, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    host.video = broken
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT) as failed:
        analysis.start(AnalysisSettings(fps=5))
    assert isinstance(failed.args[0], Exception)
    assert host.errors and host.errors[-1].startswith("The analysis stopped with an error")
    assert host.banners[-1][1] == "Analyse…"
    assert analysis.progress.isHidden()


def test_a_finished_analysis_of_a_video_no_longer_open_changes_nothing(
    qtbot, host: Host, analysis: Any
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(analysis.finished, timeout=TIMEOUT):
        analysis.start(AnalysisSettings(fps=5))
        host.generation += 1  # another video was opened meanwhile
        host.refreshes.clear()
        host.statuses.clear()
    assert host.refreshes == [] and host.statuses == []
    assert analysis.progress.isHidden()
