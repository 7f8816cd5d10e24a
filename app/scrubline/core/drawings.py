"""Telestration: arrows, circles and freehand marks a teacher draws on a frame, kept with a
bookmark in the case, shown when the playhead is there, and burned into exported pictures,
clips and the report's bookmark key frames.

A drawing is data: its kind, its points as fractions of the frame (x to the right, y down, so it
fits the frame at any size, zoomed or exported), a colour and a stroke width, the bookmark it
belongs to and that bookmark's frame and time. The case keeps them under the meta key
`drawings` (a JSON list); `add_drawing` and `remove_drawing` each write once and give back what
undoes them. `draw_drawings` is the raster renderer (OpenCV, Qt-free) every exported picture
uses; the window paints the same shapes with Qt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

KINDS = ("arrow", "circle", "freehand")
COLOURS = {"yellow": "#ffeb3b", "cyan": "#18ffff", "white": "#ffffff", "green": "#76ff03"}
DEFAULT_COLOUR = COLOURS["yellow"]
DEFAULT_WIDTH = 0.006  # stroke width as a fraction of the frame's height (6 px at 1080p)
HOLD_S = 1.5  # a drawing stays on screen this long after its frame while playing
META_KEY = "drawings"


class DrawingError(ValueError):
    """A drawing that cannot be kept (unknown kind, too few points, points off the frame)."""


@dataclass(frozen=True)
class Drawing:
    kind: str
    points: tuple[tuple[float, float], ...]  # fractions of the frame's width and height
    frame: int  # the frame it was drawn on (its bookmark's)
    time_s: float
    bookmark_id: int | None = None
    colour: str = DEFAULT_COLOUR
    width: float = DEFAULT_WIDTH
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DrawingError(f"unknown drawing kind '{self.kind}' (one of {', '.join(KINDS)})")
        least = 2
        if len(self.points) < least:
            raise DrawingError(f"a {self.kind} needs at least {least} points")
        for x, y in self.points:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise DrawingError("a drawing's points must be numbers")
        if not (isinstance(self.colour, str) and len(self.colour) == 7 and self.colour[0] == "#"):
            raise DrawingError(f"a drawing's colour is '#rrggbb', not {self.colour!r}")
        if not 0 < self.width <= 0.1:
            raise DrawingError("a drawing's width is a fraction of the frame height (0 to 0.1)")

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "points": [[round(x, 5), round(y, 5)] for x, y in self.points],
            "frame": int(self.frame),
            "time_s": float(self.time_s),
            "bookmark_id": self.bookmark_id,
            "colour": self.colour,
            "width": self.width,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Drawing:
        return cls(
            kind=str(data["kind"]),
            points=tuple((float(x), float(y)) for x, y in data["points"]),
            frame=int(data["frame"]),
            time_s=float(data["time_s"]),
            bookmark_id=None if data.get("bookmark_id") is None else int(data["bookmark_id"]),
            colour=str(data.get("colour", DEFAULT_COLOUR)),
            width=float(data.get("width", DEFAULT_WIDTH)),
            id=None if data.get("id") is None else int(data["id"]),
        )

    def describe(self) -> str:
        return f"{self.kind} on frame {self.frame}"


def simplified(
    points: Sequence[tuple[float, float]], tolerance: float = 0.002
) -> tuple[tuple[float, float], ...]:
    """A freehand stroke without the points closer than `tolerance` to the previous kept one
    (a mouse sends hundreds), first and last kept."""
    if len(points) <= 2:
        return tuple(points)
    kept = [points[0]]
    for point in points[1:-1]:
        if math.dist(point, kept[-1]) >= tolerance:
            kept.append(point)
    kept.append(points[-1])
    return tuple(kept)


# ---------------------------------------------------------------------------- in the case
def read_drawings(store: Any, bookmark_ids: Iterable[int] | None = None) -> list[Drawing]:
    """The case's drawings (those of the given bookmarks only, when given: a deleted bookmark's
    drawings are kept, so undoing the deletion brings them back, but not shown)."""
    raw = store.get_meta(META_KEY, []) or []
    drawings = []
    for item in raw:
        try:
            drawings.append(Drawing.from_data(item))
        except (DrawingError, KeyError, TypeError, ValueError):
            continue  # a hand-edited or damaged entry: the others still show
    if bookmark_ids is not None:
        keep = set(bookmark_ids)
        drawings = [d for d in drawings if d.bookmark_id in keep]
    return drawings


def add_drawing(store: Any, drawing: Drawing) -> Drawing:
    """Keep `drawing` in the case (with its own id, or a new one); the stored drawing."""
    raw = list(store.get_meta(META_KEY, []) or [])
    ids = [int(d["id"]) for d in raw if isinstance(d, dict) and d.get("id") is not None]
    if drawing.id is None or drawing.id in ids:
        drawing = replace(drawing, id=max(ids, default=0) + 1)
    raw.append(drawing.to_data())
    store.set_meta(META_KEY, raw)
    return drawing


def remove_drawing(store: Any, drawing_id: int) -> Drawing:
    """Take a drawing out of the case; the drawing removed (to put it back). KeyError if none."""
    raw = list(store.get_meta(META_KEY, []) or [])
    found = next((d for d in raw if isinstance(d, dict) and d.get("id") == drawing_id), None)
    if found is None:
        raise KeyError(f"the case has no drawing {drawing_id}")
    raw.remove(found)
    store.set_meta(META_KEY, raw)
    return Drawing.from_data(found)


def shown_at(
    drawings: Iterable[Drawing], frame: int, time_s: float, hold_s: float = HOLD_S
) -> list[Drawing]:
    """The drawings on screen with frame `frame` (at `time_s`): those drawn on it, and while
    playing on, for `hold_s` after it."""
    return [
        d
        for d in drawings
        if d.frame == frame or 0.0 <= time_s - d.time_s <= hold_s and frame > d.frame
    ]


# ---------------------------------------------------------------------------- drawing
def hex_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def arrow_head(
    tail: tuple[float, float], head: tuple[float, float], size: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two back corners of an arrow head `size` long at `head` (in pixels)."""
    angle = math.atan2(head[1] - tail[1], head[0] - tail[0])
    spread = math.radians(28)
    return (
        (head[0] - size * math.cos(angle - spread), head[1] - size * math.sin(angle - spread)),
        (head[0] - size * math.cos(angle + spread), head[1] - size * math.sin(angle + spread)),
    )


def draw_drawings(rgb: np.ndarray, drawings: Iterable[Drawing]) -> np.ndarray:
    """A copy of `rgb` (HxWx3 uint8) with the drawings on it, with a dark outline so they read
    on any tissue."""
    import cv2

    out = np.ascontiguousarray(rgb).copy()
    height, width = out.shape[:2]
    for drawing in drawings:
        pts = [(x * width, y * height) for x, y in drawing.points]
        thickness = max(1, round(drawing.width * height))
        for colour, extra in (((0, 0, 0), max(1, thickness // 2)), (hex_rgb(drawing.colour), 0)):
            t = thickness + 2 * extra
            if drawing.kind == "arrow":
                tail, head = pts[0], pts[-1]
                size = max(6.0 * thickness, 0.03 * height)
                left, right = arrow_head(tail, head, size)
                ipts = np.round(np.array([tail, head])).astype(np.int32)
                cv2.line(out, tuple(ipts[0]), tuple(ipts[1]), colour, t, cv2.LINE_AA)
                tri = np.round(np.array([head, left, right])).astype(np.int32)
                cv2.fillConvexPoly(out, tri, colour, cv2.LINE_AA)
            elif drawing.kind == "circle":
                (x0, y0), (x1, y1) = pts[0], pts[-1]
                centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
                axes = (max(1, round(abs(x1 - x0) / 2)), max(1, round(abs(y1 - y0) / 2)))
                cv2.ellipse(out, centre, axes, 0, 0, 360, colour, t, cv2.LINE_AA)
            else:
                line = np.round(np.array(pts)).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(out, [line], False, colour, t, cv2.LINE_AA)
    return out
