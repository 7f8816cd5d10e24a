"""How the application process is set up (`ensure_application`)."""

from __future__ import annotations

import gc
import threading


def test_cyclic_garbage_holding_qt_objects_is_freed_in_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A Qt object in a reference cycle is freed by the main thread's collector, never by the
    thread that happens to allocate (the analysis' decoding thread once deadlocked freeing one)."""
    from PySide6.QtCore import QObject

    from scrubline.ui.app import ensure_application

    ensure_application()
    assert not gc.isenabled()  # automatic collection is off; a GUI-thread timer collects
    freed_in: list[threading.Thread] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self
            self.qobject = QObject()

        def __del__(self) -> None:  # runs in the thread whose collection frees the cycle
            freed_in.append(threading.current_thread())

    Cycle()

    def allocate() -> None:  # enough new cyclic garbage to be worth a collection
        for _ in range(5_000):
            loop: list[object] = []
            loop.append(loop)

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(freed_in), timeout=10_000)
    assert freed_in == [threading.main_thread()]
