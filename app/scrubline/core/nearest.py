"""The one "nearest analysed result" rule: which analysed sample describes a frame that was not
itself analysed, and how far away a sample may be before it no longer describes it.

A case is analysed at a sampling rate (5 frames/s of a 30 fps video, say), so most frames on
screen, in an exported clip or in a report key frame have no results of their own. Everything
that shows results for a frame (the window's overlays and its hover line, the PNG/MP4 exports,
the report's key frames, `scrubline bench`) asks this module, so they all describe the same
sample and all stop at the same distance:

* the analysed frame nearest in frame number; on a tie, the earlier one;
* used only while its time is within `max_gap_s(period)` of the frame's own time: two sampling
  periods, at least half a second. Further away it would describe a different moment, and the
  frame is shown as "not analysed here".

`rule_text` states the rule in the words the overlay note uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from scrubline.core.results import FrameResult

# The case read from: a `core.case.Case` (its results carry the reviewer's corrections), or
# anything with the same `settings`, `frames_table`, `nearest_analysed` and `result_at`.
CaseStore = Any

N = TypeVar("N", int, float)

GAP_PERIODS = 2.0  # a sample describes frames up to two sampling periods away...
MIN_GAP_S = 0.5  # ...and never less than half a second (dense sampling, or an unknown rate)


def max_gap_s(period_s: float | None) -> float:
    """How far (seconds) from an analysed sample its results may still describe a frame."""
    period = float(period_s) if period_s is not None and math.isfinite(period_s) else 0.0
    return max(GAP_PERIODS * max(period, 0.0), MIN_GAP_S)


def rule_text(period_s: float | None) -> str:
    """The rule in words, for the overlay note and captions."""
    return f"the nearest analysed frame within {max_gap_s(period_s):.2g} s"


def pick(frame: float, before: N | None, after: N | None) -> N | None:
    """Of the analysed frames just before (or at) and just after `frame`, the nearer one; the
    earlier on a tie. The store's SQL lookup and the in-memory lookup both end here."""
    if before is None:
        return after
    if after is None:
        return before
    return before if frame - before <= after - frame else after


def nearest_row(frames: np.ndarray | Sequence[float], frame: float) -> int | None:
    """The row of the analysed frame nearest to `frame` in the ascending `frames` (frame numbers,
    or times when only times are known); None if there are none."""
    values = np.asarray(frames)
    if values.size == 0:
        return None
    right = int(np.searchsorted(values, frame, side="right"))  # first row after `frame`
    before = values[right - 1].item() if right > 0 else None
    after = values[right].item() if right < values.size else None
    return right - 1 if pick(frame, before, after) == before and before is not None else right


def within(result_time_s: float, frame_time_s: float, period_s: float | None) -> bool:
    """Whether a sample at `result_time_s` may describe the frame shown at `frame_time_s`."""
    return abs(float(frame_time_s) - float(result_time_s)) <= max_gap_s(period_s) + 1e-9


def case_period_s(store: CaseStore) -> float | None:
    """The sampling period of a case's analysis: from its plan's rate, else from the spacing of
    its analysed frames (the timeline's rule); None when nothing tells."""
    fps = float(store.settings.get("fps") or 0.0)
    if fps > 0:
        return 1.0 / fps
    times = store.frames_table()["time_s"].to_numpy(dtype=float)
    return float(np.median(np.diff(times))) if len(times) > 1 else None


class ResultsNear:
    """The results that describe each frame of one case, by the rule above; each analysed
    frame's results are read once (an exported clip asks for the same sample many times)."""

    def __init__(
        self, store: CaseStore, period_s: float | None = None, *, cache: bool = True
    ) -> None:
        self.store = store
        self.period_s = case_period_s(store) if period_s is None else period_s
        # Off for a case that an analysis may rewrite while it is read (the window's).
        self._cache: dict[int, FrameResult | None] | None = {} if cache else None

    @property
    def max_gap_s(self) -> float:
        return max_gap_s(self.period_s)

    def nearest(self, frame: int) -> FrameResult | None:
        """The nearest analysed frame's results, however far away (None: nothing analysed)."""
        analysed = self.store.nearest_analysed(int(frame))
        if analysed is None:
            return None
        if self._cache is None:
            return self.store.result_at(analysed)
        if analysed not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[analysed] = self.store.result_at(analysed)
        return self._cache[analysed]

    def near(self, frame: int, time_s: float) -> FrameResult | None:
        """The results that describe the frame `frame` shown at `time_s`, or None when the
        nearest analysed frame is further than the gap limit (or there is none)."""
        result = self.nearest(frame)
        if result is None or not within(result.time_s, time_s, self.period_s):
            return None
        return result
