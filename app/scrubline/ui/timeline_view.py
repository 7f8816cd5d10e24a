"""The case timeline: pyqtgraph rows with linked time axes.

Rows, top to bottom: a ruler with the phase bands, bookmarks and the clip selection (dragging
here selects the clip range, as in editors); one lane per tool class; the tip-visibility curve
with tip-hidden episodes shaded; the bleeding-area curve with bleeding episodes and the movable
bleeding-event start. Out-of-body spans (menus, the operating room, a camera out for cleaning:
frames the analysis gave no results) are hatched grey through every row. A playhead line runs
through every row: it follows the shared state and dragging it scrubs. A click seeks,
the wheel zooms the time axis, dragging elsewhere pans, and the line above the rows describes the
moment under the pointer.

A 3-hour case analysed at 5 fps has 54 000 samples per curve: curves are drawn with peak-keeping
downsampling and clipped to the view, and lanes and episodes are merged spans painted from one
recorded `QPicture` per row, so redrawing never walks the samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPicture
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from scrubline.core.timeline import spans_from_flags
from scrubline.core.tools import display_name
from scrubline.ui.navigation import describe_at, format_clock
from scrubline.ui.overlays import PALETTE, label_colour

LEFT_AXIS_WIDTH = 104
PHASE_LABEL_PAD_PX = 3
TICK_STEPS = (0.04, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
PLAYHEAD_PEN = pg.mkPen(QColor(255, 235, 59), width=2)
OUT_OF_BODY_TINT = QColor(150, 150, 160, 60)
OUT_OF_BODY_HATCH = QBrush(QColor(190, 190, 200, 140), Qt.BrushStyle.BDiagPattern)
# Each row's out-of-body hatching spans at least the row's whole height (the tool row grows).
ROW_Y_SPAN = {
    "ruler": (0.0, 1.0),
    "tools": (0.0, 64.0),
    "tips": (-0.05, 1.1),
    "bleeding": (0.0, 200.0),
}
BOOKMARK_COLOURS = {
    "teaching point": (64, 196, 255),
    "complication": (255, 82, 82),
    "good technique": (105, 240, 174),
    "note": (200, 200, 200),
}


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    """A "#rrggbb" colour as an RGB triple."""
    value = colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def phase_label_text(
    label: str, room_px: int, width_of: Callable[[str], int], metrics: QFontMetrics
) -> str | None:
    """What of a phase's name fits in `room_px`: all of it, or at least two letters and an
    ellipsis; None when not even that fits (the label is hidden; hovering names the phase)."""
    if room_px <= 0:
        return None
    if width_of(label) <= room_px:
        return label
    shortened = metrics.elidedText(label, Qt.TextElideMode.ElideRight, room_px)
    letters = shortened.rstrip("\u2026").strip()
    if len(letters) < 2 or width_of(shortened) > room_px:
        return None
    return shortened


class TimeAxis(pg.AxisItem):
    """Ticks at clock-friendly steps (1 s, 15 s, 1 min, 5 min, ...) labelled m:ss."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        span = maxVal - minVal
        if span <= 0 or size <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        wanted = span * 90.0 / size  # about one labelled tick per 90 px
        major = next(
            (s for s in TICK_STEPS if s >= wanted),
            TICK_STEPS[-1] * math.ceil(wanted / TICK_STEPS[-1]),
        )
        return [(major, 0.0), (major / 5.0, 0.0)]

    blank = False  # no video: no labels

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.blank:
            return ["" for _ in values]
        return [format_clock(v, millis=spacing < 1) if v >= 0 else "" for v in values]


class SpansItem(pg.GraphicsObject):
    """Many filled rectangles in data coordinates, recorded once into a QPicture."""

    def __init__(self) -> None:
        super().__init__()
        self._picture = QPicture()
        self._rect = QRectF()

    def set_spans(
        self, spans: Iterable[tuple[float, float, float, float, QColor | QBrush]]
    ) -> None:
        self.prepareGeometryChange()
        picture = QPicture()
        painter = QPainter(picture)
        painter.setPen(Qt.PenStyle.NoPen)
        x_lo = y_lo = math.inf
        x_hi = y_hi = -math.inf
        for x0, x1, y0, y1, colour in spans:
            painter.setBrush(colour)
            painter.drawRect(QRectF(x0, y0, max(x1 - x0, 1e-6), y1 - y0))
            x_lo, x_hi = min(x_lo, x0), max(x_hi, x1)
            y_lo, y_hi = min(y_lo, y0), max(y_hi, y1)
        painter.end()
        self._picture = picture
        self._rect = (
            QRectF(x_lo, y_lo, x_hi - x_lo, y_hi - y_lo) if math.isfinite(x_lo) else QRectF()
        )
        self.update()

    def paint(self, painter: QPainter, *args: Any) -> None:
        self._picture.play(painter)

    def boundingRect(self) -> QRectF:
        return self._rect


class _ViewBox(pg.ViewBox):
    """Time-only zoom and pan; a left click seeks; on the ruler a left drag selects a range."""

    clicked = Signal(float)
    context_clicked = Signal(float, QPoint)  # a right click: time, where to put a menu
    range_dragged = Signal(float, float, bool)  # from, to (s), drag finished

    def __init__(self, select_drag: bool = False) -> None:
        super().__init__(enableMenu=False)
        self.select_drag = select_drag
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(float(self.mapSceneToView(ev.scenePos()).x()))
            return
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            screen = ev.screenPos()
            self.context_clicked.emit(
                float(self.mapSceneToView(ev.scenePos()).x()),
                QPoint(int(screen.x()), int(screen.y())),
            )
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if self.select_drag and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            begin = float(self.mapSceneToView(ev.buttonDownScenePos()).x())
            now = float(self.mapSceneToView(ev.scenePos()).x())
            self.range_dragged.emit(begin, now, bool(ev.isFinish()))
            return
        super().mouseDragEvent(ev, axis)


def _lighter(rgb: tuple[int, int, int], alpha: int) -> QColor:
    colour = QColor(*rgb)
    colour.setAlpha(alpha)
    return colour


def tool_spans(timeline: Any) -> list[tuple[str, list[tuple[float, float]]]]:
    """Per tool class, the (start, end) spans it is in view."""
    period = float(timeline.sample_period_s or 1.0)
    return [
        (
            label,
            [
                (start, end)
                for start, end, _ in spans_from_flags(
                    timeline.times,
                    timeline.presence[:, j] > 0,
                    period=period,
                    min_duration=0.0,
                    merge_gap=0.5 * period,
                )
            ],
        )
        for j, label in enumerate(timeline.labels)
    ]


def _signature(timeline: Any, row: str) -> Any:
    """A cheap fingerprint of what `row` draws from `timeline`."""
    if timeline is None or not len(timeline.times):
        return None
    if row == "phases":
        return tuple((e.label, e.start_s, e.end_s) for e in timeline.episodes_of("phase"))
    if row == "out_of_body":
        return tuple((e.start_s, e.end_s) for e in timeline.episodes_of("out_of_body"))
    if row == "tools":
        return (
            tuple(timeline.labels),
            hash(timeline.presence.tobytes()),
            hash(timeline.times.tobytes()),
        )
    episodes = tuple(
        (e.kind, e.start_s, e.end_s)
        for e in timeline.episodes
        if e.kind in ("bleeding", "tip_hidden")
    )
    return (
        hash(timeline.times.tobytes()),
        hash(timeline.bleeding.tobytes()),
        hash(timeline.tips_visible.tobytes()),
        hash(timeline.tips_hidden.tobytes()),
        episodes,
    )


class TimelineView(QWidget):
    seek_requested = Signal(float)  # a click: go there
    scrub_requested = Signal(float, bool)  # a drag: time, finished
    event_start_moved = Signal(float)
    selection_changed = Signal(object)  # (start_s, end_s) or None
    context_requested = Signal(float, QPoint)  # a right click: time, where to put a menu

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(
            antialias=False, background=QColor(24, 24, 28), foreground=QColor(200, 200, 200)
        )
        self.timeline: Any = None
        self.bookmarks: Sequence[Any] = ()
        self.duration_s = 0.0
        self.frame_times: np.ndarray | None = None  # the video's frame times (hover: shown frame)
        self._playhead = 0.0
        self._drawn: dict[str, Any] = {}  # what each row shows now, to skip identical redraws
        self._phases: list[Any] = []  # the phase episodes drawn, for placing their labels
        self.phase_rgb: dict[str, tuple[int, int, int]] = {}  # each phase's band colour

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        self.hover_label = QLabel("")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.hover_label.setMinimumWidth(100)
        bar.addWidget(self.hover_label, 1)
        self._buttons: dict[str, QToolButton] = {}
        for key, text, tip in (
            ("in", "+", "Zoom in around the playhead"),
            ("out", "\u2212", "Zoom out"),
            ("fit", "Fit", "Show the whole case"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            bar.addWidget(button)
            self._buttons[key] = button
        self._buttons["in"].clicked.connect(lambda: self.zoom_by(0.5))
        self._buttons["out"].clicked.connect(lambda: self.zoom_by(2.0))
        self._buttons["fit"].clicked.connect(self.fit)
        layout.addLayout(bar)

        self.plots: dict[str, pg.PlotWidget] = {}
        self.lines: list[pg.InfiniteLine] = []
        for name, height, select in (
            ("ruler", 44, True),
            ("tools", 40, False),
            ("tips", 70, False),
            ("bleeding", 96, False),
        ):
            box = _ViewBox(select_drag=select)
            axes = {"bottom": TimeAxis("bottom")} if name == "bleeding" else {}
            plot = pg.PlotWidget(viewBox=box, axisItems=axes)
            plot.setFixedHeight(height + (26 if name == "bleeding" else 0))
            item = plot.getPlotItem()
            item.hideButtons()
            item.setMenuEnabled(False)
            item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
            item.showGrid(x=True, y=False, alpha=0.12)
            if name != "bleeding":
                item.hideAxis("bottom")
            if self.plots:
                plot.setXLink(self.plots["ruler"])
            box.clicked.connect(self._on_clicked)
            box.range_dragged.connect(self._on_range_dragged)
            box.context_clicked.connect(self.context_requested)
            plot.scene().sigMouseMoved.connect(lambda pos, b=box: self._on_hover_changed(b, pos))
            line = pg.InfiniteLine(
                0.0,
                angle=90,
                movable=True,
                pen=PLAYHEAD_PEN,
                hoverPen=pg.mkPen(QColor(255, 255, 255), width=3),
            )
            line.setZValue(50)
            line.sigDragged.connect(lambda ln: self.scrub_requested.emit(float(ln.value()), False))
            line.sigPositionChangeFinished.connect(
                lambda ln: self.scrub_requested.emit(float(ln.value()), True)
            )
            plot.addItem(line, ignoreBounds=True)
            self.lines.append(line)
            self.plots[name] = plot
            layout.addWidget(plot)

        # Ruler: phase bands, bookmarks, clip selection.
        ruler = self.plots["ruler"]
        ruler.setYRange(0, 1, padding=0)
        self.phase_spans = SpansItem()
        ruler.addItem(self.phase_spans)
        self.phase_labels: list[pg.TextItem] = []
        self.bookmark_points = pg.ScatterPlotItem(size=11, symbol="t", pen=pg.mkPen(None))
        self.bookmark_points.setZValue(20)
        ruler.addItem(self.bookmark_points)
        self.selection_region = pg.LinearRegionItem(
            values=(0, 1),
            movable=True,
            brush=QColor(128, 222, 234, 45),
            pen=pg.mkPen(QColor(128, 222, 234), width=1),
        )
        self.selection_region.setToolTip(
            "Clip range for the MP4 export (I / O set it at the playhead)"
        )
        self.selection_region.setZValue(10)
        self.selection_region.hide()
        self.selection_region.sigRegionChangeFinished.connect(self._on_region_changed)
        ruler.addItem(self.selection_region, ignoreBounds=True)
        ruler.getAxis("left").setTicks([[(0.3, "phases"), (0.82, "marks")], []])
        ruler_box = ruler.getPlotItem().getViewBox()
        ruler_box.sigXRangeChanged.connect(self._place_phase_labels)
        ruler_box.sigResized.connect(self._place_phase_labels)
        self.out_of_body_spans: dict[str, SpansItem] = {}
        for name, plot in self.plots.items():
            hatch = SpansItem()
            hatch.setZValue(30)  # over lanes and curves, under the playhead
            hatch.setToolTip("out of body: no tool, tip or bleeding results")
            plot.addItem(hatch, ignoreBounds=True)
            self.out_of_body_spans[name] = hatch

        tools = self.plots["tools"]
        self.tool_spans = SpansItem()
        tools.addItem(self.tool_spans)
        tools.setYRange(0, 1, padding=0)

        tips = self.plots["tips"]
        self.hidden_spans = SpansItem()
        tips.addItem(self.hidden_spans)
        # About 1.5 samples per pixel (peak-keeping: the min and max of each bucket survive).
        self.tip_curve = pg.PlotDataItem(
            pen=pg.mkPen(QColor(120, 220, 255), width=1.5),
            connect="finite",
            autoDownsampleFactor=1.5,
        )
        tips.addItem(self.tip_curve)
        # Where no tool in view has a validated tip rule, the lane says so instead of a curve.
        self.tip_note = pg.TextItem("", color=(220, 220, 220), anchor=(0, 0.5))
        tips.addItem(self.tip_note)
        tips.setYRange(-0.05, 1.1, padding=0)
        tips.getAxis("left").setTicks([[(0.5, "tips visible")], [(0.0, "0"), (1.0, "1")]])

        bleeding = self.plots["bleeding"]
        self.bleeding_spans = SpansItem()
        bleeding.addItem(self.bleeding_spans)
        self.bleeding_curve = pg.PlotDataItem(
            pen=pg.mkPen(QColor(255, 90, 90), width=1.5),
            connect="finite",
            fillLevel=0.0,
            brush=QColor(255, 60, 60, 50),
            autoDownsampleFactor=1.5,
        )
        bleeding.addItem(self.bleeding_curve)
        self.threshold_line = pg.InfiniteLine(
            0.0,
            angle=0,
            movable=False,
            pen=pg.mkPen(QColor(255, 120, 120, 120), style=Qt.PenStyle.DotLine),
        )
        bleeding.addItem(self.threshold_line, ignoreBounds=True)
        self.event_line = pg.InfiniteLine(
            0.0,
            angle=90,
            movable=True,
            pen=pg.mkPen(QColor(255, 152, 0), width=2, style=Qt.PenStyle.DashLine),
            label="event start",
            labelOpts={"position": 0.85, "color": (255, 152, 0)},
        )
        self.event_line.setZValue(40)
        self.event_line.hide()
        self.event_line.sigPositionChangeFinished.connect(
            lambda ln: self.event_start_moved.emit(float(ln.value()))
        )
        bleeding.addItem(self.event_line, ignoreBounds=True)
        for curve in (self.tip_curve, self.bleeding_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        # Moving the playhead repaints a strip through every row. Static layers are kept as
        # device pixmaps (re-rendered only when zoomed, panned or redrawn), so a playhead move
        # costs a blit, not a walk over 54 000 samples: about 2 ms instead of 50 for 3 hours.
        cached = QGraphicsItem.CacheMode.DeviceCoordinateCache
        for item in (
            self.tip_curve.curve,
            self.bleeding_curve.curve,
            self.tool_spans,
            self.hidden_spans,
            self.bleeding_spans,
            self.phase_spans,
        ):
            item.setCacheMode(cached)
        for plot in self.plots.values():
            for side in ("left", "bottom"):
                plot.getPlotItem().getAxis(side).setCacheMode(cached)
        self._set_bleeding_scale(0.1)
        self.set_duration(0.0)
        self._draw_tools()  # "no tools yet" instead of pyqtgraph's default 0..1 ticks

    # ------------------------------------------------------------------ data
    def set_duration(self, duration_s: float) -> None:
        self.duration_s = max(float(duration_s), 0.0)
        # No video: no time labels (the 0..1 s view would be labelled in tenths of a second).
        axis = self.plots["bleeding"].getAxis("bottom")
        axis.blank = self.duration_s <= 0
        axis.picture = None  # redrawn with or without labels
        axis.update()
        span = max(self.duration_s, 1.0)
        for plot in self.plots.values():
            plot.getPlotItem().getViewBox().setLimits(
                xMin=-0.01 * span, xMax=span * 1.01, minXRange=min(0.5, span)
            )
        self.fit()

    def set_frame_times(self, times: np.ndarray | None) -> None:
        """The open video's frame times (None: no video); the hover line is cleared."""
        self.frame_times = None if times is None else np.asarray(times, dtype=float)
        self.hover_label.setText("")

    def set_timeline(self, timeline: Any, bookmarks: Sequence[Any] | None = None) -> None:
        """Show a (new or grown) timeline. Rows whose data did not change are left alone: while
        an analysis streams in, most refreshes change only the curves' ends."""
        self.timeline = timeline
        if bookmarks is not None:
            self.bookmarks = bookmarks
        for row, draw in (
            ("phases", self._draw_phases),
            ("tools", self._draw_tools),
            ("curves", self._draw_curves),
            ("out_of_body", self._draw_out_of_body),
        ):
            key = _signature(timeline, row)
            if key != self._drawn.get(row):
                draw()
                self._drawn[row] = key
        self._draw_bookmarks()

    def set_bookmarks(self, bookmarks: Sequence[Any]) -> None:
        self.bookmarks = list(bookmarks)
        self._draw_bookmarks()

    def _draw_phases(self) -> None:
        ruler = self.plots["ruler"]
        phases = self.timeline.episodes_of("phase") if self.timeline is not None else []
        self._phases = list(phases)
        self.phase_rgb = {}
        spans = []
        for at, episode in enumerate(phases):
            rgb = self.phase_rgb.setdefault(
                episode.label, _hex_rgb(self.timeline.phase_colour(episode.label))
            )
            spans.append((episode.start_s, episode.end_s, 0.0, 0.62, _lighter(rgb, 200)))
            # Labels are reused: while an analysis streams in, phases are redrawn every refresh,
            # and creating text items is the slow part.
            if at == len(self.phase_labels):
                text = pg.TextItem("", color=(240, 240, 240), anchor=(0, 0.5))
                ruler.addItem(text, ignoreBounds=True)
                self.phase_labels.append(text)
            # Dark letters on light bands (a yellow template colour), light ones on dark.
            light = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 150
            self.phase_labels[at].setColor((20, 20, 20) if light else (240, 240, 240))
        for text in self.phase_labels[len(phases) :]:
            text.hide()
        self.phase_spans.set_spans(spans)
        self._place_phase_labels()

    def _place_phase_labels(self) -> None:
        """Each phase's name over the part of its band in view: whole if it fits, shortened with
        an ellipsis if a few letters fit, else hidden, so short bands never overprint."""
        if not self._phases:
            return
        box = self.plots["ruler"].getPlotItem().getViewBox()
        low, high = self.x_range()
        seconds_per_px = box.viewPixelSize()[0]
        if not math.isfinite(seconds_per_px) or seconds_per_px <= 0:
            return
        metrics = QFontMetrics(self.phase_labels[0].textItem.font())
        for episode, text in zip(self._phases, self.phase_labels, strict=False):
            start, end = max(episode.start_s, low), min(episode.end_s, high)
            room = int((end - start) / seconds_per_px) - 2 * PHASE_LABEL_PAD_PX
            shown = phase_label_text(
                self.timeline.phase_name(episode.label), room, metrics.horizontalAdvance, metrics
            )
            if shown is None:
                text.hide()
                continue
            if text.toPlainText() != shown:
                text.setText(shown)
            text.setPos(start + PHASE_LABEL_PAD_PX * seconds_per_px, 0.31)
            text.show()

    def _draw_out_of_body(self) -> None:
        episodes = self.timeline.episodes_of("out_of_body") if self.timeline is not None else []
        for name, item in self.out_of_body_spans.items():
            y0, y1 = ROW_Y_SPAN[name]
            item.set_spans(
                (e.start_s, e.end_s, y0, y1, brush)
                for e in episodes
                for brush in (OUT_OF_BODY_TINT, OUT_OF_BODY_HATCH)
            )

    def _draw_tools(self) -> None:
        tools = self.plots["tools"]
        lanes = (
            tool_spans(self.timeline)
            if self.timeline is not None and len(self.timeline.times)
            else []
        )
        count = max(len(lanes), 1)
        tools.setFixedHeight(max(40, 18 * count + 8))
        tools.setYRange(0, count, padding=0)
        spans: list[tuple[float, float, float, float, Any]] = []
        ticks = []
        for row, (label, runs) in enumerate(lanes):
            y = count - 1 - row
            colour = _lighter(label_colour(label), 210)
            spans.extend((start, end, y + 0.15, y + 0.85, colour) for start, end in runs)
            ticks.append((y + 0.5, display_name(label)))
        if not lanes:
            ticks = [
                (
                    0.5,
                    "no tools yet"
                    if self.timeline is None or not len(self.timeline.times)
                    else "no tools seen",
                )
            ]
        tools.getAxis("left").setTicks([ticks, []])
        self.tool_spans.set_spans(spans)

    def _draw_curves(self) -> None:
        timeline = self.timeline
        if timeline is None or not len(timeline.times):
            self.tip_curve.setData([], [])
            self.bleeding_curve.setData([], [])
            self.hidden_spans.set_spans([])
            self.bleeding_spans.set_spans([])
            self.tip_note.setText("")
            return
        self.tip_curve.setData(timeline.times, timeline.tip_visibility)
        self.tip_note.setText(timeline.tip_note or "")
        self.tip_note.setPos(float(timeline.times[0]), 0.5)
        percent = timeline.bleeding * 100.0
        self.bleeding_curve.setData(timeline.times, percent)
        finite = percent[np.isfinite(percent)]
        self._set_bleeding_scale(float(finite.max()) if finite.size else 0.1)
        self.threshold_line.setValue(timeline.settings.bleeding_threshold * 100.0)
        hidden = _lighter((255, 170, 0), 70)
        self.hidden_spans.set_spans(
            (e.start_s, e.end_s, -0.05, 1.1, hidden) for e in timeline.episodes_of("tip_hidden")
        )
        bleed = _lighter((255, 40, 40), 60)
        self.bleeding_spans.set_spans(
            (e.start_s, e.end_s, 0.0, 100.0, bleed) for e in timeline.episodes_of("bleeding")
        )

    def _set_bleeding_scale(self, top_percent: float) -> None:
        top = max(top_percent * 1.15, 2.0)
        plot = self.plots["bleeding"]
        plot.setYRange(0, top, padding=0)
        plot.getAxis("left").setTicks(
            [[(top / 2, "bleeding %")], [(0.0, "0"), (round(top * 0.8, 1), f"{top * 0.8:.0f}")]]
        )

    def _draw_bookmarks(self) -> None:
        marks = list(self.bookmarks)
        if not marks:
            self.bookmark_points.setData([], [])
            return
        self.bookmark_points.setData(
            x=[float(b.time_s) for b in marks],
            y=[0.82] * len(marks),
            brush=[pg.mkBrush(*BOOKMARK_COLOURS.get(b.category, PALETTE[0])) for b in marks],
        )

    # ------------------------------------------------------------------ playhead, event start,
    # selection
    def set_playhead(self, time_s: float, *, follow: bool = False) -> None:
        self._playhead = float(time_s)
        for line in self.lines:
            line.blockSignals(True)
            line.setValue(self._playhead)
            line.blockSignals(False)
        if follow:
            low, high = self.x_range()
            if not low <= self._playhead <= high:
                width = high - low
                start = min(
                    max(self._playhead - 0.1 * width, 0.0), max(self.duration_s - width, 0.0)
                )
                self.set_x_range(start, start + width)

    def set_event_start(self, time_s: float | None) -> None:
        if time_s is None:
            self.event_line.hide()
            return
        self.event_line.blockSignals(True)
        self.event_line.setValue(float(time_s))
        self.event_line.blockSignals(False)
        self.event_line.show()

    def set_selection(self, selection: tuple[float, float] | None) -> None:
        self.selection_region.blockSignals(True)
        if selection is None:
            self.selection_region.hide()
        else:
            self.selection_region.setRegion(selection)
            self.selection_region.show()
        self.selection_region.blockSignals(False)

    # ------------------------------------------------------------------ zoom
    def x_range(self) -> tuple[float, float]:
        low, high = self.plots["ruler"].getPlotItem().getViewBox().viewRange()[0]
        return float(low), float(high)

    def set_x_range(self, start: float, end: float) -> None:
        self.plots["ruler"].setXRange(start, end, padding=0)

    def fit(self) -> None:
        self.set_x_range(0.0, max(self.duration_s, 1.0))

    def zoom_by(self, factor: float) -> None:
        low, high = self.x_range()
        width = min(max((high - low) * factor, 0.5), max(self.duration_s, 1.0))
        centre = self._playhead if low <= self._playhead <= high else (low + high) / 2
        start = min(max(centre - width / 2, 0.0), max(self.duration_s - width, 0.0))
        self.set_x_range(start, start + width)

    # ------------------------------------------------------------------ helpers for tests and
    # scripts
    def point_for(self, time_s: float, row: str = "bleeding") -> tuple[QWidget, QPoint]:
        """The viewport widget of `row` and the position in it that shows `time_s`."""
        plot = self.plots[row]
        box = plot.getPlotItem().getViewBox()
        low, high = box.viewRange()[1]
        scene = box.mapViewToScene(QPointF(time_s, (low + high) / 2))
        return plot.viewport(), plot.mapFromScene(scene)

    # ------------------------------------------------------------------ events
    def _on_clicked(self, time_s: float) -> None:
        self.seek_requested.emit(min(max(time_s, 0.0), self.duration_s))

    def _on_range_dragged(self, begin: float, now: float, finished: bool) -> None:
        low, high = sorted(min(max(t, 0.0), self.duration_s) for t in (begin, now))
        if high > low:
            self.selection_changed.emit((low, high))

    def _on_hover_changed(self, box: pg.ViewBox, pos: QPointF) -> None:
        if not box.sceneBoundingRect().contains(pos):
            return
        time_s = float(box.mapSceneToView(pos).x())
        if 0.0 <= time_s <= self.duration_s:
            self.hover_label.setText(
                describe_at(self.timeline, time_s, self.bookmarks, self.frame_times)
            )

    def _on_region_changed(self) -> None:
        low, high = self.selection_region.getRegion()
        self.selection_changed.emit((float(low), float(high)) if high > low else None)
