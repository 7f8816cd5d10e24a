"""GUI test fixtures: Qt runs offscreen, settings go to a temporary file, and the window works on
a small generated demo clip with a tiny ONNX segmenter (instrument = dark pixels, tip = dark and
blue-ish, bleeding = red), so every test drives the real window in a few seconds."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import render_demo_clip
from scrubline.core.models import load_registry
from scrubline.ui.settings import SETTINGS_ENV
from tests import tiny_models


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "settings.ini"))


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo scene, shortened in size and rate: 30 s at 10 fps, 320x180 (300 frames). A bleed
    grows from 8 s and is gone by 24 s; a tip slips behind tissue 18-21 s."""
    return render_demo_clip(
        tmp_path_factory.mktemp("demo") / "demo.mp4", seconds=30, fps=10, size=(320, 180)
    )


@pytest.fixture(scope="session")
def tiny_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_registry(
        [tiny_models.segmenter_folder(tmp_path_factory.mktemp("models"))], include_bundled=False
    )


@pytest.fixture(scope="session")
def analysed_case(demo_clip: Path, tiny_registry, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The demo clip analysed headless once per session (5 fps: every other frame)."""
    report = analyse_video(
        demo_clip,
        tmp_path_factory.mktemp("case") / "demo.scrub",
        AnalysisSettings(fps=5),
        registry=tiny_registry,
    )
    assert report.complete
    return report.case_path


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return tmp_path / "cases"


@pytest.fixture
def with_case(analysed_case: Path, case_dir: Path) -> Path:
    """Put the analysed case where the window looks for the demo clip's case."""
    from scrubline.core.store import CaseStore

    with CaseStore(analysed_case) as store:
        fingerprint = store.video["fingerprint"]
    case_dir.mkdir(parents=True, exist_ok=True)
    target = case_dir / f"{fingerprint}.scrub"
    shutil.copy(analysed_case, target)
    return target


@pytest.fixture
def window(qtbot, tiny_registry, case_dir: Path) -> Iterator:  # type: ignore[no-untyped-def]
    from scrubline.ui.main_window import MainWindow

    win = MainWindow(registry=tiny_registry, case_dir=case_dir)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.close()


@pytest.fixture
def open_window(qtbot, window, demo_clip: Path):  # type: ignore[no-untyped-def]
    """The window with the demo clip open (and its case, when a test put one in place)."""
    with qtbot.waitSignal(window.video_ready, timeout=30_000):
        window.open_video(demo_clip)
    qtbot.waitUntil(lambda: window.frame_view.shown_index == 0, timeout=10_000)
    return window
