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


def test_start_up_objects_are_set_aside_so_a_collection_walks_only_newer_ones(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Once the start-up imports are done, the GUI-thread collector freezes the objects they made
    (a full collection over them stalled the window 45-80 ms while scrubbing); garbage made
    afterwards is still collected, in the GUI thread."""
    import weakref

    from scrubline.ui.app import ensure_application, start_up_objects_frozen
    from scrubline.ui.warm_imports import imports_warmed, warm_imports

    ensure_application()
    warm_imports()
    assert imports_warmed.wait(120)
    qtbot.waitUntil(start_up_objects_frozen.is_set, timeout=10_000)
    assert gc.get_freeze_count() > 10_000  # PySide6, pandas, onnxruntime...

    class Node:
        pass

    later = Node()
    later.me = later  # type: ignore[attr-defined]
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
