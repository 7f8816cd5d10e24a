"""The one nearest-analysed-result rule: every reader (store, in-memory rows, the window's hover
line and overlay, exports) picks the same sample and stops at the same distance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core import nearest
from scrubline.core.results import FrameResult, Instrument
from scrubline.core.store import CaseStore
from scrubline.core.timeline import build_timeline


def test_gap_limit_is_two_periods_and_at_least_half_a_second() -> None:
    assert nearest.max_gap_s(0.4) == pytest.approx(0.8)
    assert nearest.max_gap_s(0.1) == pytest.approx(0.5)
    assert nearest.max_gap_s(None) == pytest.approx(0.5)
    assert nearest.max_gap_s(float("nan")) == pytest.approx(0.5)
    assert nearest.within(1.0, 1.8, 0.4) and not nearest.within(1.0, 1.81, 0.4)
    assert "within 0.8 s" in nearest.rule_text(0.4)


def test_nearest_row_takes_the_earlier_on_a_tie() -> None:
    frames = np.array([0, 4, 8])
    assert [nearest.nearest_row(frames, f) for f in (-3, 0, 1, 2, 3, 6, 7, 99)] == [
        0,
        0,
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    assert nearest.nearest_row(np.array([]), 3) is None
    assert nearest.nearest_row(np.array([0.0, 0.4]), 0.2) == 0  # times too


def _case(path: Path, analysed: list[int], fps_video: float = 10.0) -> CaseStore:
    store = CaseStore(path, create=True)
    store.write_results(
        [
            FrameResult(
                f,
                f / fps_video,
                [Instrument("grasper", 0.9, (1, 1, 9, 9), (9, 9), 0.9, f % 8 == 0)],
            )
            for f in analysed
        ]
    )
    store.set_meta("settings", {"fps": 2.5})
    return store


def test_hover_row_and_overlay_result_are_the_same_sample(tmp_path: Path) -> None:
    """At 2.5 analysed frames/s of a 10 fps video (every 4th frame), frame 3 is nearer the sample
    at frame 4 than at frame 0: the hover used to read the sample at or before the pointer (0)
    while the overlay drew the nearest (4)."""
    from scrubline.ui.navigation import sample_row_at

    frame_times = np.arange(100) / 10.0
    analysed = list(range(0, 60, 4))
    with _case(tmp_path / "c.scrub", analysed) as store:
        timeline = build_timeline(store)
        near = nearest.ResultsNear(store)
        assert near.period_s == pytest.approx(0.4)
        for frame in range(100):
            time_s = float(frame_times[frame]) + 0.03  # the pointer anywhere over the frame
            row = sample_row_at(timeline, time_s, frame_times)
            result = near.near(frame, float(frame_times[frame]))
            hovered = None if row is None else int(timeline.frames[row])
            drawn = None if result is None else result.frame
            assert hovered == drawn, frame
        assert int(timeline.frames[sample_row_at(timeline, 0.33, frame_times)]) == 4
        # Past the last sample (56) by more than two periods: nothing describes it.
        assert near.near(70, 7.0) is None and sample_row_at(timeline, 7.0, frame_times) is None
        assert near.near(64, 6.4).frame == 56  # 0.8 s: still within the limit


def test_store_and_rows_agree(tmp_path: Path) -> None:
    analysed = [0, 3, 7, 8, 20]
    with _case(tmp_path / "c.scrub", analysed) as store:
        for frame in range(-2, 25):
            row = nearest.nearest_row(np.array(analysed), frame)
            assert store.nearest_analysed(frame) == analysed[row]
