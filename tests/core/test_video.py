"""VideoSource: metadata, frame-exact random access on the three clip kinds, sequential
sampling, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.demo import read_frame_code, write_clip
from scrubline.core.video import VideoError, VideoSource, fingerprint


@pytest.mark.parametrize("kind", ["cfr", "long_gop", "vfr", "avi"])
def test_random_access_is_frame_exact(clips: dict[str, Path], kind: str) -> None:
    with VideoSource(clips[kind]) as video:
        order = np.random.default_rng(1).integers(0, video.frame_count, 40)
        for index in [0, video.frame_count - 1, *order.tolist(), 3, 2, 1]:
            frame = video.read(int(index))
            assert frame.exact and frame.index == index
            assert read_frame_code(frame.rgb()) == index


@pytest.mark.parametrize("kind", ["cfr", "long_gop", "vfr"])
def test_access_by_time_returns_the_frame_on_screen(clips: dict[str, Path], kind: str) -> None:
    with VideoSource(clips[kind]) as video:
        times = video.times
        for index in (0, 7, len(times) // 2, len(times) - 1):
            # Any instant inside a frame's display interval shows that frame.
            inside = times[index] + (
                0.4 * (times[index + 1] - times[index]) if index + 1 < len(times) else 0.001
            )
            frame = video.read_at(float(inside))
            assert frame.index == index
            assert read_frame_code(frame.rgb()) == index
            assert video.index_at(float(times[index])) == index


def test_metadata(clips: dict[str, Path]) -> None:
    with VideoSource(clips["long_gop"]) as video:
        info = video.info
        assert info.frame_count == 320
        assert info.fps == pytest.approx(30.0)
        assert info.duration_s == pytest.approx(320 / 30, abs=1e-3)
        assert (info.width, info.height) == (320, 240)
        assert info.codec == "h264"
        assert info.rotation == 0
        assert not info.variable_frame_rate
        assert len(info.fingerprint) == 24 and int(info.fingerprint, 16) >= 0
        assert info.fingerprint != fingerprint(clips["cfr"])  # other content, other fingerprint
        assert info.name == "long_gop.mp4"


def test_variable_frame_rate_timestamps_are_kept(clips: dict[str, Path]) -> None:
    with VideoSource(clips["vfr"]) as video:
        assert video.info.variable_frame_rate
        steps = np.diff(video.times)
        assert steps.min() < 0.02 and steps.max() > 0.05
        assert video.frame_count == 180


def test_rotation_metadata_turns_frames_upright(make_clip) -> None:
    path = make_clip(10, size=(320, 240), codec="libx264", rotation=90)
    with VideoSource(path) as video:
        assert video.info.rotation in (90, 270)
        assert (video.info.width, video.info.height) == (240, 320)
        assert video.read(3).rgb().shape == (320, 240, 3)
        assert video.read(3).rgb((120, 160)).shape == (160, 120, 3)


def test_sampled_iteration_decodes_sequentially(
    clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeks: list[int] = []
    original = VideoSource._seek_to

    def counting(self: VideoSource, keyframe_index: int) -> None:
        seeks.append(keyframe_index)
        original(self, keyframe_index)

    with VideoSource(clips["long_gop"]) as video:
        expected = video.sample_indices(5.0)
        seeks.clear()
        monkeypatch.setattr(VideoSource, "_seek_to", counting)
        got = [(f.index, read_frame_code(f.rgb())) for f in video.iter_frames(expected)]
    assert [i for i, _ in got] == expected.tolist()
    assert all(i == code for i, code in got)
    assert len(expected) == 54  # 10.67 s at 5 fps
    assert len(seeks) <= 1  # one seek to the start, none per sample


def test_sampling_range_and_resize(clips: dict[str, Path]) -> None:
    with VideoSource(clips["cfr"]) as video:
        indices = video.sample_indices(2.0, start_s=1.0, end_s=3.0)
        assert indices.tolist() == [25, 37, 50, 62]
        frames = list(video.iter_frames(indices))
        assert frames[0].rgb((64, 48)).shape == (48, 64, 3)


def test_vfr_sampling_goes_by_time(clips: dict[str, Path]) -> None:
    with VideoSource(clips["vfr"]) as video:
        for frame in video.iter_frames(video.sample_indices(4.0)):
            instant = round(frame.time_s * 4) / 4
            # the sampled frame is the one on screen at its sampling instant
            assert video.index_at(instant) == frame.index or frame.time_s <= instant + 0.08


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        VideoSource(tmp_path / "nothing.mp4")


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4.*empty"):
        VideoSource(empty)


def test_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("surgical notes, not a video\n" * 100)
    with pytest.raises(VideoError, match=r"notes\.mp4: not a video"):
        VideoSource(text)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="folder"):
        VideoSource(tmp_path)


def test_truncated_mp4_is_refused_clearly(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["long_gop"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4.*truncated"):
        VideoSource(cut)


def test_truncated_mkv_keeps_what_is_readable(tmp_path: Path) -> None:
    whole = write_clip(tmp_path / "whole.mkv", 150, fps=30, gop=30)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with VideoSource(cut) as video:
        assert 20 < video.frame_count < 150
        assert any("truncated" in p.message for p in video.problems)
        frames = list(video.iter_frames(range(video.frame_count)))
        assert len(frames) >= video.frame_count - 2
        assert all(read_frame_code(f.rgb()) == f.index for f in frames[:10])


def _damage_middle(path: Path, target: Path) -> Path:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = (
        np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    )
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_corrupt_middle_is_skipped_and_reported(tmp_path: Path, suffix: str) -> None:
    whole = write_clip(tmp_path / f"whole{suffix}", 150, fps=30, gop=30)
    damaged = _damage_middle(whole, tmp_path / f"damaged{suffix}")
    with VideoSource(damaged) as video:
        frames = list(video.iter_frames(range(video.frame_count)))
        assert video.problems, "damage must be reported"
        assert 100 < len(frames) < 150
        # Frames after the damage are still the right ones, by time.
        late = [f for f in frames if f.time_s > 4.0]
        assert late and all(read_frame_code(f.rgb()) == round(f.time_s * 30) for f in late)
        # Random access into and beyond the damage serves the asked-for frame, or says that it
        # could not: a stand-in is marked not exact, lies within one group of pictures and is
        # reported by number.
        asked = range(0, video.frame_count, 7)
        served = [video.read(index) for index in asked]
        for index, frame in zip(asked, served, strict=True):
            if frame.exact:
                assert frame.index == index
                assert read_frame_code(frame.rgb()) == round(frame.time_s * 30), f"frame {index}"
            else:
                assert frame.index != index and abs(frame.index - index) <= 30
                assert any(f"frame {index} is undecodable" in p.message for p in video.problems)
        assert sum(f.exact for f in served) >= len(served) - 3


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "voice.mka"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(VideoError, match="no video stream"):
        VideoSource(path)


# ---------------------------------------------------------------------------- every frame, exactly
def _assert_every_read_is_exact(path: Path, order: list[int]) -> None:
    # A small cache, so that most reads decode (a large one would answer from memory).
    with VideoSource(path, cache_mb=1) as video:
        assert sorted(order) == list(range(video.frame_count))
        for index in order:
            frame = video.read(index)
            assert frame.exact and frame.index == index, f"read({index}) gave frame {frame.index}"
            assert read_frame_code(frame.rgb()) == index, (
                f"read({index}) shows frame {read_frame_code(frame.rgb())}"
            )


@pytest.mark.parametrize(
    ("suffix", "codec", "gop"),
    [
        (".mp4", "libx264", 40),
        (".ts", "libx264", 40),
        (".mpg", "mpeg2video", 15),
        (".mkv", "libx264", 40),
    ],
)
def test_every_frame_read_forward_backward_and_at_random_is_the_one_asked_for(
    tmp_path: Path, suffix: str, codec: str, gop: int
) -> None:
    """Every frame served by `read(i)` carries the number drawn into frame i, for all i of a
    long-GOP clip with B-frames, read forward, backward and in random order."""
    path = write_clip(tmp_path / f"numbered{suffix}", 100, fps=25, codec=codec, gop=gop, bframes=2)
    forward = list(range(100))
    _assert_every_read_is_exact(path, forward)
    _assert_every_read_is_exact(path, forward[::-1])
    _assert_every_read_is_exact(path, np.random.default_rng(7).permutation(100).tolist())


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".ts", "libx264"), (".mpg", "mpeg2video"), (".ts", "mpeg2video")]
)
def test_mpeg_ts_and_ps_frames_before_the_second_key_frame_are_read(
    tmp_path: Path, suffix: str, codec: str
) -> None:
    """MPEG-TS/PS demuxers seek by decoding time: asked for the first key frame by its
    presentation time they land on the second one, and the first group of pictures was lost."""
    path = write_clip(tmp_path / f"broadcast{suffix}", 90, fps=30, codec=codec, gop=30, bframes=2)
    with VideoSource(path) as video:
        assert video.frame_count == 90
        frames = list(video.iter_frames(range(90)))
        assert [f.index for f in frames] == list(range(90))
        assert all(read_frame_code(f.rgb()) == f.index for f in frames)
        assert not video.problems
        first = video.read(0)
        assert first.exact and read_frame_code(first.rgb()) == 0
    # The saved index remembers how this file seeks.
    with VideoSource(path) as video:
        saved = video.saved_index()
    with VideoSource(path, index=saved) as video:
        assert read_frame_code(video.read(5).rgb()) == 5


def _moving_scene(index: int, _time_s: float) -> np.ndarray:
    """Texture that moves every frame, so that P-frames carry data and damage shows."""
    from scrubline.core.demo import draw_frame_code

    image = np.full((240, 320, 3), 90, np.uint8)
    image[40:, :, 0] = (np.arange(320) * 2 + 5 * index) % 256
    image[40:, :, 2] = (np.arange(200)[:, None] * 3 + 2 * index) % 256
    image[100:180, (2 * index) % 240 : (2 * index) % 240 + 80, 1] = 255
    draw_frame_code(image, index)
    return image


def damaged_clip(folder: Path, suffix: str = ".mp4") -> tuple[Path, Path]:
    """A clean clip and a copy with 2 000 random bytes in the middle of the file."""
    clean = write_clip(
        folder / f"clean{suffix}",
        150,
        fps=30,
        codec="libx264",
        gop=60,
        bframes=2,
        draw=_moving_scene,
    )
    data = bytearray(clean.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = (
        np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    )
    damaged = (
        folder / f"clip-with-bad-bytes{suffix}"
    )  # a name no message word matches (privacy scrub)
    damaged.write_bytes(bytes(data))
    return clean, damaged


def visibly_broken(clean: Path, damaged: Path) -> set[int]:
    """Frames of `damaged` whose picture differs from the clean clip's (by time)."""
    with VideoSource(clean) as video:
        reference = {
            f.index: f.rgb().astype(np.int16) for f in video.iter_frames(range(video.frame_count))
        }
    with VideoSource(damaged) as video:
        return {
            f.index
            for f in video.iter_frames(range(video.frame_count))
            if np.abs(reference[round(f.time_s * 30)] - f.rgb()).mean() > 3.0
        }


@pytest.mark.parametrize("suffix", [".mp4", ".ts"])
def test_frames_decoded_from_damaged_data_are_flagged(tmp_path: Path, suffix: str) -> None:
    clean, damaged = damaged_clip(tmp_path, suffix)
    broken = visibly_broken(clean, damaged)
    assert len(broken) > 10  # the damage is real and propagates until the next key frame
    with VideoSource(damaged) as video:
        iterated = {f.index for f in video.iter_frames(range(video.frame_count)) if f.damaged}
    assert broken <= iterated
    assert len(iterated - broken) <= 8  # frames decoded just before the damage showed up
    with VideoSource(damaged, cache_mb=1) as video:
        for index in sorted(broken)[::5]:
            assert video.read(index).damaged


def test_a_damaged_frame_is_never_passed_off_as_another(tmp_path: Path) -> None:
    """Where a frame cannot be decoded, `read` may stand a neighbour in, but never as exact, and
    sampled iteration never yields a frame under another frame's number."""
    clean, damaged = damaged_clip(tmp_path)
    with VideoSource(damaged, cache_mb=1) as video:
        for index in range(video.frame_count):
            frame = video.read(index)
            if frame.exact:
                assert frame.index == index
                if not frame.damaged:
                    assert read_frame_code(frame.rgb()) == round(frame.time_s * 30)
        for frame in video.iter_frames(range(video.frame_count)):
            if not frame.damaged:
                assert read_frame_code(frame.rgb()) == round(frame.time_s * 30)
