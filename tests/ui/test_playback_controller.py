"""The playback controller built from its context alone (no main window): a `ViewerState`, the
real transport bar, timeline and frame view, and a stand-in frame loader that records what it is
asked for and hands back the frames a test gives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QMenu

from scrubline.ui.frame_view import QtFrameView
from scrubline.ui.frames import ShownFrame
from scrubline.ui.playback import PlaybackContext, PlaybackController
from scrubline.ui.player import TransportWidget
from scrubline.ui.settings import app_settings
from scrubline.ui.state import ViewerState
from scrubline.ui.timeline_view import TimelineView

FPS = 10.0
FRAMES = 100  # 10 s


class FakeLoader(QObject):
    """What the controller uses of a `FrameLoader`: requests are recorded, frames are handed
    back by the test."""

    frame_ready = Signal(object)
    frame_failed = Signal(int, str)

    def __init__(self) -> None:
        super().__init__()
        self.generation = 1
        self.requests: list[tuple[int, bool, bool]] = []  # frame, scrub, prefetch
        self.target_size: tuple[int, int] | None = None

    def request(self, index: int, *, scrub: bool = False, prefetch: bool = True) -> None:
        self.requests.append((index, scrub, prefetch))

    def set_target_size(self, width: int, height: int) -> None:
        self.target_size = (width, height)


class Host:
    """The pieces a window would give the controller, and what it was told."""

    def __init__(self, qtbot: Any) -> None:
        self.state = ViewerState()
        self.loader = FakeLoader()
        self.transport = TransportWidget()
        self.timeline_view = TimelineView()
        self.frame_view = QtFrameView()
        for widget in (self.transport, self.timeline_view, self.frame_view):
            qtbot.addWidget(widget)
        self.settings: QSettings = app_settings()
        self.statuses: list[str] = []
        self.timeline: Any = None
        self.bookmarks: list[Any] = []
        self.actions: dict[str, QAction] = {}
        self.menu = QMenu()

    def add_action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., Any],
        shortcuts: Any = (),
        *,
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, menu)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.actions[text] = action
        return action

    def context(self) -> PlaybackContext:
        return PlaybackContext(
            state=self.state,
            loader=self.loader,
            transport=self.transport,
            timeline_view=self.timeline_view,
            frame_view=self.frame_view,
            settings=self.settings,
            has_video=lambda: self.state.frame_count > 0,
            timeline=lambda: self.timeline,
            bookmarks=lambda: self.bookmarks,
            mask_opacity=lambda: 0.5,
            show_status=lambda message, ms: self.statuses.append(message),
            closing=lambda: False,
            add_action=self.add_action,
        )


@pytest.fixture
def host(qtbot) -> Host:  # type: ignore[no-untyped-def]
    return Host(qtbot)


@pytest.fixture
def playback(host: Host) -> PlaybackController:
    controller = PlaybackController(host.context())
    for build in (
        controller.build_playback_menu,
        controller.build_event_menu,
        controller.build_clip_menu,
    ):
        build(host.menu)
    host.state.set_video(np.arange(FRAMES) / FPS, FRAMES / FPS)
    yield controller
    controller.clock.pause()


def test_steps_and_jumps_move_the_playhead_and_ask_for_that_frame(
    host: Host, playback: PlaybackController
) -> None:
    playback.step(1)
    assert host.state.frame == 1
    assert host.loader.requests[-1] == (1, False, True)  # paused: neighbours are prefetched
    playback.step(-5)
    assert host.state.frame == 0  # clamped at the start
    playback.jump(1.0)
    assert host.state.frame == 10
    host.actions["Back 10 s"].trigger()
    assert host.state.frame == 0  # clamped
    host.actions["Forward 1 s"].trigger()
    host.actions["Next frame"].trigger()
    assert host.state.frame == 11
    host.actions["Go to end"].trigger()
    assert host.state.frame == FRAMES - 1
    assert "0:09.900" in host.transport.readout.text()
    host.transport.action_requested.emit("start")
    assert host.state.frame == 0


def test_the_shuttle_plays_faster_each_press_and_the_speed_box_follows(
    host: Host, playback: PlaybackController
) -> None:
    playback.seek_frame(50)
    playback.shuttle("L")
    assert playback.clock.rate == 1.0 and playback.clock.playing
    playback.shuttle("L")
    assert playback.clock.rate == 2.0
    assert host.transport.speed.currentText().startswith("2")
    playback.shuttle("K")
    assert playback.clock.rate == 0.0 and not playback.clock.playing
    playback.shuttle("J")
    assert playback.clock.rate < 0
    playback.step(1)  # a frame step pauses
    assert not playback.clock.playing


def test_a_marked_range_is_looped_while_playing(
    qtbot, host: Host, playback: PlaybackController
) -> None:  # type: ignore[no-untyped-def]
    playback.seek_frame(10)
    playback.mark_clip(start=True)
    playback.seek_frame(20)
    playback.mark_clip(start=False)
    start, end = host.state.selection or (0.0, 0.0)
    assert start == pytest.approx(1.0) and end == pytest.approx(2.1)  # the out point inclusive
    playback.go_to_clip(start=True)
    assert host.state.frame == 10
    playback.go_to_clip(start=False)
    assert host.state.frame == 20
    host.actions["&Loop the clip range"].trigger()
    assert playback.clock.loop == host.state.selection

    seen: list[int] = []
    host.state.playhead_changed.connect(lambda frame, time_s: seen.append(frame))
    playback.seek_frame(15)
    playback.clock.set_speed(4.0)
    playback.clock.toggle()
    # Past the range's end and back to its start, never beyond it.
    qtbot.waitUntil(lambda: any(f >= 19 for f in seen) and seen[-1] < 15, timeout=10_000)
    playback.clock.pause()
    assert all(10 <= f <= 20 for f in seen), seen

    playback.set_looping(False)
    assert playback.clock.loop is None
    host.state.set_selection(None)
    host.statuses.clear()
    playback.go_to_clip(start=True)
    assert host.statuses and host.statuses[-1].startswith("No clip range")


def test_event_jumps_visit_the_bookmarks_and_say_which(
    host: Host, playback: PlaybackController
) -> None:
    host.bookmarks = [
        SimpleNamespace(id=1, time_s=3.0, frame=30, note="clip placed", category="teaching point")
    ]
    playback.event_kinds = ["bookmark"]
    assert playback.jump_event(True) == pytest.approx(3.0)
    assert host.state.frame == 30
    assert "bookmark (teaching point): clip placed" in host.statuses[-1]
    assert playback.jump_event(True) is None
    assert host.statuses[-1] == "No further event"


def _frame(index: int, generation: int, *, proxy: bool = False) -> ShownFrame:
    image = QImage(32, 18, QImage.Format.Format_RGB888)
    image.fill(0)
    now = time.perf_counter()
    return ShownFrame(
        index=index,
        time_s=index / FPS,
        exact=True,
        image=image,
        proxy=proxy,
        result=None,
        requested_at=now - 0.01,
        ready_at=now,
        generation=generation,
    )


def test_frames_of_the_open_video_are_shown_and_timed_and_stale_ones_dropped(
    qtbot, host: Host, playback: PlaybackController
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(playback.frame_shown) as shown:
        host.loader.frame_ready.emit(_frame(7, host.loader.generation))
    assert shown.args == [7]
    assert host.frame_view.shown_index == 7
    assert playback.shown is not None and playback.shown.index == 7
    assert len(playback.frame_latencies) == 1 and playback.frame_latencies[0] > 0
    host.loader.frame_ready.emit(_frame(8, host.loader.generation, proxy=True))
    assert len(playback.preview_latencies) == 1 and len(playback.frame_latencies) == 1

    host.loader.generation += 1  # another video was opened since
    host.loader.frame_ready.emit(_frame(9, host.loader.generation - 1))
    assert playback.shown.index == 8 and host.frame_view.shown_index == 8

    host.loader.requests.clear()
    playback.refresh_frame()  # results arrived: the frame on screen is asked for again
    assert host.loader.requests == [(host.state.frame, False, False)]
    playback.clear_frame()
    host.loader.requests.clear()
    playback.refresh_frame()
    assert host.loader.requests == []
