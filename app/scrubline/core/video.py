"""Frame-exact access to a surgical video.

`VideoSource` opens a file with PyAV (FFmpeg), indexes every frame by its presentation timestamp
once (demuxing packets only, no decoding), and then serves:

- metadata (frame count, fps, duration, size, rotation, codec) and a content fingerprint;
- random access by frame index or by time that is exact for long-GOP and variable-frame-rate
  files: seek to the key frame at or before the target's timestamp, decode forward and return the
  frame whose timestamp matches (OpenCV's `CAP_PROP_POS_FRAMES` lands on wrong frames here);
- sampled iteration at N frames per second that decodes sequentially and converts only the
  sampled frames, already resized to what the caller needs (colour conversion and scaling in one
  swscale pass).

Decoded frames near the last request stay in a small cache (as YUV frames, half the memory of
RGB), so stepping and scrubbing around the playhead rarely decodes twice. A `VideoSource` is not
thread-safe: each thread opens its own.

Seeking: MP4, MOV and Matroska demuxers seek by presentation time, while MPEG-TS and MPEG-PS
seek by decoding time and land on the *next* key frame when asked for a key frame's presentation
time (its decoding time is earlier); the first group of pictures of a `.ts`/`.mpg` file could then
never be reached. The index keeps each key frame's decoding time too, and the first seek that
lands after its target switches the file to decoding-time seeks (remembered in the saved index).

Damage: a frame decoded after a packet that failed to decode, or that the demuxer marked corrupt
(an MPEG-TS continuity error), or that the decoder flagged, is shown concealed and every frame
predicted from it carries the damage until the next key frame. Such frames are `damaged`: the
player still shows them, the analysis leaves them out and counts them.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("scrubline.video")

# Decoding this many frames costs about as much as one seek (flush + demuxer reposition).
SEEK_COST_FRAMES = 12

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv")


class VideoError(Exception):
    """A video that cannot be opened or read; the message names the file and the problem."""


def fingerprint(path: Path) -> str:
    """A content hash that identifies a video without reading all of it: size plus the first,
    middle and last MiB. Renaming or moving the file keeps it; re-encoding changes it."""
    size = path.stat().st_size
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(size).encode())
    chunk = 1 << 20
    with path.open("rb") as handle:
        for offset in (0, max(0, size // 2 - chunk // 2), max(0, size - chunk)):
            handle.seek(offset)
            digest.update(handle.read(chunk))
    return digest.hexdigest()


@dataclass(frozen=True)
class VideoInfo:
    name: str  # file name only: reports never carry paths
    frame_count: int
    fps: float  # nominal (average) frame rate
    duration_s: float
    width: int  # after rotation
    height: int
    rotation: int  # degrees counter-clockwise applied to decoded frames
    codec: str
    container: str
    variable_frame_rate: bool
    fingerprint: str
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Frame:
    """One decoded frame. `index` is the frame actually returned; `exact` is False only when the
    requested frame was undecodable and its nearest decodable neighbour stands in."""

    index: int
    time_s: float
    exact: bool
    _frame: Any = field(repr=False)
    _rotation: int = field(default=0, repr=False)
    damaged: bool = (
        False  # decoded from damaged data (concealed, or predicted from a concealed frame)
    )

    def rgb(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """HxWx3 uint8 RGB, upright; `size` (width, height) scales in the same pass."""
        kwargs: dict[str, Any] = {"format": "rgb24"}
        quarter = (self._rotation // 90) % 4
        if size is not None:
            # Scale before rotating: for a quarter turn the decoded frame is the transposed size.
            w, h = (size[1], size[0]) if quarter % 2 else size
            kwargs.update(width=int(w), height=int(h), interpolation="AREA")
        array = self._frame.to_ndarray(**kwargs)
        if quarter:
            array = np.ascontiguousarray(np.rot90(array, k=quarter))
        return array


@dataclass
class DecodeProblem:
    time_s: float
    message: str


@dataclass
class _Index:
    pts: np.ndarray  # int64, presentation order
    times: np.ndarray  # float64 seconds from the first frame
    keyframes: np.ndarray  # sorted frame indices of key frames
    key_dts: np.ndarray  # int64 decoding timestamp of each key frame (what MPEG-TS/PS seek by)


# AVFormatContext options PyAV < 19 accepted as keywords of av.open; 19 dropped the keyword
# (metadata is always decoded leniently there).
_LENIENT_METADATA: dict[str, Any] = {"metadata_errors": "ignore"}


class VideoSource:
    def __init__(
        self, path: str | os.PathLike[str], cache_mb: int = 192, index: bytes | None = None
    ) -> None:
        """`index` is what `saved_index()` returned for this file: opening a long video then
        skips the demuxing pass (the case store keeps it; a stale one is ignored)."""
        self.path = Path(path)
        self._check_file()
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._cache_budget = cache_mb << 20
        self._cache_bytes = 0
        self.problems: list[DecodeProblem] = []
        self._seek_by_dts = False  # learned: this demuxer seeks by decoding time (MPEG-TS/PS)
        self._damaged: set[int] = set()  # cached frames that were decoded from damaged data
        self._tainted = False  # the decoder has met damage since the last clean key frame
        self._damage_dts: int | None = None  # decoding time of the latest damage met
        self._open()
        restored = self._restore_index(index) if index else None
        self._index = restored or self._build_index()
        self.info = self._read_info()
        self._decoder: Iterator[Any] | None = None
        self._last_decoded = -1  # frame index the open decoder last produced

    # ------------------------------------------------------------------ opening
    def _check_file(self) -> None:
        if not self.path.exists():
            raise VideoError(f"{self.path.name}: file does not exist ({self.path})")
        if self.path.is_dir():
            raise VideoError(f"{self.path.name}: is a folder, not a video file")
        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.path.name}: file is empty (0 bytes)")

    def _open(self) -> None:
        import av

        try:
            self._container = self._av_open(av)
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{self.path.name}: not a video file that can be read "
                f"({getattr(exc, 'strerror', None) or exc}); it may be truncated or corrupt"
            ) from exc
        except OSError as exc:
            raise VideoError(f"{self.path.name}: cannot be read ({exc.strerror or exc})") from exc
        streams = self._container.streams.video
        if not streams:
            self._container.close()
            raise VideoError(f"{self.path.name}: contains no video stream")
        self._stream = streams[0]
        self._stream.thread_type = "AUTO"
        self._time_base = float(self._stream.time_base or 0)
        if self._stream.codec_context is None or not self._time_base:
            raise VideoError(f"{self.path.name}: video stream has no decoder available")

    def _av_open(self, av: Any) -> Any:
        global _LENIENT_METADATA
        try:
            return av.open(str(self.path), mode="r", **_LENIENT_METADATA)
        except TypeError:
            if not _LENIENT_METADATA:
                raise
            _LENIENT_METADATA = {}  # PyAV 19+: the keyword is gone, leniency is the default
            return av.open(str(self.path), mode="r")

    def _build_index(self) -> _Index:
        import av

        pts: list[int] = []
        dts: list[int] = []
        key_pts: list[int] = []
        key_dts: list[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    continue
                pts.append(stamp)
                dts.append(packet.dts if packet.dts is not None else stamp)
                if packet.is_keyframe:
                    key_pts.append(stamp)
                    key_dts.append(dts[-1])
        except av.error.FFmpegError as exc:
            # Damage at the end (a truncated file) stops demuxing; what was read is usable.
            self.problems.append(DecodeProblem(0.0, f"demuxing stopped early: {exc}"))
        if not pts:
            raise VideoError(
                f"{self.path.name}: no video frames could be read (corrupt or truncated)"
            )
        base = self._time_base
        self._ordinal = False
        index = self._make_index(
            pts, key_pts, dict(zip(key_pts, key_dts, strict=True)), min(dts), base
        )
        self._index = index
        if not self._timestamps_trustworthy():
            # Some containers (AVI above all) carry no real presentation times: the decoder's
            # output order is the display order, so frames are counted from each key frame.
            self._ordinal = True
            self._seek_by_dts = False
            index = self._make_index(dts, key_dts, {d: d for d in key_dts}, min(dts), base)
            self._index = index
        self._seek_to(0)
        return index

    def saved_index(self) -> bytes:
        """The frame index as bytes, with the file's size and stream time base to check it by."""
        import io

        buffer = io.BytesIO()
        np.savez(
            buffer,
            pts=self._index.pts,
            keyframes=self._index.keyframes,
            key_dts=self._index.key_dts,
            ordinal=np.array(self._ordinal),
            seek_by_dts=np.array(self._seek_by_dts),
            rotation=np.array(self._rotation),
            size=np.array(self.path.stat().st_size),
            time_base=np.array(self._time_base),
        )
        return buffer.getvalue()

    def _restore_index(self, data: bytes) -> _Index | None:
        import io
        import zipfile

        try:
            saved = np.load(io.BytesIO(data))
            if (
                int(saved["size"]) != self.path.stat().st_size
                or float(saved["time_base"]) != self._time_base
            ):
                return None
            pts, keyframes = saved["pts"].astype(np.int64), saved["keyframes"].astype(np.int64)
            key_dts = saved["key_dts"].astype(
                np.int64
            )  # an index saved before it was kept is rebuilt
            self._ordinal = bool(saved["ordinal"])
            self._seek_by_dts = bool(saved["seek_by_dts"])
            self._known_rotation: int | None = int(saved["rotation"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # damaged or cut short (np.savez writes a zip): demux afresh
        if len(key_dts) != len(keyframes):
            return None
        times = (pts - pts[0]).astype(np.float64) * self._time_base
        self._index = _Index(pts, times, keyframes, key_dts)
        self._seek_to(0)
        return self._index

    @staticmethod
    def _make_index(
        stamps: list[int],
        key_stamps: list[int],
        key_dts_of: dict[int, int],
        first_dts: int,
        base: float,
    ) -> _Index:
        order = np.unique(np.asarray(stamps, dtype=np.int64))  # sorted, duplicates dropped
        keyframes = np.searchsorted(order, np.unique(np.asarray(key_stamps, dtype=np.int64)))
        if keyframes.size == 0 or keyframes[0] != 0:
            keyframes = np.concatenate([[0], keyframes]).astype(np.int64)
        key_dts = np.asarray(
            [
                key_dts_of.get(int(order[k]), first_dts if k == 0 else int(order[k]))
                for k in keyframes
            ],
            dtype=np.int64,
        )
        times = (order - order[0]).astype(np.float64) * base
        return _Index(order, times, keyframes, key_dts)

    def _timestamps_trustworthy(self, probe_frames: int = 24) -> bool:
        """Decoded frames must come out with strictly increasing timestamps that the index
        knows; otherwise the container's timestamps do not describe display order."""
        self._seek_to(0)
        previous = None
        for seen, frame in enumerate(self._decode_frames(), start=1):
            stamp = frame.pts
            if (
                seen == 1
                and stamp is not None
                and stamp > self._index.pts[0]
                and not self._seek_by_dts
            ):
                # Asked for the first key frame by its presentation time, the demuxer went past
                # it: it seeks by decoding time (MPEG-TS/PS). Look again from there.
                self._seek_by_dts = True
                return self._timestamps_trustworthy(probe_frames)
            if stamp is None or (previous is not None and stamp <= previous):
                return False
            position = int(np.searchsorted(self._index.pts, stamp))
            if position >= len(self._index.pts) or self._index.pts[position] != stamp:
                return False
            previous = stamp
            if seen >= probe_frames:
                break
        return True

    def _read_info(self) -> VideoInfo:
        index = self._index
        count = len(index.pts)
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        nominal = float(rate) if rate else 0.0
        steps = np.diff(index.times)
        if count > 1:
            frame_step = float(np.median(steps))
            duration = float(index.times[-1]) + frame_step
            # Variable rate: many frame intervals off the typical one. A few long gaps are
            # dropped or damaged frames in a constant-rate file, reported below.
            irregular = np.abs(steps - frame_step) > 0.25 * frame_step
            variable = bool(irregular.mean() > 0.05)
            if nominal <= 0 or variable:
                nominal = (count - 1) / max(float(index.times[-1]), 1e-9)
        else:
            duration = 1.0 / nominal if nominal else 0.0
            variable = False
        rotation = self._probe_rotation()
        width, height = self._stream.codec_context.width, self._stream.codec_context.height
        if (rotation // 90) % 2:
            width, height = height, width
        self._rotation = rotation
        if count > 2 and not variable:
            step = float(np.median(steps))
            for at in np.nonzero(steps > 1.5 * step)[0][:20]:
                missing = int(round(steps[at] / step)) - 1
                self.problems.append(
                    DecodeProblem(
                        float(index.times[at]),
                        f"{missing} frame(s) missing after {index.times[at]:.2f} s (damaged data)",
                    )
                )
        container_duration = (self._container.duration or 0) / 1_000_000
        if container_duration > duration + 1.0:
            self.problems.append(
                DecodeProblem(
                    duration,
                    f"the container says the video lasts {container_duration:.1f} s but frames end "
                    f"at {duration:.1f} s (the file may be truncated)",
                )
            )
        declared = self._stream.frames
        if declared and declared > count * 1.02 + 2:
            self.problems.append(
                DecodeProblem(
                    float(index.times[-1]),
                    f"the container declares {declared} frames but only {count} could be read "
                    "(the file may be truncated)",
                )
            )
        return VideoInfo(
            name=self.path.name,
            frame_count=count,
            fps=nominal,
            duration_s=duration,
            width=int(width),
            height=int(height),
            rotation=rotation,
            codec=self._stream.codec_context.name,
            container=self._container.format.name,
            variable_frame_rate=variable,
            fingerprint=fingerprint(self.path),
            size_bytes=self.path.stat().st_size,
        )

    def _probe_rotation(self) -> int:
        known = getattr(self, "_known_rotation", None)
        if known is not None:
            return known
        try:
            first = next(self._decode_frames(), None)
        except VideoError:
            first = None
        self._seek_to(0)
        if first is None:
            return 0
        return int(round(getattr(first, "rotation", 0) or 0)) % 360

    # ------------------------------------------------------------------ lookup
    @property
    def frame_count(self) -> int:
        return self.info.frame_count

    @property
    def times(self) -> np.ndarray:
        """Presentation time of every frame, seconds from the first frame."""
        return self._index.times

    def time_of(self, index: int) -> float:
        return float(self._index.times[self._clamp(index)])

    def index_at(self, time_s: float) -> int:
        """The frame on screen at `time_s`: the last frame that starts at or before it."""
        position = bisect.bisect_right(self._index.times, time_s + 1e-9) - 1
        return self._clamp(position)

    def keyframe_before(self, index: int) -> int:
        keys = self._index.keyframes
        return int(keys[max(0, bisect.bisect_right(keys, index) - 1)])

    def _clamp(self, index: int) -> int:
        return int(min(max(index, 0), len(self._index.pts) - 1))

    # ------------------------------------------------------------------ decoding
    def _seek_to(self, keyframe_index: int) -> None:
        """Position the demuxer at the key frame `keyframe_index` (a frame index) or before it."""
        import av

        target = 0
        if hasattr(self, "_index"):
            target = int(self._index.pts[keyframe_index])
            if self._seek_by_dts:
                at = bisect.bisect_left(self._index.keyframes, keyframe_index)
                if at < len(self._index.keyframes) and self._index.keyframes[at] == keyframe_index:
                    # Just before the key frame's decoding time: landing exactly on it, the MPEG-PS
                    # demuxer can hand the key frame over without its timestamp.
                    target = min(target, int(self._index.key_dts[at]) - 1)
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.path.name}: seeking failed ({exc})") from exc
        self._decoder = None
        self._last_decoded = -1
        self._next_ordinal = keyframe_index
        self._tainted, self._damage_dts = False, None

    def _rewind(self) -> None:
        """Back to the very start of the file: reopen it (no demuxer seek can overshoot that)."""
        self._container.close()
        self._open()
        self._decoder = None
        self._last_decoded = -1
        self._next_ordinal = 0
        self._tainted, self._damage_dts = False, None

    def _seek_for(self, target: int, attempts: int = 3) -> None:
        """Seek so that decoding from there reaches frame `target`, and start the decoder.

        A demuxer can land after the key frame asked for (decoding-time seeking, see the module
        notes; a damaged key frame; an open GOP): then try the key frame's decoding time, else
        one key frame earlier, and at the first key frame reopen the file."""
        key = self.keyframe_before(target)
        wanted = int(self._index.pts[target])
        first: Any = None
        decoder: Iterator[Any] = iter(())
        for _attempt in range(attempts):
            self._seek_to(key)
            decoder = self._decode_frames()
            first = next(decoder, None)
            if first is None:
                break
            stamp = first.pts if first.pts is not None else first.dts
            if self._ordinal or stamp is None or stamp <= wanted:
                break
            position = bisect.bisect_left(self._index.keyframes, key)
            if not self._seek_by_dts and self._index.key_dts[position] < self._index.pts[key]:
                self._seek_by_dts = True  # kept only if seeking by decoding time lands in time
                self._seek_to(key)
                decoder = self._decode_frames()
                first = next(decoder, None)
                stamp = (
                    None if first is None else (first.pts if first.pts is not None else first.dts)
                )
                if first is None or stamp is None or stamp <= wanted:
                    break
                self._seek_by_dts = False
            if key == 0:
                self._rewind()
                decoder = self._decode_frames()
                first = next(decoder, None)
                break
            key = self.keyframe_before(key - 1)
        self._decoder = itertools.chain([first], decoder) if first is not None else iter(())

    def _decode_frames(self) -> Iterator[Any]:
        """Decoded frames from the current demuxer position; undecodable packets are skipped and
        recorded in `problems`. `self._tainted` says whether the frame just yielded was decoded
        after damage that no clean key frame has cleared since."""
        import av

        base = self._time_base
        first = int(self._index.pts[0]) if hasattr(self, "_index") else 0
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                self.problems.append(DecodeProblem(-1.0, f"reading stopped: {exc}"))
                return
            damaged_packet = bool(packet.is_corrupt)
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                when = ((packet.pts or 0) - first) * base
                self.problems.append(DecodeProblem(when, f"undecodable data skipped ({exc})"))
                damaged_packet = True
                frames = []
            if damaged_packet:
                self._taint(packet.dts)
            for av_frame in frames:
                if av_frame.is_corrupt:
                    self._taint(av_frame.dts)
                elif (
                    av_frame.key_frame
                    and self._tainted
                    and (
                        av_frame.dts is None
                        or self._damage_dts is None
                        or av_frame.dts > self._damage_dts
                    )
                ):
                    self._tainted = False  # a clean key frame sent after the damage: a fresh start
                yield av_frame
            if packet.size == 0:  # the flush packet at the end of the stream
                return

    def _taint(self, dts: int | None) -> None:
        self._tainted = True
        if dts is not None:
            self._damage_dts = max(dts, self._damage_dts if self._damage_dts is not None else dts)

    def _position_of(self, frame: Any) -> int | None:
        """The frame's place in display order; call once per decoded frame, in output order."""
        if self._ordinal:
            position = self._next_ordinal
            if frame.key_frame:
                # Damaged data can swallow frames; key frames put the count back in step.
                keys = self._index.keyframes
                at = bisect.bisect_left(keys, position)
                if at < len(keys):
                    position = int(keys[at])
            self._next_ordinal = position + 1
            return position if position < len(self._index.pts) else None
        stamp = frame.pts if frame.pts is not None else frame.dts
        if stamp is None:
            return None
        position = int(np.searchsorted(self._index.pts, stamp))
        if position < len(self._index.pts) and self._index.pts[position] == stamp:
            return position
        return None

    def _remember(self, index: int, frame: Any) -> None:
        if index in self._cache:
            self._cache.move_to_end(index)
            return
        size = frame.width * frame.height * 3 // 2
        self._cache[index] = frame
        self._cache_bytes += size
        while self._cache_bytes > self._cache_budget and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.width * old.height * 3 // 2

    def _frame(self, index: int, av_frame: Any, exact: bool) -> Frame:
        return Frame(
            index,
            float(self._index.times[index]),
            exact,
            av_frame,
            self._rotation,
            damaged=index in self._damaged,
        )

    def read(self, index: int) -> Frame:
        """The frame at `index` (clamped to the video), exactly."""
        index = self._clamp(index)
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return self._frame(index, cached, True)
        key = self.keyframe_before(index)
        # Decoding on from where the decoder stands is never slower than seeking when it already
        # stands inside the target's group of pictures.
        fresh = self._decoder is None or not (key <= self._last_decoded < index)
        if fresh:
            self._seek_for(index)
        found = self._decode_until(index, fresh)
        if found is None:
            raise VideoError(f"{self.path.name}: frame {index} could not be decoded")
        return found

    def _decode_until(self, index: int, fresh: bool) -> Frame | None:
        """Decode forward to `index` (only that frame counts as exact). None means nothing at or
        after the target decoded from a fresh seek; a damaged target yields its nearest
        neighbour, marked not exact."""
        first_position: int | None = None
        for position, av_frame in self._new_frames():
            if first_position is None:
                first_position = position
            self._remember(position, av_frame)
            if position == index:
                return self._frame(index, av_frame, True)
            if position > index:
                if fresh and first_position > index:
                    return None
                self.problems.append(
                    DecodeProblem(self.time_of(index), f"frame {index} is undecodable")
                )
                return self._frame(position, av_frame, False)
        # End of the readable data before the target: damaged or past a truncation.
        self._decoder = None
        if fresh and first_position is None:
            return None
        nearest = self._nearest_cached(index)
        if nearest is None:
            return None
        self.problems.append(DecodeProblem(self.time_of(index), f"frame {index} is undecodable"))
        return self._frame(nearest, self._cache[nearest], False)

    def _new_frames(self) -> Iterator[tuple[int, Any]]:
        """The decoder's frames past the last one decoded, with their display positions (frames
        it repeats or cannot place are dropped). Breaking off leaves the decoder where it is."""
        assert self._decoder is not None
        for av_frame in self._decoder:
            position = self._position_of(av_frame)
            if position is None or position <= self._last_decoded:
                continue
            self._last_decoded = position
            if self._tainted:  # read right after the decoder produced this frame
                self._damaged.add(position)
            else:
                self._damaged.discard(position)
            yield position, av_frame

    def _nearest_cached(self, index: int) -> int | None:
        if not self._cache:
            return None
        return min(self._cache, key=lambda i: abs(i - index))

    def read_at(self, time_s: float) -> Frame:
        return self.read(self.index_at(time_s))

    # ------------------------------------------------------------------ sampling
    def sample_indices(
        self, fps: float, start_s: float | None = None, end_s: float | None = None
    ) -> np.ndarray:
        """Frame indices that sample [start_s, end_s) at `fps`: for each sampling instant the
        frame on screen then. Works for variable frame rate because it goes by timestamps."""
        if fps <= 0:
            raise ValueError("sampling rate must be positive")
        start = max(0.0, start_s or 0.0)
        end = self.info.duration_s if end_s is None else min(end_s, self.info.duration_s)
        if end <= start:
            return np.zeros(0, dtype=np.int64)
        instants = np.arange(start, end, 1.0 / fps)
        positions = np.searchsorted(self._index.times, instants + 1e-9, side="right") - 1
        return np.unique(np.clip(positions, 0, len(self._index.pts) - 1)).astype(np.int64)

    def iter_frames(
        self,
        indices: np.ndarray | list[int],
        on_decoded: Callable[[int, Any], None] | None = None,
        decode_through: int | None = None,
    ) -> Iterator[Frame]:
        """Decode sequentially and yield the wanted frames in order; frames in between are
        decoded (the codec needs them) but never converted. Seeks only across gaps larger than
        a group of pictures. `on_decoded(index, av_frame)` sees every decoded frame in order
        (the scrub proxy is written from it); with `decode_through`, it goes on seeing frames
        after the last wanted one up to that index (the frames between the last sample and the
        end of the range)."""
        wanted = sorted({self._clamp(int(i)) for i in indices})
        if not wanted:
            return
        yield from self._iter_wanted(wanted, on_decoded)
        if on_decoded is not None and decode_through is not None and self._decoder is not None:
            last = self._clamp(int(decode_through))
            if self._last_decoded < last:
                for position, av_frame in self._new_frames():
                    if not av_frame.is_corrupt:
                        on_decoded(position, av_frame)
                    if position >= last:
                        break

    def _iter_wanted(
        self, wanted: list[int], on_decoded: Callable[[int, Any], None] | None
    ) -> Iterator[Frame]:
        """Yields the wanted frames that decode, damaged ones marked `damaged`; the ones that do
        not decode are left out and recorded in `problems`."""
        self._seek_for(wanted[0])
        cursor = 0
        while cursor < len(wanted):
            target = wanted[cursor]
            # Seek only when it skips more decoding than a seek costs.
            if self.keyframe_before(target) - self._last_decoded > SEEK_COST_FRAMES:
                self._seek_for(target)
            produced = False
            for position, av_frame in self._new_frames():
                if on_decoded is not None and not av_frame.is_corrupt:
                    on_decoded(position, av_frame)
                if position < target:
                    continue
                if position > target:
                    # The target did not decode; report it and move on without losing this frame.
                    while cursor < len(wanted) and wanted[cursor] < position:
                        self.problems.append(
                            DecodeProblem(
                                self.time_of(wanted[cursor]),
                                f"frame {wanted[cursor]} is undecodable; skipped",
                            )
                        )
                        cursor += 1
                    if cursor < len(wanted) and wanted[cursor] == position:
                        yield self._frame(position, av_frame, True)
                        cursor += 1
                    produced = True
                    break
                yield self._frame(position, av_frame, True)
                cursor += 1
                produced = True
                break
            if not produced:
                for missing in wanted[cursor:]:
                    self.problems.append(
                        DecodeProblem(
                            self.time_of(missing),
                            f"frame {missing} could not be read (end of readable data)",
                        )
                    )
                return

    # ------------------------------------------------------------------ lifetime
    def forget(self) -> None:
        """Drop every decoded frame and the decoder's position (the next read starts cold)."""
        self._cache.clear()
        self._cache_bytes = 0
        self._damaged.clear()
        self._decoder = None
        self._last_decoded = -1

    def close(self) -> None:
        self.forget()
        self._container.close()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
