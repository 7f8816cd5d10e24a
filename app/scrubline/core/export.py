"""Exports with a documented, stable schema (see README, "Export schema"): `frames.csv`,
`detections.csv`, `episodes.csv` and `summary.json`, all from pandas over the case store.

`case_summary` is also what the report and the window show as the case's headline numbers, so
every consumer reads one computation.

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
from scrubline.core.models import Registry, load_model, load_registry
from scrubline.core.output import atomic_folder, case_files, refuse_protected
from scrubline.core.privacy import identifying_names, scrub_values
from scrubline.core.store import CaseStore
from scrubline.core.timeline import Timeline, TimelineSettings, build_timeline

EXPORT_SCHEMA = 1
EXPORT_FILES = ("frames.csv", "detections.csv", "episodes.csv", "summary.json")
DEFAULT_PROCEDURE = "generic"
# The video's file name is left out on purpose (see above); the fingerprint is a content hash.
VIDEO_FIELDS = (
    "frame_count",
    "fps",
    "duration_s",
    "width",
    "height",
    "rotation",
    "codec",
    "container",
    "variable_frame_rate",
    "fingerprint",
)


def procedure_templates() -> dict[str, Path]:
    """Bundled procedure templates (phase rules) by name."""
    from scrubline.core.phases import bundled_templates_dir

    return {p.stem: p for p in sorted(bundled_templates_dir().glob("*.toml"))}


def load_procedure(name: str | None) -> Any:
    """The phase template for a procedure name or a path to a template file; None if no
    template by that name is bundled."""
    if not name:
        return None
    path = Path(name)
    if not (path.suffix == ".toml" and path.exists()):
        found = procedure_templates().get(name)
        if found is None:
            return None
        path = found
    from scrubline.core.phases import load_template

    return load_template(path)


def case_timeline(store: CaseStore, settings: TimelineSettings | None = None) -> Timeline:
    procedure = store.get_meta("procedure", DEFAULT_PROCEDURE)
    return build_timeline(store, settings, load_procedure(procedure))


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
            "phase": timeline.phase_per_frame(),
        }
    )
    for i, label in enumerate(timeline.labels):
        table[column_name(label)] = timeline.presence[:, i].astype(int)
    return table


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
    store: CaseStore, timeline: Timeline, registry: Registry | None = None
) -> dict[str, Any]:
    """The predicted outcome of the case's bleeding event (or why there is none)."""
    import pandas as pd

    from scrubline.core.outcome import predict_case_outcome

    registry = registry or load_registry()
    sequence = registry.by_task("sequence")
    model = load_model(sequence[0]) if sequence else None
    video = store.video
    bleeding = None
    measured = ~np.isnan(timeline.bleeding)
    if measured.any():
        bleeding = pd.Series(timeline.bleeding[measured], index=timeline.times[measured])
    return predict_case_outcome(
        store.detections_table(),
        (int(video.get("width", 0)), int(video.get("height", 0))),
        timeline.times,
        model,
        bleeding=bleeding,
        event_start_s=store.get_meta("event_start_s"),
    )


def case_summary(
    store: CaseStore, timeline: Timeline | None = None, registry: Registry | None = None
) -> dict[str, Any]:
    """The case's headline numbers, read in one snapshot of the case."""
    with store.snapshot():
        return _case_summary(store, timeline, registry)


def _case_summary(
    store: CaseStore, timeline: Timeline | None, registry: Registry | None
) -> dict[str, Any]:
    timeline = timeline or case_timeline(store)
    planned = store.get_meta("planned_frames", [])
    analysed = len(timeline.frames)
    skipped = {
        reason: len(frames) for reason, frames in (store.get_meta("skipped_frames") or {}).items()
    }
    typed = store.case_info
    names = identifying_names(store.video.get("name"), typed_label=str(typed.get("label") or ""))
    procedure = str(store.get_meta("procedure", DEFAULT_PROCEDURE) or DEFAULT_PROCEDURE)
    if procedure.endswith(".toml"):  # a template file: its name, never its folder
        procedure = Path(procedure).name
    # Computed and machine-written parts may quote paths or the file name; what the user typed
    # (case details, bookmark notes) is theirs and stays as typed.
    computed = scrub_values(
        {
            "video": {k: store.video.get(k) for k in VIDEO_FIELDS},
            "procedure": procedure,
            "settings": store.settings,
            "analysis": {
                "planned_frames": len(planned),
                "analysed_frames": analysed,
                # Frames that cannot be analysed (undecodable, damaged) are counted, not waited for.
                "skipped_frames": skipped,
                "complete": bool(planned) and analysed + sum(skipped.values()) >= len(planned),
                "problems": store.get_meta("problems", []),
            },
            "models": [
                {
                    k: m.get(k)
                    for k in ("id", "version", "task", "name", "provenance", "licence", "metrics")
                }
                for m in store.models
            ],
            "outcome": outcome_for(store, timeline, registry),
        },
        names,
    )
    return {
        "schema": EXPORT_SCHEMA,
        "scrubline_version": __version__,
        "video": computed["video"],
        "case": typed,
        "procedure": computed["procedure"],
        "settings": computed["settings"],
        "analysis": computed["analysis"],
        "models": computed["models"],
        "totals": timeline.totals(),
        "outcome": computed["outcome"],
        "bookmarks": [
            {"time_s": b.time_s, "frame": b.frame, "category": b.category, "note": b.note}
            for b in store.bookmarks()
        ],
    }


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
    store: CaseStore,
    out_dir: str | Path,
    registry: Registry | None = None,
    protect: Sequence[Path] = (),
) -> list[Path]:
    """Write the four export files into `out_dir` (created if needed) and return their paths.

    Refuses to write over the case's own files or `protect` (the video); all four files appear
    together or, on failure, none changes."""
    out = Path(out_dir)
    for name in EXPORT_FILES:
        refuse_protected(out / name, [*case_files(store.path), *protect], "export")
    refuse_protected(out, [*case_files(store.path), *protect], "export")
    with store.snapshot():
        timeline = case_timeline(store)
        frames = frames_dataframe(timeline)
        detections = store.detections_table()
        summary = _json_safe(case_summary(store, timeline, registry))
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
