"""The window's one small observable state (README, Architecture: views subscribe, models emit).

The playhead, the clip selection, which overlays are shown and whether the teaching mode hides
the prediction live here and nowhere else. Any widget may ask for a change (`set_frame`,
`set_overlay`, ...); every widget that shows one of these subscribes to the signal and redraws.
Nothing here knows about widgets, decoding or the case file.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from scrubline.core.overlay import OverlayFlags
from scrubline.ui.navigation import clamp_frame, index_at


class ViewerState(QObject):
    playhead_changed = Signal(int, float)  # frame index, its time (s)
    overlays_changed = Signal(object)  # OverlayFlags
    selection_changed = Signal(object)  # (start_s, end_s) or None
    teaching_changed = Signal(bool, bool)  # teaching mode on, prediction revealed
    video_changed = Signal()  # a new video (times) is in place

    def __init__(self) -> None:
        super().__init__()
        self.times = np.zeros(0, dtype=float)
        self.duration_s = 0.0
        self.frame = 0
        self.scrubbing = False  # the user is dragging: the loader may show a stand-in first
        self.overlays = OverlayFlags()
        self.selection: tuple[float, float] | None = None
        self.teaching = False
        self.revealed = False

    # ------------------------------------------------------------------ video
    @property
    def frame_count(self) -> int:
        return len(self.times)

    @property
    def time_s(self) -> float:
        return float(self.times[self.frame]) if len(self.times) else 0.0

    def set_video(self, times: np.ndarray, duration_s: float) -> None:
        self.times = np.asarray(times, dtype=float)
        self.duration_s = float(duration_s)
        self.frame = 0
        self.selection = None
        self.revealed = False
        self.video_changed.emit()
        self.selection_changed.emit(None)
        self.playhead_changed.emit(0, self.time_s)

    # ------------------------------------------------------------------ playhead
    def set_frame(self, index: int, *, force: bool = False) -> None:
        if not len(self.times):
            return
        index = clamp_frame(index, len(self.times))
        if index == self.frame and not force:
            return
        self.frame = index
        self.playhead_changed.emit(index, self.time_s)

    def set_time(self, time_s: float) -> None:
        self.set_frame(index_at(self.times, time_s))

    # ------------------------------------------------------------------ overlays, selection,
    # teaching
    def set_overlays(self, flags: OverlayFlags) -> None:
        if flags != self.overlays:
            self.overlays = flags
            self.overlays_changed.emit(flags)

    def set_overlay(self, key: str, shown: bool) -> None:
        self.set_overlays(self.overlays.with_(key, shown))

    def set_selection(self, selection: tuple[float, float] | None) -> None:
        if selection is not None:
            start, end = sorted((float(selection[0]), float(selection[1])))
            start = max(0.0, start)
            end = min(self.duration_s, end) if self.duration_s else end
            selection = (start, end) if end > start else None
        if selection != self.selection:
            self.selection = selection
            self.selection_changed.emit(selection)

    def set_teaching(self, teaching: bool) -> None:
        if teaching != self.teaching:
            self.teaching = teaching
            self.revealed = False
            self.teaching_changed.emit(self.teaching, self.revealed)

    def reveal(self, revealed: bool = True) -> None:
        if revealed != self.revealed:
            self.revealed = revealed
            self.teaching_changed.emit(self.teaching, self.revealed)
