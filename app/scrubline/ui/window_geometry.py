"""How big the window opens, whether a saved placement is still usable, and how the video and the
timeline share the height: small pure functions over sizes, so they are testable without a screen.

The window used to open at a fixed 1400×900, which on a 1366×768 laptop (or any screen at 150%
scaling, 910×512 logical pixels there) put the outcome panel, the bleeding lane and the status
bar off-screen. Now it opens at most at its preferred size and never larger than the screen's
available area (the desktop minus panels and docks), a saved geometry is restored only if it
still fits a screen (a laptop undocked from a large monitor), and the layout gives way rather
than overflowing: the timeline scrolls inside its pane when the height is short, the side panels
scroll, and the scrubber keeps a usable width down to 1024×640 and beyond.
"""

from __future__ import annotations

PREFERRED_SIZE = (1400, 900)
SCREEN_FRACTION = 0.92  # of the available area: room for a title bar and the window's frame
TIMELINE_SHARE_LIMIT = 0.55  # the timeline takes its full height while the video keeps the rest


Rect = tuple[int, int, int, int]  # x, y, width, height


def initial_size(
    available: tuple[int, int], preferred: tuple[int, int] = PREFERRED_SIZE
) -> tuple[int, int]:
    """The size to open at on a screen whose available area is `available` (width, height)."""
    width = min(preferred[0], int(available[0] * SCREEN_FRACTION))
    height = min(preferred[1], int(available[1] * SCREEN_FRACTION))
    return max(width, 1), max(height, 1)


def centred(available: Rect, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner that centres `size` in the available area."""
    x, y, width, height = available
    return x + max((width - size[0]) // 2, 0), y + max((height - size[1]) // 2, 0)


def fits(window: Rect, screens: list[Rect], slack: int = 0) -> bool:
    """Whether the window lies wholly inside one screen's available area (`slack` pixels of frame
    allowed beyond its edges)."""
    x, y, width, height = window
    if width <= 0 or height <= 0:
        return False
    for sx, sy, sw, sh in screens:
        if (
            x >= sx - slack
            and y >= sy - slack
            and x + width <= sx + sw + slack
            and y + height <= sy + sh + slack
        ):
            return True
    return False


def split_heights(total: int, timeline_full: int, timeline_least: int) -> tuple[int, int]:
    """(video pane, timeline pane) heights for a splitter `total` pixels high: the timeline gets
    its full height up to TIMELINE_SHARE_LIMIT of the total, else that share (and scrolls), and
    never less than `timeline_least`."""
    timeline = (
        timeline_full
        if timeline_full <= total * TIMELINE_SHARE_LIMIT
        else int(total * TIMELINE_SHARE_LIMIT)
    )
    timeline = max(min(timeline, total), min(timeline_least, total))
    return total - timeline, timeline
