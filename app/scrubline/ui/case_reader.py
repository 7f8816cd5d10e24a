"""Reading a case file off the GUI thread: its timeline, bookmarks and progress, and its
predicted outcome. Qt-free; the window runs these on `LatestJob` threads (each opens its own
`Case`, as SQLite connections are not shared between threads) and shows the snapshots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrubline.core.case import Case, load_procedure

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
    with Case.open(path) as case:
        accepted, refused, timeline, notices = None, None, None, []
        if procedure is not None:
            refused = _procedure_refusal(case, procedure)
            if refused is None:
                timeline, accepted = case.timeline(procedure=procedure), procedure
        if timeline is None:
            timeline, reason = case.timeline_and_reason()
            # Only a template that could not be applied is news here; "no phases matched" is not.
            notices = [f"phases not shown: {reason}"] if reason and _failed(reason) else []
        stale = case.corrections_count().get("stale", 0)
        if stale:
            # Corrections of results a re-analysis replaced are kept, shown, and not applied.
            notices.append(
                f"{stale} reviewer correction{'s' if stale != 1 else ''} not applied: made "
                "against an earlier analysis"
            )
        analysed, planned = case.progress()
        return CaseSnapshot(
            generation,
            timeline,
            case.bookmarks(),
            analysed,
            planned,
            notices,
            procedure=accepted,
            refused=refused,
        )


def _procedure_refusal(case: Case, procedure: str) -> str | None:
    """Why the phase template `procedure` cannot be applied to this case, or None if it can."""
    from scrubline.core.timeline import missing_signals

    try:
        template = load_procedure(procedure)
        if template is None:
            return f"there is no procedure template named '{procedure}'"
        missing = missing_signals(case, template)
    except Exception as exc:  # a broken template or a missing phase model: say so, change nothing
        log.debug("procedure %s not applicable", procedure, exc_info=True)
        return f"the '{procedure}' procedure cannot be applied: {exc}"
    if missing:
        return (
            f"the '{procedure}' procedure reads signals this case's models do not produce: "
            f"{', '.join(missing)}"
        )
    return None


def _failed(reason: str) -> bool:
    """Whether a no-phases reason says the template failed (rather than matched nothing)."""
    quiet = (
        "nothing was analysed",
        "the phase rules did not match this case",
        "phases are recognised from the tools in view",
        "no phase template for the procedure",
    )
    return not reason.startswith(quiet)


def read_outcome(path: Path, registry: Any, generation: int) -> OutcomeSnapshot:
    """The case's predicted outcome (runs on a worker thread; loads the outcome model)."""
    with Case.open(path) as case:
        moved = case.event_start_s is not None
        outcome = case.outcome(case.timeline_and_reason()[0], registry)
    metrics = None
    model = outcome.get("model") or {}
    if model.get("id") and registry is not None and model["id"] in registry.manifests:
        metrics = dict(registry.manifests[model["id"]].metrics)
    return OutcomeSnapshot(generation, outcome, metrics, moved)
