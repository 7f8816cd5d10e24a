"""The scrub proxy: a small copy of every frame, written while the analysis decodes the video
anyway, so that any frame can be shown within milliseconds while the surgeon scrubs.

Recorders write long groups of pictures (a key frame every 4–10 s), so an exact frame at full
resolution can cost hundreds of milliseconds of decoding. The proxy re-encodes each frame at about
480 px wide with a key frame every 10 frames; reading any frame from it costs a few small decodes.
Frames are shrunk by taking every k-th pixel of each YUV plane (no filtering): about 0.5 ms per
1080p frame, where a filtered rescale costs 3–5 ms — a scrub preview can afford the aliasing, the
analysis budget cannot afford the filter.

The proxy is a folder of segments (`<first>-<last>.mp4`, inclusive frame indices of the source),
each written under a temporary name and renamed when complete, so an interrupted analysis leaves
only whole segments behind, and a resumed one adds new segments: the writer skips frames that a
finished segment already holds, and the analysis decodes again the frames none holds.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core.video import VideoError, VideoSource

PROXY_WIDTH = 480
SEGMENT_FRAMES = 300
PROXY_GOP = 10


def proxy_dir_for(case_path: Path) -> Path:
    """The case's proxy folder, in the per-user cache (it can always be rebuilt by analysing)."""
    from scrubline.core.paths import proxy_dir_for_case

    return proxy_dir_for_case(case_path)


def _segment_files(folder: Path) -> list[tuple[int, int, Path]]:
    """The finished segments in a proxy folder: (first, last source frame, file), sorted."""
    segments = []
    if folder.is_dir():
        for path in folder.glob("*.mp4"):
            parts = path.stem.split("-")
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                segments.append((int(parts[0]), int(parts[1]), path))
    return sorted(segments)


def proxy_segments(folder: Path) -> list[tuple[int, int]]:
    """The source frames each finished segment holds, as (first, last) inclusive, sorted."""
    return [(first, last) for first, last, _ in _segment_files(folder)]


class ProxyWriter:
    """Receives every decoded source frame in display order (with its index) and writes segments."""

    def __init__(self, folder: Path, source_width: int, rotation: int = 0) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.part.mp4"):
            stale.unlink(missing_ok=True)
        self._done = proxy_segments(folder)  # frames already proxied are not written again
        self._done_starts = [first for first, _ in self._done]
        self.step = max(1, math.ceil(source_width / PROXY_WIDTH))
        self.rotation = rotation
        self._container: Any = None
        self._stream: Any = None
        self._first = -1
        self._next = -1
        self._temp: Path | None = None
        self.failed: str | None = None

    def add(self, index: int, frame: Any) -> None:
        if self.failed:
            return
        try:
            if self._already_done(index):
                self._finish()
                return
            if self._container is not None and (
                index != self._next or index - self._first >= SEGMENT_FRAMES
            ):
                self._finish()
            small = self._shrink(frame)
            if small is None:
                self.failed = f"frames in pixel format {frame.format.name} are not proxied"
                return
            if self._container is None:
                self._start(index, small.shape[1], small.shape[0] * 2 // 3)
            import av

            video_frame = av.VideoFrame.from_ndarray(small, format="yuv420p")
            video_frame.pts = index - self._first
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
            self._next = index + 1
        except Exception as exc:  # the proxy is a convenience: never let it stop an analysis
            self.failed = f"scrub proxy disabled: {exc}"
            self._abandon()

    def _already_done(self, index: int) -> bool:
        at = bisect.bisect_right(self._done_starts, index) - 1
        return at >= 0 and self._done[at][0] <= index <= self._done[at][1]

    def _shrink(self, frame: Any) -> np.ndarray | None:
        if frame.format.name not in ("yuv420p", "yuvj420p"):
            return None
        k = self.step
        planes = []
        for plane in frame.planes:
            full = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[
                :, : plane.width
            ]
            planes.append(full[::k, ::k])
        height, width = planes[0].shape
        width -= width % 4
        height -= height % 4
        y = planes[0][:height, :width]
        u = planes[1][: height // 2, : width // 2]
        v = planes[2][: height // 2, : width // 2]
        return np.ascontiguousarray(
            np.concatenate([y, u.reshape(height // 4, width), v.reshape(height // 4, width)])
        )

    def _start(self, index: int, width: int, height: int) -> None:
        import av

        self._first = index
        self._temp = self.folder / f"{index:08d}.part.mp4"
        self._container = av.open(str(self._temp), mode="w")
        stream = self._container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.codec_context.options = {
            "g": str(PROXY_GOP),
            "bf": "0",
            "preset": "ultrafast",
            "tune": "fastdecode",
            "crf": "30",
        }
        if self.rotation:
            stream.set_display_rotation(self.rotation)
        self._stream = stream

    def _finish(self) -> None:
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        assert self._temp is not None
        self._temp.replace(self.folder / f"{self._first:08d}-{self._next - 1:08d}.mp4")
        self._container = self._stream = self._temp = None

    def _abandon(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        except Exception:
            pass
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
        self._container = self._stream = self._temp = None

    def close(self) -> None:
        if self.failed:
            self._abandon()
            return
        try:
            self._finish()
        except Exception as exc:
            self.failed = f"scrub proxy disabled: {exc}"
            self._abandon()


class ScrubProxy:
    """Reads frames back from a proxy folder; `covers(index)` says whether it can."""

    def __init__(self, folder: Path, open_segments: int = 3) -> None:
        self.folder = folder
        self._segments = _segment_files(folder)
        self._starts = [s[0] for s in self._segments]
        self._open: OrderedDict[Path, VideoSource] = OrderedDict()
        self._limit = open_segments

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last, _ in self._segments)

    def _segment(self, index: int) -> tuple[int, int, Path] | None:
        at = bisect.bisect_right(self._starts, index) - 1
        if at >= 0 and self._segments[at][0] <= index <= self._segments[at][1]:
            return self._segments[at]
        return None

    def covers(self, index: int) -> bool:
        return self._segment(index) is not None

    def read(self, index: int) -> np.ndarray | None:
        """The proxy picture of source frame `index` (RGB, upright), or None if not covered."""
        segment = self._segment(index)
        if segment is None:
            return None
        first, _, path = segment
        source = self._open.get(path)
        if source is None:
            try:
                source = VideoSource(path, cache_mb=16)
            except VideoError:
                return None
            self._open[path] = source
            while len(self._open) > self._limit:
                _, old = self._open.popitem(last=False)
                old.close()
        else:
            self._open.move_to_end(path)
        frame = source.read(index - first)
        return frame.rgb() if frame.exact else None

    def close(self) -> None:
        for source in self._open.values():
            source.close()
        self._open.clear()
