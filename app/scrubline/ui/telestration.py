"""Telestration in the window: draw arrows, circles and freehand marks on the frame on screen
for teaching. Each stroke is kept with the bookmark at that frame (one is made when there is
none), shown whenever the playhead is on that frame (and for a moment after it while playing),
and burned into exported pictures and clips and the report's bookmark key frames
(`scrubline.core.drawings`).

`TelestrationController` owns the Navigate → Draw entries, the drawing tool bar and the drawings
of the open case; the frame view only collects strokes (`QtFrameView.stroke_drawn`) and paints.
Every drawing is an `AddDrawing` edit through the window's review controller, so Ctrl+Z takes
it back (a stroke that also made its bookmark is one undo step with it).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QMenu, QToolBar

from scrubline.core.case import StoreError
from scrubline.core.drawings import COLOURS, DEFAULT_COLOUR, KINDS, Drawing, DrawingError, shown_at
from scrubline.core.edits import (
    AddBookmark,
    AddDrawing,
    DeleteBookmark,
    Edit,
    RemoveDrawing,
    UpdateBookmark,
)

log = logging.getLogger("scrubline.ui")

TOOL_NAMES = {"arrow": "Arrow", "circle": "Circle", "freehand": "Freehand"}


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class TelestrationController(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.drawings: list[Drawing] = []
        self.kind = "arrow"
        self.colour = DEFAULT_COLOUR
        self.toolbar = QToolBar("Drawing", window)
        self.toolbar.setObjectName("drawing_toolbar")
        self.toolbar.hide()
        window.frame_view.stroke_drawn.connect(self._on_stroke_drawn)
        window.state.playhead_changed.connect(lambda *_: self.update_view())
        window.review.edited.connect(self._on_case_edited)

    # ------------------------------------------------------------------ menus and tool bar
    def build_menu(self, menu: QMenu) -> None:
        window = self.window
        self.draw_action = QAction("&Draw on this frame", window)
        self.draw_action.setCheckable(True)
        self.draw_action.setShortcut(QKeySequence("D"))
        self.draw_action.setToolTip("Arrows, circles and freehand marks, kept with a bookmark")
        self.draw_action.toggled.connect(self._on_draw_toggled)
        menu.addAction(self.draw_action)
        window.addAction(self.draw_action)
        self.toolbar.addAction(self.draw_action)
        tools = QActionGroup(window)
        self.tool_actions: dict[str, QAction] = {}
        for kind in KINDS:
            action = QAction(TOOL_NAMES[kind], window)
            action.setCheckable(True)
            action.setChecked(kind == self.kind)
            action.triggered.connect(lambda _=False, k=kind: self.set_tool(k))
            tools.addAction(action)
            self.toolbar.addAction(action)
            self.tool_actions[kind] = action
        self.toolbar.addSeparator()
        colours = QActionGroup(window)
        for name, colour in COLOURS.items():
            action = QAction(_swatch(colour), name, window)
            action.setCheckable(True)
            action.setChecked(colour == self.colour)
            action.triggered.connect(lambda _=False, c=colour: self.set_colour(c))
            colours.addAction(action)
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.undo_action = self._add(
            menu, "Remove the last drawing on this frame", self.remove_last
        )
        self.clear_action = self._add(menu, "Clear the drawings on this frame", self.clear_frame)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def _add(self, menu: QMenu, text: str, slot: Any) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.toolbar.addAction(action)
        return action

    def _on_draw_toggled(self, on: bool) -> None:
        window = self.window
        if on and window.info is None:
            self.draw_action.setChecked(False)
            return
        if on:
            window.player.pause()
            window.frame_view.set_draw_tool(self.kind, self.colour)
            window.statusBar().showMessage(
                "Drawing: drag on the video; D or Esc when done. Kept with this frame's bookmark.",
                6000,
            )
        else:
            window.frame_view.set_draw_tool(None)
        self.toolbar.setVisible(on)

    def set_tool(self, kind: str | None) -> None:
        """Draw with `kind` (None: stop drawing)."""
        if kind is None:
            self.draw_action.setChecked(False)
            return
        self.kind = kind
        self.tool_actions[kind].setChecked(True)
        if not self.draw_action.isChecked():
            self.draw_action.setChecked(True)
        self.window.frame_view.set_draw_tool(kind, self.colour)

    def set_colour(self, colour: str) -> None:
        self.colour = colour
        if self.draw_action.isChecked():
            self.window.frame_view.set_draw_tool(self.kind, colour)

    # ------------------------------------------------------------------ the case's drawings
    def _on_case_edited(self, edit: Edit) -> None:
        if isinstance(
            edit, AddDrawing | RemoveDrawing | AddBookmark | DeleteBookmark | UpdateBookmark
        ):
            self.reload()

    def reload(self) -> None:
        """Read the open case's drawings again (those of its current bookmarks)."""
        case = self.window.cases.existing_case()
        try:
            self.drawings = case.drawings() if case is not None else []
        except StoreError as exc:  # a damaged case: the video and the rest still work
            log.warning("drawings not read: %s", exc)
            self.drawings = []
        self.update_view()

    def update_view(self) -> None:
        state = self.window.state
        self.window.frame_view.set_drawings(
            shown_at(self.drawings, state.frame, state.time_s) if state.frame_count else []
        )

    def on_frame(self) -> list[Drawing]:
        return [d for d in self.drawings if d.frame == self.window.state.frame]

    def add(self, kind: str, points: Any) -> bool:
        """Keep a stroke on the frame on screen, with the frame's bookmark (made, as a teaching
        point, when there is none: one undo step with the drawing); False (told why) if not."""
        window = self.window
        try:
            drawing = Drawing(
                kind,
                tuple((float(x), float(y)) for x, y in points),
                window.state.frame,
                window.state.time_s,
                colour=self.colour,
            )
        except DrawingError as exc:
            window.statusBar().showMessage(f"Not kept: {exc}", 4000)
            return False
        stack = window.review.undo_stack
        stack.beginMacro(f"draw {kind}")
        try:
            found = next((b for b in window.bookmarks if int(b.frame) == drawing.frame), None)
            bookmark = (
                int(found.id) if found is not None else window.add_bookmark("", "teaching point")
            )
            if bookmark is None:
                return False
            return window.apply_edit(AddDrawing(replace(drawing, bookmark_id=bookmark)))
        finally:
            stack.endMacro()

    def _on_stroke_drawn(self, kind: str, points: Any) -> None:
        self.add(kind, points)

    def remove_last(self) -> None:
        here = [d for d in self.on_frame() if d.id is not None]
        if here:
            self.window.apply_edit(RemoveDrawing(max(int(d.id or 0) for d in here)), create=False)

    def clear_frame(self) -> None:
        here = [d for d in self.on_frame() if d.id is not None]
        if not here:
            return
        stack = self.window.review.undo_stack
        stack.beginMacro("clear drawings")
        try:
            for drawing in here:
                self.window.apply_edit(RemoveDrawing(int(drawing.id or 0)), create=False)
        finally:
            stack.endMacro()
