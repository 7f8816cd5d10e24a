"""Exports with a documented, stable schema (see README, "Export schema"): `frames.csv`,
`detections.csv`, `episodes.csv` and `summary.json`, all from pandas over a `core.case.Case`
(so the reviewer's corrections are in them: detections carry a `source` column, model or
reviewer, and summary.json counts the corrections).

The domain queries (timeline, outcome, headline numbers) belong to `Case`; the functions of the
same names here (`case_timeline`, `outcome_for`, `case_summary`) are thin doors to it for callers
that hold a store.
Nothing exported names the video's file or any path (a surgical video's file name often
identifies the patient): the case is identified only by what the user typed (`case`), a
procedure template file by its name, and messages have paths and the video's name taken out.

An export reads the case in one snapshot (so an analysis writing meanwhile cannot make its files
disagree) and is written through `core.output`: into a temporary folder, swapped in when all four
files are complete, never over the case itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scrubline import __version__
from scrubline.core.case import (  # noqa: F401  (re-exported: older callers import them here)
    DEFAULT_PROCEDURE,
    OUTSIDE_DOMAIN_KEY,
    SUMMARY_SCHEMA,
    VIDEO_FIELDS,
    Case,
    load_procedure,
    procedure_templates,
)
from scrubline.core.models import Registry
from scrubline.core.output import atomic_folder, case_files, refuse_protected
from scrubline.core.store import CaseStore
from scrubline.core.timeline import Timeline, TimelineSettings

EXPORT_SCHEMA = SUMMARY_SCHEMA
EXPORT_FILES = ("frames.csv", "detections.csv", "episodes.csv", "summary.json")


def case_timeline(case: Case | CaseStore, settings: TimelineSettings | None = None) -> Timeline:
    """The case's timeline with its procedure's phases (`Case.timeline`)."""
    return Case.wrap(case).timeline(settings)


def column_name(label: str) -> str:
    return "tool_" + re.sub(r"[^0-9a-zA-Z]+", "_", label).strip("_").lower()


def frames_dataframe(timeline: Timeline) -> Any:
    import pandas as pd

    table = pd.DataFrame(
        {
            "frame": timeline.frames,
            "time_s": np.round(timeline.times, 4),
            "n_instruments": timeline.n_instruments,
            "tips_visible": timeline.tips_visible,
            "tips_hidden": timeline.tips_hidden,
            "bleeding_fraction": np.round(timeline.bleeding, 5),
            # 1 inside the body, 0 out of body (no tool, tip or bleeding results there); empty
            # where no in-body model ran (a case analysed before there was one)
            "in_body": pd.array(
                [None if s < 0 else int(s) for s in _in_body_state(timeline)], dtype="Int8"
            ),
            "phase": timeline.phase_per_frame(),
        }
    )
    for i, label in enumerate(timeline.labels):
        table[column_name(label)] = timeline.presence[:, i].astype(int)
    return table


def _in_body_state(timeline: Timeline) -> np.ndarray:
    if timeline.in_body_state is None:
        return np.full(len(timeline.frames), -1, dtype=np.int8)
    return np.asarray(timeline.in_body_state)


def episodes_dataframe(timeline: Timeline) -> Any:
    import pandas as pd

    rows = [
        {
            "kind": e.kind,
            "label": e.label,
            "start_s": round(e.start_s, 3),
            "end_s": round(e.end_s, 3),
            "peak": None if e.peak is None else round(e.peak, 5),
        }
        for e in timeline.episodes
    ]
    return pd.DataFrame(rows, columns=["kind", "label", "start_s", "end_s", "peak"])


def outcome_for(
    case: Case | CaseStore, timeline: Timeline, registry: Registry | None = None
) -> dict[str, Any]:
    """The predicted outcome of the case's bleeding event, or why there is none (`Case.outcome`)."""
    return Case.wrap(case).outcome(timeline, registry)


def case_summary(
    case: Case | CaseStore, timeline: Timeline | None = None, registry: Registry | None = None
) -> dict[str, Any]:
    """The case's headline numbers (summary.json), read in one snapshot (`Case.summary`)."""
    return Case.wrap(case).summary(timeline, registry)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def export_case(
    case: Case | CaseStore,
    out_dir: str | Path,
    registry: Registry | None = None,
    protect: Sequence[Path] = (),
) -> list[Path]:
    """Write the four export files into `out_dir` (created if needed) and return their paths.

    Refuses to write over the case's own files or `protect` (the video); all four files appear
    together or, on failure, none changes."""
    case = Case.wrap(case)
    out = Path(out_dir)
    for name in EXPORT_FILES:
        refuse_protected(out / name, [*case_files(case.path), *protect], "export")
    refuse_protected(out, [*case_files(case.path), *protect], "export")
    with case.snapshot():
        # Without phases when the procedure's cannot be recognised (e.g. a learned template that
        # needs tool names the detector does not give): the tables and the outcome do not need
        # them, and the `phase` column is then empty.
        timeline, _ = case.timeline_and_reason()
        frames = frames_dataframe(timeline)
        detections = case.detections()
        summary = _json_safe(case.summary(timeline, registry))
    columns = [
        "frame",
        "time_s",
        "label",
        "score",
        "x1",
        "y1",
        "x2",
        "y2",
        "tip_x",
        "tip_y",
        "tip_visible",
        "source",
    ]
    detections = detections[columns].copy()
    detections["tip_visible"] = detections["tip_visible"].astype(int)
    detections = detections.round(
        {"time_s": 4, "score": 4, "x1": 1, "y1": 1, "x2": 1, "y2": 1, "tip_x": 1, "tip_y": 1}
    )
    with atomic_folder(out, EXPORT_FILES) as staging:
        frames.to_csv(staging / "frames.csv", index=False)
        detections.to_csv(staging / "detections.csv", index=False)
        episodes_dataframe(timeline).to_csv(staging / "episodes.csv", index=False)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return [out / n for n in EXPORT_FILES]


# ---------------------------------------------------------------------------- corrections
CORRECTION_FILES = ("corrections.json", "reviewed_detections.csv", "tool_phase_1fps.csv")
CORRECTIONS_SCHEMA = 1


def export_corrections(
    case: Case | CaseStore, out_dir: str | Path, protect: Sequence[Path] = ()
) -> list[Path]:
    """Write a reviewer's corrections as training labels (README, "Corrections as training
    labels"): `corrections.json` (every correction as stored), `reviewed_detections.csv` (the
    boxes of each frame a reviewer corrected, as corrected, with the removed ones marked) and
    `tool_phase_1fps.csv` (per second: tool presence and phase, in the columns of the Cholec80
    table `models/train/phases_cholec80.py` reads). All three appear together or none."""
    case = Case.wrap(case)
    out = Path(out_dir)
    for name in CORRECTION_FILES:
        refuse_protected(out / name, [*case_files(case.path), *protect], "export")
    refuse_protected(out, [*case_files(case.path), *protect], "export")
    with case.snapshot():
        corrections = case.corrections()
        timeline, _ = case.timeline_and_reason()
        detections = case.detections()
        video = case.video
        label = str(case.case_info.get("label") or "case")
    document = {
        "schema": CORRECTIONS_SCHEMA,
        "scrubline_version": __version__,
        "video": {k: video.get(k) for k in ("fingerprint", "fps", "width", "height", "duration_s")},
        "case": label,
        "corrections": [{"id": c.id, "stale": c.stale, **c.to_data()} for c in corrections],
    }
    with atomic_folder(out, CORRECTION_FILES) as staging:
        (staging / "corrections.json").write_text(
            json.dumps(_json_safe(document), indent=2), encoding="utf-8"
        )
        reviewed_detections(corrections, detections).to_csv(
            staging / "reviewed_detections.csv", index=False
        )
        tool_phase_table(timeline, corrections, label, float(video.get("fps") or 0)).to_csv(
            staging / "tool_phase_1fps.csv", index=False
        )
    return [out / n for n in CORRECTION_FILES]


def reviewed_detections(corrections: Sequence[Any], detections: Any) -> Any:
    """Every box of each frame a reviewer corrected, as corrected (`source` model or reviewer,
    `removed` 0), and the boxes a reviewer removed as false (`removed` 1, hard negatives for a
    detector). Boxes left alone on such a frame are the model's; a missed tool cannot be added."""
    import pandas as pd

    columns = [
        "frame",
        "time_s",
        "label",
        "x1",
        "y1",
        "x2",
        "y2",
        "tip_x",
        "tip_y",
        "tip_visible",
        "source",
        "removed",
    ]
    applied = [c for c in corrections if not c.stale and c.frame is not None]
    frames = sorted({int(c.frame) for c in applied})
    kept = detections[detections["frame"].isin(frames)].copy()
    kept["removed"] = 0
    times = dict(zip(detections["frame"], detections["time_s"], strict=False))
    removed = pd.DataFrame(
        [
            {
                "frame": int(c.frame),
                "time_s": times.get(int(c.frame), np.nan),
                "label": c.label,
                "x1": c.box[0],
                "y1": c.box[1],
                "x2": c.box[2],
                "y2": c.box[3],
                "tip_x": np.nan,
                "tip_y": np.nan,
                "tip_visible": 0,
                "source": "reviewer",
                "removed": 1,
            }
            for c in applied
            if c.kind == "delete_box" and c.box is not None
        ],
        columns=columns,
    )
    kept["tip_visible"] = kept["tip_visible"].astype(int)
    parts = [p for p in (kept[columns], removed) if len(p)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return table.sort_values(["frame", "removed"], kind="stable").round(
        {"time_s": 4, "x1": 1, "y1": 1, "x2": 1, "y2": 1, "tip_x": 1, "tip_y": 1}
    )


def tool_phase_table(timeline: Timeline, corrections: Sequence[Any], video: str, fps: float) -> Any:
    """Per whole second of the analysed span: `video`, `frame` (the video frame at that second),
    `second`, `phase`, `phase_source` (reviewer where a reviewer's phase or out-of-body
    correction decides it), then one 0/1 column per tool class, from the analysed sample
    nearest to the second (corrections applied)."""
    import pandas as pd

    columns = ["video", "frame", "second", "phase", "phase_source", *timeline.labels]
    if not len(timeline.times):
        return pd.DataFrame(columns=columns)
    seconds = np.arange(int(np.ceil(timeline.times[0])), int(timeline.times[-1]) + 1)
    nearest = np.clip(np.searchsorted(timeline.times, seconds), 0, len(timeline.times) - 1)
    before = np.clip(nearest - 1, 0, len(timeline.times) - 1)
    closer = np.abs(timeline.times[before] - seconds) <= np.abs(timeline.times[nearest] - seconds)
    rows = np.where(closer, before, nearest)
    phases = timeline.phase_per_frame()
    spans = [
        (min(c.start_s, c.end_s), max(c.start_s, c.end_s))
        for c in corrections
        if not c.stale and c.kind in ("phase_boundary", "out_of_body")
    ]
    table = pd.DataFrame(
        {
            "video": video,
            "frame": np.round(seconds * fps).astype(int) if fps > 0 else timeline.frames[rows],
            "second": seconds,
            "phase": [phases[r] for r in rows],
            "phase_source": [
                "reviewer" if any(a <= s < b for a, b in spans) else "model" for s in seconds
            ],
        }
    )
    for j, label in enumerate(timeline.labels):
        table[label] = timeline.presence[rows, j].astype(int)
    return table[columns]
