"""Frame-exact reading where the demuxer or the data misbehave, on generated clips.

Real recordings sometimes make the demuxer land after the key frame asked for (MPEG-TS/PS seek by
decoding time, a damaged key frame, an open GOP), end before the frames their index lists, or
carry timestamps that do not describe display order. Generated clips never do, so these tests
make a clip's demuxer or data misbehave in exactly those ways (by wrapping the two places where
`VideoSource` talks to FFmpeg) and check what the user relies on: the frame served for `read(i)`
is frame i, or it is marked not exact and the problem is reported; never another frame passed
off as the one asked for. Each frame carries its number drawn into it (`read_frame_code`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from scrubline.core.demo import read_frame_code, write_clip
from scrubline.core.video import VideoError, VideoSource

FRAMES, GOP = 150, 25  # six groups of pictures: key frames at 0, 25, ..., 125
_SEEK_TO = VideoSource._seek_to  # the real one, before any test wraps it


@pytest.fixture(scope="module")
def numbered_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(
        tmp_path_factory.mktemp("seek") / "numbered.mp4", FRAMES, fps=25, gop=GOP, bframes=2
    )


def _next_key(video: VideoSource, keyframe_index: int) -> int:
    keys = video._index.keyframes
    at = bisect.bisect_right(keys, keyframe_index)
    return int(keys[at]) if at < len(keys) else keyframe_index


def _land_on(video: VideoSource, keyframe_index: int) -> None:
    """Position the demuxer exactly on a key frame (by its presentation time, which lands there
    on this clip), whichever way the source believes it is seeking."""
    by_dts = video._seek_by_dts
    video._seek_by_dts = False
    try:
        _SEEK_TO(video, keyframe_index)
    finally:
        video._seek_by_dts = by_dts


def _always_late(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The demuxer lands one key frame late whichever way it is asked (a damaged key frame, an
    open GOP); returns the list of key frames asked for, in order."""
    asked: list[int] = []

    def always_late(self: VideoSource, keyframe_index: int) -> None:
        asked.append(keyframe_index)
        _land_on(self, _next_key(self, keyframe_index))

    monkeypatch.setattr(VideoSource, "_seek_to", always_late)
    return asked


def _assert_exact(video: VideoSource, indices: list[int]) -> None:
    for index in indices:
        video.forget()  # a cold read: every one seeks
        frame = video.read(index)
        assert (frame.index, frame.exact) == (index, True), f"asked for {index}"
        assert read_frame_code(frame.rgb()) == index, f"asked for {index}"


# ---------------------------------------------------------------------------------------------
# A demuxer that lands after the key frame asked for


def test_the_clip_has_key_frames_decoded_before_they_are_shown(numbered_mp4: Path) -> None:
    """Guards the retry-by-decoding-time test: it needs key frames whose decoding time comes
    before their presentation time (B-frames), as in recorders' H.264."""
    with VideoSource(numbered_mp4) as video:
        assert not video._ordinal and not video._seek_by_dts
        assert video._index.keyframes.tolist() == list(range(0, FRAMES, GOP))
        assert all(
            int(video._index.key_dts[k]) < int(video._index.pts[key])
            for k, key in enumerate(video._index.keyframes.tolist())
            if key
        )


def test_a_demuxer_that_seeks_late_by_presentation_time_is_asked_by_decoding_time(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like MPEG-TS/PS: asked for a key frame by its presentation time it lands on the next one;
    asked by decoding time it lands in time. Every frame is still the one asked for, and the
    source keeps seeking by decoding time (it landed in time that way)."""
    seek_to = VideoSource._seek_to
    seeks: list[tuple[int, bool]] = []

    def late_by_presentation_time(self: VideoSource, keyframe_index: int) -> None:
        seeks.append((keyframe_index, self._seek_by_dts))
        seek_to(self, keyframe_index if self._seek_by_dts else _next_key(self, keyframe_index))

    with VideoSource(numbered_mp4) as video:
        monkeypatch.setattr(VideoSource, "_seek_to", late_by_presentation_time)
        _assert_exact(video, [60])
        assert video._seek_by_dts
        assert seeks == [(50, False), (50, True)]  # the same key frame, asked the other way
        _assert_exact(video, [130, 26, 24, 149, 0, 99, 100, 101])


def test_landing_by_decoding_time_exactly_on_the_target_counts_as_in_time(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked for key frame 75 itself: by decoding time the demuxer lands exactly on it, which is
    in time (not one more key frame back), and decoding time is kept."""
    asked: list[int] = []

    def late_by_presentation_time(self: VideoSource, keyframe_index: int) -> None:
        asked.append(keyframe_index)
        _land_on(self, keyframe_index if self._seek_by_dts else _next_key(self, keyframe_index))

    with VideoSource(numbered_mp4) as video:
        monkeypatch.setattr(VideoSource, "_seek_to", late_by_presentation_time)
        _assert_exact(video, [75])
        assert asked == [75, 75] and video._seek_by_dts


def test_one_damaged_key_frame_does_not_make_the_reader_forget_decoding_time_seeks(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once seeking by decoding time has proved right, a key frame that is landed past whichever
    way it is asked (damaged) sends the reader one key frame back, without asking the damaged
    one again or going back to presentation-time seeks."""
    asked: list[int] = []

    def late_by_presentation_time_and_at_100(self: VideoSource, keyframe_index: int) -> None:
        asked.append(keyframe_index)
        late = not self._seek_by_dts or keyframe_index == 100
        _land_on(self, _next_key(self, keyframe_index) if late else keyframe_index)

    with VideoSource(numbered_mp4) as video:
        monkeypatch.setattr(VideoSource, "_seek_to", late_by_presentation_time_and_at_100)
        _assert_exact(video, [30])
        assert video._seek_by_dts
        asked.clear()
        _assert_exact(video, [110])
        assert asked == [100, 75] and video._seek_by_dts


def test_no_data_where_decoding_time_lands_fails_with_the_frame_number(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late by presentation time, and nothing decodes where decoding time lands: a clear error
    naming the frame, not an exception from deep inside."""
    seek_to, decode_frames = VideoSource._seek_to, VideoSource._decode_frames

    def late_by_presentation_time(self: VideoSource, keyframe_index: int) -> None:
        seek_to(self, keyframe_index if self._seek_by_dts else _next_key(self, keyframe_index))

    def nothing_by_decoding_time(self: VideoSource) -> Iterator[Any]:
        return iter(()) if self._seek_by_dts else decode_frames(self)

    with VideoSource(numbered_mp4) as video:
        monkeypatch.setattr(VideoSource, "_seek_to", late_by_presentation_time)
        monkeypatch.setattr(VideoSource, "_decode_frames", nothing_by_decoding_time)
        video.forget()
        with pytest.raises(VideoError, match="frame 60 could not be decoded"):
            video.read(60)


def test_nothing_decoding_from_the_reopened_start_fails_with_the_frame_number(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Landing late even at the first key frame, the reader reopens the file; if nothing decodes
    from there either, the read fails with the frame's number."""
    decode_frames, rewind = VideoSource._decode_frames, VideoSource._rewind
    reopened: list[bool] = []

    def reopen(self: VideoSource) -> None:
        rewind(self)
        reopened.append(True)

    def nothing_after_reopening(self: VideoSource) -> Iterator[Any]:
        return iter(()) if reopened else decode_frames(self)

    with VideoSource(numbered_mp4) as video:
        _always_late(monkeypatch)
        monkeypatch.setattr(VideoSource, "_rewind", reopen)
        monkeypatch.setattr(VideoSource, "_decode_frames", nothing_after_reopening)
        video.forget()
        with pytest.raises(VideoError, match="frame 10 could not be decoded"):
            video.read(10)
        assert reopened == [True]


def test_key_frames_shown_when_decoded_are_not_asked_for_by_decoding_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without B-frames a key frame's decoding and presentation times agree, so asking by
    decoding time would land in the same place: a late landing goes one key frame back at once."""
    clip = write_clip(tmp_path / "no-b-frames.mp4", 100, fps=25, gop=GOP, bframes=0)

    with VideoSource(clip) as video:
        assert all(
            int(video._index.key_dts[k]) == int(video._index.pts[key])
            for k, key in enumerate(video._index.keyframes.tolist())
            if key
        )
        asked = _always_late(monkeypatch)
        _assert_exact(video, [60])
        assert asked == [50, 25]


def test_a_demuxer_that_always_lands_a_key_frame_late_is_asked_for_earlier_ones(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late whichever way it is asked (a damaged key frame, an open GOP): the reader goes back one
    key frame per attempt, and from the first group reopens the file; decoding time did not help,
    so it is not kept."""

    with VideoSource(numbered_mp4) as video:
        asked = _always_late(monkeypatch)
        _assert_exact(video, [80])
        assert asked == [75, 75, 50]  # by presentation time, by decoding time, one key earlier
        assert not video._seek_by_dts
        asked.clear()
        _assert_exact(video, [30])  # 25 lands at 50; 0 lands at 25, in time for 30
        assert asked == [25, 25, 0]
        asked.clear()
        _assert_exact(video, [10])  # 0 lands at 25 both ways: the file is reopened
        assert asked == [0, 0]
        _assert_exact(video, [10, 0, 24, 49, 74, 149, 148, 125, 126])


def test_after_three_late_landings_a_frame_past_the_target_is_never_served_as_the_target(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A demuxer that lands on the last group whatever it is asked: after three attempts (key
    frames 100, 75, 50, each both ways) the read fails with the frame's number rather than
    serving frame 125 for frame 110."""
    asked: list[int] = []

    def lands_on_the_last_group(self: VideoSource, keyframe_index: int) -> None:
        asked.append(keyframe_index)
        _land_on(self, int(self._index.keyframes[-1]))

    with VideoSource(numbered_mp4) as video:
        monkeypatch.setattr(VideoSource, "_seek_to", lands_on_the_last_group)
        video.forget()
        with pytest.raises(VideoError, match="frame 110 could not be decoded"):
            video.read(110)
        assert asked == [100, 100, 75, 75, 50, 50]


# ---------------------------------------------------------------------------------------------
# Data that ends before a frame the index lists


def _data_ends_after(monkeypatch: pytest.MonkeyPatch, last: int | None) -> None:
    """Decoding stops after frame `last` (None: nothing decodes at all), wherever it starts."""
    decode_frames = VideoSource._decode_frames

    def truncated(self: VideoSource) -> Iterator[Any]:
        for av_frame in decode_frames(self):
            if last is None or av_frame.pts > int(self._index.pts[last]):
                return
            yield av_frame

    monkeypatch.setattr(VideoSource, "_decode_frames", truncated)


def test_a_frame_past_the_end_of_the_readable_data_is_shown_as_its_nearest_not_as_itself(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VideoSource(numbered_mp4) as video:
        _data_ends_after(monkeypatch, 60)
        video.forget()
        frame = video.read(70)  # from key frame 50: 50..60 decode, then the data ends
        assert (frame.index, frame.exact) == (60, False)
        assert read_frame_code(frame.rgb()) == 60
        assert video.problems[-1].message == "frame 70 is undecodable"
        assert video.problems[-1].time_s == pytest.approx(70 / 25)
        # Decoding on from there (no new seek) finds nothing either: the nearest again.
        frame = video.read(65)
        assert (frame.index, frame.exact) == (60, False)
        assert video.problems[-1].message == "frame 65 is undecodable"
        # The exhausted decoder is dropped: a frame that exists is read exactly again.
        frame = video.read(55)
        assert (frame.index, frame.exact) == (55, True)
        assert read_frame_code(frame.rgb()) == 55
        # Once the data can be read again (a file still being copied), a frame past the earlier
        # end is decoded afresh, not answered from the stand-in.
        video.forget()
        video.read(70)  # the stand-in again; the decoder ends exhausted past frame 60
        monkeypatch.undo()
        frame = video.read(65)
        assert (frame.index, frame.exact) == (65, True)
        assert read_frame_code(frame.rgb()) == 65


def test_a_frame_whose_group_decodes_nothing_is_refused_with_its_number(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VideoSource(numbered_mp4) as video:
        _data_ends_after(monkeypatch, None)
        video.forget()
        with pytest.raises(VideoError, match=r"numbered\.mp4: frame 40 could not be decoded"):
            video.read(40)


def test_an_undecodable_frame_just_before_the_target_does_not_stop_the_target(
    numbered_mp4: Path,
) -> None:
    """The stand-in rule applies only past the end of the data: a whole file reads every frame
    exactly after reads that ended in the middle of a group."""
    with VideoSource(numbered_mp4) as video:
        for index in (60, 61, 59, 74, 75, 76):
            frame = video.read(index)
            assert (frame.index, frame.exact) == (index, True)
        assert not video.problems


# ---------------------------------------------------------------------------------------------
# Timestamps: which decoded frames may be placed, and when a file's timestamps are trusted


def _frame(pts: int | None, dts: int | None = None, key: bool = False) -> SimpleNamespace:
    return SimpleNamespace(pts=pts, dts=dts, key_frame=key)


def test_a_decoded_frame_is_placed_only_by_a_timestamp_the_index_knows(
    numbered_mp4: Path,
) -> None:
    """A frame served as frame i must carry frame i's timestamp: one the index does not know, one
    past its end, or none at all places it nowhere (it is dropped, never shown as a neighbour)."""
    with VideoSource(numbered_mp4) as video:
        pts = video._index.pts
        assert video._position_of(_frame(int(pts[7]))) == 7
        assert video._position_of(_frame(None, int(pts[9]))) == 9  # no pts: its decoding time
        assert video._position_of(_frame(None, None)) is None
        assert video._position_of(_frame(int(pts[7]) + 1)) is None  # between two frames
        assert video._position_of(_frame(int(pts[-1]) + 1)) is None  # past the last frame
        assert video._position_of(_frame(int(pts[0]) - 1)) is None  # before the first


def test_a_count_in_decoding_order_resets_at_key_frames_and_stops_at_the_last_frame(
    numbered_mp4: Path,
) -> None:
    """For files with untrusted timestamps frames are counted: damaged data can swallow frames, so
    a key frame puts the count back on the next key frame's place; a count past the video's last
    frame places nothing."""
    with VideoSource(numbered_mp4) as video:
        video._ordinal = True
        video._next_ordinal = 20
        assert video._position_of(_frame(None)) == 20
        assert video._position_of(_frame(None, key=True)) == 25  # frames 21-24 were swallowed
        assert video._position_of(_frame(None)) == 26
        video._next_ordinal = 125
        assert video._position_of(_frame(None, key=True)) == 125  # already in step
        video._next_ordinal = 149
        assert video._position_of(_frame(None)) == 149
        assert video._position_of(_frame(None)) is None  # past the last frame
        video._next_ordinal = 140
        assert video._position_of(_frame(None, key=True)) == 140  # no key frame after 125


def _probe_with(
    video: VideoSource, monkeypatch: pytest.MonkeyPatch, stamps: list[int | None]
) -> bool:
    monkeypatch.setattr(VideoSource, "_seek_to", lambda self, key: None)
    monkeypatch.setattr(
        VideoSource, "_decode_frames", lambda self: iter([_frame(s) for s in stamps])
    )
    return video._timestamps_trustworthy()


@pytest.mark.parametrize(
    ("case", "trusted"),
    [
        ("increasing", True),
        ("repeated", False),
        ("backwards", False),
        ("unknown", False),
        ("past the end", False),
        ("missing", False),
        ("bad after the probe", True),
    ],
)
def test_timestamps_are_trusted_only_if_they_rise_through_the_index(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch, case: str, trusted: bool
) -> None:
    """Trusted timestamps are looked up; untrusted ones make the reader count frames instead.
    The probe reads the first 24 decoded frames."""
    with VideoSource(numbered_mp4) as video:
        pts = [int(p) for p in video._index.pts]
        stamps: list[int | None] = pts[:30]
        if case == "repeated":
            stamps[5] = stamps[4]
        elif case == "backwards":
            stamps[5], stamps[6] = stamps[6], stamps[5]
        elif case == "unknown":
            stamps[23] = stamps[23] + 1
        elif case == "past the end":
            stamps = pts[-3:] + [pts[-1] + pts[1] - pts[0]]
            stamps = [pts[0]] + stamps
        elif case == "missing":
            stamps[1] = None
        elif case == "bad after the probe":
            stamps[24] = None  # the 25th frame is not read
        assert _probe_with(video, monkeypatch, stamps) is trusted


def test_a_demuxer_landing_past_the_first_key_frame_is_probed_again_by_decoding_time(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VideoSource(numbered_mp4) as video:
        pts = [int(p) for p in video._index.pts]
        probes: list[bool] = []

        def decode(self: VideoSource) -> Iterator[SimpleNamespace]:
            probes.append(self._seek_by_dts)
            start = 0 if self._seek_by_dts else 1  # by presentation time it lands one late
            return iter([_frame(s) for s in pts[start : start + 30]])

        monkeypatch.setattr(VideoSource, "_seek_to", lambda self, key: None)
        monkeypatch.setattr(VideoSource, "_decode_frames", decode)
        assert video._timestamps_trustworthy() is True
        assert probes == [False, True] and video._seek_by_dts
        # Already seeking by decoding time, a first frame past the first key frame is simply read.
        probes.clear()
        assert video._timestamps_trustworthy() is True
        assert probes == [True]


def test_the_first_frame_at_the_first_key_frame_keeps_presentation_time_seeking(
    numbered_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VideoSource(numbered_mp4) as video:
        pts = [int(p) for p in video._index.pts]
        assert _probe_with(video, monkeypatch, pts[:30]) is True
        assert not video._seek_by_dts
        # A first frame without a time is not taken for a late landing: it is untrusted.
        assert _probe_with(video, monkeypatch, [None, *pts[1:30]]) is False
        assert not video._seek_by_dts
        np.testing.assert_array_equal(video._index.pts, np.asarray(pts))
