"""The analysis pipeline: sampled frames → every enabled model → the case store.

`analyse_video` is a plain function driven by a `TaskState` (progress + cancel, after Orange3):
the command line passes a text progress bar, the window passes a small Qt adapter. One thread
decodes (sequentially, converting only sampled frames, resized once per model input size in the
same swscale pass) while the calling thread runs the models and writes each batch to the store in
its own transaction. Frames already in the store are not redone, so an analysis interrupted by
cancel, crash or `kill -9` resumes where it stopped.
"""

from __future__ import annotations

import logging
import math
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scrubline.core.models import FrameModel, ModelError, Registry, load_model, load_registry
from scrubline.core.proxy import ProxyWriter, proxy_dir_for
from scrubline.core.results import FrameResult
from scrubline.core.store import CaseStore, StoreError
from scrubline.core.video import Frame, VideoError, VideoSource

log = logging.getLogger("scrubline.analysis")

FRAME_INDEX_KEY = "frame_index"  # the video's frame index, so re-opening skips demuxing


class TaskState(Protocol):
    def progress(self, fraction: float, message: str) -> None: ...

    def cancelled(self) -> bool: ...


class PlainTaskState:
    """A thread-safe TaskState for scripts and tests: call `cancel()` from anywhere."""

    def __init__(self, on_progress: Callable[[float, str], None] | None = None) -> None:
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self.last: tuple[float, str] = (0.0, "")

    def progress(self, fraction: float, message: str) -> None:
        self.last = (fraction, message)
        if self._on_progress:
            self._on_progress(fraction, message)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()


@dataclass
class AnalysisSettings:
    fps: float = 5.0
    start_s: float | None = None
    end_s: float | None = None
    device: str = "cpu"
    model_ids: list[str] | None = None  # None: the registry's default image models
    batch_size: int = 4
    threads: int = 0  # onnxruntime intra-op threads; 0 = leave one core to the decoder
    thumbnail_every_s: float = 1.0
    thumbnail_width: int = 320
    scrub_proxy: bool = True  # write the small every-frame copy used while scrubbing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnalysisReport:
    case_path: Path
    planned: int
    already_done: int
    done_now: int
    cancelled: bool
    elapsed_s: float
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.cancelled and self.already_done + self.done_now >= self.planned


class Analyzer:
    """The loaded image models and how to run them on one batch of frames."""

    def __init__(self, registry: Registry, settings: AnalysisSettings) -> None:
        manifests = (
            [registry.get(i) for i in settings.model_ids]
            if settings.model_ids
            else registry.frame_models()
        )
        if not manifests:
            raise ModelError("no image models are available to analyse with")
        self.models: list[FrameModel] = []
        self.notices: list[str] = []
        for manifest in manifests:
            if manifest.task == "sequence":
                continue
            model = load_model(manifest, settings.device, settings.threads)
            self.models.append(model)
            if model.device_notice:
                self.notices.append(f"{manifest.id}: {model.device_notice}")
        self.sizes = sorted({m.input_size for m in self.models})

    def records(self) -> list[dict[str, Any]]:
        return [
            {
                "id": m.manifest.id,
                "version": m.manifest.version,
                "task": m.manifest.task,
                "name": m.manifest.name,
                "provenance": m.manifest.provenance,
                "licence": m.manifest.licence,
                "training": m.manifest.training,
                "metrics": m.manifest.metrics,
            }
            for m in self.models
        ]

    def run(self, batch: list[tuple[int, float, dict[tuple[int, int], np.ndarray]]],
            frame_size: tuple[int, int]) -> list[FrameResult]:
        results = [FrameResult(frame=index, time_s=time_s) for index, time_s, _ in batch]
        for model in self.models:
            inputs = [resized[model.input_size] for _, _, resized in batch]
            for merged, partial in zip(results, model.predict(inputs, frame_size), strict=True):
                merged.merge(partial)
        return results


@dataclass
class _Decoded:
    index: int
    time_s: float
    resized: dict[tuple[int, int], np.ndarray]
    thumbnail: bytes | None


_END = object()


def _decode_worker(
    path: Path, indices: np.ndarray, sizes: list[tuple[int, int]], settings: AnalysisSettings,
    out: queue.Queue[Any], stop: threading.Event, problems: list[str], proxy_folder: Path | None,
    frame_index: bytes | None = None,
) -> None:
    import cv2

    proxy: ProxyWriter | None = None
    try:
        with VideoSource(path, index=frame_index) as source:  # the index built while planning
            if proxy_folder is not None:
                proxy = ProxyWriter(proxy_folder, source.info.width if not (source.info.rotation // 90) % 2
                                    else source.info.height, source.info.rotation)
            last_thumb = -1e9
            aspect = source.info.height / max(1, source.info.width)
            thumb_size = (settings.thumbnail_width, max(2, int(round(settings.thumbnail_width * aspect / 2)) * 2))
            # The proxy also gets the frames after the last sample, up to the range's end (at
            # most one sampling step), so that scrubbing to the very end stays quick.
            range_end = source.frame_count - 1 if settings.end_s is None else source.index_at(settings.end_s)
            step = max(1, math.ceil(source.info.fps / settings.fps))
            through = min(range_end, int(indices[-1]) + step) if len(indices) else None
            frame: Frame
            for frame in source.iter_frames(indices, proxy.add if proxy else None, decode_through=through):
                if stop.is_set():
                    break
                resized = {size: frame.rgb(size) for size in sizes}
                thumbnail = None
                if frame.time_s - last_thumb >= settings.thumbnail_every_s:
                    small = frame.rgb(thumb_size)
                    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
                    thumbnail = bytes(data) if ok else None
                    last_thumb = frame.time_s
                while not stop.is_set():
                    try:
                        out.put(_Decoded(frame.index, frame.time_s, resized, thumbnail), timeout=0.1)
                        break
                    except queue.Full:
                        continue
            problems.extend(f"{p.time_s:.2f} s: {p.message}" if p.time_s >= 0 else p.message for p in source.problems)
    except Exception as exc:  # handed to the consuming thread, which raises it
        out.put(exc)
        return
    finally:
        if proxy is not None:
            proxy.close()
            if proxy.failed:
                problems.append(proxy.failed)
    out.put(_END)


def plan_frames(source: VideoSource, settings: AnalysisSettings) -> np.ndarray:
    return source.sample_indices(settings.fps, settings.start_s, settings.end_s)


def analyse_video(
    video_path: str | Path,
    case_path: str | Path | None = None,
    settings: AnalysisSettings | None = None,
    *,
    registry: Registry | None = None,
    state: TaskState | None = None,
    fresh: bool = False,
) -> AnalysisReport:
    """Analyse (or resume analysing) a video into its case file."""
    settings = settings or AnalysisSettings()
    state = state or PlainTaskState()
    registry = registry or load_registry()
    started = time.monotonic()
    video_path = Path(video_path)

    with VideoSource(video_path) as source:
        info = source.info
        planned = plan_frames(source, settings)
        if len(planned) == 0:
            # Before the case file is made: an empty plan is a range outside the video, and
            # "analysed 0 frames" would read as success.
            start = settings.start_s or 0.0
            if start >= info.duration_s:
                raise VideoError(f"{video_path.name}: the analysed range starts at {start:g} s, "
                                 f"after the end of the video ({info.duration_s:.2f} s)")
            raise VideoError(f"{video_path.name}: no frames in the analysed range from {start:g} s")
        frame_index = source.saved_index()
    analyzer = Analyzer(registry, settings)
    store = CaseStore.for_video(info, case_path)
    try:
        store.set_blob(FRAME_INDEX_KEY, frame_index)
        records = analyzer.records()
        stored_models = [(m["id"], m["version"]) for m in store.models]
        current_models = [(m["id"], m["version"]) for m in records]
        if store.frame_count() and stored_models and stored_models != current_models and not fresh:
            raise StoreError(
                f"{store.path.name} holds results from other models "
                f"({', '.join(f'{i} {v}' for i, v in stored_models)}); analyse afresh to replace them"
            )
        if fresh:
            store.clear_results()
            shutil.rmtree(proxy_dir_for(store.path), ignore_errors=True)
        store.set_meta("models", records)
        store.set_meta("settings", settings.to_dict())
        store.set_meta("planned_frames", [int(x) for x in planned])

        done = set(store.analysed_frames().tolist())
        todo = np.asarray([i for i in planned if int(i) not in done], dtype=np.int64)
        already = len(planned) - len(todo)
        report = AnalysisReport(store.path, len(planned), already, 0, False, 0.0, notices=list(analyzer.notices))
        if len(todo) == 0:
            state.progress(1.0, f"all {len(planned)} frames already analysed")
            report.elapsed_s = time.monotonic() - started
            return report

        frames_queue: queue.Queue[Any] = queue.Queue(maxsize=max(4, settings.batch_size * 3))
        stop = threading.Event()
        problems: list[str] = []
        worker = threading.Thread(
            target=_decode_worker,
            args=(video_path, todo, analyzer.sizes, settings, frames_queue, stop, problems,
                  proxy_dir_for(store.path) if settings.scrub_proxy else None, frame_index),
            name="scrubline-decode",
            daemon=True,
        )
        worker.start()
        frame_size = (info.width, info.height)
        run_started = time.monotonic()
        state.progress(already / len(planned), f"analysing {len(todo)} of {len(planned)} frames")
        finished = False
        try:
            while not finished:
                if state.cancelled():
                    report.cancelled = True
                    break
                batch: list[_Decoded] = []
                while len(batch) < settings.batch_size:
                    item = frames_queue.get()
                    if item is _END:
                        finished = True
                        break
                    if isinstance(item, Exception):
                        raise item
                    batch.append(item)
                if not batch:
                    break
                results = analyzer.run([(d.index, d.time_s, d.resized) for d in batch], frame_size)
                thumbs = [(d.index, d.time_s, d.thumbnail) for d in batch if d.thumbnail is not None]
                store.write_results(results, thumbs)
                report.done_now += len(batch)
                total_done = already + report.done_now
                rate = report.done_now / max(1e-6, time.monotonic() - run_started)
                eta = (len(planned) - total_done) / max(rate, 1e-6)
                state.progress(
                    total_done / len(planned),
                    f"{total_done}/{len(planned)} frames · {rate:.1f} frames/s · ETA {_clock(eta)}",
                )
        finally:
            stop.set()
            worker.join(timeout=10)
        report.problems = problems
        if problems:
            store.set_meta("problems", problems[-200:])
        report.elapsed_s = time.monotonic() - started
        return report
    finally:
        store.close()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
