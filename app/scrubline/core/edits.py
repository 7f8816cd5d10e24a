"""Reviewer edits as data: each one a small frozen record that `Case.apply` writes to the case in
one transaction and answers with its inverse (the edit that undoes it).

Keeping edits as values, not as calls the window makes on the store, is what makes undo/redo a
stack of records (the window's `QUndoStack` only wraps `Case.apply`), lets a test or a script
make the same change the window makes, and lets the report count what a reviewer changed.

Model output is never edited: a `Correction` sits beside the analysed results, names the result
it corrects (frame and box, or a time span) and the models it was made against ("id@version"),
and `Case` applies it whenever results are read. A re-analysis by other models makes a
correction *stale* (shown and counted, never silently applied to results it was not made for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scrubline.core.drawings import Drawing

# What a reviewer can correct, with the fields each kind uses.
CORRECTION_KINDS = {
    "delete_box": "a detected tool that is not there (frame, box, label)",
    "relabel_box": "a detected tool of another class (frame, box, label = the right class)",
    "tip_visibility": "a tool's tip is visible or hidden (frame, box, visible)",
    "phase_boundary": "a phase change at another time (start_s = where it was, end_s = where)",
    "out_of_body": "the camera is outside the patient (start_s, end_s)",
}
BOX_KINDS = ("delete_box", "relabel_box", "tip_visibility")
SPAN_KINDS = ("phase_boundary", "out_of_body")
OUT_OF_BODY = "out of body"  # the phase label an out-of-body span gets


@dataclass(frozen=True)
class Correction:
    """One reviewer correction of the model's output (see `CORRECTION_KINDS`)."""

    kind: str
    frame: int | None = None
    box: tuple[float, float, float, float] | None = None
    label: str | None = None
    visible: bool | None = None
    start_s: float | None = None
    end_s: float | None = None
    models: tuple[str, ...] = ()  # the models ("id@version") the corrected result came from
    note: str = ""
    id: int | None = None
    stale: bool = False  # made against results that a re-analysis has since replaced

    def __post_init__(self) -> None:
        if self.kind not in CORRECTION_KINDS:
            raise ValueError(
                f"unknown correction '{self.kind}' (use one of {', '.join(CORRECTION_KINDS)})"
            )
        if self.kind in BOX_KINDS and (self.frame is None or self.box is None):
            raise ValueError(f"a '{self.kind}' correction names its frame and box")
        if self.kind == "relabel_box" and not self.label:
            raise ValueError("a 'relabel_box' correction names the right class (label)")
        if self.kind == "tip_visibility" and self.visible is None:
            raise ValueError("a 'tip_visibility' correction says whether the tip is visible")
        if self.kind in SPAN_KINDS and (self.start_s is None or self.end_s is None):
            raise ValueError(f"a '{self.kind}' correction names start_s and end_s")
        if self.kind == "out_of_body" and self.end_s <= self.start_s:  # type: ignore[operator]
            raise ValueError("an out-of-body span must end after it starts")

    def to_data(self) -> dict[str, Any]:
        """The stored (and exported) form: JSON-ready, without id and stale."""
        data: dict[str, Any] = {"kind": self.kind}
        for key in ("frame", "label", "visible", "start_s", "end_s"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.box is not None:
            data["box"] = [float(v) for v in self.box]
        data["models"] = list(self.models)
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], id: int | None = None, stale: bool = False
    ) -> Correction:
        box = data.get("box")
        return cls(
            kind=str(data["kind"]),
            frame=None if data.get("frame") is None else int(data["frame"]),
            box=None
            if box is None
            else (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            label=data.get("label"),
            visible=None if data.get("visible") is None else bool(data["visible"]),
            start_s=None if data.get("start_s") is None else float(data["start_s"]),
            end_s=None if data.get("end_s") is None else float(data["end_s"]),
            models=tuple(data.get("models") or ()),
            note=str(data.get("note") or ""),
            id=id,
            stale=stale,
        )

    def describe(self) -> str:
        """In words, for undo menus, lists and the report."""
        if self.kind == "delete_box":
            return f"removed a false {self.label or 'tool'} at frame {self.frame}"
        if self.kind == "relabel_box":
            return f"a tool at frame {self.frame} is a {self.label}"
        if self.kind == "tip_visibility":
            state = "visible" if self.visible else "hidden"
            return f"a tip at frame {self.frame} is {state}"
        if self.kind == "phase_boundary":
            return f"phase change moved from {self.start_s:.1f} s to {self.end_s:.1f} s"
        return f"out of body {self.start_s:.1f}–{self.end_s:.1f} s"


# ---------------------------------------------------------------------------- edits
class Edit:
    """Base of the edit records; `describe()` names the edit for undo menus."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class AddBookmark(Edit):
    time_s: float
    frame: int
    note: str = ""
    category: str = "note"
    id: int | None = None  # set when an undone deletion puts the same bookmark back

    def describe(self) -> str:
        return "add bookmark"


@dataclass(frozen=True)
class DeleteBookmark(Edit):
    id: int

    def describe(self) -> str:
        return "delete bookmark"


@dataclass(frozen=True)
class UpdateBookmark(Edit):
    id: int
    note: str | None = None
    category: str | None = None

    def describe(self) -> str:
        return "edit bookmark"


@dataclass(frozen=True)
class SetEventStart(Edit):
    """The bleeding event's start as the reviewer placed it (None: the detected start)."""

    time_s: float | None

    def describe(self) -> str:
        return "move event start" if self.time_s is not None else "reset event start"


@dataclass(frozen=True)
class SetOutcomeOutsideDomain(Edit):
    """Whether the reviewer asks for the outcome prediction outside the model's validated domain
    (then shown with a warning)."""

    requested: bool

    def describe(self) -> str:
        return (
            "predict outside the validated domain"
            if self.requested
            else "predict only in the validated domain"
        )


@dataclass(frozen=True)
class SetProcedure(Edit):
    """The phase template (bundled name or template file) the case's phases come from."""

    name: str | None

    def describe(self) -> str:
        return "change procedure"


@dataclass(frozen=True)
class SetCaseInfo(Edit):
    """What the user typed about the case (label, procedure, date, surgeon, reviewer); the
    fields given replace the stored ones, the others stay."""

    fields: Mapping[str, str] = field(default_factory=dict)
    replace: bool = False  # True: the stored details become exactly `fields` (used by undo)

    def describe(self) -> str:
        return "edit case details"


@dataclass(frozen=True)
class AddCorrection(Edit):
    correction: Correction

    def describe(self) -> str:
        return f"correction: {self.correction.describe()}"


@dataclass(frozen=True)
class RemoveCorrection(Edit):
    id: int

    def describe(self) -> str:
        return "remove correction"


@dataclass(frozen=True)
class AddDrawing(Edit):
    """A teaching drawing (`core.drawings.Drawing`) on a bookmark's frame; a freehand stroke is
    one drawing, so one undo step."""

    drawing: Drawing

    def describe(self) -> str:
        return f"draw {self.drawing.kind}"


@dataclass(frozen=True)
class RemoveDrawing(Edit):
    id: int

    def describe(self) -> str:
        return "remove drawing"
