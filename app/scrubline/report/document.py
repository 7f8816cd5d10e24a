"""The debrief document: reads the case once (timeline, summary, outcome, key frames) and lays it
out with reportlab's platypus.

Pages: header and summary (what was analysed, headline numbers, the outcome prediction or why
there is none, and what the report could not include); the timeline figure; tables of phases,
tools, tip-hidden and bleeding episodes and bookmarks; key frames with the analysis drawn on;
model provenance with the not-a-medical-device statement. Every page has the case label and
"page n of N" in its footer.

Nothing identifying is printed beyond what the user typed: no path, and not the video's file
name (it may carry a patient's name). Texts that come from elsewhere (error messages, reasons)
are scrubbed of that name before they are printed.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrubline import __version__
from scrubline.core.case import Case
from scrubline.core.output import atomic_file
from scrubline.core.privacy import identifying_names, scrub_text
from scrubline.core.timeline import Timeline
from scrubline.core.tools import display_name
from scrubline.report.fonts import register_fonts
from scrubline.report.options import ReportOptions
from scrubline.report.text import (
    clock,
    cross_validated_figures,
    duration,
    esc,
    metric_label,
    number,
    percent,
)

log = logging.getLogger("scrubline.report")

# Published figures for predicting the outcome of a simulated major vascular injury from its first
# minute of video (SOCAL dataset; Pangal et al., Sci Rep 2022). They are literature anchors, not
# figures
# Scrubline measured, and the report labels them so.
LITERATURE_ANCHORS = (
    ("SOCALNet (deep model)", 295.0, 0.85),
    ("Expert surgeons", 351.0, 0.69),
)
ANCHOR_SOURCE = (
    "published on the SOCAL simulated-bleeding videos (Pangal et al., Sci Rep 2022); "
    "not measured by Scrubline"
)
MAX_EPISODE_ROWS = 25
DISCLAIMER = (
    "Scrubline's figures are decision-support estimates for review and teaching. Its models were "
    "developed and validated on simulation and public research data, not on this hospital's "
    "cases; their errors on a new case can be larger than the validation figures suggest. "
    "Scrubline is not a medical device, is not cleared or approved by any regulator, and must not "
    "be used to make clinical decisions about a patient."
)


# ---------------------------------------------------------------------------- gathering
@dataclass
class CaseData:
    """Everything the layout needs, read from the case once."""

    typed: dict[str, str]
    timeline: Timeline
    totals: dict[str, Any]
    outcome: dict[str, Any]
    analysis: dict[str, Any]
    video: dict[str, Any]
    settings: dict[str, Any]
    models: list[dict[str, Any]]
    procedure_template: str | None
    sequence_manifest: Any
    manifests: dict[str, Any]
    bookmarks: list[Any] = field(default_factory=list)
    phase_reason: str | None = None  # why there are no phases
    event_start_manual: bool = False  # the reviewer moved the bleeding event's start
    missing: list[str] = field(default_factory=list)  # what the report could not include, in words
    scrub_names: tuple[str, ...] = ()
    phase_manifest: Any = (
        None  # the learned phase model the procedure named, when it gave the phases
    )
    corrections: dict[str, int] = field(default_factory=dict)  # reviewer corrections by kind

    def scrub(self, text: Any) -> str:
        """`text` (an error message, a model's reason) with file paths and the video's file name
        (and its stem) taken out."""
        return scrub_text(text, self.scrub_names)


def _template_name(case: Case) -> str:
    """The phase template the timeline used, as a person reads it (a file by its name only)."""
    from scrubline.core.case import procedure_templates

    procedure = case.procedure
    if procedure.endswith(".toml"):
        return f"{Path(procedure).name} (a template file)"
    if procedure in procedure_templates():
        return f"{procedure} (bundled)"
    return f"{procedure} (not installed)"


def gather(case: Case, options: ReportOptions, registry: Any) -> CaseData:
    """Everything the layout needs, read from the case once (a store is wrapped in a Case)."""
    case = Case.wrap(case)
    video = case.video
    typed = options.typed(case.case_info)
    # A label the user typed is theirs to print, even if it repeats the file name.
    names = identifying_names(
        video.get("name"),
        more=[options.video_path] if options.video_path else [],
        typed_label=typed.get("label", ""),
    )
    timeline, phase_reason = case.timeline_and_reason()

    outcome: dict[str, Any]
    analysis: dict[str, Any]
    try:
        summary = case.summary(timeline, registry)
        outcome = summary["outcome"] or {}
        analysis = summary["analysis"]
        totals = summary["totals"]
    except Exception as exc:  # the report must still come out, saying what went wrong
        log.warning("the case summary could not be computed (%s)", exc)
        planned = case.get_meta("planned_frames", [])
        analysis = {
            "planned_frames": len(planned),
            "analysed_frames": len(timeline.frames),
            "complete": bool(planned) and len(timeline.frames) >= len(planned),
            "problems": case.get_meta("problems", []),
        }
        outcome = {"reason": f"the outcome could not be computed ({exc})"}
        totals = timeline.totals()

    manifests = dict(getattr(registry, "manifests", {}) or {})
    sequence_manifest = None
    model_info = outcome.get("model") or {}
    if model_info.get("id") in manifests:
        sequence_manifest = manifests[model_info["id"]]
    elif registry is not None and registry.by_task("sequence"):
        sequence_manifest = registry.by_task("sequence")[0]

    phase_manifest = None
    if timeline.episodes_of("phase"):
        from scrubline.core.case import load_procedure

        try:
            template = load_procedure(case.procedure)
        except Exception:  # the timeline already has its phases; this only names their model
            template = None
        if template is not None and template.model in manifests:
            phase_manifest = manifests[template.model]

    data = CaseData(
        typed=typed,
        timeline=timeline,
        totals=totals,
        outcome=outcome,
        analysis=analysis,
        video=video,
        settings=case.settings,
        models=case.models,
        procedure_template=_template_name(case),
        sequence_manifest=sequence_manifest,
        manifests=manifests,
        bookmarks=case.bookmarks(),
        phase_reason=phase_reason,
        event_start_manual=case.event_start_s is not None,
        corrections=case.corrections_count(),
        scrub_names=names,
        phase_manifest=phase_manifest,
    )
    # What is missing, in the words the summary page prints.
    tasks = {m.get("task") for m in data.models}
    n = len(timeline.frames)
    planned = int(analysis.get("planned_frames") or 0)
    if n == 0:
        data.missing.append(
            "Nothing was analysed: the case file holds no results, so every figure, "
            "table and key frame below is empty. Run the analysis and write the report again."
        )
    skipped = {str(k): int(v) for k, v in (analysis.get("skipped_frames") or {}).items() if v}
    if skipped:  # frames the analysis cannot use: resuming would not change them
        reasons = {
            "unreadable": "could not be decoded",
            "damaged": "were decoded from damaged data",
        }
        data.missing.append(
            f"{sum(skipped.values())} of {planned} planned frames have no results: "
            + ", ".join(
                f"{count} {reasons.get(reason, reason)}"
                for reason, count in sorted(skipped.items())
            )
            + "; they are left out of every figure."
        )
    if n and planned and n + sum(skipped.values()) < planned:
        data.missing.append(
            f"The analysis is partial: {n} of {planned} planned frames "
            f"({n / planned:.0%}). Figures cover only the analysed stretches (grey in the "
            "timeline is not analysed); resume the analysis for a complete report."
        )
    if n and "detector" not in tasks and not timeline.labels:
        data.missing.append(
            "No instrument detector ran, so there are no tool lanes, tip visibility, "
            "tip-hidden episodes or tool-based phases."
        )
    elif n and not timeline.labels:
        data.missing.append(
            "No instruments were detected, so there are no tool lanes or tip-hidden episodes."
        )
    if n and not np.isfinite(np.asarray(timeline.bleeding, dtype=float)).any():
        data.missing.append("No bleeding model ran, so bleeding was not measured.")
    if phase_reason:
        data.phase_reason = phase_reason = data.scrub(phase_reason)
    if phase_reason and n:
        data.missing.append(f"No surgical phases: {phase_reason}.")
    if outcome.get("blood_loss_ml") is None and outcome.get("success_probability") is None:
        reason = outcome.get("reason") or "no reason was given"
        data.missing.append(f"No outcome prediction: {data.scrub(reason)}.")
    problems = analysis.get("problems") or []
    if problems:
        data.missing.append(
            f"The video had {len(problems)} reading problem(s) during analysis "
            "(damaged or undecodable frames); those frames have no results."
        )
    return data


# ---------------------------------------------------------------------------- layout helpers
class _Styles:
    def __init__(self, regular: str, bold: str) -> None:
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        self.regular, self.bold = regular, bold
        grey = HexColor("#555555")
        self.body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12)
        self.small = ParagraphStyle(
            "small", parent=self.body, fontSize=7.5, leading=9.5, textColor=grey
        )
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8, leading=10)
        self.cell_bold = ParagraphStyle("cellb", parent=self.cell, fontName=bold)
        self.kicker = ParagraphStyle(
            "kicker", parent=self.body, fontSize=9, textColor=grey, spaceAfter=2
        )
        self.title = ParagraphStyle(
            "title", parent=self.body, fontName=bold, fontSize=20, leading=24, spaceAfter=6
        )
        self.h1 = ParagraphStyle(
            "h1",
            parent=self.body,
            fontName=bold,
            fontSize=13,
            leading=16,
            spaceBefore=10,
            spaceAfter=5,
            keepWithNext=1,
        )
        self.h2 = ParagraphStyle(
            "h2",
            parent=self.body,
            fontName=bold,
            fontSize=10.5,
            leading=13,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=1,
        )
        self.bullet = ParagraphStyle(
            "bullet",
            parent=self.body,
            fontSize=8.5,
            leading=11,
            leftIndent=10,
            bulletIndent=0,
            bulletFontName=regular,
        )
        self.big = ParagraphStyle("big", parent=self.body, fontName=bold, fontSize=12, leading=15)


def _table(
    rows: list[list[Any]],
    widths: list[float],
    styles: _Styles,
    *,
    header: bool = True,
    zebra: bool = True,
) -> Any:
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Paragraph, Table, TableStyle

    cells = [
        [
            c
            if not isinstance(c, str)
            else Paragraph(c, styles.cell_bold if header and r == 0 else styles.cell)
            for c in row
        ]
        for r, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        # Tables set a font even with only paragraphs in them; the default would be Helvetica.
        ("FONTNAME", (0, 0), (-1, -1), styles.regular),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, HexColor("#999999")),
    ]
    if header:
        commands += [
            ("BACKGROUND", (0, 0), (-1, 0), HexColor("#e8edf3")),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, HexColor("#777777")),
        ]
    if zebra:
        for r in range(1 if header else 0, len(rows)):
            if (r - (1 if header else 0)) % 2 == 1:
                commands.append(("BACKGROUND", (0, r), (-1, r), HexColor("#f6f7f9")))
    table.setStyle(TableStyle(commands))
    return table


def _boxed(
    flowables: list[Any], width: float, font: str, colour: str = "#f3f6fa", border: str = "#9fb3c8"
) -> Any:
    from reportlab.lib.colors import HexColor
    from reportlab.platypus import Table, TableStyle

    box = Table([[flowables]], colWidths=[width], hAlign="LEFT")
    box.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("BACKGROUND", (0, 0), (-1, -1), HexColor(colour)),
                ("BOX", (0, 0), (-1, -1), 0.8, HexColor(border)),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    return box


def _canvas_maker(label: str, fonts: tuple[str, str]) -> Any:
    """A canvas that knows the page count when it writes footers ("page n of N")."""
    from reportlab.lib.colors import HexColor
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    regular = fonts[0]

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            width, _ = self._pagesize
            margin = 18 * 72 / 25.4
            self.saveState()
            self.setStrokeColor(HexColor("#bbbbbb"))
            self.setLineWidth(0.4)
            self.line(margin, 30, width - margin, 30)
            self.setFont(regular, 7)
            self.setFillColor(HexColor("#555555"))
            right = (
                f"Scrubline {__version__} · decision support, not a medical device · "
                f"page {self._pageNumber} of {total}"
            )
            room = width - 2 * margin - stringWidth(right, regular, 7) - 12
            text = label
            while stringWidth(text, regular, 7) > room and len(text) > 1:
                text = text[:-2] + "…"
            self.drawString(margin, 20, text)
            self.drawRightString(width - margin, 20, right)
            self.restoreState()

    return NumberedCanvas


# ---------------------------------------------------------------------------- sections
def _header(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer

    typed = data.typed
    story: list[Any] = [
        Paragraph("Post-operative debrief", st.kicker),
        Paragraph(esc(typed["label"]), st.title),
    ]
    not_given = '<font color="#888888">not given</font>'
    rows = [
        [
            "<b>Procedure</b>",
            esc(typed["procedure"]) if "procedure" in typed else not_given,
            "<b>Date</b>",
            esc(typed["date"]) if "date" in typed else not_given,
        ],
        [
            "<b>Surgeon</b>",
            esc(typed["surgeon"]) if "surgeon" in typed else not_given,
            "<b>Reviewer</b>",
            esc(typed["reviewer"]) if "reviewer" in typed else not_given,
        ],
    ]
    story.append(
        _table(
            rows,
            [0.14 * width, 0.36 * width, 0.14 * width, 0.36 * width],
            st,
            header=False,
            zebra=False,
        )
    )
    story.append(Spacer(1, 4))

    settings = data.settings
    if settings:
        fps = settings.get("fps")
        start, end = settings.get("start_s"), settings.get("end_s")
        span = (
            "the whole video"
            if start is None and end is None
            else f"{clock(start or 0)}–{clock(end) if end is not None else 'end'}"
        )
        analysis_text = (
            f"{number(float(fps)) if fps else '?'} frames per second over {span}, "
            f"device {esc(settings.get('device', '?'))}"
        )
    else:
        analysis_text = "no analysis settings are stored (the case was never analysed)"
    models = ", ".join(
        f"{esc(m.get('id'))} {esc(m.get('version'))} ({esc(m.get('task'))})" for m in data.models
    )
    if data.sequence_manifest is not None:
        m = data.sequence_manifest
        models += (", " if models else "") + f"{esc(m.id)} {esc(m.version)} (sequence: outcome)"
    t = data.timeline.settings
    rules = (
        f"bleeding when ≥ {percent(t.bleeding_threshold, 0)} of the frame; episodes of at least "
        f"{number(t.min_episode_s)} s, gaps under {number(t.merge_gap_s)} s merged; instruments "
        f"count at score ≥ {number(t.presence_score)}"
    )
    generated = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = [
        ["<b>Scrubline</b>", f"version {esc(__version__)}; report written {generated}"],
        ["<b>Analysis</b>", analysis_text],
        ["<b>Models</b>", models or "none recorded"],
        [
            "<b>Phase template</b>",
            esc(data.procedure_template) if data.procedure_template else "none",
        ],
        ["<b>Episode rules</b>", rules],
    ]
    story.append(_table(rows, [0.17 * width, 0.83 * width], st, header=False, zebra=False))
    return story


def _outcome_flowables(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    outcome = data.outcome
    loss = outcome.get("blood_loss_ml")
    success = outcome.get("success_probability")
    out: list[Any] = [Paragraph("<b>Bleeding event outcome (predicted)</b>", st.body)]
    start = outcome.get("event_start_s")
    if loss is None and success is None:
        reason = data.scrub(outcome.get("reason") or "no reason was given")
        text = f"No prediction was made: {esc(reason)}."
        if start is not None:
            text = f"Bleeding event from {clock(start, decimals=1)}. " + text
        out.append(Paragraph(text, st.body))
        return out

    how = "set by the reviewer" if data.event_start_manual else "found in the bleeding timeline"
    out.append(
        Paragraph(
            f"Bleeding event from {clock(start, decimals=1)} ({how}); the model reads the "
            "first minute after it.",
            st.small,
        )
    )
    warning = outcome.get("warning")
    if warning:  # the reviewer asked for a prediction outside the model's validated domain
        warning = data.scrub(str(warning))
        out.append(
            Paragraph(
                f'<font color="#b71c1c"><b>Warning — {esc(warning[:1].upper() + warning[1:])}.'
                "</b></font> Shown because the reviewer asked for it.",
                st.body,
            )
        )
    metrics = dict(getattr(data.sequence_manifest, "metrics", {}) or {})
    loss_figures, success_figures = cross_validated_figures(metrics)
    rows: list[list[Any]] = [
        ["", "Prediction", "This model, cross-validated", "Literature anchors"]
    ]
    anchors_loss = "; ".join(f"{name}: RMSE {rmse:.0f} mL" for name, rmse, _ in LITERATURE_ANCHORS)
    anchors_acc = "; ".join(f"{name}: accuracy {acc:.0%}" for name, _, acc in LITERATURE_ANCHORS)
    if loss is not None:
        interval = outcome.get("blood_loss_interval_ml")
        value = f"<b>{number(float(loss))} mL</b>"
        if interval:
            value += (
                f"<br/>80% interval {number(float(interval[0]))}–{number(float(interval[1]))} mL"
            )
        rows.append(
            [
                "Blood loss",
                value,
                "; ".join(loss_figures) or "not stated in the model's manifest",
                anchors_loss,
            ]
        )
    if success is not None:
        rows.append(
            [
                "Success (bleeding controlled)",
                f"<b>{percent(float(success), 0)}</b> probability",
                "; ".join(success_figures) or "not stated in the model's manifest",
                anchors_acc,
            ]
        )
    inner = width - 16
    out.append(_table(rows, [0.18 * inner, 0.25 * inner, 0.29 * inner, 0.28 * inner], st))
    model = outcome.get("model") or {}
    later = [
        e
        for e in data.timeline.episodes_of("bleeding")
        if start is not None and e.start_s > float(start) + 60
    ]
    note = ""
    if later:
        note = (
            f" The prediction is for this event only; {len(later)} later bleeding episode"
            f"{'s have' if len(later) != 1 else ' has'} no prediction."
        )
    out.append(
        Paragraph(
            f"Model {esc(model.get('id', '?'))} {esc(model.get('version', ''))}; success as "
            f"defined by its training data (see the model page). Anchors are {ANCHOR_SOURCE}; they "
            "show how hard the task is, not how this model does on this case. The numbers are "
            f"estimates with their error shown, not measurements.{note}",
            st.small,
        )
    )
    return out


CORRECTION_WORDS = {
    "delete_box": ("false tool box removed", "false tool boxes removed"),
    "relabel_box": ("tool class changed", "tool classes changed"),
    "tip_visibility": ("tip visibility corrected", "tip visibilities corrected"),
    "phase_boundary": ("phase boundary moved", "phase boundaries moved"),
    "out_of_body": ("span marked out of body", "spans marked out of body"),
}


def corrections_text(counts: dict[str, int]) -> str:
    """'A reviewer corrected 3 results: 2 false tool boxes removed, 1 tool class changed' (stale
    corrections, made against an earlier analysis, are counted apart and not applied)."""
    applied = {k: v for k, v in counts.items() if k != "stale" and v}
    total = sum(applied.values())
    parts = [
        f"{n} {CORRECTION_WORDS.get(kind, (kind, kind))[n != 1]}" for kind, n in applied.items()
    ]
    text = f"a reviewer corrected {total} result{'s' if total != 1 else ''}"
    if parts:
        text += ": " + ", ".join(parts)
    if counts.get("stale"):
        stale = counts["stale"]
        text += (
            f"; {stale} correction{'s' if stale != 1 else ''} made against an earlier analysis "
            "not applied"
        )
    return text[0].upper() + text[1:]


def _summary(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer

    video = data.video
    tl = data.timeline
    totals = data.totals
    rows: list[list[Any]] = []
    dur = video.get("duration_s")
    if dur:
        extra = []
        if video.get("width") and video.get("height"):
            extra.append(f"{video['width']}×{video['height']}")
        if video.get("fps"):
            extra.append(f"{number(float(video['fps']))} fps")
        rows.append(
            [
                "<b>Video</b>",
                f"{duration(float(dur))} ({clock(float(dur), long=dur >= 3600)})"
                + (f", {', '.join(extra)}" if extra else ""),
            ]
        )
    else:
        rows.append(["<b>Video</b>", "duration unknown (no video metadata in the case file)"])
    n = len(tl.frames)
    planned = int(data.analysis.get("planned_frames") or 0)
    span = totals.get("analysed_span_s")
    if n and span:
        coverage = (
            f"{n} of {planned} planned frames ({n / planned:.0%})" if planned else f"{n} frames"
        )
        state = "complete" if data.analysis.get("complete") else "partial"
        rows.append(
            [
                "<b>Analysed</b>",
                f"{clock(span[0])}–{clock(span[1])}, {coverage}, every "
                f"{number(tl.sample_period_s)} s; {state}",
            ]
        )
    else:
        rows.append(["<b>Analysed</b>", "nothing (no analysed frames in the case file)"])
    if n:
        if np.isfinite(np.asarray(tl.bleeding, dtype=float)).any():
            count = totals.get("bleeding_episodes", 0)
            text = (
                f"{count} episode{'s' if count != 1 else ''}, "
                f"{duration(totals.get('bleeding_total_s'))} in all"
                if count
                else "no episodes"
            )
            text += f"; peak area {percent(totals.get('bleeding_peak_fraction'))} of the frame"
        else:
            text = "not measured"
        rows.append(["<b>Bleeding</b>", text])
        if tl.labels:
            count = totals.get("tip_hidden_episodes", 0)
            text = (
                f"{count} episode{'s' if count != 1 else ''}, "
                f"{duration(totals.get('tip_hidden_total_s'))} in all; longest "
                f"{duration(totals.get('tip_hidden_longest_s'))}"
                if count
                else "no episodes: tips in view whenever instruments were"
                if tl.tip_validated
                else esc(tl.tip_note or "tip visibility not validated for this tool")
            )
            rows.append(["<b>Tip hidden</b>", text])
            seen = tl.seen_labels
            rows.append(
                [
                    "<b>Tools</b>",
                    f"{len(seen)} kind{'s' if len(seen) != 1 else ''} seen: "
                    + esc(", ".join(display_name(label) for label in seen))
                    if seen
                    else "none seen",
                ]
            )
        out_of_body = tl.episodes_of("out_of_body")
        if out_of_body:
            rows.append(
                [
                    "<b>Out of body</b>",
                    f"{len(out_of_body)} span{'s' if len(out_of_body) != 1 else ''}, "
                    f"{duration(sum(e.duration_s for e in out_of_body))} in all (menus, the "
                    "operating room, drapes): no tool, tip or bleeding results there",
                ]
            )
        rows.append(["<b>Bookmarks</b>", str(len(tl.episodes_of("bookmark")))])
    if data.corrections:
        rows.append(["<b>Reviewer</b>", esc(corrections_text(data.corrections))])
    inner = width - 16
    content: list[Any] = [
        Paragraph("Summary", st.h2),
        _table(rows, [0.17 * inner, 0.83 * inner], st, header=False, zebra=False),
        Spacer(1, 5),
    ]
    content += _outcome_flowables(data, st, width)
    story: list[Any] = [Spacer(1, 8), _boxed(content, width, st.regular)]
    if data.missing:
        story.append(Paragraph("What this report could not include", st.h2))
        story += [Paragraph(esc(m), st.bullet, bulletText="•") for m in data.missing]
    return story


def _figure(data: CaseData, st: _Styles, width: float, fonts: tuple[str, str]) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    from scrubline.report.figure import timeline_drawing

    if not len(data.timeline.times):
        return [
            Paragraph("Timeline", st.h1),
            Paragraph("No timeline: nothing was analysed.", st.body),
        ]
    drawing = timeline_drawing(data.timeline, width, fonts=fonts)
    caption = Paragraph(
        "Video time runs left to right. Tool lanes show when each tool is in view; the tip lane "
        "shows the share of tools in view whose tip is visible, with tip-hidden episodes under "
        "it; the bleeding lane shows the bleeding area (band: lowest to highest in each printed "
        "column) and bleeding episodes shaded, the dashed line being the episode threshold. "
        "Bookmark numbers match the bookmark table. Grey: not analysed.",
        st.small,
    )
    return [KeepTogether([Paragraph("Timeline", st.h1), drawing, caption])]


def _phase_of(tl: Timeline, t: float) -> str:
    phase = tl.phase_at(t)
    return tl.phase_name(phase) if phase else "–"


def _tables(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    tl = data.timeline
    totals = data.totals
    story: list[Any] = [Paragraph("Tables", st.h1)]
    period = tl.sample_period_s
    span = totals.get("analysed_span_s")
    analysed_s = (span[1] - span[0]) if span else 0.0
    analysed_time = len(tl.frames) * period

    if not len(tl.times):
        story.append(
            Paragraph(
                "No phase, tool, tip-hidden or bleeding tables: nothing was analysed.", st.body
            )
        )
        story += _bookmark_table(data, st, width)
        return story

    story.append(Paragraph("Phases", st.h2))
    phases = tl.episodes_of("phase")
    if phases:
        rows = [
            ["Phase", "Duration", "Share of analysed span", "First seen", "Last seen", "Stretches"]
        ]
        for label in dict.fromkeys(p.label for p in phases):
            mine = [p for p in phases if p.label == label]
            total = sum(p.duration_s for p in mine)
            rows.append(
                [
                    esc(tl.phase_name(label)),
                    duration(total),
                    percent(total / analysed_s if analysed_s else None, 0),
                    clock(mine[0].start_s),
                    clock(mine[-1].end_s),
                    str(len(mine)),
                ]
            )
        story.append(_table(rows, [w * width for w in (0.3, 0.14, 0.18, 0.13, 0.13, 0.12)], st))
    else:
        story.append(
            Paragraph(esc(f"No phases: {data.phase_reason or 'none were recognised'}."), st.body)
        )

    story.append(Paragraph("Tool usage", st.h2))
    tools = totals.get("tools") or {}
    if tools:
        rows = [["Tool", "Time in view", "Share of analysed time", "Entries into view"]]
        for label, t in sorted(tools.items(), key=lambda kv: -kv[1]["time_in_view_s"]):
            share = t["time_in_view_s"] / analysed_time if analysed_time else None
            rows.append(
                [
                    esc(display_name(label)),
                    duration(t["time_in_view_s"]),
                    percent(share, 0),
                    str(t["entries"]),
                ]
            )
        story.append(_table(rows, [w * width for w in (0.34, 0.2, 0.24, 0.22)], st))
        story.append(
            Paragraph(
                "Time in view counts analysed samples with the tool detected; an entry is "
                "each time it comes back into view.",
                st.small,
            )
        )
    else:
        story.append(Paragraph("No instruments were detected in the analysed frames.", st.body))

    story.append(Paragraph("Tip-hidden episodes", st.h2))
    hidden = tl.episodes_of("tip_hidden")
    if hidden:
        longest = max(hidden, key=lambda e: e.duration_s)
        story.append(
            Paragraph(
                f"{len(hidden)} episode{'s' if len(hidden) != 1 else ''} with an instrument in "
                f"view and its tip hidden, {duration(sum(e.duration_s for e in hidden))} in all; "
                f"the longest {duration(longest.duration_s)} from {clock(longest.start_s)}.",
                st.body,
            )
        )
        story += _episode_table(
            hidden,
            ["#", "Start", "End", "Duration", "Phase"],
            lambda i, e: [
                str(i),
                clock(e.start_s, decimals=1),
                clock(e.end_s, decimals=1),
                duration(e.duration_s),
                esc(_phase_of(tl, e.start_s)),
            ],
            [0.08, 0.18, 0.18, 0.18, 0.38],
            st,
            width,
            "tip-hidden",
        )
    elif tl.labels and not tl.tip_validated:
        story.append(
            Paragraph(
                f"Not shown: {esc(tl.tip_note or 'tip visibility not validated for this tool')}. "
                "The tip map was measured against tool instances labelled by eye on real "
                "cholecystectomy frames and could not tell a hidden tip from a visible one "
                "often enough for these tools (see the model card).",
                st.body,
            )
        )
    elif tl.labels:
        validated = ", ".join(display_name(label) for label in tl.tip_validated)
        story.append(
            Paragraph(
                "No tip-hidden episodes: whenever a tool with validated tip visibility "
                f"({esc(validated)}) was in view, its tip was visible (or hidden "
                "for less than the minimum episode length).",
                st.body,
            )
        )
    else:
        story.append(
            Paragraph(
                "None: no instruments were detected, so tip visibility was not measured.", st.body
            )
        )
    if hidden and tl.tip_note:
        story.append(Paragraph(f"Other tools: {esc(tl.tip_note)}.", st.small))

    story.append(Paragraph("Bleeding episodes", st.h2))
    bleeding = tl.episodes_of("bleeding")
    analysed_start, analysed_end = (span[0], span[1]) if span else (0.0, 0.0)
    if bleeding:

        def row(i: int, e: Any) -> list[Any]:
            # An episode still open at the end of the analysed video has no time to control.
            if e.end_s >= analysed_end - period - 1e-6:
                control = "not controlled by the end of the analysed video"
            elif e.start_s <= analysed_start + period + 1e-6:
                # The onset lies before what was analysed: only a lower bound is known.
                control = (
                    f"at least {duration(e.end_s - e.start_s)} "
                    "(already bleeding where the analysis starts)"
                )
            else:
                control = duration(e.end_s - e.start_s)
            return [
                str(i),
                clock(e.start_s, decimals=1),
                duration(e.duration_s),
                percent(e.peak),
                control,
                esc(_phase_of(tl, e.start_s)),
            ]

        story += _episode_table(
            bleeding,
            ["#", "Onset", "Duration", "Peak area", "Time to control", "Phase"],
            row,
            [0.06, 0.14, 0.15, 0.13, 0.28, 0.24],
            st,
            width,
            "bleeding",
        )
        story.append(
            Paragraph(
                "An episode is a stretch with the bleeding area at or above "
                f"{percent(tl.settings.bleeding_threshold, 0)} of the frame. Time to control is "
                "the episode's end minus its onset: how long until the area fell back below the "
                "threshold.",
                st.small,
            )
        )
    elif np.isfinite(np.asarray(tl.bleeding, dtype=float)).any():
        story.append(
            Paragraph(
                "No bleeding episodes: the bleeding area stayed below "
                f"{percent(tl.settings.bleeding_threshold, 0)} of the frame (or above it for less "
                "than the minimum episode length).",
                st.body,
            )
        )
    else:
        story.append(Paragraph("None: bleeding was not measured (no bleeding model ran).", st.body))

    story += _bookmark_table(data, st, width)
    return story


def _bookmark_table(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    story: list[Any] = [Paragraph("Bookmarks", st.h2)]
    marks = data.bookmarks
    if marks:
        rows = [["#", "Time", "Category", "Note"]]
        for i, m in enumerate(marks, start=1):
            rows.append([str(i), clock(m.time_s, decimals=1), esc(m.category), esc(m.note) or "–"])
        story.append(_table(rows, [w * width for w in (0.06, 0.12, 0.18, 0.64)], st))
    else:
        story.append(Paragraph("No bookmarks were set.", st.body))
    return story


def _episode_table(
    episodes: list[Any],
    header: list[str],
    row: Any,
    widths: list[float],
    st: _Styles,
    width: float,
    what: str,
) -> list[Any]:
    """All episodes, or the longest MAX_EPISODE_ROWS in time order with a line saying so (a
    3-hour case can have hundreds; the CSV export has them all)."""
    from reportlab.platypus import Paragraph

    numbered = list(enumerate(episodes, start=1))
    note = None
    if len(numbered) > MAX_EPISODE_ROWS:
        keep = sorted(numbered, key=lambda ie: -ie[1].duration_s)[:MAX_EPISODE_ROWS]
        numbered = sorted(keep, key=lambda ie: ie[0])
        note = (
            f"The {MAX_EPISODE_ROWS} longest of {len(episodes)} {what} episodes are listed, in "
            "time order; the CSV export (episodes.csv) has them all."
        )
    rows = [header] + [row(i, e) for i, e in numbered]
    out: list[Any] = [_table(rows, [w * width for w in widths], st)]
    if note:
        out.append(Paragraph(esc(note), st.small))
    return out


def _key_frames(
    case: Case, data: CaseData, options: ReportOptions, st: _Styles, width: float
) -> list[Any]:
    from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer, Table, TableStyle

    from scrubline.report.keyframes import FrameSource, select_key_frames

    story: list[Any] = [Paragraph("Key frames", st.h1)]
    source = FrameSource(case, options.video_path, data.timeline, options.blur_out_of_body)
    keys, notes = select_key_frames(
        case, data.timeline, None if source.video is not None else case.thumbnail_frames()
    )
    try:
        cells: list[Any] = []
        missing_pictures = 0
        cell_w = (width - 10) / 2
        for key in keys:
            picture = source.picture(key)
            if picture is None:
                missing_pictures += 1
                continue
            h = cell_w * picture.height / picture.width
            image = Image(io.BytesIO(picture.jpeg), width=cell_w, height=h)
            caption = f"<b>{esc(key.title)}</b> · {clock(key.time_s, decimals=1)}"
            if key.detail:
                caption += f"<br/>{esc(key.detail)}"
            cells.append(
                [
                    image,
                    Paragraph(caption, st.cell),
                    Paragraph("Picture: " + esc(data.scrub(picture.source)), st.small),
                ]
            )
        note = source.note
    finally:
        source.close()
    story.append(
        Paragraph(
            esc(note) + " Boxes: detected instruments with label and score; filled dots: "
            "visible tips; orange rings: hidden tips; magenta: bleeding mask with its area.",
            st.small,
        )
    )
    story.append(Spacer(1, 4))
    if missing_pictures:
        notes.append(
            f"{missing_pictures} key frame(s) have no picture: the case file holds no thumbnails "
            "near them and the video was not given."
        )
    for i in range(0, len(cells), 2):
        pair = cells[i : i + 2]
        grid = Table(
            [pair if len(pair) == 2 else pair + [""]],
            colWidths=[cell_w + 5, cell_w + 5],
            hAlign="LEFT",
        )
        grid.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), st.regular),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ]
            )
        )
        story.append(KeepTogether(grid))
    if not cells:
        story.append(Paragraph("No key frames to show.", st.body))
    story += [Paragraph(esc(n), st.bullet, bulletText="•") for n in notes]
    return story


def _model_block(
    record: dict[str, Any] | None, manifest: Any, st: _Styles, width: float, role: str
) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    rec = record or {}
    name = rec.get("name") or getattr(manifest, "name", None) or rec.get("id") or "?"
    model_id = rec.get("id") or getattr(manifest, "id", "?")
    version = rec.get("version") or getattr(manifest, "version", "?")
    task = rec.get("task") or getattr(manifest, "task", "?")
    training = dict(rec.get("training") or getattr(manifest, "training", {}) or {})
    metrics = dict(rec.get("metrics") or getattr(manifest, "metrics", {}) or {})
    licence = rec.get("licence") or getattr(manifest, "licence", None) or "not stated"
    rows: list[list[Any]] = []
    if manifest is not None and getattr(manifest, "summary", None):
        rows.append(["<b>What it does</b>", esc(manifest.summary)])
    rows.append(["<b>Used for</b>", esc(role)])
    rows.append(["<b>Training data</b>", esc(training.get("data", "not stated"))])
    if training.get("data_licence"):
        rows.append(["<b>Data licence</b>", esc(training["data_licence"])])
    if training.get("split"):
        rows.append(["<b>Validation split</b>", esc(training["split"])])
    if metrics:
        rows.append(["<b>Validation metrics</b>", _metrics_grid(metrics, st, 0.8 * width)])
    else:
        rows.append(["<b>Validation metrics</b>", "none measured (the manifest lists no metrics)"])
    rows.append(["<b>Licence</b>", esc(licence)])
    if manifest is not None and getattr(manifest, "card", None):
        rows.append(
            ["<b>Model card</b>", esc(Path(manifest.card).name) + " (in Scrubline's models folder)"]
        )
    if manifest is not None and str(manifest.version) != str(version):
        rows.append(
            [
                "<b>Note</b>",
                esc(
                    f"results were produced by version {version}; "
                    f"version {manifest.version} is installed now"
                ),
            ]
        )
    title = Paragraph(
        f"{esc(name)} <font color='#555555'>({esc(model_id)} {esc(version)}, {esc(task)})</font>",
        st.h2,
    )
    return [KeepTogether([title, _table(rows, [0.2 * width, 0.8 * width], st, header=False)])]


def _metrics_grid(metrics: dict[str, Any], st: _Styles, width: float, per_row: int = 2) -> Any:
    """Metrics as name/value pairs, `per_row` to a line, the card's metric names put in words
    (`metric_label`) so that a long name wraps between words, never inside one."""
    from reportlab.platypus import Paragraph, Table, TableStyle

    pairs = [
        (Paragraph(esc(metric_label(k)), st.small), Paragraph(esc(number(v)), st.cell))
        for k, v in metrics.items()
    ]
    rows: list[list[Any]] = []
    for i in range(0, len(pairs), per_row):
        row: list[Any] = []
        for name, value in pairs[i : i + per_row]:
            row += [name, value]
        rows.append(row + [""] * (2 * per_row - len(row)))
    cell = (width - 8) / per_row
    grid = Table(rows, colWidths=[0.72 * cell, 0.28 * cell] * per_row, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st.regular),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return grid


# What each output role of a segmenter feeds in the report (a model may have several).
_ROLE_USES = {
    "instrument_mask": "instrument boxes and tool lanes",
    "tip_map": "tips and tip visibility",
    "bleeding_mask": "bleeding mask and area; bleeding episodes",
}


def _use_of(manifest: Any) -> str | None:
    """The uses of an installed model's declared outputs, when its task has per-output roles."""
    outputs = getattr(manifest, "outputs", None) or []
    uses = [_ROLE_USES[o.role] for o in outputs if o.role in _ROLE_USES]
    return "; ".join(uses) if uses else None


def _provenance(data: CaseData, st: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    story: list[Any] = [PageBreak(), Paragraph("Models and their validation", st.h1)]
    story.append(
        Paragraph(
            "Every figure in this report comes from the models below. Each model's data, "
            "validation and licence are those stated in its manifest and model card.",
            st.body,
        )
    )
    roles = {
        "detector": "instrument boxes, tips and tip visibility; tool lanes; tool-based phases",
        "segmenter": "bleeding mask and area; bleeding episodes",
        "classifier": "frame scores",
        "inbody": "in-body gate: out-of-body frames get no tool, tip or bleeding results",
        "sequence": "predicted blood loss and success of the bleeding event",
    }
    for record in data.models:
        manifest = data.manifests.get(str(record.get("id")))
        story += _model_block(
            record,
            manifest,
            st,
            width,
            _use_of(manifest) or roles.get(str(record.get("task")), "analysis"),
        )
    if data.phase_manifest is not None:
        story += _model_block(
            None,
            data.phase_manifest,
            st,
            width,
            "surgical phases (the procedure's learned model, from the tools in view)",
        )
    if data.sequence_manifest is not None:
        story += _model_block(None, data.sequence_manifest, st, width, roles["sequence"])
    if not data.models and data.sequence_manifest is None:
        story.append(
            Paragraph(
                "No models are recorded for this case and no outcome model is installed.", st.body
            )
        )
    story.append(Spacer(1, 8))
    story.append(
        _boxed(
            [Paragraph("<b>Not a medical device.</b> " + esc(DISCLAIMER), st.body)],
            width,
            st.regular,
            colour="#fff4e5",
            border="#e0a040",
        )
    )
    story.append(Spacer(1, 4))
    story.append(
        Paragraph(
            esc(f"Literature anchors for the outcome prediction are {ANCHOR_SOURCE}."), st.small
        )
    )
    return story


# ---------------------------------------------------------------------------- entry point
def build_report(case: Case, path: Path, options: ReportOptions, registry: Any = None) -> Path:
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.lib.units import mm

    if registry is None:
        try:
            from scrubline.core.models import load_registry

            registry = load_registry()
        except Exception as exc:  # no models at all still gives a report that says so
            log.warning("the model registry could not be read (%s)", exc)
    fonts = register_fonts()
    st = _Styles(*fonts)
    data = gather(case, options, registry)

    pagesize = A4 if options.page_size.lower() == "a4" else letter
    margin = 18 * mm
    width = pagesize[0] - 2 * margin
    label = data.typed["label"]

    story: list[Any] = []
    story += _header(data, st, width)
    story += _summary(data, st, width)
    story += _figure(data, st, width, fonts)
    story += _tables(data, st, width)
    story += _key_frames(case, data, options, st, width)
    story += _provenance(data, st, width)

    path = Path(path)
    with atomic_file(path) as partial:
        _build(story, partial, pagesize, margin, label, fonts)
    return path


def _build(
    story: list[Any], partial: Path, pagesize: Any, margin: float, label: str, fonts: Any
) -> None:
    build_pdf(
        story,
        partial,
        pagesize=pagesize,
        margin=margin,
        title=f"Scrubline debrief: {label}",
        subject="Post-operative debrief",
        footer_label=label,
        fonts=fonts,
    )


def build_pdf(
    story: list[Any],
    partial: Path,
    *,
    pagesize: Any,
    margin: float,
    title: str,
    subject: str,
    footer_label: str,
    fonts: Any,
) -> None:
    """Lay out `story` as Scrubline's PDFs are (margins, metadata, embedded fonts, the footer
    naming `footer_label` and the page); the case debrief and the cohort report share it."""
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    doc = SimpleDocTemplate(
        str(partial),
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="Scrubline",
        subject=subject,
        creator=f"Scrubline {__version__}",
        producer=f"Scrubline {__version__}",
        # Otherwise every page names Helvetica as its starting font: a non-embedded font in the
        # file.
        initialFontName=fonts[0],
    )
    doc.build(story, canvasmaker=_canvas_maker(footer_label, fonts))
