"""Playhead arithmetic for the window, Qt-free so it is tested without one.

Frame stepping, second jumps, the J/K/L shuttle, the playback clock, the text shown when the
pointer hovers over the timeline, and the recent-files list are all small pure functions here;
the widgets only call them. Frames are addressed by index into the video's presentation-time
array (`VideoSource.times`), so everything stays frame-exact for variable frame rate too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
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


def describe_at(timeline: Any, time_s: float, bookmarks: Sequence[Any] = ()) -> str:
    """What the timeline says at `time_s`, for the hover line: phase, tools in view, tips,
    bleeding area, the episodes it falls in and a bookmark close by. Values come from the
    analysed sample at or before `time_s` (or say there is none near)."""
    parts = [format_clock(time_s)]
    if timeline is None or len(timeline.times) == 0:
        return parts[0] + " · not analysed"
    times = timeline.times
    at = int(np.searchsorted(times, time_s + 1e-9, side="right")) - 1
    period = float(timeline.sample_period_s or 1.0)
    if at < 0 or time_s - float(times[at]) > max(2 * period, 1.0):
        parts.append("not analysed here")
    else:
        phase = timeline.phase_at(time_s)
        if phase:
            parts.append(f"phase: {phase}")
        tools = [label for j, label in enumerate(timeline.labels) if timeline.presence[at, j]]
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
