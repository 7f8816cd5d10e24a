"""Where the main window opens and how its panes share the space: the sizes come from the pure
functions of `window_geometry`; this module reads and writes them through Qt and the settings.

A saved placement is restored only if it still fits a screen (a laptop undocked from a large
monitor); otherwise the window opens at its preferred size, shrunk to the screen's available
area, centred. On the first show, the timeline pane gets its full height if it can and the
outcome panel most of the right-hand column, unless a saved layout says otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter

from scrubline.ui import window_geometry
from scrubline.ui.settings import read_list

log = logging.getLogger("scrubline.ui")


def place_on_screen(window: QMainWindow, settings: QSettings) -> None:
    """Restore the saved geometry if it still fits a screen; else open at the preferred size,
    shrunk to the available area of the screen the window opens on, centred."""
    geometry = settings.value("window/geometry")
    # Checked on the rectangle saved beside it: Qt's restoreGeometry squeezes an oversized
    # window into the screen itself, which hides that it no longer fits.
    saved = [int(v) for v in read_list(settings, "window/normal_rect") if v.lstrip("-").isdigit()]
    screens = [_rect(s.availableGeometry()) for s in QGuiApplication.screens()]
    if (
        isinstance(geometry, QByteArray)
        and len(saved) == 4
        and window_geometry.fits((saved[0], saved[1], saved[2], saved[3]), screens)
        and window.restoreGeometry(geometry)
    ):
        return
    if isinstance(geometry, QByteArray):
        log.info("the saved window geometry does not fit the screens now; using the default size")
    screen = window.screen() or QGuiApplication.primaryScreen()
    available = (
        _rect(screen.availableGeometry())
        if screen is not None
        else (0, 0, *window_geometry.PREFERRED_SIZE)
    )
    size = window_geometry.initial_size((available[2], available[3]))
    window.resize(*size)
    window.move(*window_geometry.centred(available, size))


def restore_layout(
    window: QMainWindow, splitter: QSplitter, settings: QSettings
) -> tuple[bool, bool]:
    """Restore the saved docks and splitter; whether each was restored."""
    layout = settings.value("window/state")
    docks = isinstance(layout, QByteArray) and window.restoreState(layout)
    split = settings.value("window/splitter")
    return docks, isinstance(split, QByteArray) and splitter.restoreState(split)


def save_layout(window: QMainWindow, splitter: QSplitter, settings: QSettings) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/normal_rect", [str(v) for v in _rect(window.normalGeometry())])
    settings.setValue("window/state", window.saveState())
    settings.setValue("window/splitter", splitter.saveState())
    settings.sync()


def share_height(splitter: QSplitter, full: int, least: int) -> None:
    """The lower pane gets `full` pixels if the upper one keeps enough, and never below
    `least` (`window_geometry.split_heights`)."""
    total = sum(splitter.sizes())
    splitter.setSizes(list(window_geometry.split_heights(total, full, least)))


def share_column(window: QMainWindow, top: QDockWidget, bottom: QDockWidget, share: float) -> None:
    """`top` gets `share` of the height the two stacked docks have together."""
    total = top.height() + bottom.height()
    first = int(total * share)
    window.resizeDocks([top, bottom], [first, total - first], Qt.Orientation.Vertical)


def _rect(rect: Any) -> window_geometry.Rect:
    return rect.x(), rect.y(), rect.width(), rect.height()
