"""The playback controller: moving the playhead and keeping the frame on screen in step with it.

It owns the `PlaybackClock` (`ui/player.py`: the timer that moves the playhead while playing)
and everything that moves the playhead by hand: frame steps, 1 s and 10 s jumps, the J/K/L
shuttle, the transport bar's buttons, slider and speed box, scrubbing on the timeline, jumps
to the next or previous event, and the clip range (I / O, go to its ends, looping it). It also
keeps the picture in step: each playhead move asks the frame loader for that frame, and each
frame that arrives is drawn with its overlay plan (`plan_overlay`) and timed (the latencies the
UI probe reports).

It is built from a `PlaybackContext` (the shared `ViewerState`, the frame loader, the three
views it drives, and callables for what it reads of the open case), not from the window
(README, Architecture: "Controllers are built from a context, not the window"), so a pytest-qt
test drives it with a `ViewerState`, the real views and a stand-in loader
(`tests/ui/test_playback_controller.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from scrubline.core.timeline import EPISODE_KINDS
from scrubline.ui.frame_view import QtFrameView
from scrubline.ui.frames import ShownFrame
from scrubline.ui.navigation import (
    clip_marked,
    describe_event,
    event_times,
    format_clock,
    jump_seconds,
    neighbour_event,
    shuttle,
    step_frames,
)
from scrubline.ui.overlays import plan_overlay
from scrubline.ui.player import PlaybackClock, TransportWidget
from scrubline.ui.settings import read_bool, read_float
from scrubline.ui.state import ViewerState
from scrubline.ui.timeline_view import TimelineView

LATENCIES_KEPT = 10_000  # frame latencies remembered (the oldest half is dropped beyond this)
EVENT_KIND_NAMES = {
    "bleeding": "Bleeding episodes",
    "tip_hidden": "Tip hidden",
    "phase": "Phase changes",
    "out_of_body": "Out-of-body spans",
    "bookmark": "Bookmarks",
}


@dataclass(frozen=True)
class PlaybackContext:
    """What the playback controller needs from whoever hosts it."""

    state: ViewerState
    loader: Any  # FrameLoader: request(), set_target_size(), generation, frame_ready/frame_failed
    transport: TransportWidget
    timeline_view: TimelineView
    frame_view: QtFrameView
    settings: QSettings  # the chosen speed and the event kinds to visit are remembered
    has_video: Callable[[], bool]  # a video is open (indexed)
    timeline: Callable[[], Any]  # the open case's Timeline, or None
    bookmarks: Callable[[], list[Any]]
    mask_opacity: Callable[[], float]  # 0..1, of the segmentation mask drawn on the frame
    show_status: Callable[[str, int], None]  # message, milliseconds
    closing: Callable[[], bool]
    add_action: Callable[..., QAction]  # (menu, text, slot, shortcuts, checkable=) -> action


class PlaybackController(QObject):
    """Moves the playhead (by hand and by the clock) and shows the frame it is on."""

    frame_shown = Signal(int)  # an exact frame is on screen

    def __init__(self, context: PlaybackContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        state = context.state
        self.clock = PlaybackClock(state, self)
        self.clock.speed = read_float(context.settings, "playback/speed", 1.0)
        self.shown: ShownFrame | None = None
        self.frame_latencies: list[float] = []  # request -> exact frame on screen, seconds
        self.preview_latencies: list[float] = []  # request -> stand-in (proxy) on screen
        self.event_kinds = [
            k for k in EPISODE_KINDS if read_bool(context.settings, f"events/{k}", True)
        ]
        self.event_kind_actions: dict[str, QAction] = {}
        self.loop_action: QAction | None = None
        state.playhead_changed.connect(self._on_playhead_changed)
        state.selection_changed.connect(self._on_selection_changed)
        context.loader.frame_ready.connect(self._on_frame_ready)
        context.loader.frame_failed.connect(self._on_frame_failed)
        context.frame_view.size_changed.connect(self._on_view_size_changed)
        self.clock.rate_changed.connect(self._on_rate_changed)
        context.transport.action_requested.connect(self._on_transport_action)
        context.transport.speed_chosen.connect(self._on_speed_changed)
        context.transport.scrubbed.connect(self._on_slider_scrubbed)
        context.timeline_view.seek_requested.connect(self.seek_time)
        context.timeline_view.scrub_requested.connect(self._on_timeline_scrubbed)
        context.timeline_view.selection_changed.connect(state.set_selection)
        context.transport.set_speed(self.clock.speed)

    # ------------------------------------------------------------------ menus
    def build_playback_menu(self, menu: QMenu) -> None:
        add, frame_count = self.context.add_action, lambda: self.context.state.frame_count
        add(menu, "Play / pause", self.clock.toggle, "Space")
        add(menu, "Shuttle reverse", lambda: self.shuttle("J"), "J")
        add(menu, "Shuttle pause", lambda: self.shuttle("K"), "K")
        add(menu, "Shuttle forward", lambda: self.shuttle("L"), "L")
        menu.addSeparator()
        add(menu, "Previous frame", lambda: self.step(-1), ["Left", ","])
        add(menu, "Next frame", lambda: self.step(1), ["Right", "."])
        add(menu, "Back 1 s", lambda: self.jump(-1.0), "Shift+Left")
        add(menu, "Forward 1 s", lambda: self.jump(1.0), "Shift+Right")
        add(menu, "Back 10 s", lambda: self.jump(-10.0), ["Ctrl+Left", "PgUp"])
        add(menu, "Forward 10 s", lambda: self.jump(10.0), ["Ctrl+Right", "PgDown"])
        add(menu, "Go to start", lambda: self.seek_frame(0), "Home")
        add(menu, "Go to end", lambda: self.seek_frame(frame_count() - 1), "End")

    def build_event_menu(self, menu: QMenu) -> None:
        """Next / previous event (] and [) and the kinds of event they visit."""
        self.context.add_action(menu, "Next event", lambda: self.jump_event(True), "]")
        self.context.add_action(menu, "Previous event", lambda: self.jump_event(False), "[")
        kinds = menu.addMenu("Events to visit")
        for kind in EPISODE_KINDS:
            action = QAction(EVENT_KIND_NAMES[kind], self)
            action.setCheckable(True)
            action.setChecked(kind in self.event_kinds)
            action.toggled.connect(lambda on, k=kind: self._on_event_kind_changed(k, on))
            kinds.addAction(action)
            self.event_kind_actions[kind] = action

    def build_clip_menu(self, menu: QMenu) -> None:
        """The clip range: I / O, clear, go to its ends, loop it."""
        add, state = self.context.add_action, self.context.state
        add(menu, "Clip start at playhead", lambda: self.mark_clip(start=True), "I")
        add(menu, "Clip end at playhead", lambda: self.mark_clip(start=False), "O")
        add(menu, "Clear clip range", lambda: state.set_selection(None))
        add(menu, "Go to clip start", lambda: self.go_to_clip(start=True), "Shift+I")
        add(menu, "Go to clip end", lambda: self.go_to_clip(start=False), "Shift+O")
        self.loop_action = add(
            menu, "&Loop the clip range", self.set_looping, "Ctrl+L", checkable=True
        )

    # ------------------------------------------------------------------ moving the playhead
    def seek_frame(self, index: int) -> None:
        self.context.state.scrubbing = False
        self.context.state.set_frame(index)
        self.clock.resync()

    def seek_time(self, time_s: float) -> None:
        self.context.state.scrubbing = False
        self.context.state.set_time(time_s)
        self.clock.resync()

    def step(self, frames: int) -> None:
        state = self.context.state
        self.clock.pause()
        self.seek_frame(step_frames(state.frame, frames, state.frame_count))

    def jump(self, seconds: float) -> None:
        state = self.context.state
        self.seek_frame(jump_seconds(state.times, state.frame, seconds))

    def shuttle(self, key: str) -> None:
        """J / K / L: reverse, pause, forward; pressed again, faster."""
        self.clock.set_rate(shuttle(self.clock.rate, key, self.clock.speed))

    def jump_event(self, forward: bool = True) -> float | None:
        """Go to the next (or previous) event of the chosen kinds; its time, or None."""
        state, timeline, bookmarks = (
            self.context.state,
            self.context.timeline(),
            self.context.bookmarks(),
        )
        events = event_times(timeline, bookmarks, self.event_kinds)
        found = neighbour_event(state.times, events, state.frame, forward)
        if found is None:
            self.context.show_status("No further event" if forward else "No earlier event", 3000)
            return None
        time_s, frame = found
        self.seek_frame(frame)
        what = describe_event(timeline, bookmarks, time_s, self.event_kinds)
        self.context.show_status(f"{format_clock(time_s)}: {what}", 8000)
        return time_s

    def _on_event_kind_changed(self, kind: str, on: bool) -> None:
        self.event_kinds = [k for k in EPISODE_KINDS if self.event_kind_actions[k].isChecked()]
        self.context.settings.setValue(f"events/{kind}", on)

    # ------------------------------------------------------------------ clip range
    def mark_clip(self, *, start: bool) -> None:
        """I / O: the clip starts at the playhead's frame, or ends with it (inclusive)."""
        state = self.context.state
        if not state.frame_count:
            return
        state.set_selection(
            clip_marked(state.selection, state.times, state.frame, state.duration_s, start=start)
        )

    def go_to_clip(self, *, start: bool) -> None:
        """Shift+I / Shift+O: to the clip's first or last frame."""
        selection = self.context.state.selection
        if selection is None:
            self.context.show_status("No clip range: press I and O, or drag on the ruler", 4000)
            return
        self.seek_time(selection[0] if start else selection[1] - 1e-6)

    @property
    def looping(self) -> bool:
        return self.loop_action is not None and self.loop_action.isChecked()

    def set_looping(self, on: bool) -> None:
        """Play the clip range over and over (while there is one)."""
        if self.loop_action is not None:
            self.loop_action.setChecked(on)
        self._on_selection_changed(self.context.state.selection)

    def _on_selection_changed(self, selection: tuple[float, float] | None) -> None:
        self.context.timeline_view.set_selection(selection)
        self.clock.loop = selection if self.looping and selection is not None else None

    # ------------------------------------------------------------------ transport bar, timeline
    def _on_rate_changed(self, rate: float) -> None:
        # The speed box shows the speed playing now (L L: 2×), and the chosen one when paused.
        self.context.transport.set_rate(rate)
        self.context.transport.set_speed(abs(rate) if rate else self.clock.speed)

    def _on_transport_action(self, key: str) -> None:
        moves = {
            "frame-": lambda: self.step(-1),
            "frame+": lambda: self.step(1),
            "1s-": lambda: self.jump(-1.0),
            "1s+": lambda: self.jump(1.0),
            "10s-": lambda: self.jump(-10.0),
            "10s+": lambda: self.jump(10.0),
            "start": lambda: self.seek_frame(0),
            "end": lambda: self.seek_frame(self.context.state.frame_count - 1),
            "play": self.clock.toggle,
        }
        moves[key]()

    def _on_speed_changed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        self.context.settings.setValue("playback/speed", speed)

    def _on_slider_scrubbed(self, frame: int, dragging: bool) -> None:
        self.context.state.scrubbing = dragging
        self.context.state.set_frame(frame)
        self.clock.resync()

    def _on_timeline_scrubbed(self, time_s: float, finished: bool) -> None:
        self.context.state.scrubbing = not finished
        self.context.state.set_time(time_s)
        self.clock.resync()

    # ------------------------------------------------------------------ the frame on screen
    def _on_playhead_changed(self, frame: int, time_s: float) -> None:
        state = self.context.state
        self.context.loader.request(frame, scrub=state.scrubbing, prefetch=not self.clock.playing)
        self.context.transport.set_position(frame, time_s, state.frame_count, state.duration_s)
        self.context.timeline_view.set_playhead(time_s, follow=self.clock.playing)

    def clear_frame(self) -> None:
        """Another video is being opened: nothing of the last one is on screen any more."""
        self.shown = None

    def refresh_frame(self) -> None:
        """Results may have arrived for the frame on screen: ask for it again (a cached image,
        so cheap), unless playing (the next frame is on its way anyway)."""
        if self.shown is not None and not self.clock.playing:
            self.context.loader.request(self.context.state.frame, prefetch=False)

    def _on_view_size_changed(self, width: int, height: int) -> None:
        self.context.loader.set_target_size(width, height)
        if self.context.has_video():
            self.context.loader.request(self.context.state.frame, prefetch=False)

    def _on_frame_ready(self, shown: ShownFrame) -> None:
        if self.context.closing() or shown.generation != self.context.loader.generation:
            return
        self.shown = shown
        self.context.frame_view.set_image(shown.image, shown.index, proxy=shown.proxy)
        self.update_overlay()
        latencies = self.preview_latencies if shown.proxy else self.frame_latencies
        latencies.append(shown.ready_at - shown.requested_at)
        if len(latencies) > LATENCIES_KEPT:
            del latencies[: LATENCIES_KEPT // 2]
        if not shown.proxy:
            self.frame_shown.emit(shown.index)

    def _on_frame_failed(self, index: int, message: str) -> None:
        self.context.show_status(f"Frame {index} could not be shown: {message}", 8000)

    def update_overlay(self) -> None:
        """Draw the overlays the state asks for on the frame shown, from its analysed result."""
        shown = self.shown
        if shown is None:
            return
        timeline = self.context.timeline()
        plan = plan_overlay(
            shown.result,
            shown.index,
            shown.time_s,
            self.context.state.overlays,
            period_s=shown.period_s
            if shown.period_s is not None or timeline is None
            else float(timeline.sample_period_s),
            mask_alpha=round(255 * self.context.mask_opacity()),
            tip_rules=timeline.tip_rules if timeline is not None else None,
        )
        if not shown.exact and not shown.proxy:
            plan.note = "this frame could not be decoded; the nearest readable one is shown" + (
                f" · {plan.note}" if plan.note else ""
            )
        self.context.frame_view.set_plan(plan)
