"""Heavy imports done on a background thread while the window opens.

An import holds the interpreter lock while it runs; done on first use (the first analysis, the
first outcome) it would freeze the window for a few hundred milliseconds just when the user is
watching. The window starts `warm_imports()` once; when `imports_warmed` is set, the GUI-thread
garbage collector sets the start-up objects aside (`ui.app`), and the UI probe measures after
that.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("scrubline.ui")

WARM_MODULES = (
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
imports_warmed = threading.Event()  # set once the warm-up imports are done


def warm_imports() -> None:
    """Start importing `WARM_MODULES` on a background thread (once per process)."""
    global _warmed
    if _warmed:
        return
    _warmed = True

    def warm() -> None:
        import importlib

        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # a missing optional piece shows up, readably, when it is used
                log.debug("warm-up import of %s failed", name, exc_info=True)
        imports_warmed.set()

    threading.Thread(target=warm, name="scrubline-warm-imports", daemon=True).start()
