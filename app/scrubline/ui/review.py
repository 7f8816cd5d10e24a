"""The review controller: every change a reviewer makes to a case, with undo and redo.

Edits are data (`scrubline.core.edits`) and `Case.apply(edit)` returns the edit that undoes it
(README, Architecture: "Edits are data with inverses"). This controller keeps one `QUndoStack`
per case (in a `QUndoGroup`; the Edit menu follows the open case's) whose commands only wrap
that: a command's redo applies an edit, its undo applies the inverse it got back. Consecutive
moves of the bleeding event's start merge into one step. Opening another case shows that case's
history (`show_case`); reopening a case in the same session brings its history back.

It is built from a context, not a window: a function that gives the case to edit (creating the
case file when asked to) and one that reports errors, so a test drives it with a `Case` and
pytest-qt alone. It emits `edited(edit)` after each applied edit (done, undone or redone); the
window refreshes the views that show what the edit changed.

Corrections of the model's output are made here too: a right click on a box on the video
(`box_menu`: remove a false box, change its class, mark its tip visible or hidden) or on the
timeline (`timeline_menu`: move the nearest phase change here, mark the clip range out of body,
take an out-of-body mark away). Each is an `AddCorrection` edit, so it can be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QMenu

from scrubline.core.case import Case, StoreError
from scrubline.core.edits import (
    OUT_OF_BODY,
    AddCorrection,
    Edit,
    RemoveCorrection,
    SetEventStart,
)
from scrubline.core.results import FrameResult, Instrument

MERGE_EVENT_START = 1  # QUndoCommand.id() of event-start moves, which merge


@dataclass(frozen=True)
class ReviewContext:
    """What the review controller needs from whoever hosts it."""

    case_for_edit: Callable[[bool], Case | None]  # create: make the case file if there is none
    report_error: Callable[[str, str], None]  # title, message


class _EditCommand(QUndoCommand):
    """One undo step: `edit` was applied when pushed; undo applies its inverse."""

    def __init__(self, controller: ReviewController, edit: Edit, inverse: Edit) -> None:
        super().__init__(edit.describe())
        self._controller = controller
        self._redo_edit = edit
        self._undo_edit = inverse
        self._pushed = False  # the first redo (Qt calls it on push) is the edit already made

    def id(self) -> int:
        return MERGE_EVENT_START if isinstance(self._redo_edit, SetEventStart) else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Nudging the event start several times is one step: keep the first undo, the last redo.
        if not isinstance(other, _EditCommand) or other.id() != self.id() or self.id() < 0:
            return False
        self._redo_edit = other._redo_edit
        return True

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        inverse = self._controller._run(self._redo_edit)
        if inverse is None:
            self.setObsolete(True)
        else:
            self._undo_edit = inverse

    def undo(self) -> None:
        inverse = self._controller._run(self._undo_edit)
        if inverse is None:
            self.setObsolete(True)
        else:
            self._redo_edit = inverse


class ReviewController(QObject):
    """Applies reviewer edits to the open case through its undo stack."""

    edited = Signal(object)  # the Edit just applied (done, undone or redone)

    def __init__(self, context: ReviewContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.undo_group = QUndoGroup(self)
        self._stacks: dict[str, QUndoStack] = {}
        self.show_case(None)
        self.undo_action: QAction | None = None
        self.redo_action: QAction | None = None

    def build_menu(self, menu: QMenu) -> None:
        """Undo and Redo, named for the step they take (Ctrl+Z; Ctrl+Shift+Z or Ctrl+Y)."""
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)

    def apply(self, edit: Edit, *, create: bool = True) -> bool:
        """Make `edit` (one undo step); False, with the reason reported, when it was not saved."""
        inverse = self._run(edit, create=create)
        if inverse is None:
            return False
        self.undo_stack.push(_EditCommand(self, edit, inverse))
        return True

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    @property
    def undo_stack(self) -> QUndoStack:
        """The open case's undo stack."""
        stack = self.undo_group.activeStack()
        assert stack is not None  # show_case always sets one
        return stack

    def show_case(self, path: object) -> None:
        """Make the undo history of the case at `path` (None: no case) the one Edit works on."""
        key = str(path) if path is not None else ""
        if key not in self._stacks:
            nameless = self._stacks.get("")
            if key and nameless is not None and self.undo_group.activeStack() is nameless:
                # The case file was just made by an edit (a bookmark before any analysis): the
                # history begun before it existed (an open macro: a drawing and its bookmark)
                # becomes this case's.
                self._stacks[key] = self._stacks.pop("")
            else:
                self._stacks[key] = QUndoStack(self.undo_group)
        self.undo_group.setActiveStack(self._stacks[key])

    def reset(self) -> None:
        """No case is open: Edit has nothing to undo until one is."""
        self.show_case(None)

    def shutdown(self) -> None:
        for stack in self._stacks.values():
            stack.clear()

    def _run(self, edit: Edit, *, create: bool = False) -> Edit | None:
        case = self.context.case_for_edit(create)
        if case is None:
            return None
        try:
            inverse = case.apply(edit)
        except (ValueError, StoreError) as exc:
            self.context.report_error(f"Not saved: {edit.describe()}", str(exc))
            return None
        self.edited.emit(edit)
        return inverse

    # ------------------------------------------------------------------ corrections
    def correct_box(
        self, kind: str, result: FrameResult, instrument: Instrument, **fields: Any
    ) -> bool:
        """Correct one box of an analysed frame (`delete_box`, `relabel_box` with label=,
        `tip_visibility` with visible=)."""
        case = self.context.case_for_edit(False)
        if case is None:
            return False
        try:
            correction = case.correction_for_box(kind, result.frame, instrument, **fields)
        except (ValueError, StoreError) as exc:
            self.context.report_error("Not corrected", str(exc))
            return False
        return self.apply(AddCorrection(correction), create=False)

    def correct_span(self, kind: str, start_s: float, end_s: float) -> bool:
        """Move a phase change (`phase_boundary`: from start_s to end_s) or mark a span out of
        body (`out_of_body`)."""
        case = self.context.case_for_edit(False)
        if case is None:
            return False
        try:
            correction = case.correction_for_span(kind, start_s, end_s)
        except (ValueError, StoreError) as exc:
            self.context.report_error("Not corrected", str(exc))
            return False
        return self.apply(AddCorrection(correction), create=False)

    def remove_correction(self, correction_id: int) -> bool:
        return self.apply(RemoveCorrection(correction_id), create=False)

    def box_menu_at(
        self, result: FrameResult | None, x: float, y: float, timeline: Any, parent: Any = None
    ) -> QMenu | None:
        """The right-click menu of the box under source pixel (x, y) of `result` (the frame
        shown); None where there is no box or no case. A box's class can be changed to one the
        case's detector knows, then to any other class seen in the case (`timeline`)."""
        instrument = result.instrument_at(x, y) if result is not None else None
        case = self.context.case_for_edit(False)
        if result is None or instrument is None or case is None:
            return None
        detector = [
            str(label)
            for m in case.models
            if m.get("task") == "detector"
            for label in m.get("labels") or []
        ]
        seen = timeline.labels if timeline is not None else []
        return self.box_menu(result, instrument, list(dict.fromkeys([*detector, *seen])), parent)

    def box_menu(
        self, result: FrameResult, instrument: Instrument, labels: Sequence[str], parent: Any = None
    ) -> QMenu:
        """The right-click menu of a box on the video."""
        menu = QMenu(parent)
        menu.setObjectName("box_corrections")
        name = instrument.label
        menu.addAction(
            f"Remove this {name} box (nothing is there)",
            partial(self.correct_box, "delete_box", result, instrument),
        )
        classes = menu.addMenu(f"This {name} is a…")
        for label in labels:
            if label != name:
                classes.addAction(
                    label, partial(self.correct_box, "relabel_box", result, instrument, label=label)
                )
        classes.setEnabled(bool(classes.actions()))
        visible = not instrument.tip_visible
        menu.addAction(
            "Its tip is visible" if visible else "Its tip is hidden",
            partial(self.correct_box, "tip_visibility", result, instrument, visible=visible),
        )
        return menu

    def timeline_menu(
        self,
        time_s: float,
        timeline: Any,
        selection: tuple[float, float] | None,
        parent: Any = None,
    ) -> QMenu:
        """The right-click menu of the timeline at `time_s`."""
        menu = QMenu(parent)
        menu.setObjectName("timeline_corrections")
        boundary = nearest_phase_change(timeline, time_s)
        if boundary is not None:
            menu.addAction(
                f"Move the phase change at {boundary:.1f} s to here ({time_s:.1f} s)",
                partial(self.correct_span, "phase_boundary", boundary, time_s),
            )
        if selection is not None and selection[1] > selection[0]:
            start, end = selection
            menu.addAction(
                f"Mark {start:.1f}–{end:.1f} s out of body",
                partial(self.correct_span, "out_of_body", start, end),
            )
        case = self.context.case_for_edit(False)
        for correction in case.corrections() if case is not None else []:
            if (
                correction.kind == "out_of_body"
                and correction.id is not None
                and float(correction.start_s or 0) <= time_s < float(correction.end_s or 0)
            ):
                menu.addAction(
                    f"Not {OUT_OF_BODY} here ({correction.start_s:.1f}–{correction.end_s:.1f} s)",
                    partial(self.remove_correction, correction.id),
                )
        if not menu.actions():
            action = menu.addAction("Select a range (I and O) to mark it out of body")
            action.setEnabled(False)
        return menu


def nearest_phase_change(timeline: Any, time_s: float, within_s: float = 30.0) -> float | None:
    """The time of the phase change nearest to `time_s` (within `within_s`), if any."""
    if timeline is None:
        return None
    changes = [float(p.start_s) for p in timeline.episodes_of("phase")[1:]]
    near = [c for c in changes if abs(c - time_s) <= within_s]
    return min(near, key=lambda c: abs(c - time_s)) if near else None
