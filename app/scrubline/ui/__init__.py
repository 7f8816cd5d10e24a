"""Everything Qt: the main window, player, overlays, timeline and dialogs over the Qt-free core.

Importing the package protects the interpreter from a reference-counting defect of one PySide6
release (see `scrubline.ui.compat`) before any window exists.
"""

from scrubline.ui.compat import guard_none_refcount

guard_none_refcount()
