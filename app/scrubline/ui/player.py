"""Playback: the clock that moves the playhead, and the transport bar under the frame.

`PlaybackClock` is time-based: each tick asks where the playhead should be now
(`navigation.playback_time`) and moves the shared state there, so when decoding cannot keep up
frames are skipped rather than the video slowing down (the frame loader always decodes the
newest request). A signed rate covers the J/K/L shuttle, reverse included.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from scrubline.ui.navigation import SPEEDS, format_clock, looped_time, playback_time
from scrubline.ui.state import ViewerState

SCRUBBER_LEAST_WIDTH = 180  # px: below this a drag moves too many frames per pixel to aim


class PlaybackClock(QObject):
    rate_changed = Signal(float)  # signed; 0 = paused

    def __init__(self, state: ViewerState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.rate = 0.0
        self.speed = 1.0  # the chosen speed magnitude (the speed box)
        self.loop: tuple[float, float] | None = None  # play this range over and over
        self._anchor_s = 0.0
        self._anchor_wall = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick_changed)

    @property
    def playing(self) -> bool:
        return self.rate != 0.0

    def set_rate(self, rate: float) -> None:
        if not len(self.state.times):
            rate = 0.0
        if rate != 0.0 and self.rate == 0.0:
            # Playing forward from the very end starts again from the beginning.
            if rate > 0 and self.state.frame >= self.state.frame_count - 1:
                self.state.set_frame(0)
            elif rate < 0 and self.state.frame == 0:
                self.state.set_frame(self.state.frame_count - 1)
        self.rate = float(rate)
        self._anchor_s = self.state.time_s
        self._anchor_wall = time.perf_counter()
        if self.rate:
            frame_period = self.state.duration_s / max(self.state.frame_count, 1)
            interval = max(8, min(40, int(1000 * frame_period / abs(self.rate) / 2)))
            self._timer.start(interval)
        else:
            self._timer.stop()
        self.rate_changed.emit(self.rate)

    def toggle(self) -> None:
        self.set_rate(0.0 if self.playing else self.speed)

    def pause(self) -> None:
        if self.playing:
            self.set_rate(0.0)

    def set_speed(self, speed: float) -> None:
        self.speed = float(speed)
        if self.playing:
            self.set_rate(self.speed if self.rate > 0 else -self.speed)

    def resync(self) -> None:
        """The user moved the playhead while playing: play on from there."""
        self._anchor_s = self.state.time_s
        self._anchor_wall = time.perf_counter()

    def _on_tick_changed(self) -> None:
        # The last frame starts before the end; playing stops once it is shown.
        last_start = float(self.state.times[-1]) if len(self.state.times) else 0.0
        target, at_end = playback_time(
            self._anchor_s, time.perf_counter() - self._anchor_wall, self.rate, last_start
        )
        if self.loop is not None:
            again = looped_time(target, self.rate, self.loop, last_start)
            if again is not None:
                self.state.set_time(again)
                self.resync()
                return
        self.state.set_time(target)
        if at_end:
            self.set_rate(0.0)


class TimecodeEdit(QLineEdit):
    """The time and frame read-out, editable: click it (or Ctrl+G), type a time (1:02.5, 62.5)
    or a frame (#1500, f1500, frame 1500) and press Enter; Escape puts the read-out back."""

    go_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrame(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setStyleSheet("QLineEdit { background: transparent; }")
        self.setToolTip("Click (or Ctrl+G), type a time (1:02.5) or a frame (#1500), press Enter")
        self._shown = ""
        self.returnPressed.connect(self._on_return_pressed)

    def show_text(self, text: str) -> None:
        """The playhead's read-out, unless the user is typing a position."""
        self._shown = text
        if not self.hasFocus():
            self.setText(text)

    def begin_edit(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()

    def _on_return_pressed(self) -> None:
        typed = self.text().strip()
        self.clearFocus()
        if typed and typed != self._shown:
            self.go_requested.emit(typed)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clearFocus()
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.setText(self._shown)
        self.setCursorPosition(0)


class TransportWidget(QWidget):
    """Buttons, the frame-exact scrubber, speed and the time/frame read-out.

    The scrubber never gets narrower than SCRUBBER_LEAST_WIDTH: when the bar is short of room
    (a narrow window, large scaling) the read-out drops to its compact form (time and frame
    number) instead, with the full text in its tooltip."""

    action_requested = Signal(str)  # "play", "start", "end", "frame-", "frame+", "1s-", ...
    speed_chosen = Signal(float)
    scrubbed = Signal(int, bool)  # frame, drag in progress
    go_requested = Signal(str)  # a time or frame typed into the read-out

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)  # the tool buttons carry their own padding; room goes to the scrubber
        self.buttons: dict[str, QToolButton] = {}
        icons = QStyle.StandardPixmap
        for key, text, icon, tip in (
            ("start", "", icons.SP_MediaSkipBackward, "Go to the start (Home)"),
            ("10s-", "\u221210s", None, "Back 10 s (Ctrl+Left)"),
            ("1s-", "\u22121s", None, "Back 1 s (Shift+Left)"),
            ("frame-", "\u25c0|", None, "Previous frame (Left or ,)"),
            ("play", "", icons.SP_MediaPlay, "Play / pause (Space); J/K/L shuttle"),
            ("frame+", "|\u25b6", None, "Next frame (Right or .)"),
            ("1s+", "+1s", None, "Forward 1 s (Shift+Right)"),
            ("10s+", "+10s", None, "Forward 10 s (Ctrl+Right)"),
            ("end", "", icons.SP_MediaSkipForward, "Go to the end (End)"),
        ):
            button = QToolButton()
            button.setText(text)
            if icon is not None:
                button.setIcon(self.style().standardIcon(icon))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, k=key: self.action_requested.emit(k))
            layout.addWidget(button)
            self.buttons[key] = button
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setMinimumWidth(SCRUBBER_LEAST_WIDTH)
        self.slider.setToolTip("Drag to scrub, frame-exact")
        self.slider.sliderMoved.connect(lambda v: self.scrubbed.emit(int(v), True))
        self.slider.sliderReleased.connect(lambda: self.scrubbed.emit(self.slider.value(), False))
        self.slider.actionTriggered.connect(self._on_slider_action_changed)
        layout.addWidget(self.slider, 1)
        self.speed = QComboBox()
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}\u00d7", value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed")
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed.currentIndexChanged.connect(
            lambda i: self.speed_chosen.emit(float(self.speed.itemData(i)))
        )
        layout.addWidget(self.speed)
        self.readout = TimecodeEdit()
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.readout.go_requested.connect(self.go_requested)
        layout.addWidget(self.readout)
        self.compact = False
        self._position = (0, 0.0, 0, 0.0)  # frame, time, frame count, duration
        self._fit_readout()

    def _readout_text(
        self, frame: int, time_s: float, frame_count: int, duration_s: float, compact: bool
    ) -> str:
        if compact:
            return f"{format_clock(time_s)}  #{frame}"
        return (
            f"{format_clock(time_s)} / {format_clock(duration_s, millis=False)}   "
            f"frame {frame} / {max(frame_count - 1, 0)}"
        )

    def _readout_width(self, compact: bool) -> int:
        """The read-out's width for the longest text of this video, so it does not jitter."""
        _, _, count, duration = self._position
        widest = self._readout_text(max(count - 1, 0), duration, count, duration, compact)
        return (
            self.readout.fontMetrics().horizontalAdvance(
                "".join("8" if c.isdigit() else c for c in widest)
            )
            + 8
        )

    def _fit_readout(self) -> None:
        layout = self.layout()
        if layout is None:
            return
        margins = layout.contentsMargins()
        fixed = sum(w.sizeHint().width() for w in (*self.buttons.values(), self.speed))
        fixed += layout.spacing() * (len(self.buttons) + 2) + margins.left() + margins.right()
        compact = self.width() < fixed + SCRUBBER_LEAST_WIDTH + self._readout_width(False)
        self.readout.setMinimumWidth(self._readout_width(compact))
        if compact != self.compact:
            self.compact = compact
            self.set_position(*self._position)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_readout()

    def _on_slider_action_changed(self, action: int) -> None:
        # Clicks on the groove (page steps) seek too; dragging is handled by sliderMoved.
        if action in (
            QSlider.SliderAction.SliderPageStepAdd,
            QSlider.SliderAction.SliderPageStepSub,
        ):
            self.scrubbed.emit(int(self.slider.sliderPosition()), False)

    def set_frame_count(self, count: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setPageStep(max(1, count // 20))
        self.slider.blockSignals(False)

    def set_position(self, frame: int, time_s: float, frame_count: int, duration_s: float) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(frame)
            self.slider.blockSignals(False)
        resized = self._position[2:] != (frame_count, duration_s)
        self._position = (frame, time_s, frame_count, duration_s)
        self.readout.show_text(
            self._readout_text(frame, time_s, frame_count, duration_s, self.compact)
        )
        self.readout.setToolTip(self._readout_text(frame, time_s, frame_count, duration_s, False))
        if resized:
            self._fit_readout()

    def set_rate(self, rate: float) -> None:
        play = self.buttons["play"]
        icons = QStyle.StandardPixmap
        play.setIcon(
            self.style().standardIcon(icons.SP_MediaPlay if rate == 0 else icons.SP_MediaPause)
        )
        # The shuttle rate when it is not plain forward playback (J plays backwards).
        play.setText("" if rate in (0, 1) else f"{rate:g}\u00d7")
        play.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonIconOnly
            if rate in (0, 1)
            else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        )

    def set_speed(self, speed: float) -> None:
        best = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))
        self.speed.blockSignals(True)
        self.speed.setCurrentIndex(best)
        self.speed.blockSignals(False)
