"""The frame loader: decodes what the window shows, off the GUI thread, newest request first.

One worker thread owns a `VideoSource` (they are not thread-safe) and, once the video has a
case file, its own `CaseStore`. The GUI thread only posts requests; a request replaces any
request not yet started (SLEAP's LIFO `LoadImageWorker`), so dragging the scrubber across an
hour of video decodes a handful of frames, never the whole queue. Frames are converted to RGB
at the size they will be drawn (one swscale pass), kept in a small cache of converted images,
and the `VideoSource` keeps decoded frames around the playhead, so stepping back and forth
rarely decodes twice. While the user drags (`scrub=True`) and the exact frame is not cached, the
nearest stored thumbnail is sent first as a stand-in, marked as such.

Opening a video happens here too, because indexing a long file takes seconds.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from scrubline.core.results import FrameResult

log = logging.getLogger("scrubline.ui.frames")


@dataclass
class VideoOpened:
    path: Path
    info: Any  # VideoInfo
    times: np.ndarray
    problems: list[str] = field(default_factory=list)


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


class FrameLoader(QObject):
    opened = Signal(object)  # VideoOpened
    open_failed = Signal(object, str)  # exception, traceback
    frame_ready = Signal(object)  # ShownFrame
    frame_failed = Signal(int, str)

    def __init__(self, cache_images: int = 48, prefetch: int = 8, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cv = threading.Condition()
        self._stop = False
        self._open_path: Path | None = None
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

    def open(self, path: str | Path) -> int:
        """Open a video; `opened` or `open_failed` follows. Returns the new generation."""
        with self._cv:
            self._generation += 1
            self._open_path = Path(path)
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
        source: Any = None
        store: Any = None
        store_path: Path | None = None
        images: OrderedDict[tuple[int, int, int], tuple[QImage, float, bool]] = OrderedDict()
        prefetch_next: int | None = None
        prefetch_left = 0
        generation = 0
        while True:
            with self._cv:
                while not (self._stop or self._open_path or self._wanted or prefetch_left > 0):
                    self._cv.wait()
                if self._stop:
                    break
                open_path, self._open_path = self._open_path, None
                wanted, self._wanted = self._wanted, None
                case_path = self._case_path
                size = self._size
                generation = self._generation
            try:
                if open_path is not None:
                    source, store, store_path = self._reopen(source, store, open_path, generation)
                    images.clear()
                    prefetch_left = 0
                    continue
                if source is None:
                    prefetch_left = 0
                    continue
                if case_path != store_path:
                    if store is not None:
                        store.close()
                    store, store_path = None, case_path
                if store is None and store_path is not None and store_path.exists():
                    store = self._open_store(store_path)
                if wanted is None:
                    # Idle: decode a few frames past the playhead so stepping and playing on
                    # from here find them in the source's cache.
                    if prefetch_next is not None and prefetch_next < source.frame_count:
                        source.read(prefetch_next)
                        prefetch_next += 1
                        prefetch_left -= 1
                    else:
                        prefetch_left = 0
                    continue
                prefetch_left = 0
                shown = self._serve(source, store, wanted, size, images, generation)
                if shown and wanted.prefetch:
                    prefetch_next, prefetch_left = wanted.index + 1, self._prefetch_count
            except Exception as exc:
                log.debug("frame loader: %s", exc, exc_info=True)
                index = wanted.index if wanted is not None else -1
                self.frame_failed.emit(index, str(exc))
        if store is not None:
            store.close()
        if source is not None:
            source.close()

    def _reopen(self, source: Any, store: Any, path: Path, generation: int) -> tuple[Any, Any, None]:
        from scrubline.core.video import VideoSource

        if store is not None:
            store.close()
        if source is not None:
            source.close()
        try:
            source = VideoSource(path)
        except Exception as exc:
            self.open_failed.emit(exc, traceback.format_exc())
            return None, None, None
        problems = [f"{p.time_s:.2f} s: {p.message}" if p.time_s >= 0 else p.message for p in source.problems]
        with self._cv:
            current = generation == self._generation
        if current:
            self.opened.emit(VideoOpened(path, source.info, np.array(source.times), problems))
        return source, None, None

    @staticmethod
    def _open_store(path: Path) -> Any:
        from scrubline.core.store import CaseStore, StoreError

        try:
            return CaseStore(path)
        except StoreError as exc:
            log.warning("frame loader cannot read %s: %s", path, exc)
            return None

    def _newer_waiting(self) -> bool:
        with self._cv:
            return self._wanted is not None or self._open_path is not None or self._stop

    def _serve(self, source: Any, store: Any, wanted: _Request, size: tuple[int, int],
               images: OrderedDict[tuple[int, int, int], tuple[QImage, float, bool]], generation: int) -> bool:
        index = min(max(wanted.index, 0), source.frame_count - 1)
        width, height = fit_size((source.info.width, source.info.height), size)
        key = (index, width, height)
        cached = images.get(key)
        result = self._result_near(store, index)
        if cached is None and wanted.scrub and store is not None:
            proxy = self._thumbnail(store, index)
            if proxy is not None:
                self.frame_ready.emit(ShownFrame(index, float(source.times[index]), False, proxy, True, result,
                                                 wanted.requested_at, time.perf_counter(), generation))
                if self._newer_waiting():
                    return False  # the user has moved on; the exact frame is no longer wanted
        if cached is None:
            frame = source.read(index)
            image = to_qimage(frame.rgb((width, height)))
            cached = (image, frame.time_s, frame.exact)
            if frame.index != index:  # an undecodable frame: its neighbour stands in
                cached = (image, frame.time_s, False)
            images[key] = cached
            while len(images) > self._cache_images:
                images.popitem(last=False)
        else:
            images.move_to_end(key)
        image, time_s, exact = cached
        self.frame_ready.emit(ShownFrame(index, time_s, exact, image, False, result,
                                         wanted.requested_at, time.perf_counter(), generation))
        return True

    @staticmethod
    def _result_near(store: Any, index: int) -> FrameResult | None:
        if store is None:
            return None
        try:
            nearest = store.nearest_analysed(index)
            return None if nearest is None else store.result_at(nearest)
        except Exception as exc:  # a busy or damaged case must not stop the player
            log.debug("no result for frame %d: %s", index, exc)
            return None

    @staticmethod
    def _thumbnail(store: Any, index: int) -> QImage | None:
        try:
            found = store.thumbnail(index)
        except Exception:
            return None
        return None if found is None else to_qimage(found[1])
