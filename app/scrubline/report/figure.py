"""The report's timeline figure, drawn as vector graphics (reportlab.graphics): phase bands, one
lane per tool, tip visibility with hidden episodes, bleeding area with its episodes, bookmarks,
and the spans that were not analysed -- the same picture as the window's timeline.

A 3-hour case sampled at 5 fps is 54,000 samples per track, far more than a page has points.
Every track is first reduced to one value per column of about one printed pixel (a max, a mean,
or a min/max envelope) and runs of columns become single rectangles, so the PDF stays small and
renders in well under a second whatever the case length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scrubline.core.timeline import Timeline
from scrubline.core.tools import display_name
from scrubline.report.text import clock

COLUMN_PT = 0.75  # one printed pixel at 96 dpi
LABEL_GUTTER = 84.0
PHASE_ROW = 14.0
TOOL_ROW = 9.0
TIP_ROW = 22.0
BLEED_ROW = 34.0
MARK_ROW = 13.0
AXIS_ROW = 16.0
GAP = 3.0
MAX_TOOL_LANES = 12

# Muted colours that print well in greyscale too. Phases take the template's colours (or the
# stable ones of `Timeline.phase_colour`), tinted for print.
TOOL_COLOUR = "#3b6ea5"
TIP_COLOUR = "#4daf4a"
TIP_HIDDEN_COLOUR = "#e66101"
BLEED_COLOUR = "#c0392b"
BLEED_EPISODE_COLOUR = "#f5c6c0"
NOT_ANALYSED_COLOUR = "#e6e6e6"
OUT_OF_BODY_COLOUR = "#c8c8d8"  # out-of-body spans: analysed, but no results by design
MARK_COLOUR = "#333333"
GRID_COLOUR = "#bbbbbb"


def _tinted(colour: str, white: float = 0.45) -> str:
    """A "#rrggbb" colour mixed with `white` parts of white."""
    value = colour.lstrip("#")
    rgb = [int(value[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(c + (255 - c) * white):02x}" for c in rgb)


@dataclass
class Columns:
    """Samples binned into `n` equal time columns over [t0, t1)."""

    t0: float
    t1: float
    n: int
    edges: np.ndarray  # n + 1 times
    covered: np.ndarray  # bool[n]: some sample's interval [t, t + period) overlaps the column
    own_cols: np.ndarray  # the columns that hold at least one sample time, ascending
    own_first: np.ndarray  # index of the first sample in each of them
    fill_from: np.ndarray  # for every column: the last sample starting before its end (-1: none)

    def reduce(self, values: np.ndarray, how: str) -> np.ndarray:
        """One value per column ('max', 'min' or 'mean', NaN-ignoring); a column that no sample
        starts in but one still covers (period wider than a column) takes that sample's value;
        NaN where nothing covers it."""
        values = np.asarray(values, dtype=float)
        out = np.full(self.n, np.nan)
        if values.size == 0:
            return out
        if how == "max":
            out[self.own_cols] = np.fmax.reduceat(values, self.own_first)
        elif how == "min":
            out[self.own_cols] = np.fmin.reduceat(values, self.own_first)
        elif how == "mean":
            finite = np.isfinite(values)
            sums = np.add.reduceat(np.where(finite, values, 0.0), self.own_first)
            counts = np.add.reduceat(finite.astype(float), self.own_first)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[self.own_cols] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        else:
            raise ValueError(how)
        gaps = self.covered & np.isnan(out) & (self.fill_from >= 0)
        out[gaps] = values[self.fill_from[gaps]]
        out[~self.covered] = np.nan
        return out


def make_columns(times: np.ndarray, period: float, t0: float, t1: float, n: int) -> Columns:
    times = np.asarray(times, dtype=float)
    edges = t0 + (t1 - t0) * np.arange(n + 1) / n
    if times.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Columns(t0, t1, n, edges, np.zeros(n, bool), empty, empty, np.full(n, -1))
    width = (t1 - t0) / n
    col = np.clip(np.floor((times - t0) / width).astype(np.int64), 0, n - 1)
    own_cols, own_first = np.unique(col, return_index=True)
    last = np.searchsorted(times, edges[1:], side="left") - 1
    reach = times[np.clip(last, 0, None)] + period
    covered = (last >= 0) & (reach > edges[:-1] + 1e-9)
    return Columns(t0, t1, n, edges, covered, own_cols, own_first, np.where(last >= 0, last, -1))


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) column index pairs (end exclusive) of runs of True."""
    d = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


def merged_spans(
    spans: list[tuple[float, float]], min_width: float, join: float
) -> list[tuple[float, float]]:
    """x-spans widened to `min_width` and merged where they overlap or are closer than `join`:
    thousands of short episodes become at most one rectangle per printed pixel."""
    out: list[list[float]] = []
    for x0, x1 in sorted(spans):
        x1 = max(x1, x0 + min_width)
        if out and x0 <= out[-1][1] + join:
            out[-1][1] = max(out[-1][1], x1)
        else:
            out.append([x0, x1])
    return [(a, b) for a, b in out]


def tick_step(span_s: float, max_ticks: int = 9) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600):
        if span_s / step <= max_ticks:
            return float(step)
    return float(math.ceil(span_s / max_ticks / 3600) * 3600)


def timeline_drawing(
    timeline: Timeline,
    width: float,
    *,
    fonts: tuple[str, str] = ("Helvetica", "Helvetica-Bold"),
    bookmark_numbers: list[int] | None = None,
) -> Any:
    """The timeline as a reportlab `Drawing` `width` points wide (its height follows from the
    lanes). `bookmark_numbers`: the number printed above each bookmark, matching the table."""
    from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
    from reportlab.lib.colors import HexColor, white
    from reportlab.pdfbase.pdfmetrics import stringWidth

    regular, bold = fonts
    duration = float(timeline.duration_s or 0.0)
    times = np.asarray(timeline.times, dtype=float)
    period = float(timeline.sample_period_s or 0.0)
    order: np.ndarray | None = None  # only when the samples are out of time order
    if times.size:
        if np.any(np.diff(times) < 0):
            order = np.argsort(times, kind="stable")
            times = times[order]
        duration = max(duration, float(times[-1] + period))

    def sorted_(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        return values[order] if order is not None else values

    plot_w = width - LABEL_GUTTER - 4.0
    x0 = LABEL_GUTTER
    labels = list(timeline.labels)
    tool_cols = list(range(len(labels)))
    hidden_tools = 0
    if len(labels) > MAX_TOOL_LANES:
        # Keep the tools in view longest; the tool table lists them all.
        in_view = timeline.presence.sum(axis=0)
        tool_cols = sorted(np.argsort(-in_view, kind="stable")[:MAX_TOOL_LANES].tolist())
        hidden_tools = len(labels) - MAX_TOOL_LANES
    n_tool_rows = max(1, len(tool_cols))

    phases = timeline.episodes_of("phase")
    phase_names = list(dict.fromkeys(p.label for p in phases))
    # The legend is laid out first: its line count sets the drawing's height.
    # The procedure template's colours where it gives them (the window shows the same).
    # Tinted towards white, so the black phase names stay readable on them in print.
    colour_of = {name: _tinted(timeline.phase_colour(name)) for name in phase_names}
    items: list[tuple[str, str]] = [
        (colour_of[name], timeline.phase_name(name)) for name in phase_names
    ]
    items += [
        (TOOL_COLOUR, "tool in view"),
        (TIP_COLOUR, "tips visible (share)"),
        (TIP_HIDDEN_COLOUR, "tip hidden episode"),
        (BLEED_COLOUR, "bleeding area"),
        (BLEED_EPISODE_COLOUR, "bleeding episode"),
        (NOT_ANALYSED_COLOUR, "not analysed"),
    ]
    if timeline.episodes_of("out_of_body"):
        items.append((OUT_OF_BODY_COLOUR, "out of body (no results)"))
    legend: list[tuple[float, int, str, str]] = []
    lx, line = x0, 0
    for colour, text in items:
        w = 9 + stringWidth(text, regular, 6) + 8
        if lx + w > width and lx > x0:
            lx, line = x0, line + 1
        legend.append((lx, line, colour, text))
        lx += w

    lanes_h = (
        PHASE_ROW + GAP + n_tool_rows * TOOL_ROW + GAP + TIP_ROW + GAP + BLEED_ROW + GAP + MARK_ROW
    )
    legend_h = 9.0 * (line + 1) + 4
    height = lanes_h + AXIS_ROW + legend_h
    drawing = Drawing(width, height)
    # reportlab's renderer starts every drawing in Helvetica (not embedded) unless told otherwise.
    drawing.initialFontName = regular
    top = height
    lanes_bottom = height - lanes_h

    def lane_label(y: float, h: float, text: str, size: float = 7.0, font: str = regular) -> None:
        while stringWidth(text, font, size) > LABEL_GUTTER - 6 and len(text) > 4:
            text = text[:-2] + "…"
        drawing.add(
            String(
                LABEL_GUTTER - 4,
                y + h / 2 - size / 3,
                text,
                fontName=font,
                fontSize=size,
                textAnchor="end",
                fillColor=HexColor("#222222"),
            )
        )

    if duration <= 0:
        drawing.add(
            String(
                width / 2,
                height / 2,
                "no analysed frames and no video duration: nothing to draw",
                fontName=regular,
                fontSize=8,
                textAnchor="middle",
            )
        )
        return drawing

    def tx(t: float) -> float:
        return x0 + plot_w * min(max(t, 0.0), duration) / duration

    n_cols = max(10, int(plot_w / COLUMN_PT))
    cols = make_columns(times, period, 0.0, duration, n_cols)
    col_w = plot_w / n_cols

    def rects_for(flags: np.ndarray, y: float, h: float, colour: str) -> None:
        for a, b in runs(flags):
            drawing.add(
                Rect(
                    x0 + a * col_w,
                    y,
                    (b - a) * col_w,
                    h,
                    fillColor=HexColor(colour),
                    strokeColor=None,
                    strokeWidth=0,
                )
            )

    def episode_rects(kind: str, y: float, h: float, colour: str) -> None:
        spans = [(tx(e.start_s), tx(e.end_s)) for e in timeline.episodes_of(kind)]
        for a, b in merged_spans(spans, min_width=COLUMN_PT, join=COLUMN_PT / 2):
            drawing.add(
                Rect(a, y, b - a, h, fillColor=HexColor(colour), strokeColor=None, strokeWidth=0)
            )

    def envelope(
        upper: np.ndarray, lower: np.ndarray, y: float, h: float, vmax: float, colour: str
    ) -> None:
        """Filled band between lower and upper (per column), one polygon per covered stretch."""
        valid = np.isfinite(upper) & np.isfinite(lower)
        for a, b in runs(valid):
            xs = x0 + (np.arange(a, b) + 0.5) * col_w
            # Widen the ends to the column edges so one-column stretches still show.
            xs = np.concatenate([[x0 + a * col_w], xs, [x0 + b * col_w]])
            up = np.clip(upper[a:b] / vmax, 0, 1)
            lo = np.clip(lower[a:b] / vmax, 0, 1)
            up = np.concatenate([[up[0]], up, [up[-1]]])
            lo = np.concatenate([[lo[0]], lo, [lo[-1]]])
            points: list[float] = []
            for x, v in zip(xs, up, strict=True):
                points += [float(x), float(y + v * h)]
            for x, v in zip(xs[::-1], lo[::-1], strict=True):
                points += [float(x), float(y + v * h)]
            drawing.add(
                Polygon(
                    points,
                    fillColor=HexColor(colour),
                    strokeColor=HexColor(colour),
                    strokeWidth=0.3,
                )
            )

    # Time grid first, so every lane draws over it.
    step = tick_step(duration)
    ticks = np.arange(0.0, duration + 1e-6, step)
    for t in ticks:
        drawing.add(
            Line(tx(t), lanes_bottom, tx(t), top, strokeColor=HexColor("#e4e4e4"), strokeWidth=0.25)
        )

    # Lanes from the top. Each lane gets a faint frame, and the not-analysed spans a grey fill.
    not_analysed = ~cols.covered

    def lane_background(y: float, h: float) -> None:
        drawing.add(
            Rect(
                x0, y, plot_w, h, fillColor=None, strokeColor=HexColor(GRID_COLOUR), strokeWidth=0.3
            )
        )
        rects_for(not_analysed, y, h, NOT_ANALYSED_COLOUR)
        episode_rects("out_of_body", y, h, OUT_OF_BODY_COLOUR)

    def empty_lane_note(y: float, h: float, text: str) -> None:
        """The grey note a lane shows instead of data (no phases, no tools, nothing measured)."""
        drawing.add(
            String(
                x0 + 4,
                y + h / 2 - 2.5,
                text,
                fontName=regular,
                fontSize=6.5,
                fillColor=HexColor("#777777"),
            )
        )

    def guide_line(
        x1: float, y1: float, x2: float, y2: float, *, width: float, dash: list[float]
    ) -> None:
        """A dark grey dashed line over the lanes (the bleeding threshold, a bookmark's time)."""
        drawing.add(
            Line(
                x1,
                y1,
                x2,
                y2,
                strokeColor=HexColor("#555555"),
                strokeWidth=width,
                strokeDashArray=dash,
            )
        )

    y = top - PHASE_ROW
    lane_background(y, PHASE_ROW)
    lane_label(y, PHASE_ROW, "Phase", font=bold)
    for p in phases:
        a, b = tx(p.start_s), tx(p.end_s)
        colour = colour_of[p.label]
        drawing.add(
            Rect(
                a,
                y,
                max(b - a, COLUMN_PT),
                PHASE_ROW,
                fillColor=HexColor(colour),
                strokeColor=white,
                strokeWidth=0.3,
            )
        )
        shown = timeline.phase_name(p.label)
        if b - a > stringWidth(shown, regular, 6) + 4:
            drawing.add(
                String(
                    (a + b) / 2,
                    y + PHASE_ROW / 2 - 2,
                    shown,
                    fontName=regular,
                    fontSize=6,
                    textAnchor="middle",
                )
            )
    if not phases:
        empty_lane_note(y, PHASE_ROW, "no phases recognised")

    y -= GAP
    for i in range(n_tool_rows):
        y -= TOOL_ROW
        lane_background(y, TOOL_ROW)
        if not tool_cols:
            lane_label(y, TOOL_ROW, "Tools", font=bold)
            empty_lane_note(y, TOOL_ROW, "no instruments detected")
            continue
        column = tool_cols[i]
        lane_label(y, TOOL_ROW, display_name(labels[column]))
        present = cols.reduce(sorted_(timeline.presence[:, column]), "max")
        rects_for(np.nan_to_num(present) > 0.5, y + 1, TOOL_ROW - 2, TOOL_COLOUR)
    if hidden_tools:
        lane_label(y - 6, 6, f"+{hidden_tools} more in the table", size=5.5)

    y -= GAP + TIP_ROW
    lane_background(y, TIP_ROW)
    lane_label(y + 5, TIP_ROW - 5, "Tips visible", font=bold)
    lane_label(y - 1, 7, "tip hidden", size=5.5)
    visibility = cols.reduce(sorted_(timeline.tip_visibility), "mean")
    strip = 5.0
    envelope(visibility, np.zeros_like(visibility), y + strip, TIP_ROW - strip, 1.0, TIP_COLOUR)
    episode_rects("tip_hidden", y, strip, TIP_HIDDEN_COLOUR)

    y -= GAP + BLEED_ROW
    lane_background(y, BLEED_ROW)
    bleeding = sorted_(timeline.bleeding).astype(float)
    measured = bleeding[np.isfinite(bleeding)]
    threshold = float(timeline.settings.bleeding_threshold)
    peak = float(measured.max()) if measured.size else 0.0
    vmax = max(peak * 1.1, threshold * 2.0, 0.05)
    episode_rects("bleeding", y, BLEED_ROW, BLEED_EPISODE_COLOUR)
    if measured.size:
        envelope(
            cols.reduce(bleeding, "max"),
            cols.reduce(bleeding, "min"),
            y,
            BLEED_ROW,
            vmax,
            BLEED_COLOUR,
        )
        ty = y + BLEED_ROW * threshold / vmax
        guide_line(x0, ty, x0 + plot_w, ty, width=0.4, dash=[2, 2])
        drawing.add(
            String(
                x0 + 2,
                ty + 1.5,
                f"{100 * threshold:.0f}% episode threshold",
                fontName=regular,
                fontSize=5,
                fillColor=HexColor("#555555"),
            )
        )
    else:
        empty_lane_note(y, BLEED_ROW, "bleeding not measured (no bleeding model ran)")
    lane_label(y + 10, BLEED_ROW - 10, "Bleeding area", font=bold)
    lane_label(y, 10, f"scale 0–{100 * vmax:.0f}% of frame", size=5.5)

    y -= GAP + MARK_ROW
    lane_label(y, MARK_ROW, "Bookmarks", font=bold)
    marks = timeline.episodes_of("bookmark")
    numbers = bookmark_numbers or list(range(1, len(marks) + 1))
    for mark in marks:
        mx = tx(mark.start_s)
        if (
            len(marks) <= 12
        ):  # a line through every lane helps with a few; many would hide the lanes
            guide_line(mx, y + MARK_ROW - 5, mx, top, width=0.3, dash=[1, 1.5])
        drawing.add(
            Polygon(
                [mx - 3, y + MARK_ROW - 1, mx + 3, y + MARK_ROW - 1, mx, y + MARK_ROW - 6],
                fillColor=HexColor(MARK_COLOUR),
                strokeColor=None,
                strokeWidth=0,
            )
        )
    # Numbers under the markers; marks closer than a number's width share one label ("3–5").
    groups: list[list[int]] = []
    for k, mark in enumerate(marks[: len(numbers)]):
        if groups and tx(mark.start_s) - tx(marks[groups[-1][0]].start_s) < 8:
            groups[-1].append(k)
        else:
            groups.append([k])
    if len(groups) <= 60:
        for group in groups:
            first, last = numbers[group[0]], numbers[group[-1]]
            text = str(first) if first == last else f"{first}–{last}"
            gx = (tx(marks[group[0]].start_s) + tx(marks[group[-1]].start_s)) / 2
            drawing.add(
                String(gx, y + 0.5, text, fontName=regular, fontSize=5.5, textAnchor="middle")
            )
    if not marks:
        empty_lane_note(y, MARK_ROW, "none")

    # Time axis.
    ay = lanes_bottom
    drawing.add(Line(x0, ay, x0 + plot_w, ay, strokeColor=HexColor("#444444"), strokeWidth=0.5))
    long = duration >= 3600
    for k, t in enumerate(ticks):
        x = tx(t)
        drawing.add(Line(x, ay, x, ay - 3, strokeColor=HexColor("#444444"), strokeWidth=0.5))
        # The end labels are aligned inwards so they neither run into the lane labels nor off the
        # page.
        anchor = "start" if k == 0 else "end" if x > x0 + plot_w - 12 else "middle"
        drawing.add(
            String(x, ay - 10, clock(t, long=long), fontName=regular, fontSize=6, textAnchor=anchor)
        )
    lane_label(ay - 12, 8, "video time", size=6)

    for lx, line, colour, text in legend:
        ly = ay - AXIS_ROW - 6 - 9 * line
        drawing.add(
            Rect(
                lx,
                ly,
                6,
                6,
                fillColor=HexColor(colour),
                strokeColor=HexColor("#888888"),
                strokeWidth=0.2,
            )
        )
        drawing.add(String(lx + 8, ly + 0.8, text, fontName=regular, fontSize=6))
    return drawing
