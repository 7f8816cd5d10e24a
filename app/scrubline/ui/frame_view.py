"""The video frame with its overlays.

`QtFrameView` paints the last frame the loader delivered, fitted into the widget, and on top
of it what an `OverlayPlan` says (boxes, tips, bleeding mask, warning badge, provenance note).
It decides nothing itself: the plan comes from `scrubline.ui.overlays.plan_overlay`.
`paint_overlay` is separate so the same drawing can go into an exported image.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

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
) -> None:
    """Draw `plan` over a frame drawn in `target` (source-pixel coordinates scaled to it)."""
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


class QtFrameView(QWidget):
    """Shows one frame and its overlays; emits its drawable size so the loader converts frames
    to exactly that size."""

    size_changed = Signal(int, int)
    # A right click on the picture: the point in source-video pixels, and where to put a menu.
    context_requested = Signal(float, float, QPoint)

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

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def set_video_size(self, width: int, height: int) -> None:
        self._native = (int(width), int(height))
        self._image = None
        self.shown_index = -1
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

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        ratio = self.devicePixelRatioF()
        self.size_changed.emit(int(self.width() * ratio), int(self.height() * ratio))

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
        native = self._native if self._native[0] else (self._image.width(), self._image.height())
        target = fit_rect(native, QRectF(self.rect()))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, self._image)
        paint_overlay(painter, target, native, self._plan, self._mask_image)
        if self._proxy:
            _label(
                painter,
                QPointF(target.right() - 70, target.y() + 8),
                "preview",
                QColor(255, 255, 255),
                QColor(0, 0, 0, 160),
            )
        painter.end()

    def source_point(self, pos: QPointF) -> tuple[float, float] | None:
        """The source-video pixel under a widget position (None: not on the picture)."""
        if self._image is None or not self._native[0]:
            return None
        target = fit_rect(self._native, QRectF(self.rect()))
        if not target.contains(pos):
            return None
        x = (pos.x() - target.x()) * self._native[0] / target.width()
        y = (pos.y() - target.y()) * self._native[1] / target.height()
        return float(x), float(y)

    def widget_point(self, x: float, y: float) -> QPointF:
        """The widget position that shows source-video pixel (x, y) (tests and scripts)."""
        target = fit_rect(self._native, QRectF(self.rect()))
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
