"""The window fits the screen (issue 12 item 8): it opens no larger than the available area,
restores a saved geometry only if that still fits, and stays usable down to 1024×640 and on a
1366×768 laptop at 150% scaling (911×512 logical pixels): the scrubber keeps its width, and the
outcome panel, the bleeding lane and the status bar stay inside the window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QGuiApplication

from scrubline.ui import window_geometry
from scrubline.ui.main_window import MainWindow
from scrubline.ui.player import SCRUBBER_LEAST_WIDTH

LAPTOP_AT_150 = (911, 512)


def test_initial_size_is_the_preferred_size_shrunk_to_the_screen() -> None:
    assert window_geometry.initial_size((2560, 1440)) == window_geometry.PREFERRED_SIZE
    width, height = window_geometry.initial_size((1366, 728))
    assert width <= 1366 and height <= 728 and (width, height) == (1256, 669)
    assert window_geometry.centred((0, 40, 1366, 728), (1256, 669)) == (55, 69)


def test_fits_needs_one_screen_to_hold_the_whole_window() -> None:
    screens = [(0, 0, 1920, 1080), (1920, 0, 1366, 768)]
    assert window_geometry.fits((100, 100, 1400, 900), screens)
    assert not window_geometry.fits((2000, 50, 1400, 900), screens)  # too tall for the laptop
    assert not window_geometry.fits((1800, 100, 400, 300), screens)  # straddles both
    assert not window_geometry.fits((5000, 100, 400, 300), screens)  # on a monitor now gone
    assert window_geometry.fits((1921, 0, 1366, 768), screens, slack=1)


def test_the_timeline_keeps_its_height_unless_the_video_would_be_squeezed() -> None:
    assert window_geometry.split_heights(700, 301, 110) == (399, 301)
    video, timeline = window_geometry.split_heights(420, 301, 110)
    assert timeline == 231 and video == 189  # the rows scroll in their pane
    assert window_geometry.split_heights(150, 301, 110) == (40, 110)


def available() -> QRect:
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    return screen.availableGeometry()


def new_window(qtbot, registry, case_dir: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(registry=registry, case_dir=case_dir)
    qtbot.addWidget(window)
    return window


def test_opens_inside_the_available_screen(qtbot, tiny_registry, case_dir: Path) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, tiny_registry, case_dir)
    area = available()
    assert area.contains(window.geometry())
    assert (window.width(), window.height()) == window_geometry.initial_size(
        (area.width(), area.height())
    )


def test_a_saved_geometry_is_restored_only_if_it_still_fits(
    qtbot, tiny_registry, case_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    area = available()
    first = new_window(qtbot, tiny_registry, case_dir)
    first.resize(area.width() - 100, area.height() - 100)
    first.move(area.topLeft() + QPoint(20, 30))
    first.close()  # saves its geometry, as when the user quits
    second = new_window(qtbot, tiny_registry, case_dir)
    assert (second.width(), second.height()) == (area.width() - 100, area.height() - 100)
    assert second.geometry().topLeft() == area.topLeft() + QPoint(20, 30)
    # Saved on a big monitor, opened on a small screen: not restored.
    second.resize(area.width() + 900, area.height() + 700)
    second.close()
    third = new_window(qtbot, tiny_registry, case_dir)
    assert area.contains(third.geometry())
    assert (third.width(), third.height()) == window_geometry.initial_size(
        (area.width(), area.height())
    )


def inside(window: MainWindow, widget) -> bool:  # type: ignore[no-untyped-def]
    top_left = widget.mapTo(window, QPoint(0, 0))
    return widget.isVisible() and QRect(QPoint(0, 0), window.size()).contains(
        QRect(top_left, widget.size())
    )


@pytest.mark.parametrize("size", [(1024, 640), LAPTOP_AT_150])
def test_everything_stays_reachable_on_a_small_window(
    qtbot, tiny_registry, with_case, case_dir: Path, demo_clip: Path, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, tiny_registry, case_dir)
    window.show()
    window.resize(*size)
    with qtbot.waitSignal(window.case_refreshed, timeout=60_000):
        window.open_video(demo_clip)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5_000)
    hint = window.minimumSizeHint()
    assert hint.width() <= LAPTOP_AT_150[0] and hint.height() <= LAPTOP_AT_150[1] - 40
    assert window.transport.slider.width() >= SCRUBBER_LEAST_WIDTH
    for widget in (window.transport, window.timeline_pane, window.outcome_dock, window.statusBar()):
        assert inside(window, widget), widget
    # The bleeding lane is in view, or one scroll away inside the timeline's pane.
    bleeding = window.timeline_view.plots["bleeding"]
    viewport = window.timeline_pane.viewport()

    def lane_in_view() -> bool:
        bar = window.timeline_pane.verticalScrollBar()  # scrolled to the bottom: the lane is last
        bar.setValue(bar.maximum())
        lane_top = bleeding.mapTo(viewport, QPoint(0, 0)).y()
        return lane_top >= 0 and lane_top + bleeding.height() <= viewport.height()

    qtbot.waitUntil(lane_in_view, timeout=5_000)
    if size == (1024, 640):  # room enough: the whole timeline shows without scrolling
        assert not window.timeline_pane.verticalScrollBar().isVisible()
