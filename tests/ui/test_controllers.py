"""Controllers built from a context, without a window (README, Architecture: controllers): the
export controller writes tables, a report, a frame and a clip for a case and a `ViewerState`
alone, and says what went wrong through the context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction

from scrubline.core.export import EXPORT_FILES
from scrubline.core.video import VideoSource
from scrubline.ui.export_controller import ExportContext, ExportController
from scrubline.ui.state import ViewerState

TIMEOUT = 60_000


@pytest.fixture
def exports(qtbot, with_case: Path, demo_clip: Path, tmp_path: Path, tiny_registry):  # type: ignore[no-untyped-def]
    state = ViewerState()
    with VideoSource(demo_clip) as source:
        state.set_video(np.asarray(source.times), source.info.duration_s)
    told: dict[str, list[Any]] = {"errors": [], "status": []}
    context = ExportContext(
        parent=None,
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
        state=state,
        case_path=lambda: with_case,
        video_path=lambda: demo_clip,
        has_video=lambda: True,
        registry=lambda: tiny_registry,
        report_error=lambda title, message, details: told["errors"].append((title, message)),
        show_status=lambda message, ms: told["status"].append(message),
        closing=lambda: False,
        add_action=lambda menu, text, slot, *a, **k: menu.addAction(text, slot),
    )
    controller = ExportController(context)
    controller.told = told  # type: ignore[attr-defined]
    yield controller
    controller.shutdown()


def test_the_export_controller_works_from_a_context_alone(qtbot, exports, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(exports.finished, timeout=TIMEOUT) as done:
        assert exports.tables(tmp_path / "tables")
    kind, _, written = done.args[0]
    assert kind == "tables" and sorted(p.name for p in written) == sorted(EXPORT_FILES)
    exports.context.state.set_frame(50)
    with qtbot.waitSignal(exports.finished, timeout=TIMEOUT) as done:
        assert exports.frame(tmp_path / "frame.png")
    assert Path(done.args[0][2][0]).stat().st_size > 0
    with qtbot.waitSignal(exports.finished, timeout=TIMEOUT) as done:
        assert exports.report(tmp_path / "debrief.pdf")
    assert Path(done.args[0][2][0]).read_bytes().startswith(b"%PDF")
    assert any(m.startswith("Exported debrief.pdf") for m in exports.told["status"])
    # No clip range: said through the context, nothing started.
    assert not exports.clip(tmp_path / "clip.mp4")
    assert exports.told["errors"] == [("No clip range", exports.told["errors"][0][1])]
    assert "select a range first" in exports.told["errors"][0][1]


def test_the_export_menu_is_built_through_the_context(qtbot, exports) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMenu

    menu = QMenu()
    exports.build_menu(menu)
    texts = [a.text() for a in menu.actions() if isinstance(a, QAction)]
    assert texts[:4] == [
        "PDF &report…",
        "&Tables (CSV + JSON)…",
        "&Frame with overlays (PNG)…",
        "&Clip with overlays (MP4)…",
    ]
    assert all(a.isEnabled() for a in menu.actions()[:4])
