"""The video frame with its overlays.

`QtFrameView` paints the last frame the loader delivered, fitted into the widget, and on top
of it what an `OverlayPlan` says (boxes, tips, bleeding mask, warning badge, provenance note).
It decides nothing itself: the plan comes from `scrubline.ui.overlays.plan_overlay`.
`paint_overlay` is separate so the same drawing can go into an exported image. The frame can be
zoomed (wheel, around the pointer) and panned (drag) to look closely at a tip or a bleed;
double-click fits it again.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from scrubline.core.drawings import DEFAULT_COLOUR, Drawing, arrow_head, simplified
from scrubline.ui.frames import rgba_qimage
from scrubline.ui.overlays import OverlayPlan


def fit_rect(native: tuple[int, int], area: QRectF) -> QRectF:
    """The video's rectangle inside `area`, aspect ratio kept, centred."""
    width, height = native
    if width <= 0 or height <= 0:
        return QRectF(area)
    scale = min(area.width() / width, area.height() / height)
    w, h = width * scale, height * scale
    return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)


def _label(painter: QPainter, at: QPointF, text: str, colour: QColor, background: QColor) -> None:
    metrics = painter.fontMetrics()
    rect = QRectF(metrics.boundingRect(text)).adjusted(-4, -2, 4, 2)
    rect.moveTopLeft(at)
    painter.fillRect(rect, background)
    painter.setPen(colour)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def paint_overlay(
    painter: QPainter,
    target: QRectF,
    native: tuple[int, int],
    plan: OverlayPlan,
    mask_image: QImage | None = None,
    visible: QRectF | None = None,
) -> None:
    """Draw `plan` over a frame drawn in `target` (source-pixel coordinates scaled to it). The
    read-outs, note and warning go in `visible` (the part of the frame on screen when zoomed)."""
    width, height = native
    sx = target.width() / max(width, 1)
    sy = target.height() / max(height, 1)

    def point(x: float, y: float) -> QPointF:
        return QPointF(target.x() + x * sx, target.y() + y * sy)

    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    if plan.mask_rgba is not None:
        painter.drawImage(
            target, mask_image if mask_image is not None else rgba_qimage(plan.mask_rgba)
        )
    font = QFont(painter.font())
    font.setPointSizeF(max(7.0, min(11.0, target.height() / 40)))
    painter.setFont(font)
    for mark in plan.boxes:
        colour = QColor(*mark.colour)
        painter.setPen(QPen(colour, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        top_left = point(mark.box[0], mark.box[1])
        painter.drawRect(QRectF(top_left, point(mark.box[2], mark.box[3])))
        label_at = QPointF(
            top_left.x(), max(target.y(), top_left.y() - painter.fontMetrics().height() - 4)
        )
        _label(painter, label_at, mark.text, QColor(0, 0, 0), colour)
    for tip in plan.tips:
        centre = point(*tip.point)
        colour = QColor(*tip.colour)
        if tip.visible:
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.setBrush(colour)
            painter.drawEllipse(centre, 6, 6)
        else:
            # Hidden tip: a hollow dashed ring with a cross, so it reads as "somewhere here".
            pen = QPen(colour, 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, 10, 10)
            painter.setPen(QPen(colour, 2))
            painter.drawLine(centre + QPointF(-5, -5), centre + QPointF(5, 5))
            painter.drawLine(centre + QPointF(-5, 5), centre + QPointF(5, -5))
    # Read-outs sit at the bottom corners, clear of box labels (which sit on top of boxes).
    font.setPointSizeF(max(7.0, min(11.0, (visible or target).height() / 40)))
    painter.setFont(font)
    target = visible if visible is not None else target
    metrics = painter.fontMetrics()
    bottom = target.bottom() - metrics.height() - 10
    if plan.bleeding_text:
        width = metrics.horizontalAdvance(plan.bleeding_text) + 8
        _label(
            painter,
            QPointF(target.right() - width - 8, bottom),
            plan.bleeding_text,
            QColor(255, 255, 255),
            QColor(150, 0, 110, 210),
        )
    if plan.note:
        _label(
            painter,
            QPointF(target.x() + 8, bottom),
            plan.note,
            QColor(235, 235, 235),
            QColor(0, 0, 0, 170),
        )
    if plan.tip_note and not plan.badge:
        # Said plainly and quietly: no claim about the tip either way.
        width = painter.fontMetrics().horizontalAdvance(plan.tip_note) + 8
        _label(
            painter,
            QPointF(target.center().x() - width / 2, target.y() + 8),
            plan.tip_note,
            QColor(235, 235, 235),
            QColor(60, 60, 60, 190),
        )
    if plan.badge:
        # The warning is what must not be missed: large, top centre.
        bold = QFont(font)
        bold.setBold(True)
        bold.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(bold)
        text = "\u26a0 " + plan.badge
        width = painter.fontMetrics().horizontalAdvance(text) + 8
        _label(
            painter,
            QPointF(target.center().x() - width / 2, target.y() + 8),
            text,
            QColor(0, 0, 0),
            QColor(255, 150, 0),
        )
        painter.setFont(font)
    painter.restore()


MAX_ZOOM = 8.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch


def zoomed_rect(fit: QRectF, zoom: float, centre: tuple[float, float], area: QRectF) -> QRectF:
    """The frame's rectangle at `zoom` (1 = fitted): `centre` (a point of the frame, as fractions
    of its width and height) sits in the middle of `area`, and the frame never leaves a gap at
    an edge it could cover."""
    width, height = fit.width() * zoom, fit.height() * zoom
    x = area.center().x() - centre[0] * width
    y = area.center().y() - centre[1] * height
    if width > area.width():
        x = min(max(x, area.right() - width), area.left())
    else:
        x = area.x() + (area.width() - width) / 2
    if height > area.height():
        y = min(max(y, area.bottom() - height), area.top())
    else:
        y = area.y() + (area.height() - height) / 2
    return QRectF(x, y, width, height)


def paint_drawings(painter: QPainter, target: QRectF, drawings: list[Drawing]) -> None:
    """Telestration over a frame drawn in `target` (the same shapes `draw_drawings` burns into
    exported pictures): a dark outline under each stroke so it reads on any tissue."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

    def at(point: tuple[float, float]) -> QPointF:
        return QPointF(
            target.x() + point[0] * target.width(), target.y() + point[1] * target.height()
        )

    for drawing in drawings:
        width = max(1.5, drawing.width * target.height())
        points = [at(p) for p in drawing.points]
        for colour, extra in (
            (QColor(0, 0, 0, 200), max(1.0, width / 2)),
            (QColor(drawing.colour), 0.0),
        ):
            pen = QPen(colour, width + 2 * extra)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if drawing.kind == "arrow":
                tail, head = points[0], points[-1]
                size = max(6.0 * width, 0.03 * target.height())
                left, right = arrow_head((tail.x(), tail.y()), (head.x(), head.y()), size)
                painter.drawLine(tail, head)
                painter.setBrush(colour)
                painter.drawPolygon(QPolygonF([head, QPointF(*left), QPointF(*right)]))
            elif drawing.kind == "circle":
                painter.drawEllipse(QRectF(points[0], points[-1]).normalized())
            else:
                path = QPainterPath(points[0])
                for point in points[1:]:
                    path.lineTo(point)
                painter.drawPath(path)
    painter.restore()


class QtFrameView(QWidget):
    """Shows one frame and its overlays; emits its drawable size so the loader converts frames
    to exactly that size. The wheel zooms around the pointer, a drag pans a zoomed frame, a
    double-click fits it again."""

    size_changed = Signal(int, int)
    # A right click on the picture: the point in source-video pixels, and where to put a menu.
    context_requested = Signal(float, float, QPoint)
    zoom_changed = Signal(float)
    stroke_drawn = Signal(str, object)  # kind, points (fractions of the frame)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._image: QImage | None = None
        self._native = (0, 0)
        self._plan = OverlayPlan()
        self._mask_image: QImage | None = None
        self._proxy = False
        self._message = "Open a video or a case (File → Open, or drop a file here)"
        self.shown_index = -1
        self.zoom = 1.0
        self.centre = (0.5, 0.5)  # the point of the frame in the middle of the view
        self._drag_from: tuple[QPointF, tuple[float, float]] | None = None
        self.drawings: list[Drawing] = []  # telestration shown on this frame
        self.draw_kind: str | None = None  # a telestration tool is chosen: left drags draw
        self.draw_colour = DEFAULT_COLOUR
        self._stroke: list[tuple[float, float]] = []

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def set_video_size(self, width: int, height: int) -> None:
        self._native = (int(width), int(height))
        self._image = None
        self.shown_index = -1
        self.fit()
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text
        self.update()

    def set_image(self, image: QImage, index: int, *, proxy: bool = False) -> None:
        self._image = image
        self._proxy = proxy
        self.shown_index = index
        self.update()

    def set_plan(self, plan: OverlayPlan) -> None:
        self._plan = plan
        self._mask_image = rgba_qimage(plan.mask_rgba) if plan.mask_rgba is not None else None
        self.update()

    @property
    def plan(self) -> OverlayPlan:
        return self._plan

    def set_drawings(self, drawings: list[Drawing]) -> None:
        if drawings != self.drawings:
            self.drawings = list(drawings)
            self.update()

    def set_draw_tool(self, kind: str | None, colour: str | None = None) -> None:
        """Choose a telestration tool (None: drags pan again)."""
        self.draw_kind = kind
        if colour:
            self.draw_colour = colour
        self._stroke = []
        if kind:
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.unsetCursor()
        self.update()

    # ------------------------------------------------------------------ zoom and pan
    def _native_size(self) -> tuple[int, int]:
        if self._native[0]:
            return self._native
        return (self._image.width(), self._image.height()) if self._image is not None else (0, 0)

    def frame_rect(self) -> QRectF:
        """Where the frame is drawn in the widget now (zoomed and panned)."""
        area = QRectF(self.rect())
        return zoomed_rect(fit_rect(self._native_size(), area), self.zoom, self.centre, area)

    def to_frame(self, pos: QPointF) -> tuple[float, float]:
        """A widget point as a point of the frame, in fractions of its width and height."""
        rect = self.frame_rect()
        return (
            (pos.x() - rect.x()) / max(rect.width(), 1e-9),
            (pos.y() - rect.y()) / max(rect.height(), 1e-9),
        )

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` (1 = fitted, up to MAX_ZOOM) keeping the frame point under `anchor`
        (a widget point; default the middle) where it is."""
        zoom = min(max(float(zoom), 1.0), MAX_ZOOM)
        area = QRectF(self.rect())
        anchor = anchor if anchor is not None else area.center()
        fx, fy = self.to_frame(anchor)
        fit = fit_rect(self._native_size(), area)
        width, height = fit.width() * zoom, fit.height() * zoom
        # The frame point (fx, fy) stays under the anchor: solve for the centre point.
        cx = fx + (area.center().x() - anchor.x()) / max(width, 1e-9)
        cy = fy + (area.center().y() - anchor.y()) / max(height, 1e-9)
        changed = zoom != self.zoom
        self.zoom = zoom
        self.centre = (min(max(cx, 0.0), 1.0), min(max(cy, 0.0), 1.0)) if zoom > 1 else (0.5, 0.5)
        self.update()
        if changed:
            self._emit_size()
            self.zoom_changed.emit(self.zoom)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def fit(self) -> None:
        self.set_zoom(1.0)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the zoomed frame by (dx, dy) widget pixels."""
        rect = self.frame_rect()
        cx = self.centre[0] - dx / max(rect.width(), 1e-9)
        cy = self.centre[1] - dy / max(rect.height(), 1e-9)
        self.centre = (min(max(cx, 0.0), 1.0), min(max(cy, 0.0), 1.0))
        self.update()

    def _emit_size(self) -> None:
        # Frames are converted at the size they are drawn (zoomed in, more pixels; the loader
        # never goes above the video's own).
        ratio = self.devicePixelRatioF() * self.zoom
        self.size_changed.emit(int(self.width() * ratio), int(self.height() * ratio))

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches == 0 or self._image is None:
            event.ignore()
            return
        self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.draw_kind and self._image:
            self._stroke = [self.to_frame(event.position())]
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.zoom > 1.0:
            self._drag_from = (event.position(), self.centre)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._stroke:
            point = self.to_frame(event.position())
            if self.draw_kind == "freehand":
                self._stroke.append(point)
            else:
                self._stroke = [self._stroke[0], point]
            self.update()
            event.accept()
            return
        if self._drag_from is not None:
            start, centre = self._drag_from
            self.centre = centre
            delta = event.position() - start
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._stroke and event.button() == Qt.MouseButton.LeftButton:
            stroke, self._stroke = self._stroke, []
            if len(stroke) >= 2 and math.dist(stroke[0], stroke[-1]) + len(stroke) * 1e-4 > 0.005:
                kind = self.draw_kind or "freehand"
                self.stroke_drawn.emit(kind, simplified(stroke) if kind == "freehand" else stroke)
            self.update()
            event.accept()
            return
        if self._drag_from is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
            self.unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ------------------------------------------------------------------ painting
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._emit_size()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 18))
        if self._image is None:
            painter.setPen(QColor(180, 180, 180))
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message
            )
            painter.end()
            return
        native = self._native_size()
        target = self.frame_rect()
        visible = target.intersected(QRectF(self.rect()))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, self._image)
        paint_overlay(painter, target, native, self._plan, self._mask_image, visible)
        painter.save()
        painter.setClipRect(visible)
        paint_drawings(painter, target, self.drawings)
        if len(self._stroke) >= 2 and self.draw_kind:
            paint_drawings(
                painter,
                target,
                [Drawing(self.draw_kind, tuple(self._stroke), -1, 0.0, colour=self.draw_colour)],
            )
        painter.restore()
        badges = (["preview"] if self._proxy else []) + (
            [f"{self.zoom * 100:.0f}%"] if self.zoom > 1.0 else []
        )
        if badges:
            text = "  ".join(badges)
            width = painter.fontMetrics().horizontalAdvance(text) + 16
            _label(
                painter,
                QPointF(visible.right() - width - 8, visible.y() + 8),
                text,
                QColor(255, 255, 255),
                QColor(0, 0, 0, 160),
            )
        painter.end()

    def source_point(self, pos: QPointF) -> tuple[float, float] | None:
        """The source-video pixel under a widget position (None: not on the picture)."""
        if self._image is None or not self._native[0]:
            return None
        target = self.frame_rect()  # zoomed and panned
        if not target.contains(pos):
            return None
        x = (pos.x() - target.x()) * self._native[0] / target.width()
        y = (pos.y() - target.y()) * self._native[1] / target.height()
        return float(x), float(y)

    def widget_point(self, x: float, y: float) -> QPointF:
        """The widget position that shows source-video pixel (x, y) (tests and scripts)."""
        target = self.frame_rect()
        return QPointF(
            target.x() + x * target.width() / max(self._native[0], 1),
            target.y() + y * target.height() / max(self._native[1], 1),
        )

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        found = self.source_point(QPointF(event.pos()))
        if found is None:
            super().contextMenuEvent(event)
            return
        event.accept()
        self.context_requested.emit(found[0], found[1], event.globalPos())
