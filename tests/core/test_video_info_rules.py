"""What `VideoSource.info` says about a video: its frame rate, duration and whether the rate varies.

Timelines, sampling and the outcome's one-second bins are built on these numbers. Rules, in the
user's terms: a clip is constant-rate unless more than 5% of its frame intervals are more than a
quarter off the typical one (jitter and a few dropped frames are not a variable rate; dropped
frames are reported instead); a variable-rate clip's rate is its frames over its span; a clip's
duration runs to the end of its last frame, also for clips of one or two frames.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scrubline.core.demo import write_clip
from scrubline.core.video import VideoSource


def _info(path: Path) -> tuple[float, float, bool, int, list[str]]:
    with VideoSource(path) as video:
        info = video.info
        return (
            info.fps,
            info.duration_s,
            info.variable_frame_rate,
            info.frame_count,
            [p.message for p in video.problems],
        )


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_a_very_short_clip_lasts_to_the_end_of_its_last_frame(tmp_path: Path, frames: int) -> None:
    fps, duration, variable, count, problems = _info(
        write_clip(tmp_path / f"{frames}.mp4", frames, fps=25, gop=5, bframes=0)
    )
    assert (count, variable, problems) == (frames, False, [])
    assert fps == pytest.approx(25.0)
    assert duration == pytest.approx(frames / 25)


def _times(steps_ms: list[int]) -> list[float]:
    times, now = [0.0], 0
    for step in steps_ms:
        now += step
        times.append(now / 1000)
    return times


def test_jitter_of_a_quarter_frame_is_not_a_variable_rate(tmp_path: Path) -> None:
    """Every fifth interval 50 ms instead of 40 (exactly a quarter longer): constant rate."""
    steps = [50 if i % 5 == 4 else 40 for i in range(60)]
    fps, duration, variable, count, _ = _info(
        write_clip(tmp_path / "jitter.mp4", _times(steps), fps=25, gop=10, bframes=0)
    )
    assert (variable, count) == (False, 61)
    assert duration == pytest.approx(sum(steps) / 1000 + 0.040)


def test_five_percent_of_long_intervals_are_dropped_frames_more_are_a_variable_rate(
    tmp_path: Path,
) -> None:
    few = [80 if i % 20 == 19 else 40 for i in range(100)]  # exactly 5 of 100: dropped frames
    _, _, variable, count, problems = _info(
        write_clip(tmp_path / "dropped.mp4", _times(few), fps=25, gop=10, bframes=0)
    )
    assert (variable, count) == (False, 101)
    gaps = [sum(few[:i]) / 1000 for i in range(19, 100, 20)]  # where each long interval starts
    assert problems == [f"1 frame(s) missing after {t:.2f} s (damaged data)" for t in gaps]
    with VideoSource(tmp_path / "dropped.mp4") as video:
        assert [p.time_s for p in video.problems] == pytest.approx(gaps)

    many = [80 if i % 14 == 13 else 40 for i in range(100)]  # 7 of 100: a variable rate
    fps, duration, variable, count, problems = _info(
        write_clip(tmp_path / "variable.mp4", _times(many), fps=25, gop=10, bframes=0)
    )
    assert (variable, count, problems) == (True, 101, [])
    span = sum(many) / 1000
    assert fps == pytest.approx(100 / span)  # frames over their span, not the container's 25
    assert duration == pytest.approx(span + 0.040)


def test_a_variable_rate_clip_under_a_second_long_is_measured_over_its_span(tmp_path: Path) -> None:
    steps = [30, 50] * 8  # 16 intervals, 0.64 s
    fps, duration, variable, count, _ = _info(
        write_clip(tmp_path / "short-vfr.mp4", _times(steps), fps=25, gop=5, bframes=0)
    )
    assert (variable, count) == (True, 17)
    assert fps == pytest.approx(16 / 0.64)


def test_an_interval_of_one_and_a_half_frames_is_jitter_not_a_dropped_frame(tmp_path: Path) -> None:
    steps = [60 if i == 50 else 40 for i in range(100)]
    _, _, variable, _, problems = _info(
        write_clip(tmp_path / "jitter15.mp4", _times(steps), fps=25, gop=10, bframes=0)
    )
    assert (variable, problems) == (False, [])


def test_at_most_twenty_dropped_frames_are_reported(tmp_path: Path) -> None:
    steps = [80 if i % 21 == 20 else 40 for i in range(441)]  # 21 long intervals, 4.8 %
    _, _, variable, _, problems = _info(
        write_clip(tmp_path / "many-drops.mp4", _times(steps), fps=25, gop=25, bframes=0)
    )
    assert not variable
    assert len(problems) == 20 and problems[0].startswith("1 frame(s) missing after 0.80 s")


def _faststart_copy(source: Path, target: Path) -> Path:
    """The clip remuxed with its index (moov) first, as cameras that stream write it: a copy cut
    short still opens and still declares the whole length."""
    import av

    with (
        av.open(str(source)) as inp,
        av.open(str(target), mode="w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return target


def test_a_file_cut_short_is_read_up_to_the_cut_and_both_shortfalls_reported(
    tmp_path: Path,
) -> None:
    whole = _faststart_copy(
        write_clip(tmp_path / "whole.mp4", 100, fps=25, gop=10, bframes=0), tmp_path / "fs.mp4"
    )
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.55)])
    with VideoSource(cut) as video:
        count, duration = video.info.frame_count, video.info.duration_s
        assert 20 < count < 90
        assert [(p.time_s, p.message) for p in video.problems] == [
            (
                pytest.approx(duration),
                f"the container says the video lasts 4.0 s but frames end at {duration:.1f} s "
                "(the file may be truncated)",
            ),
            (
                pytest.approx(video.times[-1]),
                f"the container declares 100 frames but only {count} could be read "
                "(the file may be truncated)",
            ),
        ]


def test_a_whole_file_that_declares_its_length_is_not_called_truncated(tmp_path: Path) -> None:
    """The container's own count and length agree with what is read: nothing to report."""
    whole = _faststart_copy(
        write_clip(tmp_path / "whole.mp4", 100, fps=25, gop=100, bframes=0), tmp_path / "fs.mp4"
    )
    with VideoSource(whole) as video:
        assert video.problems == []


def test_the_info_names_the_container_and_the_file_size(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "plain.mkv", 10, fps=25, gop=5, bframes=0)
    with VideoSource(clip) as video:
        assert video.info.container == "matroska,webm"
        assert video.info.codec == "h264"
        assert video.info.size_bytes == clip.stat().st_size
