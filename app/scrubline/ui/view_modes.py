"""How the window shows the video: zoomed and panned, full screen, video only, and where the
playhead is typed in (Ctrl+G).

`ViewModes` owns these View-menu entries and their state so `MainWindow` only builds it and
adds its menu entries. Full screen and video only combine: video only hides the timeline, the
transport bar, the docks, the menu and status bars (the keyboard keeps working: every action is
on the window), and Escape leaves either.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from scrubline.ui.navigation import parse_position


class ViewModes(QObject):
    """Video zoom, full screen, video only and go-to for one main window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window: Any = window  # the MainWindow (its widgets and seek_frame)
        self.video_only = False
        self._hidden: list[QWidget] = []  # what video-only mode hid, to show again
        self._was_maximised = False

    def build_menu(self, view: QMenu) -> None:
        frame_view = self.window.frame_view
        self._action(view, "Zoom video in", lambda: frame_view.zoom_by(1.5), ["+", "="])
        self._action(view, "Zoom video out", lambda: frame_view.zoom_by(1 / 1.5), "-")
        self._action(view, "Fit the video (double-click)", frame_view.fit, "0")
        view.addSeparator()
        self.fullscreen_action = self._action(
            view, "&Full screen", self.set_full_screen, "F11", checkable=True
        )
        self.video_only_action = self._action(
            view, "&Video only", self.set_video_only, "Ctrl+Shift+F", checkable=True
        )
        self._action(view, "Leave full screen / video only", self.leave, "Esc")
        view.addSeparator()
        self._action(view, "&Go to time or frame…", self.ask_go_to, "Ctrl+G")

    def _action(
        self, menu: QMenu, text: str, slot: Any, keys: Any = (), *, checkable: bool = False
    ) -> QAction:
        action = QAction(text, self.window)
        if isinstance(keys, str | QKeySequence.StandardKey):
            keys = [keys]
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.window.addAction(action)  # works while the menu bar is hidden
        return action

    # ------------------------------------------------------------------ full screen, video only
    @property
    def full_screen(self) -> bool:
        return bool(self.window.windowState() & Qt.WindowState.WindowFullScreen)

    def set_full_screen(self, on: bool) -> None:
        if on and not self.full_screen:
            self._was_maximised = self.window.isMaximized()
            self.window.showFullScreen()
        elif not on and self.full_screen:
            if self._was_maximised:
                self.window.showMaximized()
            else:
                self.window.showNormal()
        self.fullscreen_action.setChecked(on)

    def set_video_only(self, on: bool) -> None:
        window = self.window
        if on and not self.video_only:
            candidates: list[QWidget] = [
                window.menuBar(),
                window.statusBar(),
                window.timeline_pane,
                window.transport,
                window.banner,
                # Every dock (outcome, bookmarks, the case library, any added later).
                *window.findChildren(QDockWidget),
            ]
            self._hidden = [w for w in candidates if w.isVisible()]
            for widget in self._hidden:
                widget.hide()
            window.frame_view.setFocus(Qt.FocusReason.OtherFocusReason)
        elif not on and self.video_only:
            for widget in self._hidden:
                widget.show()
            self._hidden = []
        self.video_only = on
        self.video_only_action.setChecked(on)

    def leave(self) -> None:
        """Escape: back to the normal window (or out of the read-out being typed in)."""
        readout = self.window.transport.readout
        if readout.hasFocus():
            readout.clearFocus()
            return
        telestration = getattr(self.window, "telestration", None)
        if telestration is not None and telestration.draw_action.isChecked():
            telestration.set_tool(None)
            return
        if self.video_only:
            self.set_video_only(False)
        if self.full_screen:
            self.set_full_screen(False)

    # ------------------------------------------------------------------ go to
    def ask_go_to(self) -> None:
        """Ctrl+G: type a time or frame into the read-out under the video."""
        if self.video_only:
            self.set_video_only(False)
        self.window.transport.readout.begin_edit()

    def go_to(self, text: str) -> int | None:
        """Go to a typed time or frame; the frame, or None (the status bar says why)."""
        window = self.window
        try:
            frame = parse_position(text, window.state.times)
        except ValueError as exc:
            window.statusBar().showMessage(f"Cannot go there: {exc}", 6000)
            return None
        window.seek_frame(frame)
        window.frame_view.setFocus(Qt.FocusReason.OtherFocusReason)
        return frame
