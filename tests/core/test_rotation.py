"""Rotated recordings (a phone or a camera head mounted on its side) are served upright, for
every quarter turn and not only 90°: the display matrix says by how many degrees to turn the
stored picture counter-clockwise (FFmpeg's convention, which its players follow), and
`VideoSource` turns it so, in `rgb()` with and without scaling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from scrubline.core.demo import read_frame_code
from scrubline.core.video import VideoSource


def _stored_pictures(path: Path) -> list[np.ndarray]:
    """The pictures as stored in the file, before any rotation."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_every_quarter_turn_is_served_upright(
    make_clip: Callable[..., Path], rotation: int
) -> None:
    path = make_clip(12, size=(320, 240), codec="libx264", gop=6, rotation=rotation)
    stored = _stored_pictures(path)
    turns = rotation // 90
    with VideoSource(path) as video:
        assert video.info.rotation == rotation
        upright_size = (240, 320) if turns % 2 else (320, 240)
        assert (video.info.width, video.info.height) == upright_size
        for index in (0, 5, 11, 3):
            picture = video.read(index).rgb()
            assert read_frame_code(stored[index]) == index
            assert np.array_equal(picture, np.rot90(stored[index], turns)), f"frame {index}"
            # Scaled in the same pass, to the upright size asked for.
            width, height = upright_size[0] // 2, upright_size[1] // 2
            small = video.read(index).rgb((width, height))
            assert small.shape == (height, width, 3)
            expected = np.rot90(stored[index][::2, ::2], turns).astype(int)
            assert np.abs(small.astype(int) - expected).mean() < 8
        # Sampled iteration turns its frames the same way.
        (sampled,) = [f for f in video.iter_frames([7])]
        assert np.array_equal(sampled.rgb(), np.rot90(stored[7], turns))


def test_a_180_degree_recording_is_not_mirrored(make_clip: Callable[..., Path]) -> None:
    """Upside down means both axes reversed: the frame-number strip, drawn along the stored
    picture's top from left to right, is at the bottom reading right to left."""
    path = make_clip(6, size=(320, 240), codec="libx264", rotation=180)
    with VideoSource(path) as video:
        picture = video.read(4).rgb()
    assert read_frame_code(picture[::-1, ::-1]) == 4
    assert read_frame_code(picture[::-1, :]) != 4 and read_frame_code(picture[:, ::-1]) != 4
