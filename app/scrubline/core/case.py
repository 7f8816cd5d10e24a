"""`Case`: the one door to a case file, for the window, the report, the exports, the CLI and batch.

Everything a consumer asks of a case goes through here: opening or creating it, its progress,
the analysed results with the reviewer's corrections applied (`detections()`, `result_at()`,
`result_near()`), the timeline with its phases or the reason there are none
(`timeline_and_reason()`), the predicted outcome that never raises (`outcome()`), the headline
numbers (`summary()`), bookmarks and corrections, and every change a reviewer makes
(`apply(edit)`, which returns the edit that undoes it; see `core.edits`).

Why one object: before it, the window, the report and the exports each opened `CaseStore` and
wrote their own queries, so a rule (the timeline with phases or a reason, the outcome fallback,
the nearest analysed result) existed in several versions, and reviewer edits could not be undone
or applied everywhere. Only `Case` and the analysis pipeline touch `core.store` (an import-linter
contract in pyproject.toml keeps it so).

A `Case` holds one SQLite connection, so each thread opens its own (workers are given the path).
Readers use `Case.open(path)` (read-only, so exports work on read-only storage); the window
opens `Case.open(path, readonly=False)` or `Case.for_video(info, path)` to make edits.

Corrections never change the model's results: they are stored beside them and applied here
whenever results are read, and each names the models it was made against, so a re-analysis by
other models makes it stale instead of silently applying it to results it was not made for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from scrubline import __version__
from scrubline.core.drawings import Drawing, add_drawing, read_drawings, remove_drawing
from scrubline.core.edits import (
    BOX_KINDS,
    OUT_OF_BODY,
    AddBookmark,
    AddCorrection,
    AddDrawing,
    Correction,
    DeleteBookmark,
    Edit,
    RemoveCorrection,
    RemoveDrawing,
    SetCaseInfo,
    SetEventStart,
    SetOutcomeOutsideDomain,
    SetProcedure,
    UpdateBookmark,
)
from scrubline.core.privacy import identifying_names, scrub_values
from scrubline.core.results import FrameResult, Instrument
from scrubline.core.store import (
    BOOKMARK_CATEGORIES,
    SUFFIX,
    Bookmark,
    CaseDamaged,
    CaseStore,
    StoreError,
    default_case_path,
)
from scrubline.core.timeline import Episode, Timeline, TimelineSettings, build_timeline

log = logging.getLogger("scrubline.case")

DEFAULT_PROCEDURE = "generic"
# Case setting: the user asked for the outcome prediction outside the model's validated domain
# (the window's check box, `--outcome-outside-domain`); it is then shown with a warning.
OUTSIDE_DOMAIN_KEY = "outcome_outside_domain"
SUMMARY_SCHEMA = 1  # summary.json's schema (README, "Export schema")
# The video's file name is left out on purpose (a recorder often names files after the
# patient); the fingerprint is a content hash.
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
BOX_TOLERANCE_PX = 0.5  # a correction names its box to this precision (stored values are floats)
SOURCE_MODEL, SOURCE_REVIEWER = "model", "reviewer"

__all__ = [
    "BOOKMARK_CATEGORIES",
    "DEFAULT_PROCEDURE",
    "SUFFIX",
    "Bookmark",
    "Case",
    "CaseDamaged",
    "StoreError",
    "default_case_path",
    "load_procedure",
    "procedure_templates",
]

Listener = Callable[[Edit], None]


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


def _same_box(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(abs(float(x) - float(y)) <= BOX_TOLERANCE_PX for x, y in zip(a, b, strict=True))


class Case:
    """One open case file (see the module docstring)."""

    def __init__(self, store: CaseStore, *, owns: bool = True) -> None:
        self._store = store
        self._owns = owns
        self._listeners: list[Listener] = []
        # Cached until the next edit here or a commit by another connection (data_version).
        self._corrections: list[Correction] | None = None
        self._corrections_version = -1

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, readonly: bool = True, check: bool | None = None
    ) -> Case:
        """An existing case file (StoreError/CaseDamaged say why it cannot be used)."""
        return cls(CaseStore(path, readonly=readonly, check=check))

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Case:
        """A case file at `path`, made (with its folder) when missing; opened for writing."""
        return cls(CaseStore(path, create=True))

    @classmethod
    def for_video(cls, video_info: Any, path: str | os.PathLike[str] | None = None) -> Case:
        """The case of a video, created when missing; a case of another video is refused."""
        return cls(CaseStore.for_video(video_info, path))

    @classmethod
    def wrap(cls, source: Case | CaseStore) -> Case:
        """A `Case` over an already open store (not closed by it), or the case itself."""
        return source if isinstance(source, Case) else cls(source, owns=False)

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def readonly(self) -> bool:
        return self._store.readonly

    def close(self) -> None:
        if self._owns:
            self._store.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def snapshot(self) -> Iterator[Case]:
        """Reads inside see one consistent state of the case, even while an analysis writes."""
        with self._store.snapshot():
            yield self

    # ------------------------------------------------------------------ what the case says
    @property
    def video(self) -> dict[str, Any]:
        return self._store.video

    @property
    def settings(self) -> dict[str, Any]:
        return self._store.settings

    @property
    def models(self) -> list[dict[str, Any]]:
        return self._store.models

    @property
    def case_info(self) -> dict[str, str]:
        """What the user typed: label, procedure, date, surgeon, reviewer."""
        return self._store.case_info

    @property
    def procedure(self) -> str:
        """The phase template's name (bundled) or file (a `.toml` path)."""
        return str(self._store.get_meta("procedure", DEFAULT_PROCEDURE) or DEFAULT_PROCEDURE)

    @property
    def event_start_s(self) -> float | None:
        """The bleeding event's start as the reviewer moved it; None: the detected start."""
        value = self._store.get_meta("event_start_s")
        return None if value is None else float(value)

    @property
    def outcome_outside_domain(self) -> bool:
        """The reviewer asked for the outcome prediction outside the model's validated domain."""
        return bool(self._store.get_meta(OUTSIDE_DOMAIN_KEY, False))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A stored record by its key (read-only; edits go through `apply`)."""
        return self._store.get_meta(key, default)

    def get_blob(self, key: str) -> bytes | None:
        return self._store.get_blob(key)

    def planned_frames(self) -> np.ndarray | None:
        return self._store.planned_frames()

    def frame_count(self) -> int:
        """How many frames of the current plan have results."""
        return self._store.frame_count()

    def progress(self) -> tuple[int, int]:
        """(frames done, planned frames): done counts the analysed frames and those that cannot
        be analysed (undecodable, damaged); planned is 0 before any analysis."""
        planned = self._store.planned_frames()
        skipped = self._store.get_meta("skipped_frames") or {}
        done = self._store.frame_count() + sum(len(v) for v in skipped.values())
        return done, 0 if planned is None else len(planned)

    def bookmarks(self) -> list[Bookmark]:
        return self._store.bookmarks()

    def drawings(self, bookmark_ids: list[int] | None = None) -> list[Drawing]:
        """The teaching drawings of the case's bookmarks (or of those given): a deleted
        bookmark's drawings are kept, so undoing the deletion brings them back, but not shown."""
        ids = [b.id for b in self.bookmarks()] if bookmark_ids is None else bookmark_ids
        return read_drawings(self._store, ids)

    def thumbnail_frames(self) -> np.ndarray:
        return self._store.thumbnail_frames()

    def thumbnail(self, frame: int) -> tuple[int, np.ndarray] | None:
        return self._store.thumbnail(frame)

    # ------------------------------------------------------------------ corrections
    def corrections(self, include_stale: bool = True) -> list[Correction]:
        """The reviewer's corrections, oldest first; each says whether it is stale (made
        against results a re-analysis has since replaced)."""
        version = self._store.data_version()
        if self._corrections is None or version != self._corrections_version:
            stored = self._store.corrections()
            current = tuple(sorted(self._model_ids())) if stored else ()
            found = []
            for cid, _, data in stored:
                correction = Correction.from_data(data, id=cid)
                if correction.kind in BOX_KINDS:
                    made = self._store.models_of_frame(int(correction.frame or 0))
                    stale = made is None or sorted(made) != sorted(correction.models)
                else:
                    stale = bool(correction.models) and tuple(sorted(correction.models)) != current
                found.append(replace(correction, stale=stale))
            self._corrections = found
            self._corrections_version = version
        return [c for c in self._corrections if include_stale or not c.stale]

    def _model_ids(self) -> list[str]:
        return [f"{m.get('id')}@{m.get('version')}" for m in self.models if m.get("id")]

    def models_of_frame(self, frame: int) -> tuple[str, ...]:
        """The models ("id@version") whose results a correction of this frame corrects."""
        return tuple(sorted(self._store.models_of_frame(frame) or ()))

    def correction_for_box(
        self, kind: str, frame: int, instrument: Instrument, **fields: Any
    ) -> Correction:
        """A correction of one analysed box, naming the models that produced it."""
        return Correction(
            kind=kind,
            frame=int(frame),
            box=tuple(float(v) for v in instrument.box),  # type: ignore[arg-type]
            label=fields.pop("label", instrument.label),
            models=self.models_of_frame(frame),
            **fields,
        )

    def correction_for_span(self, kind: str, start_s: float, end_s: float) -> Correction:
        """A correction of a time span (phase boundary, out of body) against the case's models."""
        return Correction(
            kind=kind,
            start_s=float(start_s),
            end_s=float(end_s),
            models=tuple(sorted(self._model_ids())),
        )

    def _out_of_body(self) -> list[tuple[float, float]]:
        return [
            (float(c.start_s), float(c.end_s))  # type: ignore[arg-type]
            for c in self.corrections(include_stale=False)
            if c.kind == "out_of_body"
        ]

    # ------------------------------------------------------------------ results
    def frames_table(self) -> Any:
        """One row per analysed frame (pandas); out-of-body frames (the in-body gate's, and spans
        a reviewer marked) have no bleeding measured and `in_body` 0."""
        table = self._store.frames_table()
        for start, end in self._out_of_body():
            inside = (table["time_s"] >= start) & (table["time_s"] < end)
            table.loc[inside, "bleeding_fraction"] = np.nan
            table.loc[inside, "in_body"] = 0
        return table

    def detections(self) -> Any:
        """Every analysed detection (pandas) with the reviewer's corrections applied: false boxes
        left out, classes and tip visibility as corrected, nothing out of body; `source` says
        whether a row is as the model gave it or as a reviewer corrected it."""
        table = self._store.detections_table()
        table["source"] = SOURCE_MODEL
        table["tip_reviewed"] = False
        corrections = self.corrections(include_stale=False)
        if not corrections or not len(table):
            return table
        keep = np.ones(len(table), dtype=bool)
        boxes = table[["x1", "y1", "x2", "y2"]].to_numpy(dtype=float)
        frames = table["frame"].to_numpy()
        for c in corrections:
            if c.kind in BOX_KINDS:
                rows = np.flatnonzero(frames == c.frame)
                match = [r for r in rows if _same_box(tuple(boxes[r]), c.box or ())]
                for r in match:
                    if c.kind == "delete_box":
                        keep[r] = False
                    elif c.kind == "relabel_box":
                        table.iat[r, table.columns.get_loc("label")] = c.label
                    else:
                        table.iat[r, table.columns.get_loc("tip_visible")] = bool(c.visible)
                        table.iat[r, table.columns.get_loc("tip_reviewed")] = True
                    table.iat[r, table.columns.get_loc("source")] = SOURCE_REVIEWER
            elif c.kind == "out_of_body":
                times = table["time_s"].to_numpy(dtype=float)
                keep &= ~((times >= float(c.start_s or 0)) & (times < float(c.end_s or 0)))
        return table[keep].reset_index(drop=True)

    # `build_timeline` and older callers ask for this name.
    detections_table = detections

    def result_at(self, frame: int) -> FrameResult | None:
        """The analysed result of exactly this frame, corrections applied."""
        result = self._store.result_at(frame)
        if result is None:
            return None
        return self._corrected(result)

    def nearest_analysed(self, frame: int) -> int | None:
        """The analysed frame closest to `frame` (ties go to the earlier one)."""
        return self._store.nearest_analysed(frame)

    def analysed_around(self, frame: int) -> tuple[int | None, int | None]:
        """The analysed frames at or before `frame` and after it (None where there is none)."""
        return self._store.analysed_around(frame)

    def max_result_gap_s(self) -> float:
        """How far (s) from a frame its nearest analysed result may be and still describe it
        (`core.nearest`'s one rule: two sampling periods, at least half a second)."""
        from scrubline.core.nearest import case_period_s, max_gap_s

        return max_gap_s(case_period_s(self))

    def result_near(self, frame: int, time_s: float | None = None) -> FrameResult | None:
        """The analysed result nearest to `frame` (corrected), or None when it is further than
        `max_result_gap_s()` from `time_s` (the frame's time, when given)."""
        from scrubline.core.nearest import ResultsNear

        near = ResultsNear(self, cache=False)
        return near.nearest(frame) if time_s is None else near.near(frame, time_s)

    def _corrected(self, result: FrameResult) -> FrameResult:
        corrections = self.corrections(include_stale=False)
        if not corrections:
            return result
        if any(
            c.kind == "out_of_body" and float(c.start_s or 0) <= result.time_s < float(c.end_s or 0)
            for c in corrections
        ):
            return FrameResult(result.frame, result.time_s, [], None, result.scores, in_body=False)
        instruments: list[Instrument] = []
        for inst in result.instruments:
            keep = True
            for c in corrections:
                if c.kind not in BOX_KINDS or c.frame != result.frame:
                    continue
                if not _same_box(inst.box, c.box or ()):
                    continue
                if c.kind == "delete_box":
                    keep = False
                elif c.kind == "relabel_box":
                    inst = replace(inst, label=str(c.label), source=SOURCE_REVIEWER)
                else:
                    inst = replace(
                        inst, tip_visible=bool(c.visible), tip_reviewed=True, source=SOURCE_REVIEWER
                    )
            if keep:
                instruments.append(inst)
        return FrameResult(
            result.frame,
            result.time_s,
            instruments,
            result.bleeding,
            result.scores,
            in_body=result.in_body,
        )

    # ------------------------------------------------------------------ timeline
    def timeline(
        self, settings: TimelineSettings | None = None, procedure: str | None = None
    ) -> Timeline:
        """The case's timeline with the procedure's phases (raises if the phase template cannot
        be applied; `timeline_and_reason` does not). `procedure`: another template than the
        case's own (to try it before it is stored)."""
        with self.snapshot():
            template = load_procedure(procedure or self.procedure)
            timeline = build_timeline(self, settings, template)
        return self._with_corrected_phases(timeline)

    def timeline_and_reason(
        self, settings: TimelineSettings | None = None
    ) -> tuple[Timeline, str | None]:
        """The timeline with phases where the procedure template allows, else without them and
        the reason in words (never raises for a phase problem)."""
        try:
            timeline = self.timeline(settings)
        except ImportError:
            return self._plain_timeline(settings), (
                "phase recognition is not available in this build of Scrubline"
            )
        except Exception as exc:
            from scrubline.core.phase_model import PhaseModelError

            if isinstance(exc, PhaseModelError):
                return self._plain_timeline(settings), str(exc)
            if isinstance(exc, StoreError):
                raise
            log.warning("phases could not be recognised (%s); going on without them", exc)
            return self._plain_timeline(settings), f"phase recognition failed ({exc})"
        if timeline.episodes_of("phase"):
            return timeline, None
        if not len(timeline.times):
            return timeline, "nothing was analysed"
        procedure = self.procedure
        if procedure not in procedure_templates() and not procedure.endswith(".toml"):
            return timeline, f"no phase template for the procedure '{procedure}' is installed"
        if not timeline.labels:
            return timeline, (
                "phases are recognised from the tools in view, and no instruments were detected"
            )
        return timeline, "the phase rules did not match this case"

    def _plain_timeline(self, settings: TimelineSettings | None) -> Timeline:
        with self.snapshot():
            return self._with_corrected_phases(build_timeline(self, settings))

    def _with_corrected_phases(self, timeline: Timeline) -> Timeline:
        """Phase episodes with the reviewer's moved boundaries and out-of-body spans."""
        corrections = [
            c
            for c in self.corrections(include_stale=False)
            if c.kind in ("phase_boundary", "out_of_body")
        ]
        if not corrections:
            return timeline
        phases = [e for e in timeline.episodes if e.kind == "phase"]
        for c in corrections:
            if c.kind == "phase_boundary":
                phases = _move_boundary(phases, float(c.start_s or 0), float(c.end_s or 0))
            else:
                phases = _cut_span(phases, float(c.start_s or 0), float(c.end_s or 0))
        others = [e for e in timeline.episodes if e.kind != "phase"]
        from scrubline.core.timeline import EPISODE_KINDS

        timeline.episodes = sorted(
            [*others, *phases], key=lambda e: (e.start_s, EPISODE_KINDS.index(e.kind))
        )
        return timeline

    # ------------------------------------------------------------------ outcome and summary
    def outcome(self, timeline: Timeline | None = None, registry: Any = None) -> dict[str, Any]:
        """The predicted outcome of the case's bleeding event, or nulls with the reason there
        is none; never raises for a model or data problem."""
        try:
            outcome = self._outcome(timeline or self.timeline_and_reason()[0], registry)
        except StoreError:
            raise
        except Exception as exc:
            log.debug("outcome failed", exc_info=True)
            outcome = {
                "event_start_s": self.event_start_s,
                "blood_loss_ml": None,
                "blood_loss_interval_ml": None,
                "success_probability": None,
                "model": None,
                "reason": f"the outcome could not be computed ({exc})",
            }
        # A reason may quote a path or the video's file name; neither leaves through here.
        label = str(self.case_info.get("label") or "")
        names = identifying_names(self.video.get("name"), typed_label=label)
        return dict(scrub_values(outcome, names))

    def _outcome(self, timeline: Timeline, registry: Any) -> dict[str, Any]:
        import pandas as pd

        from scrubline.core.models import load_model, load_registry
        from scrubline.core.outcome import predict_case_outcome

        registry = registry or load_registry()
        sequence = registry.by_task("sequence")
        model = load_model(sequence[0]) if sequence else None
        video = self.video
        bleeding = None
        measured = ~np.isnan(timeline.bleeding)
        if measured.any():
            bleeding = pd.Series(timeline.bleeding[measured], index=timeline.times[measured])
        procedure = self.procedure
        if procedure.endswith(".toml"):  # a template file: its name, never its folder
            procedure = Path(procedure).stem
        return predict_case_outcome(
            self.detections(),
            (int(video.get("width", 0)), int(video.get("height", 0))),
            # Out-of-body seconds are not "no instruments": the model reads only in-body frames,
            # and fills the gap from the nearest analysed second as for any unanalysed one.
            timeline.times[timeline.in_body],
            model,
            bleeding=bleeding,
            event_start_s=self.event_start_s,
            procedure=procedure,
            outside_domain=self.outcome_outside_domain,
        )

    def summary(self, timeline: Timeline | None = None, registry: Any = None) -> dict[str, Any]:
        """The case's headline numbers (the export's summary.json), read in one snapshot."""
        with self.snapshot():
            return _summary_of(self, timeline, registry)

    def corrections_count(self) -> dict[str, int]:
        """How many corrections of each kind apply (stale ones under 'stale')."""
        counts: dict[str, int] = {}
        for c in self.corrections():
            key = "stale" if c.stale else c.kind
            counts[key] = counts.get(key, 0) + 1
        return counts

    # ------------------------------------------------------------------ edits
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(edit)` after every applied edit; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def apply(self, edit: Edit) -> Edit:
        """Write one edit in one transaction and return its inverse (the edit that undoes it)."""
        inverse = self._apply(edit)
        self._corrections = None
        for listener in list(self._listeners):
            listener(edit)
        return inverse

    def _apply(self, edit: Edit) -> Edit:
        store = self._store
        if isinstance(edit, AddBookmark):
            if edit.category not in BOOKMARK_CATEGORIES:
                raise ValueError(f"unknown bookmark category '{edit.category}'")
            new_id = store.add_bookmark(
                float(edit.time_s), int(edit.frame), edit.note.strip(), edit.category, edit.id
            )
            return DeleteBookmark(new_id)
        if isinstance(edit, DeleteBookmark):
            old = self._bookmark(edit.id)
            store.delete_bookmark(edit.id)
            return AddBookmark(old.time_s, old.frame, old.note, old.category, old.id)
        if isinstance(edit, UpdateBookmark):
            old = self._bookmark(edit.id)
            if edit.category is not None and edit.category not in BOOKMARK_CATEGORIES:
                raise ValueError(f"unknown bookmark category '{edit.category}'")
            store.update_bookmark(
                edit.id,
                note=None if edit.note is None else edit.note.strip(),
                category=edit.category,
            )
            return UpdateBookmark(edit.id, note=old.note, category=old.category)
        if isinstance(edit, SetEventStart):
            moved_from = self.event_start_s
            store.set_meta("event_start_s", None if edit.time_s is None else float(edit.time_s))
            return SetEventStart(moved_from)
        if isinstance(edit, SetOutcomeOutsideDomain):
            asked = self.outcome_outside_domain
            store.set_meta(OUTSIDE_DOMAIN_KEY, bool(edit.requested))
            return SetOutcomeOutsideDomain(asked)
        if isinstance(edit, SetProcedure):
            procedure = store.get_meta("procedure")
            store.set_meta("procedure", edit.name)
            return SetProcedure(procedure)
        if isinstance(edit, SetCaseInfo):
            details = dict(self.case_info)
            if edit.replace:
                new = {k: str(v) for k, v in edit.fields.items()}
            else:
                new = {**details, **{k: str(v) for k, v in edit.fields.items() if v is not None}}
            store.set_meta("case_info", new)
            return SetCaseInfo(details, replace=True)
        if isinstance(edit, AddCorrection):
            c = edit.correction
            new_id = store.add_correction(c.kind, c.to_data(), c.id)
            return RemoveCorrection(new_id)
        if isinstance(edit, RemoveCorrection):
            found = next((c for c in self.corrections() if c.id == edit.id), None)
            if found is None:
                raise StoreError(f"the case has no correction {edit.id}")
            store.delete_correction(edit.id)
            return AddCorrection(replace(found, stale=False))
        if isinstance(edit, AddDrawing):
            return RemoveDrawing(int(add_drawing(store, edit.drawing).id or 0))
        if isinstance(edit, RemoveDrawing):
            try:
                return AddDrawing(remove_drawing(store, edit.id))
            except KeyError:
                raise StoreError(f"the case has no drawing {edit.id}") from None
        raise TypeError(f"not an edit: {edit!r}")

    def _bookmark(self, bookmark_id: int) -> Bookmark:
        found = next((b for b in self.bookmarks() if b.id == bookmark_id), None)
        if found is None:
            raise StoreError(f"the case has no bookmark {bookmark_id}")
        return found

    def apply_all(self, edits: Mapping[int, Edit] | list[Edit]) -> list[Edit]:
        """Apply several edits in order; the inverses, in the order that undoes them."""
        items = list(edits.values()) if isinstance(edits, Mapping) else list(edits)
        return [self.apply(e) for e in items][::-1]


# ---------------------------------------------------------------------------- summary
def _summary_of(case: Case, timeline: Timeline | None, registry: Any) -> dict[str, Any]:
    """summary.json's content (called by `Case.summary` inside its snapshot)."""
    timeline = timeline or case.timeline_and_reason()[0]
    planned = case.get_meta("planned_frames", [])
    analysed = len(timeline.frames)
    skipped = {
        reason: len(frames) for reason, frames in (case.get_meta("skipped_frames") or {}).items()
    }
    typed = case.case_info
    names = identifying_names(case.video.get("name"), typed_label=str(typed.get("label") or ""))
    procedure = case.procedure
    if procedure.endswith(".toml"):  # a template file: its name, never its folder
        procedure = Path(procedure).name
    # Computed and machine-written parts may quote paths or the file name; what the user typed
    # (case details, bookmark notes) is theirs and stays as typed.
    computed = scrub_values(
        {
            "video": {k: case.video.get(k) for k in VIDEO_FIELDS},
            "procedure": procedure,
            "settings": case.settings,
            "analysis": {
                "planned_frames": len(planned),
                "analysed_frames": analysed,
                # Frames that cannot be analysed (undecodable, damaged) are counted, not waited for.
                "skipped_frames": skipped,
                "complete": bool(planned) and analysed + sum(skipped.values()) >= len(planned),
                "problems": case.get_meta("problems", []),
            },
            "models": [
                {
                    k: m.get(k)
                    for k in ("id", "version", "task", "name", "provenance", "licence", "metrics")
                }
                for m in case.models
            ],
            "outcome": case.outcome(timeline, registry),
        },
        names,
    )
    summary = {
        "schema": SUMMARY_SCHEMA,
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
            for b in case.bookmarks()
        ],
    }
    corrections = case.corrections_count()
    if corrections:  # only cases a reviewer corrected carry the key (older exports unchanged)
        summary["corrections"] = corrections
    return summary


# ---------------------------------------------------------------------------- phase edits
def _move_boundary(phases: list[Episode], from_s: float, to_s: float) -> list[Episode]:
    """Move the phase change nearest to `from_s` (within a second) to `to_s`, kept inside the
    two phases it separates."""
    ordered = sorted(phases, key=lambda e: e.start_s)
    best, distance = None, 1.0
    for i in range(1, len(ordered)):
        gap = abs(ordered[i].start_s - from_s)
        if gap <= distance:
            best, distance = i, gap
    if best is None:
        return ordered
    before, after = ordered[best - 1], ordered[best]
    lo, hi = before.start_s, after.end_s
    to = min(max(to_s, lo), hi)
    moved_before = replace(before, end_s=to) if abs(before.end_s - after.start_s) < 1e-6 else before
    ordered[best - 1] = moved_before
    ordered[best] = replace(after, start_s=to)
    return [e for e in ordered if e.end_s - e.start_s > 1e-9]


def _cut_span(phases: list[Episode], start: float, end: float) -> list[Episode]:
    """Phases with [start, end) taken out and an 'out of body' phase put there."""
    out: list[Episode] = []
    for e in phases:
        if e.end_s <= start or e.start_s >= end:
            out.append(e)
            continue
        if e.start_s < start:
            out.append(replace(e, end_s=start))
        if e.end_s > end:
            out.append(replace(e, start_s=end))
    out.append(Episode("phase", OUT_OF_BODY, start, end, None))
    return sorted(out, key=lambda e: e.start_s)
