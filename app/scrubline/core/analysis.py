"""The analysis pipeline: sampled frames → every enabled model → the case store.

`analyse_video` is a plain function driven by a `TaskState` (progress + cancel, after Orange3):
the command line passes a text progress bar, the window passes a small Qt adapter. One thread
decodes (sequentially, converting only sampled frames, resized once per model input size in the
same swscale pass) while the calling thread runs the models and writes each batch to the store in
its own transaction. Frames already in the store are not redone, so an analysis interrupted by
cancel, crash or `kill -9` resumes where it stopped.

A case holds one analysis plan: the sampled frames (from rate and range) and the models with
their versions. Resuming continues it. A request whose frames include every planned frame (a
longer range, a rate that keeps every earlier sample) extends the plan; a request that adds a
model extends the plan's models, and every frame without that model's output is analysed again
by all of the plan's models. Anything else (another rate, a shorter range, another version of a
model) would mix two analyses in one timeline: it is refused with `PlanChanged`, which says how
to resume or to start afresh, and nothing in the case is touched.

Frames that cannot be decoded, and frames decoded from damaged data (concealed, or predicted
from a concealed frame), are not analysed: they are recorded as skipped with their reason,
count as done for the plan, and are summed up in the case's analysis problems.

Cancel is checked while waiting for frames and between batches, and a batch of inference in
flight is told to stop (onnxruntime's terminate flag), so a cancel ends within a fraction of a
second and both threads are joined before `analyse_video` returns.

An analysis holds the case's lock (`core.caselock`) from before it opens the case until it has
closed (and checkpointed) it, so a second analysis of the same case is refused or waits. A resume
also decodes the frames of the analysed range that the scrub proxy lacks (the segment in flight
when the earlier run was killed), so the proxy ends up whole.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scrubline.core.caselock import CaseLock
from scrubline.core.models import FrameModel, ModelError, Registry, load_model, load_registry
from scrubline.core.models.manifest import Manifest
from scrubline.core.proxy import ProxyWriter, proxy_dir_for, proxy_segments
from scrubline.core.results import GATE_LABEL, FrameResult
from scrubline.core.store import CaseStore, StoreError, default_case_path
from scrubline.core.video import Frame, VideoError, VideoSource, fingerprint

log = logging.getLogger("scrubline.analysis")

FRAME_INDEX_KEY = "frame_index"  # the video's frame index, so re-opening skips demuxing
PLAN_KEY = "plan"  # fps, start_s, end_s and {model id: version} of the case's analysis
SKIPPED_KEY = "skipped_frames"  # {"damaged": [frames], "unreadable": [frames]}
DECODE_PROBLEMS_KEY = "decode_problems"  # the decoder's own messages, for the curious
CANCEL_POLL_S = 0.05  # how often a waiting thread looks at the cancel flag


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


class PlanChanged(StoreError):
    """The requested analysis would mix with the case's own plan. The message gives the command
    line's choice (resume the plan, or `--fresh`); `summary` says what differs, for the window
    to ask its own question."""

    def __init__(self, summary: str, choice: str) -> None:
        super().__init__(f"{summary}: {choice}")
        self.summary = summary


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


PLAN_FIELDS = ("fps", "start_s", "end_s", "model_ids")


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
    skipped: int = 0  # planned frames that cannot be analysed (undecodable or damaged)

    @property
    def complete(self) -> bool:
        return (
            not self.cancelled and self.already_done + self.done_now + self.skipped >= self.planned
        )


# ---------------------------------------------------------------------------- the plan
def _model_key(model_id: str, version: str) -> str:
    return f"{model_id}@{version}"


def stored_plan(store: CaseStore) -> dict[str, Any] | None:
    """The case's plan: fps, start_s, end_s, models {id: version}; None before any analysis.
    Cases written before plans were recorded get theirs from the settings and models kept."""
    plan = store.get_meta(PLAN_KEY)
    if plan is not None:
        return dict(plan)
    settings = store.settings
    if not settings:
        return None
    return {
        "fps": settings.get("fps"),
        "start_s": settings.get("start_s"),
        "end_s": settings.get("end_s"),
        "models": {m["id"]: m["version"] for m in store.models if "id" in m},
    }


def describe_plan(plan: dict[str, Any], frames: int | None = None) -> str:
    """'5 fps over the whole video (54 frames) with tiny-seg 1.0'."""
    start, end = plan.get("start_s"), plan.get("end_s")
    if start is None and end is None:
        span = "over the whole video"
    else:
        span = f"from {start or 0:g} s to {'the end' if end is None else f'{end:g} s'}"
    count = f" ({frames} frames)" if frames is not None else ""
    models = (
        ", ".join(f"{i} {v}" for i, v in sorted((plan.get("models") or {}).items())) or "no models"
    )
    return f"{plan.get('fps') or 0:g} fps {span}{count} with {models}"


def plan_settings(
    case_path: str | Path, base: AnalysisSettings | None = None, explicit: Iterable[str] = ()
) -> AnalysisSettings:
    """`base` with the case's plan for every plan field (fps, range, models) not in `explicit`:
    what "resume" means. A case that does not exist yet leaves `base` as it is."""
    base = base or AnalysisSettings()
    path = Path(case_path)
    if not path.exists():
        return base
    with CaseStore(path, readonly=True) as store:
        plan = stored_plan(store)
    if plan is None:
        return base
    chosen = set(explicit)
    values = base.to_dict()
    for name in ("fps", "start_s", "end_s"):
        if name not in chosen:
            values[name] = plan.get(name)
    if "model_ids" not in chosen and plan.get("models"):
        values["model_ids"] = sorted(plan["models"])
    if not values.get("fps"):
        values["fps"] = base.fps
    return AnalysisSettings(**values)


def case_path_for(video_path: str | Path, case_path: str | Path | None = None) -> Path:
    """Where a video's case is: `case_path`, or the per-user default for its content."""
    return Path(case_path) if case_path else default_case_path(fingerprint(Path(video_path)))


def skipped_frames(store: CaseStore) -> dict[str, list[int]]:
    """Planned frames that cannot be analysed, by reason ("damaged", "unreadable")."""
    return {k: list(v) for k, v in (store.get_meta(SKIPPED_KEY) or {}).items()}


def plan_progress(store: CaseStore) -> tuple[int, int, int]:
    """(analysed, planned, skipped) frames of the case's plan; planned is 0 before any analysis."""
    planned = store.planned_frames()
    skipped = sum(len(v) for v in skipped_frames(store).values())
    return store.frame_count(), 0 if planned is None else len(planned), skipped


def _summarise_skipped(skipped: dict[str, list[int]], times: np.ndarray) -> list[str]:
    lines = []
    for reason, text in (
        ("unreadable", "could not be decoded and have no results"),
        (
            "damaged",
            "were decoded from damaged data (concealed errors) and were left out of the analysis",
        ),
    ):
        frames = sorted(skipped.get(reason, []))
        if frames:
            first, last = float(times[frames[0]]), float(times[frames[-1]])
            lines.append(f"{len(frames)} planned frame(s) {text} ({first:.2f}–{last:.2f} s)")
    return lines


class ImageModels:
    """The loaded image models and how to run them on one batch of frames."""

    def __init__(self, manifests: list[Manifest], settings: AnalysisSettings) -> None:
        if not manifests:
            raise ModelError("no image models are available to analyse with")
        self.models: list[FrameModel] = []
        self.notices: list[str] = []
        self._run_options: Any = None
        for manifest in manifests:
            model = load_model(manifest, settings.device, settings.threads)
            self.models.append(model)
            if model.device_notice:
                self.notices.append(f"{manifest.id}: {model.device_notice}")
        # A model with a blood_present output gates the bleeding mask of every frame (after all
        # models ran), and its own mask is the one kept: it runs last, so its mask is merged last.
        gating = [m for m in self.models if m.manifest.output_for(GATE_LABEL) is not None]
        self.models = [m for m in self.models if m not in gating] + gating
        self.gates = [
            (f"{m.manifest.id}:{GATE_LABEL}", m.manifest.threshold(GATE_LABEL, 0.5)) for m in gating
        ]
        self.sizes = sorted({m.input_size for m in self.models})
        self.keys = sorted(_model_key(m.manifest.id, m.manifest.version) for m in self.models)

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
                "labels": list(m.manifest.labels),  # a phase model needs the classes it could see
            }
            for m in self.models
        ]

    def interrupt(self) -> None:
        """Ask a batch in flight to stop (from any thread); its `run` then raises."""
        for model in self.models:
            options = getattr(model, "run_options", None)
            if options is not None:
                options.terminate = True

    def run(
        self,
        batch: list[tuple[int, float, dict[tuple[int, int], np.ndarray]]],
        frame_size: tuple[int, int],
    ) -> list[FrameResult]:
        results = [FrameResult(frame=index, time_s=time_s) for index, time_s, _ in batch]
        for model in self.models:
            inputs = [resized[model.input_size] for _, _, resized in batch]
            for merged, partial in zip(results, model.predict(inputs, frame_size), strict=True):
                merged.merge(partial)
        for merged in results:
            for score_key, threshold in self.gates:
                merged.gate_bleeding(score_key, threshold)
        for result in results:
            result.gate()  # out of body (the in-body model said so): no tools, tips or bleeding
        return results


def frame_manifests(registry: Registry, model_ids: list[str] | None) -> list[Manifest]:
    """The image models a request names (all default ones without names). A sequence model is
    refused: it runs on the timeline afterwards, never on frames."""
    if not model_ids:
        return registry.frame_models()
    chosen = [registry.get(i) for i in model_ids]
    sequence = [m.id for m in chosen if m.task == "sequence"]
    images = ", ".join(m.id for m in registry.frame_models()) or "none"
    if sequence:
        raise ModelError(
            f"{', '.join(sequence)}: a sequence model (it predicts the outcome from the analysed "
            f"timeline) cannot analyse frames; choose image models (available: {images})"
        )
    phase = [m.id for m in chosen if m.task == "phase"]
    if phase:
        raise ModelError(
            f"{', '.join(phase)}: a phase model (it reads the tools found in the analysed frames; "
            "choose it with --procedure) cannot analyse frames; choose image models (available: "
            f"{images})"
        )
    return chosen


@dataclass
class _Decoded:
    index: int
    time_s: float
    resized: dict[tuple[int, int], np.ndarray]
    thumbnail: bytes | None


@dataclass
class _Skipped:
    index: int
    reason: str  # "damaged" or "unreadable"


class _Stopped(Exception):
    """Raised inside the decoding loop when the analysis is stopping."""


_END = object()


def _decode_worker(
    path: Path,
    indices: np.ndarray,
    sizes: list[tuple[int, int]],
    settings: AnalysisSettings,
    out: queue.Queue[Any],
    stop: threading.Event,
    problems: list[str],
    proxy_folder: Path | None,
    frame_index: bytes | None = None,
    proxy_only: frozenset[int] = frozenset(),
) -> None:
    """Decode `indices` in order and hand them over; frames in `proxy_only` are decoded for the
    scrub proxy alone (it has seen them) and are neither handed over nor reported as skipped."""
    import cv2

    def put(item: Any) -> bool:
        """Hand an item over unless the analysis stops first (never blocks past a stop)."""
        while not stop.is_set():
            try:
                out.put(item, timeout=CANCEL_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    proxy: ProxyWriter | None = None
    final: Any = _END
    try:
        with VideoSource(path, index=frame_index) as source:  # the index built while planning
            if proxy_folder is not None:
                proxy = ProxyWriter(
                    proxy_folder,
                    source.info.width
                    if not (source.info.rotation // 90) % 2
                    else source.info.height,
                    source.info.rotation,
                )

            def on_decoded(index: int, av_frame: Any) -> None:
                # Every decoded frame passes here, also the ones between samples: stop promptly.
                if stop.is_set():
                    raise _Stopped
                if proxy is not None:
                    proxy.add(index, av_frame)

            last_thumb = -1e9
            aspect = source.info.height / max(1, source.info.width)
            thumb_size = (
                settings.thumbnail_width,
                max(2, int(round(settings.thumbnail_width * aspect / 2)) * 2),
            )
            # The proxy also gets the frames after the last sample, up to the range's end (at
            # most one sampling step), so that scrubbing to the very end stays quick.
            range_end = (
                source.frame_count - 1
                if settings.end_s is None
                else source.index_at(settings.end_s)
            )
            step = max(1, math.ceil(source.info.fps / settings.fps))
            through = min(range_end, int(indices[-1]) + step) if len(indices) and proxy else None
            seen: set[int] = set()
            frame: Frame
            try:
                for frame in source.iter_frames(indices, on_decoded, decode_through=through):
                    if stop.is_set():
                        raise _Stopped
                    seen.add(frame.index)
                    if frame.index in proxy_only:
                        continue
                    if frame.damaged:
                        if not put(_Skipped(frame.index, "damaged")):
                            raise _Stopped
                        continue
                    resized = {size: frame.rgb(size) for size in sizes}
                    thumbnail = None
                    if frame.time_s - last_thumb >= settings.thumbnail_every_s:
                        small = frame.rgb(thumb_size)
                        ok, data = cv2.imencode(
                            ".jpg",
                            cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 80],
                        )
                        thumbnail = bytes(data) if ok else None
                        last_thumb = frame.time_s
                    if not put(_Decoded(frame.index, frame.time_s, resized, thumbnail)):
                        raise _Stopped
                # Read to the end: what never came out cannot be decoded.
                for index in indices.tolist():
                    if int(index) in proxy_only:
                        continue
                    if int(index) not in seen and not put(_Skipped(int(index), "unreadable")):
                        raise _Stopped
            except _Stopped:
                pass
            problems.extend(
                f"{p.time_s:.2f} s: {p.message}" if p.time_s >= 0 else p.message
                for p in source.problems
            )
    except Exception as exc:  # handed to the consuming thread, which raises it
        final = exc
    finally:
        if proxy is not None:
            proxy.close()
            if proxy.failed:
                problems.append(proxy.failed)
        put(final)


def plan_frames(source: VideoSource, settings: AnalysisSettings) -> np.ndarray:
    return source.sample_indices(settings.fps, settings.start_s, settings.end_s)


def _reconcile_plan(
    store: CaseStore,
    registry: Registry,
    requested: list[Manifest],
    planned: np.ndarray,
    settings: AnalysisSettings,
) -> list[Manifest]:
    """The models the case's plan needs once this request joins it; raises PlanChanged when
    the request would mix with what the case holds (the case is not touched then)."""
    plan = stored_plan(store)
    attribution = store.frame_attribution()
    if plan is None or not attribution:
        return requested
    held = dict(plan.get("models") or {})
    request = {m.id: m.version for m in requested}
    resume = "run without --fps/--start/--end/--model to resume the case's plan"
    fresh = "add --fresh to discard its results and start again"
    old = store.planned_frames()
    old_frames = set(attribution) if old is None else set(old.tolist())
    new_plan = {
        "fps": settings.fps,
        "start_s": settings.start_s,
        "end_s": settings.end_s,
        "models": request,
    }
    if not old_frames <= set(planned.tolist()):
        raise PlanChanged(
            f"{store.path.name} holds an analysis at {describe_plan(plan, len(old_frames))}; "
            f"{describe_plan(new_plan, len(planned))} would mix the two",
            f"{resume}, or {fresh}",
        )
    versions = [
        f"{i} {held[i]} (now {v})" for i, v in request.items() if i in held and held[i] != v
    ]
    if versions:
        raise PlanChanged(
            f"{store.path.name} was analysed with another version of {', '.join(versions)}",
            "add --fresh to analyse it again with the installed models",
        )
    manifests = list(requested)
    for model_id, version in held.items():
        if model_id in request:
            continue
        manifest = registry.manifests.get(model_id)
        if manifest is None or manifest.version != version:
            raise PlanChanged(
                f"{store.path.name} was analysed with {model_id} {version}, which is not installed",
                f"add its folder with --models to resume, or {fresh}",
            )
        manifests.append(manifest)
    return manifests


def proxy_range(
    source: VideoSource, settings: AnalysisSettings, planned: np.ndarray
) -> tuple[int, int] | None:
    """The frames the scrub proxy must cover for this plan: from the first sample to the frame
    one sampling step after the last (what `_decode_worker` decodes through), inclusive."""
    if not len(planned):
        return None
    range_end = (
        source.frame_count - 1 if settings.end_s is None else source.index_at(settings.end_s)
    )
    step = max(1, math.ceil(source.info.fps / settings.fps))
    return int(planned[0]), max(int(planned[0]), min(range_end, int(planned[-1]) + step))


def proxy_gaps(case_path: Path, span: tuple[int, int] | None) -> np.ndarray:
    """Frames of `span` that no finished proxy segment holds."""
    if span is None:
        return np.zeros(0, dtype=np.int64)
    wanted = np.ones(span[1] - span[0] + 1, dtype=bool)
    for first, last in proxy_segments(proxy_dir_for(case_path)):
        lo, hi = max(first, span[0]), min(last, span[1])
        if lo <= hi:
            wanted[lo - span[0] : hi - span[0] + 1] = False
    return np.flatnonzero(wanted).astype(np.int64) + span[0]


def analyse_video(
    video_path: str | Path,
    case_path: str | Path | None = None,
    settings: AnalysisSettings | None = None,
    *,
    registry: Registry | None = None,
    state: TaskState | None = None,
    fresh: bool = False,
    wait_for_lock: bool = False,
    on_wait: Callable[[str], None] | None = None,
    journal: str | None = None,
) -> AnalysisReport:
    """Analyse (or resume analysing) a video into its case file.

    Raises `CaseLocked` when another analysis holds the case, or with `wait_for_lock` waits for
    it (telling `on_wait` once; cancelling stops the wait). `journal` ("wal" or "delete") is the
    case file's SQLite journal; None chooses by its filesystem (`core.journal`)."""
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
                raise VideoError(
                    f"{video_path.name}: the analysed range starts at {start:g} s, "
                    f"after the end of the video ({info.duration_s:.2f} s)"
                )
            raise VideoError(f"{video_path.name}: no frames in the analysed range from {start:g} s")
        frame_index = source.saved_index()
        times = np.array(source.times)
        span = proxy_range(source, settings, planned)
    requested = frame_manifests(registry, settings.model_ids)
    case_path = Path(case_path) if case_path else default_case_path(info.fingerprint)
    lock = CaseLock(case_path).acquire(
        wait=wait_for_lock, cancelled=state.cancelled, on_wait=on_wait
    )
    try:
        store = CaseStore.for_video(info, case_path, journal=journal)
    except BaseException:
        lock.release()
        raise
    try:
        if fresh:
            store.clear_results()
            store.set_meta(SKIPPED_KEY, {})
            store.set_meta(DECODE_PROBLEMS_KEY, [])
            store.set_meta("problems", [])
            shutil.rmtree(proxy_dir_for(store.path), ignore_errors=True)
        manifests = _reconcile_plan(store, registry, requested, planned, settings)
        analyzer = ImageModels(manifests, settings)
        store.set_blob(FRAME_INDEX_KEY, frame_index)
        records = analyzer.records()
        plan = {
            "fps": settings.fps,
            "start_s": settings.start_s,
            "end_s": settings.end_s,
            "models": {m.manifest.id: m.manifest.version for m in analyzer.models},
        }
        store.set_meta(PLAN_KEY, plan)
        store.set_meta("models", records)
        # The models as the plan holds them, never "the defaults" (None): a resume names them
        # explicitly, and the stored settings must not differ from an uninterrupted run's.
        store.set_meta(
            "settings",
            {**settings.to_dict(), "model_ids": sorted(m.manifest.id for m in analyzer.models)},
        )
        store.set_meta("planned_frames", [int(x) for x in planned])

        # Rows of another plan, and rows some plan model did not produce, are analysed again.
        legacy = sorted(
            _model_key(m["id"], m["version"]) for m in records
        )  # unnamed rows: as before
        planned_set = set(planned.tolist())
        stale = [
            frame
            for frame, models in store.frame_attribution().items()
            if frame not in planned_set
            or not set(analyzer.keys) <= set(models if models is not None else legacy)
        ]
        if stale:
            store.discard_frames(stale)
        skipped = {k: sorted(set(v) & planned_set) for k, v in skipped_frames(store).items()}
        store.set_meta(SKIPPED_KEY, skipped)
        done = set(store.analysed_frames().tolist()) | {f for v in skipped.values() for f in v}
        todo = np.asarray([i for i in planned if int(i) not in done], dtype=np.int64)
        skipped_count = sum(len(v) for v in skipped.values())
        already = len(planned) - len(todo) - skipped_count
        report = AnalysisReport(
            store.path,
            len(planned),
            already,
            0,
            False,
            0.0,
            notices=list(analyzer.notices),
            skipped=skipped_count,
        )
        report.problems = list(store.get_meta("problems", []) or [])
        # Frames the proxy lacks (a segment lost to a kill, a run stopped mid-way) are decoded
        # again for the proxy alone; frames it holds are not written twice (ProxyWriter skips them).
        gaps = proxy_gaps(store.path, span) if settings.scrub_proxy else np.zeros(0, dtype=np.int64)
        proxy_only = frozenset(int(i) for i in np.setdiff1d(gaps, todo))
        if len(todo) == 0 and not proxy_only:
            state.progress(1.0, f"all {len(planned)} frames already analysed")
            report.elapsed_s = time.monotonic() - started
            return report
        _run(
            video_path,
            store,
            analyzer,
            todo,
            settings,
            state,
            report,
            info,
            frame_index,
            times,
            skipped,
            proxy_only,
        )
        report.elapsed_s = time.monotonic() - started
        return report
    finally:
        store.close()  # checkpoints: the closed case is one self-contained file
        lock.release()


def _run(
    video_path: Path,
    store: CaseStore,
    analyzer: ImageModels,
    todo: np.ndarray,
    settings: AnalysisSettings,
    state: TaskState,
    report: AnalysisReport,
    info: Any,
    frame_index: bytes,
    times: np.ndarray,
    skipped: dict[str, list[int]],
    proxy_only: frozenset[int] = frozenset(),
) -> None:
    """Decode `todo` (and `proxy_only`, for the scrub proxy alone) on a worker thread, infer and
    write here; returns once both have stopped."""
    frames_queue: queue.Queue[Any] = queue.Queue(maxsize=max(4, settings.batch_size * 3))
    stop = threading.Event()
    problems: list[str] = []
    worker = threading.Thread(
        target=_decode_worker,
        args=(
            video_path,
            np.union1d(todo, np.fromiter(proxy_only, np.int64, len(proxy_only))),
            analyzer.sizes,
            settings,
            frames_queue,
            stop,
            problems,
            proxy_dir_for(store.path) if settings.scrub_proxy else None,
            frame_index,
            proxy_only,
        ),
        name="scrubline-decode",
        daemon=True,
    )
    # A cancel during a long batch of inference interrupts the batch instead of waiting for it.
    watching = threading.Event()

    def watch_cancel() -> None:
        while not watching.wait(CANCEL_POLL_S):
            if state.cancelled():
                stop.set()
                analyzer.interrupt()
                return

    watcher = threading.Thread(target=watch_cancel, name="scrubline-cancel-watch", daemon=True)
    planned = report.planned
    frame_size = (info.width, info.height)
    new_skips = 0
    worker.start()
    watcher.start()
    run_started = time.monotonic()
    state.progress(
        (report.already_done + report.skipped) / planned,
        f"analysing {len(todo)} of {planned} frames" if len(todo) else "completing the scrub proxy",
    )
    try:
        finished = False
        while not finished:
            batch: list[_Decoded] = []
            while len(batch) < settings.batch_size and not finished:
                if state.cancelled():
                    report.cancelled = True
                    return
                try:
                    item = frames_queue.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    finished = True
                elif isinstance(item, Exception):
                    raise item
                elif isinstance(item, _Skipped):
                    skipped.setdefault(item.reason, []).append(item.index)
                    new_skips += 1
                    report.skipped += 1
                else:
                    batch.append(item)
            if not batch:
                continue
            try:
                results = analyzer.run([(d.index, d.time_s, d.resized) for d in batch], frame_size)
            except Exception:
                if state.cancelled():  # interrupted by the cancel: the batch is simply not saved
                    report.cancelled = True
                    return
                raise
            thumbs = [(d.index, d.time_s, d.thumbnail) for d in batch if d.thumbnail is not None]
            store.write_results(results, thumbs, models=analyzer.keys)
            if new_skips:
                store.set_meta(SKIPPED_KEY, skipped)
                new_skips = 0
            report.done_now += len(batch)
            total_done = report.already_done + report.done_now
            rate = report.done_now / max(1e-6, time.monotonic() - run_started)
            eta = (planned - total_done - report.skipped) / max(rate, 1e-6)
            state.progress(
                min(1.0, (total_done + report.skipped) / planned),
                f"{total_done}/{planned} frames · {rate:.1f} frames/s · ETA {_clock(eta)}",
            )
    finally:
        stop.set()
        watching.set()
        # The worker never blocks once `stop` is set; empty the queue so that its items go now.
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                frames_queue.get(timeout=CANCEL_POLL_S)
        worker.join()
        watcher.join()
        if new_skips or skipped:
            store.set_meta(SKIPPED_KEY, skipped)
        report.skipped = sum(len(v) for v in skipped.values())
        if problems:
            store.set_meta(DECODE_PROBLEMS_KEY, problems[-200:])
        summary = _summarise_skipped(skipped, times)
        decoder = list(store.get_meta(DECODE_PROBLEMS_KEY, []) or [])
        store.set_meta("problems", summary + decoder[:20])
        report.problems = summary + problems
        if report.done_now:
            store.set_meta("analysed_at", time.time())  # the case library's "date analysed"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
