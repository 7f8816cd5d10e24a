"""Sequential decoding for the analysis: `iter_frames`, its `on_decoded` hook and `decode_through`.

The analysis decodes a video once, front to back: the sampled frames come out of `iter_frames`,
and every frame decoded on the way (the ones between samples, which the codec needs anyway) goes
to `on_decoded`, from which the scrub proxy is written; `decode_through` carries that on past the
last sample to the end of the analysed range, so scrubbing to the very end stays quick. What the
user relies on: the proxy gets every frame once, in order, each with its own number and picture,
and nothing past the range; a sampled frame that does not decode is reported and skipped without
losing the frames around it. Each generated frame carries its number (`read_frame_code`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scrubline.core.demo import read_frame_code, write_clip
from scrubline.core.video import VideoSource
from tests.core.test_video_seek_rules import _data_ends_after


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(
        tmp_path_factory.mktemp("iterate") / "numbered.mp4", 100, fps=25, gop=25, bframes=2
    )


def _code(av_frame: Any) -> int:
    return read_frame_code(av_frame.to_ndarray(format="rgb24"))


def test_every_decoded_frame_reaches_the_proxy_once_in_order_with_its_own_picture(
    numbered: Path,
) -> None:
    seen: list[tuple[int, int]] = []
    with VideoSource(numbered) as video:
        frames = list(video.iter_frames([10, 20, 30], lambda i, f: seen.append((i, _code(f)))))
    assert [(f.index, f.exact, read_frame_code(f.rgb())) for f in frames] == [
        (10, True, 10),
        (20, True, 20),
        (30, True, 30),
    ]
    assert seen == [(i, i) for i in range(0, 31)]  # from the key frame before 10, through 30


def test_decode_through_carries_the_proxy_on_to_the_end_of_the_range_and_no_further(
    numbered: Path,
) -> None:
    seen: list[int] = []
    with VideoSource(numbered) as video:
        pictures: list[tuple[int, int]] = []
        frames = list(video.iter_frames([10, 20], lambda i, f: pictures.append((i, _code(f))), 27))
        assert [f.index for f in frames] == [10, 20]
        assert pictures == [(i, i) for i in range(0, 28)]
        # The range ending on the last sample: nothing more is decoded.
        video.forget()
        seen.clear()
        list(video.iter_frames([20, 27], lambda i, f: seen.append(i), decode_through=27))
        assert seen == list(range(0, 28))
        # Past the end of the video: up to its last frame.
        video.forget()
        seen.clear()
        list(video.iter_frames([90], lambda i, f: seen.append(i), decode_through=500))
        assert seen == list(range(75, 100))


def test_decode_through_without_a_hook_decodes_nothing_more(numbered: Path) -> None:
    with VideoSource(numbered) as video:
        frames = list(video.iter_frames([10, 20], None, decode_through=60))
        assert [f.index for f in frames] == [10, 20]
        assert video._last_decoded == 20


def _frames_lost(monkeypatch: pytest.MonkeyPatch, lost: set[int]) -> None:
    """Decoding drops the frames `lost` (they never come out)."""
    decode_frames = VideoSource._decode_frames

    def lossy(self: VideoSource) -> Iterator[Any]:
        pts = [int(p) for p in self._index.pts]
        for av_frame in decode_frames(self):
            if pts.index(int(av_frame.pts)) not in lost:
                yield av_frame

    monkeypatch.setattr(VideoSource, "_decode_frames", lossy)


def test_a_sample_that_does_not_decode_is_reported_and_the_next_one_is_kept(
    numbered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames_lost(monkeypatch, {11, 40})
    with VideoSource(numbered) as video:
        frames = list(video.iter_frames([11, 12, 40]))
        assert [(f.index, f.exact, read_frame_code(f.rgb())) for f in frames] == [(12, True, 12)]
        assert [(p.time_s, p.message) for p in video.problems] == [
            (pytest.approx(11 / 25), "frame 11 is undecodable; skipped"),
            (pytest.approx(40 / 25), "frame 40 is undecodable; skipped"),
        ]


def test_samples_past_the_end_of_the_readable_data_are_each_reported(
    numbered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _data_ends_after(monkeypatch, 45)
    with VideoSource(numbered) as video:
        frames = list(video.iter_frames([40, 60, 80]))
        assert [f.index for f in frames] == [40]
        assert [(p.time_s, p.message) for p in video.problems] == [
            (pytest.approx(60 / 25), "frame 60 could not be read (end of readable data)"),
            (pytest.approx(80 / 25), "frame 80 could not be read (end of readable data)"),
        ]


def test_damage_is_cleared_only_by_a_key_frame_sent_after_the_latest_damage(
    numbered: Path,
) -> None:
    """The decoding time of the latest damage is what a clean key frame must come after: damage
    met out of order does not move it back, and damage without a decoding time keeps it."""
    with VideoSource(numbered) as video:
        video._taint(500)
        assert (video._tainted, video._damage_dts) == (True, 500)
        video._taint(300)
        assert video._damage_dts == 500
        video._taint(None)
        assert video._damage_dts == 500
        video._taint(900)
        assert video._damage_dts == 900
        video._tainted, video._damage_dts = False, None
        video._taint(None)
        assert (video._tainted, video._damage_dts) == (True, None)
        video._taint(40)
        assert video._damage_dts == 40
        np.testing.assert_array_equal(video._index.keyframes, [0, 25, 50, 75])


def test_the_frame_cache_keeps_the_most_recent_frames_that_fit_its_budget(numbered: Path) -> None:
    """Decoded frames are kept for quick steps back, within a memory budget: a 320x240 frame in
    YUV 4:2:0 takes 115,200 bytes, so 1 MiB holds the 9 most recent ones."""
    with VideoSource(numbered, cache_mb=1) as video:
        for index in range(40):
            video.read(index)
        assert list(video._cache) == list(range(31, 40))
        assert video._cache_bytes == 9 * 320 * 240 * 3 // 2
        video.read(33)  # a frame read again becomes the most recent
        video.read(40)
        assert list(video._cache) == [32, 34, 35, 36, 37, 38, 39, 33, 40]  # 31 went first


def test_the_newest_frame_stays_cached_even_past_the_budget_and_a_full_budget_is_kept(
    tmp_path: Path,
) -> None:
    """With no budget at all the frame just decoded is still kept (a stand-in for a neighbour
    that does not decode needs it); a budget filled exactly is not over it: 3 MiB hold exactly
    64 frames of 256x128 (49,152 bytes each)."""
    clip = write_clip(tmp_path / "small.mp4", 70, fps=25, size=(256, 128), gop=70, bframes=0)
    with VideoSource(clip, cache_mb=0) as video:
        video.read(5)
        assert list(video._cache) == [5]
    with VideoSource(clip, cache_mb=3) as video:
        for index in range(64):
            video.read(index)
        assert len(video._cache) == 64 and video._cache_bytes == 3 << 20
        video.read(64)
        assert list(video._cache)[0] == 1


def _inject(monkeypatch: pytest.MonkeyPatch, after: int, extra: Any) -> None:
    """Decoding hands over `extra(video, frame)` right after frame `after` (once per pass)."""
    decode_frames = VideoSource._decode_frames

    def with_extra(self: VideoSource) -> Iterator[Any]:
        for av_frame in decode_frames(self):
            yield av_frame
            if int(av_frame.pts) == int(self._index.pts[after]):
                yield extra(self, av_frame)

    monkeypatch.setattr(VideoSource, "_decode_frames", with_extra)


def test_a_decoded_frame_that_cannot_be_placed_is_dropped_and_decoding_goes_on(
    numbered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame whose timestamp the index does not know (after the file was opened and trusted)
    is dropped: the frames after it keep their own numbers."""
    from types import SimpleNamespace

    def unknown(video: VideoSource, frame: Any) -> SimpleNamespace:
        stamp = int(video._index.pts[-1]) + 10_000
        return SimpleNamespace(pts=stamp, dts=None, key_frame=False, is_corrupt=False)

    seen: list[int] = []
    with VideoSource(numbered) as video:
        _inject(monkeypatch, 5, unknown)
        frames = list(video.iter_frames([3, 10], lambda i, f: seen.append(i)))
        assert [(f.index, f.exact, read_frame_code(f.rgb())) for f in frames] == [
            (3, True, 3),
            (10, True, 10),
        ]
        assert seen == list(range(0, 11))


def test_a_frame_the_decoder_hands_over_twice_reaches_the_proxy_once(
    numbered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    with VideoSource(numbered) as video:
        _inject(monkeypatch, 5, lambda video, f: f)
        list(video.iter_frames([3, 10], lambda i, f: seen.append(i)))
    assert seen == list(range(0, 11))


def test_a_frame_decoded_cleanly_again_is_no_longer_marked_damaged(
    numbered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decode_frames = VideoSource._decode_frames

    def damaged(self: VideoSource) -> Iterator[Any]:
        for av_frame in decode_frames(self):
            self._tainted = True  # as after concealed damage
            yield av_frame

    with VideoSource(numbered, cache_mb=64) as video:
        monkeypatch.setattr(VideoSource, "_decode_frames", damaged)
        assert video.read(5).damaged
        monkeypatch.undo()
        video._decoder = None  # the next read decodes group 0 again, cleanly
        video._last_decoded = -1
        frame = video.read(6)
        assert not frame.damaged
        assert not video.read(5).damaged  # re-decoded on the way: its mark is gone


def test_frames_asked_for_outside_the_video_are_its_first_and_last(numbered: Path) -> None:
    with VideoSource(numbered) as video:
        assert (video.read(150).index, read_frame_code(video.read(150).rgb())) == (99, 99)
        assert (video.read(-5).index, read_frame_code(video.read(-5).rgb())) == (0, 0)


def test_model_inputs_are_shrunk_by_area_averaging_not_by_picking_pixels(tmp_path: Path) -> None:
    """A fine stripe pattern shrunk four times becomes an even grey (area averaging), where
    picking pixels would keep stripes: the models see the scene, not aliasing."""

    def stripes(index: int, time_s: float) -> np.ndarray:
        image = np.zeros((240, 320, 3), np.uint8)
        image[:, ::2] = 255
        return image

    clip = write_clip(tmp_path / "stripes.mp4", 2, fps=25, draw=stripes, bit_rate=8_000_000)
    with VideoSource(clip) as video:
        small = video.read(0).rgb((80, 60)).astype(float)
    assert small.std() < 12 and 100 < small.mean() < 155


def test_a_sound_track_is_not_indexed_as_video(tmp_path: Path) -> None:
    """Theatre recorders often add an audio track: only the video stream's frames are indexed."""
    import av

    path = tmp_path / "with-sound.mp4"
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        samples = np.zeros((1, 1024), np.float32)
        for index in range(50):
            from scrubline.core.demo import _numbered_pattern

            picture = av.VideoFrame.from_ndarray(_numbered_pattern(index, 320, 240), format="rgb24")
            picture.pts = index
            for packet in video.encode(picture):
                container.mux(packet)
            for _ in range(2):
                sound = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                sound.sample_rate = 48000
                for packet in audio.encode(sound):
                    container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    with VideoSource(path) as source:
        assert source.info.frame_count == 50
        assert read_frame_code(source.read(49).rgb()) == 49
