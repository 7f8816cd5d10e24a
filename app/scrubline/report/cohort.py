"""The cohort report: `scrubline report --cohort DIR`, one PDF comparing the cases of an archive.

For educators comparing cases or trainees: how long each phase took (every case a dot, the
median marked), how much each tool was in view, how often bleeding and hidden tips occurred per
hour of video, and the predicted outcome of each case where the model could predict (its reason
where it could not). Figures are vector graphics (reportlab.graphics), as in the case report;
phases keep their colours from the procedure template.

Cases are named only by the labels the user typed (a batch list's `case_label`), else `case N`
by their place in the index; no video file name, path or fingerprint is printed. Read from the
archive's index (`core.archive`), not from the case files, so it is quick for thousands of cases.
"""

from __future__ import annotations

import datetime as _dt
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from scrubline import __version__
from scrubline.core.archive import DONE, ArchiveIndex, display_label
from scrubline.core.case import load_procedure
from scrubline.core.output import atomic_file
from scrubline.core.phases import TemplateError
from scrubline.core.timeline import phase_colour
from scrubline.report.document import DISCLAIMER, _Styles, _table, build_pdf
from scrubline.report.fonts import register_fonts
from scrubline.report.text import duration, esc

DOT_COLOUR = "#3b6ea5"
ROW_H = 16.0
LABEL_W = 110.0
AXIS_H = 22.0
MAX_SEQUENCES = 60  # phase-sequence bars on the page; more would not be readable


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = max(span, 1e-9) / ticks
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def strip_plot(
    rows: list[tuple[str, str, list[float]]],
    width: float,
    font: str,
    unit: str,
    *,
    upper: float | None = None,
) -> Any:
    """One row per category: each value a dot (spread vertically by its rank so equal values
    stay visible), the median a vertical bar; a shared axis below in `unit`."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, Rect, String
    from reportlab.lib.colors import HexColor

    label_w = _label_width([label for label, _, _ in rows], font)
    values = [v for _, _, vs in rows for v in vs]
    top = upper if upper is not None else max(values, default=1.0)
    top = top if top > 0 else 1.0
    step = _nice_step(top)
    top = step * max(1, -(-top // step))
    plot_w = width - label_w - 10
    height = len(rows) * ROW_H + AXIS_H
    drawing = Drawing(width, height)

    def x_of(value: float) -> float:
        return label_w + plot_w * min(max(value, 0.0), top) / top

    for i, (label, colour, vs) in enumerate(rows):
        y0 = height - (i + 1) * ROW_H
        if i % 2 == 0:
            drawing.add(
                Rect(label_w, y0, plot_w, ROW_H, fillColor=HexColor("#f6f7f9"), strokeColor=None)
            )
        text = _fit(label, label_w - 10, font, 7.5)
        drawing.add(
            String(label_w - 6, y0 + 4.5, text, fontName=font, fontSize=7.5, textAnchor="end")
        )
        ordered = sorted(vs)
        for rank, value in enumerate(ordered):
            offset = ((rank % 5) - 2) * 1.6  # a small fixed spread, never random
            drawing.add(
                Circle(
                    x_of(value),
                    y0 + ROW_H / 2 + offset,
                    2.4,
                    fillColor=HexColor(colour),
                    strokeColor=HexColor("#333333"),
                    strokeWidth=0.3,
                )
            )
        if ordered:
            median = statistics.median(ordered)
            drawing.add(
                Line(
                    x_of(median),
                    y0 + 2,
                    x_of(median),
                    y0 + ROW_H - 2,
                    strokeColor=HexColor("#222222"),
                    strokeWidth=1.2,
                )
            )
    axis_y = _axis_line(drawing, label_w, plot_w)
    tick = 0.0
    while tick <= top + 1e-9:
        x = x_of(tick)
        drawing.add(Line(x, axis_y, x, height, strokeColor=HexColor("#dddddd"), strokeWidth=0.3))
        drawing.add(
            String(x, axis_y - 9, f"{tick:g}", fontName=font, fontSize=7, textAnchor="middle")
        )
        tick += step
    drawing.add(String(label_w - 6, axis_y - 9, unit, fontName=font, fontSize=7, textAnchor="end"))
    return drawing


def _axis_line(drawing: Any, label_w: float, plot_w: float) -> float:
    """The grey x-axis line under a figure's plot area; returns its height on the drawing."""
    from reportlab.graphics.shapes import Line
    from reportlab.lib.colors import HexColor

    axis_y = AXIS_H - 6
    drawing.add(
        Line(
            label_w,
            axis_y,
            label_w + plot_w,
            axis_y,
            strokeColor=HexColor("#777777"),
            strokeWidth=0.5,
        )
    )
    return axis_y


def _label_width(labels: list[str], font: str, size: float = 7.5) -> float:
    """Room for the longest label, between LABEL_W and 190 pt."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    widest = max((stringWidth(label, font, size) for label in labels), default=0.0)
    return min(190.0, max(LABEL_W, widest + 12))


def _fit(text: str, room: float, font: str, size: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= room:
        return text
    while len(text) > 1 and stringWidth(text + "…", font, size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def phase_sequences(
    cases: list[tuple[str, float, list[tuple[str, float, float]]]],
    colours: dict[str, str | None],
    width: float,
    font: str,
) -> Any:
    """One bar per case, its phases in order over its own length (the longest case fills the
    width), so the order and the pace of the phases compare at a glance."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib.colors import HexColor

    label_w = _label_width([label for label, _, _ in cases], font)
    plot_w = width - label_w - 10
    longest = max((length for _, length, _ in cases), default=1.0) or 1.0
    step = _nice_step(longest)
    row = 11.0
    height = len(cases) * row + AXIS_H
    drawing = Drawing(width, height)
    for i, (label, length, spans) in enumerate(cases):
        y0 = height - (i + 1) * row
        drawing.add(
            String(
                label_w - 6,
                y0 + 2.5,
                _fit(label, label_w - 10, font, 7),
                fontName=font,
                fontSize=7,
                textAnchor="end",
            )
        )
        drawing.add(
            Rect(
                label_w,
                y0 + 1.5,
                plot_w * length / longest,
                row - 3,
                fillColor=HexColor("#eeeeee"),
                strokeColor=None,
            )
        )
        for phase, start, end in spans:
            x0 = label_w + plot_w * max(0.0, start) / longest
            x1 = label_w + plot_w * min(length, end) / longest
            if x1 > x0:
                drawing.add(
                    Rect(
                        x0,
                        y0 + 1.5,
                        x1 - x0,
                        row - 3,
                        fillColor=HexColor(_colour_of(phase, colours)),
                        strokeColor=None,
                    )
                )
    axis_y = _axis_line(drawing, label_w, plot_w)
    minutes = longest >= 120
    tick = 0.0
    while tick <= longest + 1e-9:
        x = label_w + plot_w * tick / longest
        drawing.add(
            Line(x, axis_y - 2, x, axis_y, strokeColor=HexColor("#777777"), strokeWidth=0.5)
        )
        text = f"{tick / 60:g}" if minutes else f"{tick:g}"
        drawing.add(String(x, axis_y - 9, text, fontName=font, fontSize=7, textAnchor="middle"))
        tick += step
    drawing.add(
        String(
            label_w - 6,
            axis_y - 9,
            "minutes" if minutes else "seconds",
            fontName=font,
            fontSize=7,
            textAnchor="end",
        )
    )
    return drawing


def _template(procedure: str) -> Any:
    """The case's phase template as the case itself resolves it (a bundled name or a template
    file); None when it is not here or does not parse: the cohort then shows the labels."""
    try:
        return load_procedure(procedure)
    except TemplateError:
        return None


def _colour_of(phase: str, colours: dict[str, str | None]) -> str:
    """The colour each case's timeline gave the phase (its template's), else the stable one."""
    return phase_colour(phase, {k: v for k, v in colours.items() if v})


def build_cohort(
    folder: Path, path: Path, *, page_size: str = "A4", title: str | None = None
) -> Path:
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    with ArchiveIndex(folder) as index:
        rows = index.rows()
        phases = index.table("phases")
        tools = index.table("tools")
        episodes = index.table("episodes")
    labels = {r["fingerprint"]: display_label(r, n) for n, r in enumerate(rows, start=1)}
    done = [r for r in rows if r["status"] == DONE]
    done_ids = {r["fingerprint"] for r in done}
    fonts = register_fonts()
    st = _Styles(*fonts)
    pagesize = A4 if page_size.lower() == "a4" else letter
    margin = 18 * mm
    width = pagesize[0] - 2 * margin
    heading = title or "Cohort of analysed cases"

    story: list[Any] = [
        Paragraph("Scrubline cohort report", st.kicker),
        Paragraph(esc(heading), st.title),
    ]
    procedures = sorted({str(r["procedure"] or "generic") for r in done})
    total_s = sum(float(r["duration_s"] or 0) for r in done)
    failed = [r for r in rows if r["status"] != DONE]
    story.append(
        Paragraph(
            f"{len(done)} analysed case(s), {duration(total_s)} of video in all; "
            f"procedure template(s): {esc(', '.join(procedures) or 'none')}. "
            f"Written {_dt.date.today().isoformat()} by Scrubline {__version__}.",
            st.body,
        )
    )
    if failed:
        story.append(
            Paragraph(
                f"Not included: {len(failed)} case(s) that are not analysed "
                f"({esc(', '.join(sorted({str(r['status']) for r in failed})))}): "
                + esc(", ".join(labels[r["fingerprint"]] for r in failed[:30]))
                + ("…" if len(failed) > 30 else ""),
                st.small,
            )
        )
    if not done:
        story.append(Paragraph("No analysed cases: nothing to compare.", st.body))

    # Phase durations: every case a dot per phase, in the template's colours and names.
    per_phase: dict[str, list[float]] = defaultdict(list)
    colours: dict[str, str | None] = {}
    names: dict[str, str] = {}
    procedure_of = {r["fingerprint"]: str(r["procedure"] or "") for r in done}
    templates = {name: _template(name) for name in set(procedure_of.values())}
    for p in phases:
        if p["fingerprint"] in done_ids:
            per_phase[p["phase"]].append(float(p["duration_s"] or 0))
            colours.setdefault(p["phase"], p["colour"])
            template = templates.get(procedure_of[p["fingerprint"]])
            names.setdefault(p["phase"], template.name_of(p["phase"]) if template else p["phase"])
    longest = max((v for vs in per_phase.values() for v in vs), default=0.0)
    unit, scale = ("minutes", 60.0) if longest >= 120 else ("seconds", 1.0)
    if per_phase:
        order = list(per_phase)
        story += [
            Paragraph("Phase durations", st.h1),
            Paragraph(
                "Each dot is one case; the bar is the median. Phases come from each case's "
                "procedure template and are drawn in its colours.",
                st.small,
            ),
            Spacer(1, 4),
            strip_plot(
                [
                    (names[ph], _colour_of(ph, colours), [v / scale for v in per_phase[ph]])
                    for ph in order
                ],
                width,
                fonts[0],
                unit,
            ),
        ]

    # The phases of each case in order, over its own length (up to MAX_SEQUENCES cases).
    spans: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for e in episodes:
        if e["kind"] == "phase" and e["fingerprint"] in done_ids:
            spans[e["fingerprint"]].append((e["label"], float(e["start_s"]), float(e["end_s"])))
    if spans:
        shown = [r for r in done if spans.get(r["fingerprint"])][:MAX_SEQUENCES]
        story += [
            Paragraph("Phase sequence of each case", st.h1),
            Paragraph(
                "Each bar is one case over its own length; the phases in the colours above."
                + (
                    f" The first {MAX_SEQUENCES} of {len(done)} cases are shown."
                    if len(done) > MAX_SEQUENCES
                    else ""
                ),
                st.small,
            ),
            Spacer(1, 4),
            phase_sequences(
                [
                    (labels[r["fingerprint"]], float(r["duration_s"] or 0), spans[r["fingerprint"]])
                    for r in shown
                ],
                colours,
                width,
                fonts[0],
            ),
        ]

    # Tool usage: share of each case's analysed time with the tool in view.
    durations = {r["fingerprint"]: float(r["duration_s"] or 0) for r in done}
    per_tool: dict[str, list[float]] = defaultdict(list)
    for t in tools:
        total = durations.get(t["fingerprint"])
        if total:
            per_tool[t["label"]].append(100.0 * float(t["time_in_view_s"] or 0) / total)
    if per_tool:
        story += [
            Paragraph("Tool usage", st.h1),
            Paragraph(
                "Share of each case's video with the tool in view (each dot a case).", st.small
            ),
            Spacer(1, 4),
            strip_plot(
                [(label, DOT_COLOUR, per_tool[label]) for label in sorted(per_tool)],
                width,
                fonts[0],
                "% of video",
                upper=100.0,
            ),
        ]

    # Episodes per hour of video.
    rates: list[tuple[str, str, list[float]]] = []
    for key, label, colour in (
        ("bleeding_episodes", "bleeding", "#c0392b"),
        ("tip_hidden_episodes", "tip hidden", "#e66101"),
    ):
        values = [
            float(r[key]) / (durations[r["fingerprint"]] / 3600.0)
            for r in done
            if r[key] is not None and durations.get(r["fingerprint"])
        ]
        rates.append((label, colour, values))
    if any(vs for _, _, vs in rates):
        story += [
            Paragraph("Bleeding and tip-hidden episodes", st.h1),
            Paragraph("Episodes per hour of video (each dot a case).", st.small),
            Spacer(1, 4),
            strip_plot(rates, width, fonts[0], "per hour"),
        ]

    # The cases, with the outcome prediction or its reason.
    if done:
        table = [["Case", "Procedure", "Video", "Bleeding", "Tip hidden", "Predicted outcome"]]
        predicted = 0
        for r in done:
            if r["blood_loss_ml"] is not None:
                predicted += 1
                interval = (
                    f" ({r['blood_loss_low_ml']:.0f}–{r['blood_loss_high_ml']:.0f})"
                    if r["blood_loss_low_ml"] is not None
                    else ""
                )
                outcome = (
                    f"{r['blood_loss_ml']:.0f} mL{interval}; "
                    f"{100 * (r['success_probability'] or 0):.0f}% hemostasis"
                )
            else:
                outcome = f"none: {r['outcome_reason'] or 'not predicted'}"
            table.append(
                [
                    esc(labels[r["fingerprint"]]),
                    esc(r["procedure"] or ""),
                    duration(r["duration_s"]),
                    f"{r['bleeding_episodes'] or 0} ({duration(r['bleeding_total_s'])})",
                    f"{r['tip_hidden_episodes'] or 0} ({duration(r['tip_hidden_total_s'])})",
                    esc(outcome),
                ]
            )
        story += [
            Paragraph("Cases and predicted outcomes", st.h1),
            Paragraph(
                f"The outcome model predicted {predicted} of {len(done)} case(s): it predicts only "
                "for a bleeding event with enough analysed video after it, in the domain it was "
                "trained on, and says why not otherwise. Blood loss in mL with its interval; "
                "chance of hemostasis.",
                st.small,
            ),
            Spacer(1, 4),
            _table(
                table,
                [w * width for w in (0.17, 0.12, 0.12, 0.12, 0.12, 0.35)],
                st,
            ),
        ]
    story += [Spacer(1, 10), Paragraph(esc(DISCLAIMER), st.small)]

    path = Path(path)
    with atomic_file(path) as partial:
        build_pdf(
            story,
            partial,
            pagesize=pagesize,
            margin=margin,
            title=f"Scrubline cohort: {heading}",
            subject="Cohort report",
            footer_label=heading,
            fonts=fonts,
        )
    return path


def write_cohort_report(
    folder: Path, path: Path, *, page_size: str = "A4", title: str | None = None
) -> Path:
    """Write the cohort report of the archive `folder` to `path` (a PDF: an existing file that
    is not one is refused, as for a case report)."""
    from scrubline.core.output import OutputError, is_pdf

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write the report to {path}: it is a folder")
    if path.exists() and not is_pdf(path):
        raise OutputError(f"refusing to overwrite {path}: it exists and is not a PDF")
    return build_cohort(Path(folder), path, page_size=page_size, title=title)
