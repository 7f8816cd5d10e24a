"""Archive analysis: `scrubline batch`, one task per video on Dask distributed.

A department has hundreds to thousands of case videos. `run_batch` analyses them into one
archive folder (`DIR/cases/<fingerprint>.scrub` and the index `DIR/index.sqlite`, see
`core.archive`) with the same `analyse_video` as `scrubline analyze`, one Dask task per video:

- without a scheduler address, on a local cluster of worker processes (one task at a time each,
  `workers × inference threads ≤` the CPUs this process may use, `core.cpus`), whose scheduler
  and workers listen on 127.0.0.1 only and stop with the batch;
- with `--scheduler tcp://HOST:PORT` (or a scheduler file), on an existing cluster: Dask's own
  `dask scheduler` / `dask worker`, dask-jobqueue on Slurm or PBS, Kubernetes. Nothing here is a
  home-made pool: Dask schedules, retries the tasks of a worker that died (up to its
  `distributed.scheduler.allowed-failures`, then the case is recorded as failed) and streams
  results back; the workers need the same Scrubline and models, and the paths must mean the same
  on every machine (shared storage: see `core.journal` for case files on network filesystems).

Idempotent and resumable: a video whose case the index records as done with the same
fingerprint, plan (rate, range, procedure) and model versions, and whose case file is there, is
skipped without a task; any other case runs, and `analyse_video` resumes whatever its case file
already holds. Each case is analysed under its case lock (`core.caselock`), so two workers, or a
worker and the window, never write one case. A video that fails (unreadable, corrupt, locked) is
recorded with its error and the batch goes on. Cancelling (Ctrl+C) tells running analyses to
stop through a Dask `Event` (they save what they have, as `analyze` does), records them as
interrupted and returns; running the same command again resumes.

This module imports Dask only inside its functions: `scrubline analyze` and the window never
load it (and never open a network socket, `tests/test_privacy.py`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scrubline.core.archive import (
    DONE,
    FAILED,
    INTERRUPTED,
    ArchiveIndex,
    CaseRow,
    case_file_for,
    case_row,
)

log = logging.getLogger("scrubline.batch")

LOCAL_HOST = "127.0.0.1"
CANCEL_POLL_S = 0.5  # how often a running task looks at the batch's cancel event
CANCEL_GRACE_S = 60.0  # how long a cancel waits for running analyses to save and stop
REFRESH_S = 0.5  # how often the progress (running count, ETA) is refreshed
CONNECT_TIMEOUT_S = 30.0


class BatchInputError(Exception):
    """An input that is neither a video, a folder nor a list of videos; the message says which."""


@dataclass(frozen=True)
class BatchItem:
    """One video to analyse, with what a list file gave for it."""

    video: Path
    label: str | None = None
    procedure: str | None = None


@dataclass
class BatchOptions:
    """What every task of a batch is asked to do (sent to the workers, so plain values only)."""

    fps: float = 5.0
    procedure: str | None = None  # None: the generic template
    model_ids: list[str] | None = None
    models_dirs: list[str] = field(default_factory=list)
    device: str = "cpu"
    batch_size: int = 4
    threads: int = 0  # inference threads per task; 0: the worker's CPUs shared by its tasks
    journal: str | None = None  # "wal", "delete"; None: by the case's filesystem
    record_paths: bool = False  # the index keeps the videos' paths (not only their names)
    # The scrub proxy is a per-user cache for the window's scrubbing: on a cluster it would fill
    # each worker machine's cache, and it costs a re-encode of every frame. Off unless asked;
    # the window falls back to full-resolution seeks, and `analyze` of the video builds it.
    scrub_proxy: bool = False
    fresh: bool = False  # a case holding another plan is analysed afresh instead of refused


@dataclass
class BatchResult:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (video name, error)


# ---------------------------------------------------------------------------- inputs
def _video_suffixes() -> frozenset[str]:
    from scrubline.core.video import VIDEO_SUFFIXES

    return frozenset(s.lower() for s in VIDEO_SUFFIXES)


def _from_list(path: Path) -> list[BatchItem]:
    """A `.csv` (column `path`, optional `case_label`, `procedure`) or `.txt` (one path a line)
    list; relative paths are relative to the list's folder."""
    base = path.parent
    if path.suffix.lower() == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [
            BatchItem(base / line.strip())
            for line in lines
            if line.strip() and not line.lstrip().startswith("#")
        ]
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"{path}: not a readable CSV list ({one_line(exc)})") from exc
    columns = {c.strip().lower(): c for c in table.columns}
    if "path" not in columns:
        raise BatchInputError(
            f"{path}: a list needs a column 'path' (and optionally 'case_label', 'procedure'); "
            f"it has {', '.join(map(str, table.columns)) or 'none'}"
        )
    items = []
    for _, record in table.iterrows():
        video = str(record[columns["path"]]).strip()
        if not video:
            continue
        label = str(record[columns["case_label"]]).strip() if "case_label" in columns else ""
        procedure = str(record[columns["procedure"]]).strip() if "procedure" in columns else ""
        items.append(BatchItem(base / video, label or None, procedure or None))
    return items


def collect_inputs(inputs: Sequence[str | Path]) -> list[BatchItem]:
    """The videos named by `inputs`: video files, folders (searched recursively for video
    suffixes), and `.csv`/`.txt` lists. Each video once, in the order found."""
    suffixes = _video_suffixes()
    items: list[BatchItem] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
            )
            items.extend(BatchItem(p) for p in found)
        elif path.is_file() and path.suffix.lower() in (".csv", ".txt"):
            listed = _from_list(path)
            missing = [str(i.video) for i in listed if not i.video.is_file()]
            if missing:
                raise BatchInputError(
                    f"{path}: {len(missing)} listed video(s) not found, first {missing[0]}"
                )
            items.extend(listed)
        elif path.is_file():
            items.append(BatchItem(path))  # a video named explicitly, whatever its suffix
        else:
            raise BatchInputError(f"{text}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for item in items:
        key = item.video.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(BatchItem(key, item.label, item.procedure))
    return unique


def one_line(message: Any) -> str:
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


# ---------------------------------------------------------------------------- the plan
def requested_models(options: BatchOptions) -> dict[str, str]:
    """{id: version} of the image models every task will run (from this machine's registry)."""
    from scrubline.core.analysis import frame_manifests
    from scrubline.core.models import load_registry

    registry = load_registry([Path(d) for d in options.models_dirs])
    return {m.id: m.version for m in frame_manifests(registry, options.model_ids)}


def plan_of(options: BatchOptions, item: BatchItem, models: dict[str, str]) -> dict[str, Any]:
    """What a finished case must have been analysed with to be skipped."""
    return {
        "fps": options.fps,
        "start_s": None,
        "end_s": None,
        "models": dict(sorted(models.items())),
        "procedure": item.procedure or options.procedure or "generic",
    }


def is_finished(row: dict[str, Any] | None, plan: dict[str, Any], case_path: Path) -> bool:
    return (
        row is not None
        and row.get("status") == DONE
        and row.get("plan") == plan
        and case_path.is_file()
    )


# ---------------------------------------------------------------------------- the task
class _CancelState:
    """The TaskState of one task: cancelled when the batch's Dask Event is set. The Event is made
    here, on the task's thread (where the worker's client is found); a thread waits on it, so
    the per-frame check is a local flag."""

    def __init__(self, event_name: str | None) -> None:
        self._flag = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not event_name:
            return
        try:
            from distributed import get_client

            client = get_client()
        except Exception as exc:  # not on a Dask worker: nothing can cancel it but the process
            log.debug("no batch cancel event: %s", exc)
            return
        self._thread = threading.Thread(
            target=self._watch,
            args=(event_name, client),
            name="scrubline-batch-cancel",
            daemon=True,
        )
        self._thread.start()

    def _watch(self, event_name: str, client: Any) -> None:
        try:
            from distributed import Event

            event = Event(event_name, client=client)
            while not self._stop.is_set():
                if event.wait(timeout=CANCEL_POLL_S):
                    self._flag.set()
                    return
        except Exception as exc:  # the scheduler went away: the worker is being stopped anyway
            log.debug("batch cancel watch ended: %s", exc)

    def progress(self, fraction: float, message: str) -> None:
        pass

    def cancelled(self) -> bool:
        return self._flag.is_set()

    def close(self) -> None:
        self._stop.set()


def _worker_threads(options: BatchOptions) -> int:
    """Inference threads for this task: as asked (a local cluster shares its CPUs among its
    workers), else this worker process's CPUs shared among the tasks it runs at once."""
    if options.threads:
        return options.threads
    from scrubline.core.cpus import inference_threads

    try:
        from distributed import get_worker

        tasks_at_once = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        tasks_at_once = 1
    return inference_threads(tasks_at_once)


def analyse_task(
    video: str,
    case_path: str,
    archive: str,
    label: str | None,
    procedure: str,
    plan: dict[str, Any],
    options: dict[str, Any],
    cancel_event: str | None,
) -> dict[str, Any]:
    """Run on a worker: analyse one video into its case (resuming it), set its procedure and
    label, and return its index row as a dict. Never raises for a bad video: the error is the
    row's (scrubbed of the video's name and of paths); a worker that dies is Dask's to retry."""
    from scrubline.core.analysis import AnalysisSettings, analyse_video
    from scrubline.core.case import Case
    from scrubline.core.caselock import CaseLock
    from scrubline.core.edits import SetCaseInfo, SetProcedure
    from scrubline.core.journal import JOURNAL_ENV
    from scrubline.core.models import load_registry
    from scrubline.core.privacy import identifying_names, scrub_text

    opts = BatchOptions(**options)
    if opts.journal:
        # Every case file this worker opens for the batch keeps the journal asked for (a case
        # on a share that detection cannot see must never be switched back to WAL).
        os.environ[JOURNAL_ENV] = opts.journal
    started = time.monotonic()
    video_path, case = Path(video), Path(case_path)
    base = {
        "fingerprint": plan.get("fingerprint"),
        "case": label or "",
        "case_file": str(case.relative_to(archive)) if case.is_relative_to(archive) else case_path,
        "video_name": video_path.name,
        "video_path": video if opts.record_paths else None,
        "procedure": procedure,
        "plan": {k: v for k, v in plan.items() if k != "fingerprint"},
        "models": plan.get("models"),
    }
    state = _CancelState(cancel_event)
    try:
        registry = load_registry([Path(d) for d in opts.models_dirs])
        settings = AnalysisSettings(
            fps=opts.fps,
            device=opts.device,
            model_ids=list(opts.model_ids) if opts.model_ids else None,
            batch_size=opts.batch_size,
            threads=_worker_threads(opts),
            scrub_proxy=opts.scrub_proxy,
        )
        report = analyse_video(
            video_path,
            case,
            settings,
            registry=registry,
            state=state,
            journal=opts.journal,
            fresh=opts.fresh,
        )
        if report.cancelled:
            return {
                **base,
                "status": INTERRUPTED,
                "error": "cancelled; run the batch again to resume",
                "elapsed_s": time.monotonic() - started,
            }
        # The case details are written under the case lock, as the analysis wrote its results.
        # The row is read through the same connection, so closing it leaves one whole file.
        # The case details are written under the case lock, as the analysis wrote its results,
        # and the row is read through the same connection, so closing it leaves one whole file.
        with CaseLock(case), Case.open(report.case_path, readonly=False) as opened:
            opened.apply(SetProcedure(procedure))
            if label:
                opened.apply(SetCaseInfo({"label": label}))
            row = case_row(
                report.case_path,
                video_name=video_path.name,
                video_path=video if opts.record_paths else None,
                plan={k: v for k, v in plan.items() if k != "fingerprint"},
                relative_to=Path(archive),
                elapsed_s=time.monotonic() - started,
                registry=registry,
                case=opened,
            )
        return {
            "values": row.values,
            "tools": row.tools,
            "phases": row.phases,
            "episodes": row.episodes,
        }
    except Exception as exc:
        names = identifying_names(video_path.name, typed_label=label or "")
        return {
            **base,
            "status": FAILED,
            "error": scrub_text(
                one_line(f"{type(exc).__name__}: {exc}" if not str(exc) else exc), names
            ),
            "elapsed_s": time.monotonic() - started,
        }
    finally:
        state.close()


def _as_row(result: dict[str, Any]) -> CaseRow:
    if "values" in result:
        return CaseRow(result["values"], result["tools"], result["phases"], result["episodes"])
    return CaseRow(dict(result))


# ---------------------------------------------------------------------------- the client
def local_cluster_size(workers: int | None) -> tuple[int, int]:
    """(workers, inference threads per worker) for a local cluster: `workers` as asked (at most
    one per usable CPU), else one per two CPUs; threads share the CPUs among them."""
    from scrubline.core.cpus import usable_cpus

    cpus = usable_cpus()
    count = workers if workers else max(1, cpus // 2)
    if count > cpus:
        raise BatchInputError(
            f"--workers {count}: this process may use {cpus} CPU(s); at most {cpus} workers"
        )
    return count, max(1, cpus // count)


def _connect(workers: int | None, scheduler: str | None, options: BatchOptions) -> tuple[Any, Any]:
    """(client, cluster or None)."""
    import dask
    from distributed import Client, LocalCluster

    if not log.isEnabledFor(logging.DEBUG):  # Dask's own INFO lines would bury the progress
        for name in ("distributed", "dask"):
            logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler:
        address = scheduler
        if Path(scheduler).is_file():  # a scheduler file (`dask scheduler --scheduler-file`)
            client = Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT_S)
            return client, None
        return Client(address, timeout=CONNECT_TIMEOUT_S), None
    count, threads = local_cluster_size(workers)
    if not options.threads:
        options.threads = threads
    # Nothing listens beyond this machine, nothing is served (no dashboard), and the cluster's
    # scratch space is the system's temporary folder.
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            host=LOCAL_HOST,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    return Client(cluster, timeout=CONNECT_TIMEOUT_S), cluster


Event = dict[str, Any]


def run_batch(
    items: Sequence[BatchItem],
    out_dir: str | Path,
    options: BatchOptions,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    cancel: threading.Event | None = None,
) -> BatchResult:
    """Analyse `items` into the archive `out_dir`; see the module docstring.

    `on_event` gets one dict per event (`start`, `skipped`, `done`, `failed`, `interrupted`,
    `progress`, `finished`); `cancel` set from anywhere (or a KeyboardInterrupt) cancels."""
    from scrubline.core.video import fingerprint

    emit = on_event or (lambda event: None)
    cancel = cancel or threading.Event()
    started = time.monotonic()
    archive = Path(out_dir).resolve()
    index = ArchiveIndex(archive, create=True)
    result = BatchResult(total=len(items))
    try:
        models = requested_models(options)
        todo: list[tuple[BatchItem, str, Path, dict[str, Any]]] = []
        fingerprints: set[str] = set()
        for item in items:
            try:
                print_ = fingerprint(item.video)
            except OSError as exc:
                # No content to name it by: a hash of its path stands in (never the name).
                import hashlib

                stand_in = hashlib.blake2b(str(item.video).encode(), digest_size=12).hexdigest()
                row = CaseRow(
                    {
                        "fingerprint": f"unreadable-{stand_in}",
                        "case": item.label or "",
                        "video_name": item.video.name,
                        "status": FAILED,
                        "error": f"cannot read the file: {exc.strerror or exc}",
                    }
                )
                index.put(row)
                _record(result, row.values, emit, index=None)
                continue
            if print_ in fingerprints:  # the same video twice (a copy): one case
                result.total -= 1
                continue
            fingerprints.add(print_)
            plan = plan_of(options, item, models)
            case = case_file_for(archive, print_)
            if is_finished(index.row(print_), plan, case):
                result.skipped += 1
                emit(
                    {
                        "event": "skipped",
                        "video": item.video.name,
                        "case_file": str(case.relative_to(archive)),
                        "reason": "already analysed with this plan",
                    }
                )
                continue
            todo.append((item, print_, case, plan))
        emit(
            {
                "event": "start",
                "total": result.total,
                "to_analyse": len(todo),
                "skipped": result.skipped,
                "failed": result.failed,
            }
        )
        if todo and not cancel.is_set():
            _run_tasks(todo, archive, options, workers, scheduler, index, result, emit, cancel)
    finally:
        index.close()
        result.elapsed_s = time.monotonic() - started
        emit({"event": "finished", **{k: v for k, v in asdict(result).items() if k != "failures"}})
    return result


def _record(
    result: BatchResult, values: dict[str, Any], emit: Callable[[Event], None], index: Any
) -> None:
    status = values.get("status")
    name = str(values.get("video_name") or "")
    event: Event = {
        "event": status,
        "video": name,
        "case_file": values.get("case_file"),
        "elapsed_s": round(float(values.get("elapsed_s") or 0.0), 2),
    }
    if status == DONE:
        result.done += 1
    elif status == FAILED:
        result.failed += 1
        result.failures.append((name, str(values.get("error") or "")))
        event["error"] = values.get("error")
    else:
        result.interrupted += 1
        event["error"] = values.get("error")
    emit(event)


def _run_tasks(
    todo: list[tuple[BatchItem, str, Path, dict[str, Any]]],
    archive: Path,
    options: BatchOptions,
    workers: int | None,
    scheduler: str | None,
    index: ArchiveIndex,
    result: BatchResult,
    emit: Callable[[Event], None],
    cancel: threading.Event,
) -> None:
    from distributed import Event as DaskEvent
    from distributed import wait

    client, cluster = _connect(workers, scheduler, options)
    batch_id = uuid.uuid4().hex[:12]
    event_name = f"scrubline-batch-cancel-{batch_id}"
    futures: dict[Any, tuple[BatchItem, str, dict[str, Any]]] = {}
    try:
        sent = asdict(options)
        for item, print_, case, plan in todo:
            procedure = plan["procedure"]
            future = client.submit(
                analyse_task,
                str(item.video),
                str(case),
                str(archive),
                item.label,
                procedure,
                {**plan, "fingerprint": print_},
                sent,
                event_name,
                key=f"scrubline-{print_}-{batch_id}",
                pure=False,
            )
            futures[future] = (item, print_, plan)
        pending = set(futures)
        durations: list[float] = []
        emit({"event": "submitted", "tasks": len(futures), "workers": _worker_count(client)})
        try:
            while pending:
                if cancel.is_set():
                    raise KeyboardInterrupt
                try:
                    finished, still = wait(
                        list(pending), timeout=REFRESH_S, return_when="FIRST_COMPLETED"
                    )
                    pending = set(still)
                except TimeoutError:
                    finished = set()
                for future in finished:
                    _collect(future, futures, index, result, emit, durations)
                running = _running(client, pending)
                left = len(pending) - running
                eta = None
                if durations and pending:
                    mean = sum(durations) / len(durations)
                    slots = max(1, _worker_count(client))
                    eta = mean * math.ceil(len(pending) / slots)
                emit(
                    {
                        "event": "progress",
                        "running": running,
                        "queued": left,
                        "done": result.done,
                        "failed": result.failed,
                        "eta_s": eta,
                    }
                )
        except KeyboardInterrupt:
            result.cancelled = True
            emit({"event": "cancelling", "running": _running(client, pending)})
            cancel_event = DaskEvent(event_name, client=client)  # held while tasks look at it
            cancel_event.set()
            # Running analyses stop at their next frame and save; those still queued at the
            # scheduler never start, and those a worker holds see the event at once.
            queued = [f for f in pending if not _is_running(client, f)]
            client.cancel(queued)
            waiting = [f for f in pending if f not in queued]
            if waiting:
                with _suppress_timeout():
                    wait(waiting, timeout=CANCEL_GRACE_S)
            for future in pending:
                if future.status == "finished":
                    _collect(future, futures, index, result, emit, durations)
                else:
                    item, print_, _plan = futures[future]
                    if index.row(print_) is not None:
                        index.set_status(
                            print_, INTERRUPTED, "cancelled; run the batch again to resume"
                        )
            result.interrupted += sum(1 for f in pending if f.status != "finished")
    finally:
        client.close(timeout=10)
        if cluster is not None:
            cluster.close(timeout=10)


class _suppress_timeout:  # noqa: N801 (a context manager used like contextlib.suppress)
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> bool:
        return kind is not None and issubclass(kind, TimeoutError)


def _collect(
    future: Any,
    futures: dict[Any, tuple[BatchItem, str, dict[str, Any]]],
    index: ArchiveIndex,
    result: BatchResult,
    emit: Callable[[Event], None],
    durations: list[float],
) -> None:
    item, print_, plan = futures[future]
    try:
        payload = future.result()
    except Exception as exc:  # the task could not run: KilledWorker after repeated worker deaths
        kind = type(exc).__name__
        error = (
            "the worker analysing it died repeatedly (out of memory? see the workers' logs)"
            if kind == "KilledWorker"
            else one_line(f"{kind}: {exc}")
        )
        payload = {
            "fingerprint": print_,
            "case": item.label or "",
            "video_name": item.video.name,
            "plan": plan,
            "models": plan["models"],
            "procedure": plan["procedure"],
            "status": FAILED,
            "error": error,
        }
    row = _as_row(payload)
    row.values.setdefault("fingerprint", print_)
    if not row.values.get("fingerprint"):
        row.values["fingerprint"] = print_
    index.put(row)
    if row.values.get("status") == DONE:
        durations.append(float(row.values.get("elapsed_s") or 0.0))
    _record(result, row.values, emit, index)


def _worker_count(client: Any) -> int:
    try:
        return sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
    except Exception:
        return 0


def _running(client: Any, pending: Iterable[Any]) -> int:
    """Tasks being analysed: those the workers hold, at most one per worker thread (a worker
    holds a task or so more than it runs, to start it without a round trip)."""
    try:
        held = sum(
            min(len(keys), threads)
            for worker, keys in client.processing().items()
            for threads in [_threads_of(client, worker)]
        )
    except Exception:
        return 0
    return min(held, sum(1 for _ in pending))


def _threads_of(client: Any, worker: str) -> int:
    try:
        return int(client.scheduler_info()["workers"][worker]["nthreads"])
    except Exception:
        return 1


def _is_running(client: Any, future: Any) -> bool:
    try:
        return any(future.key in keys for keys in client.processing().values())
    except Exception:
        return False


def describe(result: BatchResult) -> str:
    parts = [f"{result.done} analysed", f"{result.skipped} already done", f"{result.failed} failed"]
    if result.interrupted:
        parts.append(f"{result.interrupted} interrupted")
    return ", ".join(parts) + f" of {result.total} in {result.elapsed_s:.0f} s"


def json_line(event: Event) -> str:
    return json.dumps(event, default=str)


# ---------------------------------------------------------------------------- throughput
def batch_bench(
    *,
    clips: int = 4,
    seconds: float = 20.0,
    size: tuple[int, int] = (854, 480),
    workers: Sequence[int] = (1, 2),
    fps: float = 5.0,
    models_dirs: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cases per minute for `clips` generated clips (the demo scene, `seconds` long each, a
    second longer each so they are distinct videos) analysed with the bundled models:
    one `scrubline analyze` process at a time (how one would do it by hand), then `batch` on a
    local cluster of each of `workers` worker processes. Every run starts from empty case
    folders; wall times include starting the processes and the cluster."""
    import subprocess
    import sys
    import tempfile

    from scrubline.core.bench import generated_clip
    from scrubline.core.cpus import usable_cpus

    say = log or (lambda text: None)
    videos = [generated_clip(f"batch{i}", size, seconds + i, log) for i in range(clips)]
    total_s = sum(seconds + i for i in range(clips))
    results: dict[str, Any] = {
        "clips": clips,
        "video_s": total_s,
        "size": list(size),
        "fps": fps,
        "cpus": usable_cpus(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    extra = [a for d in models_dirs for a in ("--models", d)]
    with tempfile.TemporaryDirectory(prefix="scrubline-batch-bench-") as scratch:
        env = dict(os.environ, SCRUBLINE_HOME=str(Path(scratch) / "home"))
        say(f"one `scrubline analyze` at a time, {clips} clips ...")
        started = time.monotonic()
        for index, video in enumerate(videos):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scrubline",
                    "analyze",
                    str(video),
                    "-q",
                    "--fps",
                    str(fps),
                    "-o",
                    str(Path(scratch) / "single" / f"{index}.scrub"),
                    *extra,
                ],
                check=True,
                env=env,
                capture_output=True,
            )
        single = time.monotonic() - started
        results["analyze_one_at_a_time"] = {
            "wall_s": round(single, 1),
            "cases_per_min": round(60 * clips / single, 2),
        }
        say(f"  {single:.1f} s, {60 * clips / single:.2f} cases/min")
        for count in workers:
            say(f"batch, local cluster of {count} worker(s) ...")
            started = time.monotonic()
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scrubline",
                    "batch",
                    *map(str, videos),
                    "--out-dir",
                    str(Path(scratch) / f"batch{count}"),
                    "--workers",
                    str(count),
                    "--fps",
                    str(fps),
                    "-q",
                    *extra,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.monotonic() - started
            if completed.returncode != 0:
                raise RuntimeError(f"batch with {count} workers failed: {completed.stderr}")
            results[f"batch_{count}_workers"] = {
                "wall_s": round(wall, 1),
                "cases_per_min": round(60 * clips / wall, 2),
                "vs_analyze_one_at_a_time": round(single / wall, 2),
            }
            say(f"  {wall:.1f} s, {60 * clips / wall:.2f} cases/min, {single / wall:.2f}× analyze")
    return results
