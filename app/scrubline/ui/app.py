"""Starting the desktop application: `scrubline [VIDEO]` ends up in `run_app`.

It creates the QApplication, the main window, opens the given video (or the generated demo
case, analysing it in the background the first time), and installs an exception hook so an
unexpected error becomes a readable dialog instead of a dead window. The case file cannot be
corrupted by such an error: every write to it is one SQLite transaction.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger("scrubline.ui")


def ensure_application(argv: list[str] | None = None) -> Any:
    """The running QApplication, created if there is none."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
        app.setApplicationName("Scrubline")
        app.setOrganizationName("Scrubline")
        # Wayland compositors and desktop shells match the window to scrubline.desktop by this.
        app.setDesktopFileName("scrubline")
        app.setWindowIcon(application_icon())
        app.setStyle("Fusion")
        from scrubline.ui.theme import dark_palette

        app.setPalette(dark_palette())
    collect_garbage_in_the_gui_thread()
    return app


_GARBAGE_COLLECTOR: Any = None
start_up_objects_frozen = threading.Event()  # set once the collector has set them aside


def collect_garbage_in_the_gui_thread() -> None:
    """Python's cyclic garbage collector runs in whichever thread happens to allocate. When it
    frees a Qt object on the analysis' decoding thread, Qt's locks and Python's can deadlock: seen
    in the test suite as the decoding thread inside ~QObject waiting for the GIL while the main
    thread held the GIL waiting for Qt's mutex. pyqtgraph's GarbageCollector (a well-kept
    answer to exactly this) turns automatic collection off and collects on a timer in the GUI
    thread instead; once per process.

    A full collection walks every object the process holds, and after the start-up imports
    (PySide6, pandas, onnxruntime, ...) those are about 150,000: 45-80 ms in the GUI thread,
    the window's longest stall while scrubbing during an analysis. Those objects live as long as
    the process, so once the imports are done the collector collects one last time and sets them
    aside with `gc.freeze()` (the standard library's answer for long-lived start-up objects);
    later collections walk only what was made since (5-10 ms). The price: an object made before
    then that later ends up in a garbage cycle is never freed (plain reference counting still
    frees the rest), a bounded, one-time cost."""
    global _GARBAGE_COLLECTOR
    if _GARBAGE_COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        from scrubline.ui.warm_imports import imports_warmed

        class StartUpFreezingCollector(GarbageCollector):  # type: ignore[misc]
            def check(self) -> None:
                if imports_warmed.is_set() and not start_up_objects_frozen.is_set():
                    gc.collect()
                    gc.freeze()
                    start_up_objects_frozen.set()
                    return
                super().check()

        _GARBAGE_COLLECTOR = StartUpFreezingCollector(interval=1.0)


def application_icon() -> Any:
    """The project's icon at every size drawn (resources/icons, rendered from scrubline.svg);
    an empty icon, not an error, if the files are missing from an unusual install."""
    from PySide6.QtGui import QIcon

    from scrubline.core.paths import resources_dir

    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("scrubline-*.png")):
        icon.addFile(str(path))
    if icon.isNull():
        log.warning("the application icon is missing from %s", resources_dir() / "icons")
    return icon


def route_qt_messages_to_log() -> None:
    """Qt's own warnings (a missing plugin, a failed font, a bad image) go to the log file with
    Scrubline's, instead of only to a terminal a desktop launcher does not have."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind: Any, context: Any, message: str) -> None:
        qt_log.log(levels.get(kind, logging.WARNING), "%s", message)

    qInstallMessageHandler(handler)


def run_app(video: str | None, models_dirs: list[Path]) -> int:
    """Open the window on `video` (the demo case without one) and run until it is closed."""
    from PySide6.QtCore import QTimer

    from scrubline.ui.main_window import MainWindow

    app = ensure_application()
    route_qt_messages_to_log()
    window = MainWindow(models_dirs=models_dirs)
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous_hook(kind, value, tb)
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        log.error("unexpected error: %s", details)
        window.report_error(
            "Unexpected error",
            f"{value}\n\nYour case file is safe: results and bookmarks are saved as they are made.",
            details,
        )

    sys.excepthook = hook
    # Ctrl+C in the terminal (or a polite kill) closes the window the normal way: the analysis is
    # cancelled and waited for, so the case keeps every finished batch. Qt's loop never returns
    # to Python by itself, so a timer lets the interpreter run its signal handlers.
    previous_signals = {
        sig: signal.signal(sig, lambda *_: window.close())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    window.show()
    if video:
        QTimer.singleShot(0, lambda: window.open_video(video))
    else:
        QTimer.singleShot(0, window.open_demo)
    try:
        return int(app.exec())
    finally:
        wake.stop()
        sys.excepthook = previous_hook
        for sig, handler in previous_signals.items():
            signal.signal(sig, handler)
