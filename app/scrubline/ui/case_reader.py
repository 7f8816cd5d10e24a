"""Reading a case file off the GUI thread: its timeline, bookmarks and progress, and its
predicted outcome. Qt-free; the window runs these on `LatestJob` threads (each opens its own
`CaseStore`, as SQLite connections are not shared between threads) and shows the snapshots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrubline.core.store import CaseStore
from scrubline.ui import actions

log = logging.getLogger("scrubline.ui")


@dataclass
class CaseSnapshot:
    """What a background read of the case file found (built off the GUI thread)."""

    generation: int
    timeline: Any
    bookmarks: list[Any]
    analysed: int
    planned: int
    notices: list[str] = field(default_factory=list)
    procedure: str | None = None  # a procedure asked for and found applicable (not yet stored)
    refused: str | None = None  # why the procedure asked for was not applied


@dataclass
class OutcomeSnapshot:
    generation: int
    outcome: dict[str, Any]
    metrics: dict[str, Any] | None
    moved_by_user: bool


def read_case(path: Path, generation: int, procedure: str | None = None) -> CaseSnapshot:
    """Timeline, bookmarks and progress of a case (runs on a worker thread). With `procedure`,
    the timeline is built with that phase template if the case has every signal it reads;
    otherwise with the case's own, and `refused` names the missing signals."""
    with CaseStore(path, readonly=True) as store:
        accepted, refused, timeline, notices = None, None, None, []
        if procedure is not None:
            refused = _procedure_refusal(store, procedure)
            if refused is None:
                from scrubline.core.export import load_procedure
                from scrubline.core.timeline import build_timeline

                timeline, accepted = build_timeline(store, None, load_procedure(procedure)), procedure
        if timeline is None:
            timeline, notices = _timeline_of(store)
        analysed, planned = actions.case_progress(store)
        return CaseSnapshot(
            generation,
            timeline,
            store.bookmarks(),
            analysed,
            planned,
            notices,
            procedure=accepted,
            refused=refused,
        )


def _procedure_refusal(store: CaseStore, procedure: str) -> str | None:
    """Why the phase template `procedure` cannot be applied to this case, or None if it can."""
    from scrubline.core.export import load_procedure
    from scrubline.core.timeline import missing_signals

    try:
        template = load_procedure(procedure)
        if template is None:
            return f"there is no procedure template named '{procedure}'"
        missing = missing_signals(store, template)
    except Exception as exc:  # a broken template or a missing phase model: say so, change nothing
        log.debug("procedure %s not applicable", procedure, exc_info=True)
        return f"the '{procedure}' procedure cannot be applied: {exc}"
    if missing:
        return (
            f"the '{procedure}' procedure reads signals this case's models do not produce: "
            f"{', '.join(missing)}"
        )
    return None


def _timeline_of(store: CaseStore) -> tuple[Any, list[str]]:
    from scrubline.core.export import case_timeline
    from scrubline.core.timeline import build_timeline

    try:
        return case_timeline(store), []
    except Exception as exc:  # a phase template that cannot be applied must not hide the rest
        log.debug("phases unavailable", exc_info=True)
        return build_timeline(store), [f"phases not shown: {exc}"]


def read_outcome(path: Path, registry: Any, generation: int) -> OutcomeSnapshot:
    """The case's predicted outcome (runs on a worker thread; loads the outcome model)."""
    from scrubline.core.export import case_summary

    with CaseStore(path, readonly=True) as store:
        moved = store.get_meta("event_start_s") is not None
        try:
            timeline, _ = _timeline_of(store)
            outcome = case_summary(store, timeline, registry)["outcome"]
        except Exception as exc:
            log.debug("outcome failed", exc_info=True)
            outcome = {
                "event_start_s": store.get_meta("event_start_s"),
                "blood_loss_ml": None,
                "blood_loss_interval_ml": None,
                "success_probability": None,
                "model": None,
                "reason": f"the outcome could not be computed ({exc})",
            }
    metrics = None
    model = outcome.get("model") or {}
    if model.get("id") and registry is not None and model["id"] in registry.manifests:
        metrics = dict(registry.manifests[model["id"]].metrics)
    return OutcomeSnapshot(generation, outcome, metrics, moved)
