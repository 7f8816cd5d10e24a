"""Playhead arithmetic for the window, Qt-free so it is tested without one.

Frame stepping, second jumps, the J/K/L shuttle, the playback clock, the events to jump to
(and how the status bar names them), the text shown when the pointer hovers over the timeline,
and the recent-files list are all small pure functions here;
the widgets only call them. Frames are addressed by index into the video's presentation-time
array (`VideoSource.times`), so everything stays frame-exact for variable frame rate too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scrubline.core.nearest import nearest_row, within
from scrubline.core.timeline import EPISODE_KINDS
from scrubline.core.tools import display_name

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # every J/K/L rate from any of them is here
MAX_RATE = 4.0
MIN_RATE = 0.25


def clamp_frame(index: int, frame_count: int) -> int:
    return int(min(max(index, 0), max(frame_count - 1, 0)))


def index_at(times: np.ndarray, time_s: float) -> int:
    """The frame on screen at `time_s`: the last frame that starts at or before it."""
    if len(times) == 0:
        return 0
    position = int(np.searchsorted(times, time_s + 1e-9, side="right")) - 1
    return clamp_frame(position, len(times))


def step_frames(index: int, delta: int, frame_count: int) -> int:
    return clamp_frame(index + delta, frame_count)


def jump_seconds(times: np.ndarray, index: int, seconds: float) -> int:
    """The frame `seconds` away from `index`; a jump always moves at least one frame so that
    a short video or a long frame interval never swallows the key press."""
    if len(times) == 0:
        return 0
    index = clamp_frame(index, len(times))
    target = index_at(times, float(times[index]) + seconds)
    if target == index and seconds != 0:
        target = clamp_frame(index + (1 if seconds > 0 else -1), len(times))
    return target


def shuttle(rate: float, key: str, base: float = 1.0) -> float:
    """J/K/L shuttle as in editing suites. `rate` is the signed playback rate (0 = paused):
    L plays forward at `base`, and each further L doubles it up to 4x; J does the same
    backwards; K pauses."""
    key = key.upper()
    base = min(max(abs(base), MIN_RATE), MAX_RATE)
    if key == "K":
        return 0.0
    if key == "L":
        return base if rate <= 0 else min(rate * 2, MAX_RATE)
    if key == "J":
        return -base if rate >= 0 else max(rate * 2, -MAX_RATE)
    raise ValueError(f"not a shuttle key: {key!r}")


def playback_time(
    anchor_s: float, elapsed_s: float, rate: float, duration_s: float
) -> tuple[float, bool]:
    """Where the playhead is `elapsed_s` wall seconds after it stood at `anchor_s`, playing at
    `rate`; and whether playback ran into either end (so it should stop there). Time-based,
    not frame-counted: when decoding cannot keep up, frames are skipped instead of playback
    slowing down."""
    target = anchor_s + elapsed_s * rate
    last = max(duration_s, 0.0)
    if target <= 0.0:
        return 0.0, rate < 0
    if target >= last:
        return last, rate > 0
    return target, False


def frame_end_s(times: np.ndarray, index: int, duration_s: float) -> float:
    """When frame `index` leaves the screen: the next frame's time, or the end of the video.
    A clip range ends there, so the frame the out point was set on is in the clip."""
    if len(times) == 0:
        return 0.0
    index = clamp_frame(index, len(times))
    if index + 1 < len(times):
        return float(times[index + 1])
    return max(float(duration_s), float(times[index]) + 1e-3)


def clip_marked(
    selection: tuple[float, float] | None,
    times: np.ndarray,
    frame: int,
    duration_s: float,
    *,
    start: bool,
    default_s: float = 10.0,
) -> tuple[float, float]:
    """The clip range after I (`start`) or O at `frame`: the in point at the frame's start, the
    out point at its end (the out frame is in the clip); the other end is kept when it still
    lies on the right side, else put `default_s` away."""
    begin_at = float(times[clamp_frame(frame, len(times))]) if len(times) else 0.0
    end_at = frame_end_s(times, frame, duration_s)
    last = max(float(duration_s), end_at)
    if start:
        end = (
            selection[1]
            if selection and selection[1] > begin_at
            else min(begin_at + default_s, last)
        )
        return begin_at, max(end, end_at)
    begin = selection[0] if selection and selection[0] < end_at else max(end_at - default_s, 0.0)
    return min(begin, begin_at), end_at


def looped_time(
    target_s: float, rate: float, loop: tuple[float, float], last_start_s: float
) -> float | None:
    """Playback looping over `loop` (start, end; end exclusive): where to go instead of
    `target_s`, or None to carry on. Forward play past the end goes back to the start; reverse
    play before the start goes to the end."""
    start, end = loop
    if rate > 0 and (target_s >= end - 1e-9 or target_s >= last_start_s):
        return start
    if rate < 0 and target_s < start - 1e-9:
        return min(end - 1e-6, last_start_s)
    if rate < 0 and target_s >= end:
        return min(end - 1e-6, last_start_s)
    return None


def parse_position(text: str, times: np.ndarray) -> int:
    """The frame a typed position means: a frame number (`#1500`, `f1500`, `frame 1500`) or a
    time (`1:02:03.5`, `2:03.5`, `63.5`, `63.5 s`); ValueError saying what is accepted."""
    typed = text.strip().lower()
    count = len(times)
    if count == 0:
        raise ValueError("no video is open")
    frame_forms = ("frame", "#", "f")
    for prefix in frame_forms:
        if typed.startswith(prefix) and typed[len(prefix) :].strip().isdigit():
            frame = int(typed[len(prefix) :].strip())
            if frame >= count:
                raise ValueError(f"frame {frame} is past the last frame ({count - 1})")
            return frame
    clock = typed.removesuffix("s").strip()
    parts = clock.split(":")
    try:
        if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
            raise ValueError
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"'{text.strip()}' is neither a time (1:02.5, 62.5) nor a frame (#1500)"
        ) from None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    if not math.isfinite(seconds) or seconds < 0 or any(n < 0 for n in numbers):
        raise ValueError(f"'{text.strip()}' is not a time in the video")
    if seconds > float(times[-1]) + 60:
        raise ValueError(f"{format_clock(seconds)} is past the end of the video")
    return index_at(times, seconds)


def format_clock(seconds: float, *, millis: bool = True) -> str:
    """0:12.480, 1:02:03.500 (hours only when needed)."""
    if not math.isfinite(seconds):
        return "--:--"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if millis:
        text += f".{int(round((seconds - whole) * 1000)) % 1000:03d}"
    return sign + text


def updated_recent(recent: Sequence[str], path: str, limit: int = 10) -> list[str]:
    """The recent-files list with `path` first, no duplicates, at most `limit` entries."""
    return [path] + [p for p in recent if p != path][: max(limit - 1, 0)]


def sample_row_at(
    timeline: Any, time_s: float, frame_times: np.ndarray | None = None
) -> int | None:
    """The timeline row (analysed sample) that describes the moment `time_s`: the frame on
    screen there (from the video's `frame_times`), then the one rule of
    `scrubline.core.nearest` (nearest analysed frame, within its gap limit); so the hover line
    describes the very sample the overlays are drawn from. None: not analysed near there."""
    if timeline is None or len(timeline.times) == 0:
        return None
    period = float(timeline.sample_period_s or 0.0) or None
    frames = getattr(timeline, "frames", None)
    if frame_times is not None and len(frame_times) and frames is not None and len(frames):
        shown = index_at(frame_times, time_s)
        shown_time = float(frame_times[shown])
        row = nearest_row(frames, shown)
    else:  # no frame index known: the nearest sample in time
        shown_time = time_s
        row = nearest_row(timeline.times, time_s)
    if row is None or not within(float(timeline.times[row]), shown_time, period):
        return None
    return row


def describe_at(
    timeline: Any,
    time_s: float,
    bookmarks: Sequence[Any] = (),
    frame_times: np.ndarray | None = None,
) -> str:
    """What the timeline says at `time_s`, for the hover line: phase, tools in view, tips,
    bleeding area, the episodes it falls in and a bookmark close by. Values come from the
    analysed sample the overlays would show for the frame there (`sample_row_at`)."""
    parts = [format_clock(time_s)]
    if timeline is None or len(timeline.times) == 0:
        return parts[0] + " · not analysed"
    period = float(timeline.sample_period_s or 1.0)
    at = sample_row_at(timeline, time_s, frame_times)
    phase = timeline.phase_at(time_s)
    if phase:
        parts.append(f"phase: {timeline.phase_name(phase)}")
    if at is None:
        parts.append("not analysed here")
    elif getattr(timeline, "in_body", None) is not None and not timeline.in_body[at]:
        parts.append("out of body: no tool, tip or bleeding results")
    else:
        tools = [
            display_name(label)
            for j, label in enumerate(timeline.labels)
            if timeline.presence[at, j]
        ]
        parts.append("tools: " + (", ".join(tools) if tools else "none"))
        shown, hidden = int(timeline.tips_visible[at]), int(timeline.tips_hidden[at])
        if shown or hidden:
            parts.append(f"tips: {shown} visible, {hidden} hidden")
        bleed = float(timeline.bleeding[at])
        if math.isfinite(bleed):
            parts.append(f"bleeding area {bleed:.1%}")
    for episode in timeline.episodes:
        if episode.kind in ("bleeding", "tip_hidden") and episode.contains(time_s):
            parts.append(
                f"in {episode.label} episode ({format_clock(episode.start_s, millis=False)}"
                f"–{format_clock(episode.end_s, millis=False)})"
            )
    near = [b for b in bookmarks if abs(float(b.time_s) - time_s) <= max(period, 0.5)]
    if near:
        mark = near[0]
        parts.append(
            f"bookmark ({mark.category}): {mark.note}"
            if mark.note
            else f"bookmark ({mark.category})"
        )
    return " · ".join(parts)


# ---------------------------------------------------------------------------- events
def event_times(
    timeline: Any, bookmarks: Sequence[Any], kinds: Sequence[str] = EPISODE_KINDS
) -> list[float]:
    """Sorted moments to jump to: starts of bleeding and tip-hidden episodes, phase changes
    (from the timeline) and bookmarks (the live list, which may be newer than the timeline)."""
    found: list[float] = []
    if timeline is not None:
        for episode in timeline.episodes:
            if episode.kind in ("bleeding", "tip_hidden", "out_of_body") and episode.kind in kinds:
                found.append(float(episode.start_s))
        if "phase" in kinds:
            found.extend(float(p.start_s) for p in timeline.episodes_of("phase")[1:])
    if "bookmark" in kinds:
        found.extend(float(b.time_s) for b in bookmarks)
    return sorted(set(found))


def describe_event(
    timeline: Any, bookmarks: Sequence[Any], time_s: float, kinds: Sequence[str] = EPISODE_KINDS
) -> str:
    """What happens at `time_s` (an event `event_times` found), in words for the status bar:
    "bleeding episode begins (0:08–0:24)", "phase change: Dissection", "bookmark: note"."""
    found: list[str] = []
    if timeline is not None:
        for episode in timeline.episodes:
            if abs(episode.start_s - time_s) > 1e-6:
                continue
            span = (
                f"{format_clock(episode.start_s, millis=False)}"
                f"\u2013{format_clock(episode.end_s, millis=False)}"
            )
            if episode.kind in ("bleeding", "tip_hidden") and episode.kind in kinds:
                found.append(f"{episode.label} episode begins ({span})")
            elif episode.kind == "phase" and "phase" in kinds:
                found.append(f"phase change: {timeline.phase_name(episode.label)} ({span})")
    if "bookmark" in kinds:
        for mark in bookmarks:
            if abs(float(mark.time_s) - time_s) <= 1e-6:
                found.append(
                    f"bookmark ({mark.category})" + (f": {mark.note}" if mark.note else "")
                )
    return "; ".join(dict.fromkeys(found)) or "event"


def neighbour_event(
    video_times: np.ndarray, events: Sequence[float], frame: int, forward: bool
) -> tuple[float, int] | None:
    """The first event whose frame is after (or before) `frame`, as (time, frame). Going by
    frames, not seconds, means an event between two frames is never found twice."""
    ordered = events if forward else list(reversed(events))
    for time_s in ordered:
        target = index_at(video_times, time_s)
        if (target > frame) if forward else (target < frame):
            return float(time_s), target
    return None
