"""Work-arounds for defects in the Qt binding that would otherwise crash the window.

PySide6 6.12.0 on Python 3.11 returns `None` from every void method (`update()`, `setText()`,
`QSettings.setValue()`, ...) without taking a reference to it. Python 3.12 made `None` immortal,
so the binding's authors do not see it there; on 3.11 each call takes one reference from `None`,
and once a few thousand calls more than the interpreter holds have been made, `None` is
"deallocated" and the process aborts ("Fatal Python error: none_dealloc"), during a long review
session or at exit. 6.11.x is not affected.

`guard_none_refcount` measures the defect once at start-up and, only where it is present, does
what Python 3.12 does: gives `None`, `True` and `False` a reference count so large that no
amount of missing references can bring it to zero. Nothing else is touched.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("scrubline.ui")

_IMMORTAL_MARGIN = 1 << 40  # at a million leaked references a second this lasts twelve days
_guarded = False


def void_call_leaks_none(calls: int = 64) -> bool:
    """Whether calling a void Qt method takes a reference from `None` (the PySide6 6.12.0
    defect)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("scrubline-probe")
    return before - sys.getrefcount(None) >= calls // 2


def guard_none_refcount() -> bool:
    """Protect the singletons when the defect is present; True if it was (idempotent)."""
    global _guarded
    if _guarded:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # immortal singletons: nothing to protect
    if not void_call_leaks_none():
        return False
    import ctypes

    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object; id() is its address.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _IMMORTAL_MARGIN
    _guarded = True
    import PySide6

    log.info(
        "PySide6 %s leaks references to None on Python %d.%d; None, True and False are protected",
        getattr(PySide6, "__version__", "?"),
        *sys.version_info[:2],
    )
    return True
