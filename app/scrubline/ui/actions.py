"""The "do" half of the window's user actions (README, Architecture: "Ask, then do"), Qt-free.

A dialog asks; one of these functions does, given plain values and a case file, so each action
is testable without a window and the same code runs whether the window, a test or a script
calls it. Long ones take a `TaskState` and run on the window's worker thread.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from scrubline.core.analysis import AnalysisSettings
from scrubline.core.pictures import ClipPlan
from scrubline.core.timeline import EPISODE_KINDS

DEVICES = ("cpu", "auto", "cuda", "coreml", "directml")


# ---------------------------------------------------------------------------- analysis
def analysis_settings(
    *,
    model_ids: Sequence[str] | None,
    fps: float,
    whole: bool = True,
    start_s: float = 0.0,
    end_s: float = 0.0,
    device: str = "cpu",
    duration_s: float | None = None,
) -> AnalysisSettings:
    """Validated settings from the analysis dialog's fields (ValueError says what is wrong)."""
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError("the sampling rate must be a positive number of frames per second")
    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}' (use one of {', '.join(DEVICES)})")
    if model_ids is not None and not model_ids:
        raise ValueError("choose at least one model")
    start: float | None = None
    end: float | None = None
    if not whole:
        start, end = float(start_s), float(end_s)
        if start < 0 or end <= start:
            raise ValueError("the range must end after it starts")
        if duration_s is not None and start >= duration_s:
            raise ValueError(f"the range starts after the video ends ({duration_s:.1f} s)")
    return AnalysisSettings(
        fps=float(fps),
        start_s=start,
        end_s=end,
        device=device,
        model_ids=list(model_ids) if model_ids is not None else None,
    )


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
    from scrubline.ui.navigation import format_clock

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
    from scrubline.ui.navigation import index_at

    ordered = events if forward else list(reversed(events))
    for time_s in ordered:
        target = index_at(video_times, time_s)
        if (target > frame) if forward else (target < frame):
            return float(time_s), target
    return None


# ---------------------------------------------------------------------------- clips
MAX_CLIP_S = 300.0


def clip_plan(
    times: np.ndarray, selection: tuple[float, float] | None, max_s: float = MAX_CLIP_S
) -> ClipPlan:
    """The frames of a teaching clip: the selected range (ValueError when there is none or it
    is too long to be a "short clip")."""
    if selection is None:
        raise ValueError(
            "select a range first (I and O set its start and end, or drag on the ruler)"
        )
    start, end = sorted(selection)
    if end - start > max_s:
        raise ValueError(
            f"the selection is {end - start:.0f} s long; clips are limited to {max_s:.0f} s"
        )
    first = int(np.searchsorted(times, start - 1e-9, side="left"))
    last = int(np.searchsorted(times, end - 1e-9, side="left")) - 1
    if len(times) == 0 or first >= len(times) or last < first:
        raise ValueError("the selection contains no frames")
    return ClipPlan(first, last, float(times[first]), float(times[last]))


def default_export_name(
    case_label: str | None, what: str, suffix: str, time_s: float | None = None
) -> str:
    """A file name to suggest: from the case label the user typed, never from the video's file
    name (recorders often name files after the patient)."""
    stem = re.sub(r"[^\w .-]+", "_", case_label or "").strip(" ._") or "case"
    at = f"-{time_s:08.2f}s".replace(".", "_") if time_s is not None else ""
    return f"{stem}-{what}{at}{suffix}"
