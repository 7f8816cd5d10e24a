"""Video access rules a user relies on without seeing them: sampling covers the first and the last
frame and whole seconds, an impossible rate or range is refused or empty, and a frame that cannot
be decoded is reported by its time while its stand-in still shows a picture.

Written for the survivors of mutation testing of `scrubline.core.video`
(`tests/mutation/run.sh video`): each test fails on mutants the earlier video tests let through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.video import VideoSource, fingerprint
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


def _bytes(count: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, count, dtype=np.uint8).tobytes()


def test_the_fingerprint_of_a_video_never_changes_so_earlier_cases_still_find_it(
    tmp_path: Path,
) -> None:
    """Cases are found by fingerprint: a new way of computing it would orphan every case made
    before. These values are the ones Scrubline has always given for these bytes."""
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(_bytes(1000, 1))
    large.write_bytes(_bytes(3 * 2**20 + 5, 2))
    assert fingerprint(small) == "1810362a0a2cbc9ea1400e70"
    assert fingerprint(large) == "30ae1c8005a2a5ce3642a5ee"


def test_a_change_in_the_first_middle_or_last_mebibyte_is_a_different_video(
    tmp_path: Path,
) -> None:
    size, mib = 3 * 2**20 + 5, 2**20
    original = _bytes(size, 2)
    path = tmp_path / "v.bin"
    path.write_bytes(original)
    before = fingerprint(path)
    # The first byte, both ends of the middle MiB, the last byte: each is seen.
    for where in (0, size // 2 - mib // 2, size // 2 + mib // 2 - 1, size - 1):
        changed = bytearray(original)
        changed[where] ^= 0xFF
        path.write_bytes(bytes(changed))
        assert fingerprint(path) != before, where
