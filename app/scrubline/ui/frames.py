"""The frame loader: decodes what the window shows, off the GUI thread, newest request first.

One worker thread owns a `VideoSource` (they are not thread-safe) and, once the video has a
case file, its own `Case`. The GUI thread only posts requests; a request replaces any
request not yet started (SLEAP's LIFO `LoadImageWorker`), so dragging the scrubber across an
hour of video decodes a handful of frames, never the whole queue. Frames are converted to RGB
at the size they will be drawn (one swscale pass), kept in a small cache of converted images,
and the `VideoSource` keeps decoded frames around the playhead, so stepping back and forth
rarely decodes twice.

While the user drags (`scrub=True`) and the exact frame is not cached, a stand-in is sent first:
the frame itself from the scrub proxy the analysis writes (about 480 px wide, a key frame every
10 frames, so a few milliseconds), else the nearest stored thumbnail; then the exact frame, unless
the user has moved on by then.

Opening a video happens here too, because indexing a long file takes seconds; when the video
already has a case, the frame index saved in it is used and the file is not demuxed again.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from scrubline.core.nearest import ResultsNear
from scrubline.core.results import FrameResult

log = logging.getLogger("scrubline.ui.frames")


@dataclass
class VideoOpened:
    path: Path
    info: Any  # VideoInfo
    times: np.ndarray
    problems: list[str] = field(default_factory=list)
    open_s: float = 0.0  # how long opening (and indexing) took


@dataclass
class ShownFrame:
    """A frame ready to draw, with the analysed result nearest to it (or None)."""

    index: int
    time_s: float
    exact: bool
    image: QImage
    proxy: bool  # a thumbnail standing in while the exact frame decodes
    result: FrameResult | None
    requested_at: float  # perf_counter() when the GUI asked
    ready_at: float
    generation: int  # which opened video this belongs to
    period_s: float | None = None  # the case's sampling period (the nearest-result gap limit)


@dataclass
class _Request:
    index: int
    scrub: bool
    prefetch: bool
    requested_at: float


def fit_size(native: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The largest size with the video's aspect ratio inside `target`, never above native
    (upscaling is left to the painter), with even sides (what swscale handles fastest)."""
    width, height = native
    box_w, box_h = max(target[0], 16), max(target[1], 16)
    scale = min(box_w / width, box_h / height, 1.0)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def rgba_qimage(rgba: np.ndarray) -> QImage:
    rgba = np.ascontiguousarray(rgba)
    height, width = rgba.shape[:2]
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


class _Media:
    """What the worker thread holds for the open video: the source, its case (read only here),
    the scrub proxy, and the converted images. Touched by the worker thread only."""

    PROXY_RESCAN_S = 2.0  # the analysis adds proxy segments as it goes

    def __init__(self, source: Any, store: Any = None, store_path: Path | None = None) -> None:
        self.source = source
        self.store = store
        self.store_path = store_path
        self.proxy: Any = None
        self.near: ResultsNear | None = None
        self.proxy_scanned = 0.0
        self.images: OrderedDict[tuple[int, int, int], tuple[QImage, float, bool]] = OrderedDict()
        self.last_index = -10  # the last frame served (steps and playback continue from it)

    def use_case(self, path: Path | None) -> None:
        if path != self.store_path:
            self._close_case()
            self.store_path = path
        if self.store is None and self.store_path is not None and self.store_path.exists():
            self.store = _open_store(self.store_path)

    def result_near(self, index: int) -> tuple[FrameResult | None, float | None]:
        """The nearest analysed frame's results (`scrubline.core.nearest`), however far: the
        overlay plan applies the rule's gap limit and says so; and the case's sampling period."""
        if self.store is None:
            return None, None
        try:
            if self.near is None or self.near.period_s is None:
                self.near = ResultsNear(self.store, cache=False)  # analysis may have begun
            return self.near.nearest(index), self.near.period_s
        except Exception as exc:  # a busy or damaged case must not stop the player
            log.debug("no result for frame %d: %s", index, exc)
            return None, None

    def stand_in(self, index: int) -> QImage | None:
        """A quick picture of frame `index` while the exact one decodes: the proxy's, else the
        nearest thumbnail."""
        if self.store_path is None:
            return None
        try:
            from scrubline.core.proxy import ScrubProxy, proxy_dir_for

            now = time.monotonic()
            if self.proxy is None or (
                not self.proxy.covers(index) and now - self.proxy_scanned > self.PROXY_RESCAN_S
            ):
                if self.proxy is not None:
                    self.proxy.close()
                self.proxy = ScrubProxy(proxy_dir_for(self.store_path))
                self.proxy_scanned = now
            if self.proxy.covers(index):
                rgb = self.proxy.read(index)
                if rgb is not None:
                    return to_qimage(rgb)
            if self.store is not None:
                found = self.store.thumbnail(index)
                if found is not None:
                    return to_qimage(found[1])
        except Exception as exc:
            log.debug("no stand-in for frame %d: %s", index, exc)
        return None

    def _close_case(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self.near = None

    def close(self) -> None:
        self._close_case()
        self.source.close()
        self.images.clear()


def _open_store(path: Path) -> Any:
    """The case at `path`, read-only (a `core.case.Case`), or None when it cannot be read."""
    from scrubline.core.case import Case, StoreError

    try:
        return Case.open(path)
    except StoreError as exc:
        log.warning("frame loader cannot read %s: %s", path, exc)
        return None


class FrameLoader(QObject):
    SETTLE_S = 0.12  # while dragging, how long a position must be held before it is decoded exactly

    opened = Signal(object)  # VideoOpened
    open_failed = Signal(object, str, int)  # exception, traceback, the generation it ended
    frame_ready = Signal(object)  # ShownFrame
    frame_failed = Signal(int, str)

    def __init__(
        self, cache_images: int = 48, prefetch: int = 8, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._cv = threading.Condition()
        self._stop = False
        self._open_path: Path | None = None
        self._case_for: Callable[[str], Path] | None = None
        self._wanted: _Request | None = None
        self._case_path: Path | None = None
        self._size = (1280, 720)
        self._generation = 0
        self._cache_images = cache_images
        self._prefetch_count = prefetch
        self._thread = threading.Thread(target=self._run, name="scrubline-frames", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ GUI-thread API
    @property
    def generation(self) -> int:
        return self._generation

    def open(self, path: str | Path, case_for: Callable[[str], Path] | None = None) -> int:
        """Open a video; `opened` or `open_failed` follows. `case_for(fingerprint)` names where
        its case would be, so a saved frame index can be used. Returns the new generation."""
        with self._cv:
            self._generation += 1
            self._open_path = Path(path)
            self._case_for = case_for
            self._wanted = None
            self._case_path = None
            self._cv.notify()
            return self._generation

    def set_case(self, path: Path | None) -> None:
        with self._cv:
            self._case_path = path
            self._cv.notify()

    def set_target_size(self, width: int, height: int) -> None:
        with self._cv:
            self._size = (max(16, int(width)), max(16, int(height)))

    def request(self, index: int, *, scrub: bool = False, prefetch: bool = True) -> None:
        with self._cv:
            self._wanted = _Request(int(index), scrub, prefetch, time.perf_counter())
            self._cv.notify()

    def close(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout)

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        media: _Media | None = None
        prefetch_next = 0
        prefetch_left = 0
        while True:
            with self._cv:
                while not (self._stop or self._open_path or self._wanted or prefetch_left > 0):
                    self._cv.wait()
                if self._stop:
                    break
                open_path, self._open_path = self._open_path, None
                wanted, self._wanted = self._wanted, None
                case_for = self._case_for
                case_path = self._case_path
                size = self._size
                generation = self._generation
            try:
                if open_path is not None:
                    if media is not None:
                        media.close()
                    media = self._open_media(open_path, case_for, generation)
                    prefetch_left = 0
                    continue
                if media is None:
                    prefetch_left = 0
                    continue
                if case_path is not None:
                    media.use_case(case_path)
                if wanted is None:
                    # Idle: decode a few frames past the playhead so stepping and playing on
                    # from here find them in the source's cache.
                    if prefetch_next < media.source.frame_count:
                        media.source.read(prefetch_next)
                        prefetch_next += 1
                        prefetch_left -= 1
                    else:
                        prefetch_left = 0
                    continue
                prefetch_left = 0
                if self._serve(media, wanted, size, generation) and wanted.prefetch:
                    prefetch_next, prefetch_left = wanted.index + 1, self._prefetch_count
            except Exception as exc:
                log.debug("frame loader: %s", exc, exc_info=True)
                self.frame_failed.emit(wanted.index if wanted is not None else -1, str(exc))
        if media is not None:
            media.close()

    def _open_media(
        self, path: Path, case_for: Callable[[str], Path] | None, generation: int
    ) -> _Media | None:
        from scrubline.core.analysis import FRAME_INDEX_KEY
        from scrubline.core.video import VideoSource, fingerprint

        started = time.perf_counter()
        try:
            store, store_path, saved = None, None, None
            if case_for is not None and path.is_file():
                store_path = case_for(fingerprint(path))
                store = _open_store(store_path) if store_path.exists() else None
                saved = store.get_blob(FRAME_INDEX_KEY) if store is not None else None
            source = VideoSource(path, index=saved)
        except Exception as exc:
            if store is not None:
                store.close()
            with self._cv:
                current = generation == self._generation
            if current:  # a failure of a video already replaced by another must not close that
                self.open_failed.emit(exc, traceback.format_exc(), generation)
            return None
        media = _Media(source, store, store_path)
        problems = [
            f"{p.time_s:.2f} s: {p.message}" if p.time_s >= 0 else p.message
            for p in source.problems
        ]
        with self._cv:
            current = generation == self._generation
        if current:
            self.opened.emit(
                VideoOpened(
                    path,
                    source.info,
                    np.array(source.times),
                    problems,
                    time.perf_counter() - started,
                )
            )
        return media

    def _newer_within(self, seconds: float) -> bool:
        """Whether a newer request (or an open, or a stop) arrives within `seconds`."""
        with self._cv:
            return self._cv.wait_for(
                lambda: self._wanted is not None or self._open_path is not None or self._stop,
                timeout=seconds,
            )

    def _serve(
        self, media: _Media, wanted: _Request, size: tuple[int, int], generation: int
    ) -> bool:
        source = media.source
        index = min(max(wanted.index, 0), source.frame_count - 1)
        width, height = fit_size((source.info.width, source.info.height), size)
        key = (index, width, height)
        cached = media.images.get(key)
        result, period_s = media.result_near(index)
        # A jump or a drag (not a step or playback, which decode on from the last frame) shows
        # a stand-in at once: an exact seek in a long-GOP file can take far longer.
        if cached is None and (wanted.scrub or abs(index - media.last_index) > 1):
            stand_in = media.stand_in(index)
            if stand_in is not None:
                self.frame_ready.emit(
                    ShownFrame(
                        index,
                        float(source.times[index]),
                        False,
                        stand_in,
                        True,
                        result,
                        wanted.requested_at,
                        time.perf_counter(),
                        generation,
                        period_s,
                    )
                )
                # While dragging, decode exactly only once the hand rests: the decode cannot be
                # interrupted, and the drag rarely stays anywhere as long as it takes.
                if wanted.scrub and self._newer_within(self.SETTLE_S):
                    return False  # the user has moved on; the exact frame is no longer wanted
        media.last_index = index
        if cached is None:
            frame = source.read(index)
            image = to_qimage(frame.rgb((width, height)))
            # An undecodable frame: its neighbour stands in, and says so.
            cached = (image, frame.time_s, frame.exact and frame.index == index)
            media.images[key] = cached
            while len(media.images) > self._cache_images:
                media.images.popitem(last=False)
        else:
            media.images.move_to_end(key)
        image, time_s, exact = cached
        self.frame_ready.emit(
            ShownFrame(
                index,
                time_s,
                exact,
                image,
                False,
                result,
                wanted.requested_at,
                time.perf_counter(),
                generation,
                period_s,
            )
        )
        return True
