"""Video access rules a user relies on without seeing them: sampling covers the first and the last
frame and whole seconds, an impossible rate or range is refused or empty, and a frame that cannot
be decoded is reported by its time while its stand-in still shows a picture.

Written for the survivors of mutation testing of `scrubline.core.video`
(`tests/mutation/run.sh video`): each test fails on mutants the earlier video tests let through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.video import VideoSource
from tests.core.test_video import damaged_clip


def test_sampling_covers_the_first_and_the_last_frame_and_whole_seconds(
    clips: dict[str, Path],
) -> None:
    with VideoSource(clips["cfr"]) as video:  # 120 frames at 25 fps
        every = video.sample_indices(25.0)
        assert every.dtype == np.int64 and every.tolist() == list(range(120))
        assert video.sample_indices(1.0).tolist() == [0, 25, 50, 75, 100]
        empty = video.sample_indices(1.0, start_s=4.0, end_s=3.0)
        assert empty.dtype == np.int64 and empty.shape == (0,)
        for rate in (0.0, -1.0):
            with pytest.raises(ValueError, match="^sampling rate must be positive$"):
                video.sample_indices(rate)


def test_a_frame_that_cannot_be_decoded_is_reported_and_its_stand_in_shows(
    tmp_path: Path,
) -> None:
    _clean, damaged = damaged_clip(tmp_path)
    with VideoSource(damaged, cache_mb=1) as video:
        stand_ins = []
        for index in range(video.frame_count):
            frame = video.read(index)
            if frame.exact:
                continue
            stand_ins.append(index)
            assert frame.index != index
            assert frame.rgb().ndim == 3  # a picture, not an empty placeholder
            problem = video.problems[-1]
            assert problem.message == f"frame {index} is undecodable"
            assert problem.time_s == pytest.approx(video.time_of(index))
        assert stand_ins, "the damaged clip has no undecodable frame"
