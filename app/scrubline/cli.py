"""The `scrubline` command: the desktop window by default, and headless subcommands for batches.

    scrubline [VIDEO | CASE.scrub]         open the window on a video or a case file
                                           (the demo without either)
    scrubline analyze VIDEO [-o CASE]      analyse into a case file, resuming what was done
    scrubline export CASE -o DIR           frames.csv, detections.csv, episodes.csv, summary.json
    scrubline report CASE -o FILE.pdf      the post-op debrief
    scrubline models                       the models found, with their validation figures
    scrubline demo                         render and analyse the synthetic demo clip
    scrubline bench [VIDEO]                speed and memory figures
    scrubline self-check                   does this installation work? (rc 0 yes, rc 2 names
                                           what failed)
    scrubline phases PRESENCE.csv -o PHASES.csv [--procedure ID]
                                           phases from your own per-second tool labels
    scrubline batch INPUT... [--out-dir DIR]  many videos into one archive (Dask)
    scrubline cases DIR                    the archive's cases
    scrubline export-all DIR -o OUT        one table across the archive's cases
    scrubline report --cohort DIR -o FILE.pdf
                                           a report comparing the archive's cases

`python -m scrubline` is the same command. An argument that is neither a subcommand nor an
existing file is an error (`unknown command or file`, with the nearest subcommand), never a
window; before the window starts, a child process checks that Qt's platform can start
(`scrubline.gui_probe`), so a missing system library is one error line, not Qt's abort.

Exit codes a script can rely on: 0 success; 2 bad input or usage (one line `error: ...` on
stderr, no traceback unless --debug); 130 interrupted by Ctrl+C, 143 stopped by SIGTERM (what was
analysed is kept either way); 141 the reader of the output went away (`scrubline models --json |
head -1`; quiet, like any tool killed by SIGPIPE); 1 an unexpected failure (its traceback goes to
the log file).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from scrubline import __version__

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a tool ended by SIGPIPE


class UsageError(Exception):
    """Bad arguments or input detected by the command itself."""


# ---------------------------------------------------------------------------- option types
# Every option is checked when the command line is read, so that a bad value is one line on
# stderr and exit 2 before any work starts, never a failure (or a silent no-op) later on.
# Upper bounds keep a typo from asking for something absurd: --fps 1e9 would plan billions of
# sampling instants, --batch 100000 would allocate a batch of that many frames.
MAX_FPS = 1000.0
MAX_SECONDS = 1e7  # about 115 days of video
MAX_BATCH = 256
MAX_THREADS = 256


def _number(text: str, kind: Callable[[str], float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
        ) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def frame_rate(text: str) -> float:
    """--fps: frames analysed per second of video, above 0 and at most MAX_FPS."""
    value = _number(text, float)
    if not 0 < value <= MAX_FPS:
        raise argparse.ArgumentTypeError(
            f"must be above 0 and at most {MAX_FPS:g} frames per second, got {text}"
        )
    return value


def seconds(text: str) -> float:
    """--start / --end: a time in the video, 0 or later."""
    value = _number(text, float)
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be a time in seconds from 0 to {MAX_SECONDS:g}, got {text}"
        )
    return value


def event_start(text: str) -> float | None:
    """--event-start: seconds into the video, or 'detect' to go back to the detected start."""
    if text.strip().lower() in ("detect", "auto"):
        return None
    return seconds(text)


def batch_size(text: str) -> int:
    value = int(_number(text, int))
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_BATCH} frames, got {text}")
    return value


def thread_count(text: str) -> int:
    value = int(_number(text, int))
    if not 0 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be from 0 (automatic) to {MAX_THREADS}, got {text}")
    return value


def worker_count(text: str) -> int:
    value = int(_number(text, int))
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_THREADS}, got {text}")
    return value


def models_folder(text: str) -> str:
    """--models: a folder that exists (a typo would otherwise quietly run without the model)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: is not a folder (give the folder that holds the manifests)"
        )
    return text


def existing_file(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a file")
    return text


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _parent_is_a_folder(text: str, path: Path) -> None:
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {existing} is a file, not a folder")


def case_output(text: str) -> str:
    """analyze -o: a case file to create or resume (its folder is created when missing)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: is a folder; give a case file name (e.g. case.scrub)"
        )
    _parent_is_a_folder(text, path)
    return text


def report_output(text: str) -> str:
    """report -o: a PDF to write, in a folder that exists (a typo should not create folders)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: is a folder; give a file name (e.g. debrief.pdf)"
        )
    _parent_is_a_folder(text, path)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist")
    return text


def export_output(text: str) -> str:
    """export -o: a folder for the tables (created when missing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: is a file; give a folder for the exported tables"
        )
    _parent_is_a_folder(text, path)
    return text


def model_id(text: str) -> str:
    """--model: the id as `scrubline models` lists it (whether it exists is checked once the
    models are loaded)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty model id")
    return text


def page_size(text: str) -> str:
    """--page-size in any letter case (`a4`, `Letter`), as the choices spell it."""
    return {"a4": "A4", "letter": "letter"}.get(text.lower(), text)


def one_line(message: str) -> str:
    """A message that spans lines (SQLite's integrity report, a library's error) as the one
    line the exit-code contract promises: a script reads the first `error:` line only."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is the one `error: ...` line the exit-code contract promises
    (argparse prints the usage block first), pointing to --help for the rest."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see: {self.prog} --help)\n")


# ---------------------------------------------------------------------------- helpers
def _registry(args: argparse.Namespace) -> Any:
    from scrubline.core.models import load_registry

    registry = load_registry([Path(d) for d in getattr(args, "models", None) or []])
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return registry


def _open_case(target: str, must_exist: bool = True) -> Any:
    """A case from a `.scrub` path, or the default case of a video path, opened for reading
    only (so a case on read-only storage can be exported) and checked for damage first."""
    from scrubline.core.case import SUFFIX, Case, StoreError, default_case_path
    from scrubline.core.video import VideoSource

    path = Path(target)
    if path.suffix == SUFFIX:
        return Case.open(path, check=True)
    if not path.exists():
        raise UsageError(f"{target}: no such case file or video")
    with VideoSource(path) as source:
        case = default_case_path(source.info.fingerprint)
    if must_exist and not case.exists():
        raise UsageError(f"{path.name} has not been analysed yet (run: scrubline analyze {target})")
    opened = Case.open(case, check=True)
    if opened.video.get("fingerprint") != source.info.fingerprint:
        opened.close()
        raise StoreError(f"case {case} belongs to another video, not {path.name}")
    return opened


class ProgressBar:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last_decile = -1

    def __call__(self, fraction: float, message: str) -> None:
        if self.quiet:
            return
        if self.tty:
            filled = int(fraction * 30)
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {message}\033[K"
            )
            sys.stderr.flush()
        else:
            decile = int(fraction * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                print(f"{fraction:4.0%} {message}", file=sys.stderr)

    def done(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


# ---------------------------------------------------------------------------- commands
def _procedure_or_error(name: str) -> None:
    """A procedure id must name a bundled template (or be a template file)."""
    from scrubline.core.case import procedure_templates

    known = procedure_templates()
    if name not in known and not (name.endswith(".toml") and Path(name).is_file()):
        raise UsageError(
            f"no procedure '{name}' (known: {', '.join(known)}; or a template .toml file)"
        )


def cmd_analyze(args: argparse.Namespace) -> int:
    from scrubline.core.analysis import (
        AnalysisSettings,
        PlainTaskState,
        analyse_video,
        case_path_for,
        plan_settings,
    )

    procedure = getattr(args, "procedure", None)  # `demo` shares this command without one
    if procedure:
        _procedure_or_error(procedure)
    if args.end is not None and args.end <= (args.start or 0.0):
        raise UsageError(f"--end ({args.end:g} s) must be after --start ({args.start or 0.0:g} s)")
    settings = AnalysisSettings(
        fps=args.fps or AnalysisSettings.fps,
        start_s=args.start,
        end_s=args.end,
        device=args.device,
        # A model named twice would run twice and store every detection twice.
        model_ids=list(dict.fromkeys(args.model or [])) or None,
        batch_size=args.batch,
        threads=args.threads,
    )
    if not args.fresh and Path(args.video).is_file():
        # What is not given continues the case's plan (resume), so results are never mixed.
        explicit = {
            name
            for name, value in (
                ("fps", args.fps),
                ("start_s", args.start),
                ("end_s", args.end),
                ("model_ids", args.model),
            )
            if value is not None
        }
        settings = plan_settings(case_path_for(args.video, args.output), settings, explicit)
    bar = ProgressBar(args.quiet)
    state = PlainTaskState(bar)
    received: list[int] = []

    def on_signal(number: int, _frame: Any) -> None:
        received.append(number)
        state.cancel()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    from scrubline.core.caselock import CaseLocked

    try:
        report = analyse_video(
            args.video,
            args.output,
            settings,
            registry=_registry(args),
            state=state,
            fresh=args.fresh,
            wait_for_lock=getattr(args, "wait", False),
            on_wait=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except CaseLocked as exc:
        if not state.cancelled():
            raise
        print(f"cancelled: {exc}; nothing was changed", file=sys.stderr)  # Ctrl+C during --wait
        return EXIT_TERMINATED if signal.SIGTERM in received else EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        bar.done()
    if procedure:
        from scrubline.core.case import Case
        from scrubline.core.edits import SetProcedure
        from scrubline.core.phase_model import PhaseModelError
        from scrubline.core.phases import TemplateError

        with Case.open(report.case_path, readonly=False) as case:
            case.apply(SetProcedure(procedure))
            try:
                case.timeline()
            except (PhaseModelError, TemplateError) as exc:
                print(f"warning: no '{procedure}' phases for this case: {exc}", file=sys.stderr)
    _apply_outcome_options(report.case_path, args)
    for notice in report.notices:
        print(f"warning: {notice}", file=sys.stderr)
    for problem in report.problems[:20]:
        print(f"warning: {problem}", file=sys.stderr)
    saved = report.already_done + report.done_now
    if report.cancelled:
        print(
            f"cancelled: {saved} of {report.planned} frames are saved in {report.case_path}; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if signal.SIGTERM in received else EXIT_INTERRUPTED
    rate = report.done_now / report.elapsed_s if report.elapsed_s > 0 else 0.0
    unreadable = (
        f", {report.skipped} could not be analysed (see warnings)" if report.skipped else ""
    )
    print(
        f"analysed {report.done_now} frames ({report.already_done} already done{unreadable}) in "
        f"{report.elapsed_s:.1f} s ({rate:.1f} frames/s) → {report.case_path}"
    )
    _print_outcome(report.case_path, args)
    return EXIT_OK


_UNSET: Any = object()


def _apply_outcome_options(case_path: Path, args: argparse.Namespace) -> None:
    """--event-start and --outcome-outside-domain are case settings, as in the window: stored
    in the case, so the window, the report and the exports all use them afterwards."""
    start = getattr(args, "event_start", _UNSET)
    outside = getattr(args, "outcome_outside_domain", None)
    if start is _UNSET and outside is None:
        return
    from scrubline.core.case import Case
    from scrubline.core.edits import SetEventStart, SetOutcomeOutsideDomain

    with Case.open(case_path, readonly=False) as case:
        if start is not _UNSET:
            duration = float(case.video.get("duration_s") or 0.0)
            if start is not None and duration > 0 and start >= duration:
                raise UsageError(
                    f"--event-start {start:g} s is not in the video (it lasts {duration:.1f} s)"
                )
            case.apply(SetEventStart(None if start is None else round(float(start), 3)))
        if outside is not None:
            case.apply(SetOutcomeOutsideDomain(bool(outside)))


def _print_outcome(case_path: Path, args: argparse.Namespace) -> None:
    """One line: the predicted outcome, or why there is none (`outcome_line`)."""
    from scrubline.core.case import Case
    from scrubline.core.outcome import outcome_line

    try:
        with Case.open(case_path) as case:
            outcome = case.outcome(None, _registry(args))  # phases are not needed for it
    except Exception as exc:  # the analysis is saved; the summary line must not undo that
        logging.getLogger(__name__).debug("outcome failed", exc_info=True)
        print(f"warning: the outcome could not be computed: {exc}", file=sys.stderr)
        return
    print(f"outcome: {outcome_line(outcome)}")


def cmd_export(args: argparse.Namespace) -> int:
    from scrubline.core.export import export_case, export_corrections

    with _open_case(args.case) as case:
        if getattr(args, "corrections", False):
            video = [] if Path(args.case).suffix == ".scrub" else [Path(args.case)]
            if not case.corrections():
                print("warning: no reviewer has corrected this case", file=sys.stderr)
            for path in export_corrections(case, args.output, protect=video):
                print(path)
            return EXIT_OK
        if case.frame_count() == 0:
            print(
                "warning: the case has no analysed frames; exporting empty tables", file=sys.stderr
            )
        video = [] if Path(args.case).suffix == ".scrub" else [Path(args.case)]
        written = export_case(case, args.output, _registry(args), protect=video)
    for path in written:
        print(path)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from scrubline.report import ReportOptions, write_report

    if args.cohort:
        return _cohort_report(args)
    if not args.case:
        raise UsageError("give a case (CASE.scrub or an analysed video), or --cohort DIR")

    options = ReportOptions(
        page_size=args.page_size,
        label=args.label,
        procedure=args.procedure,
        surgeon=args.surgeon,
        reviewer=args.reviewer,
        date=args.date,
        video_path=Path(args.video) if args.video else None,
        blur_out_of_body=args.blur_out_of_body,
    )
    if args.event_start is not _UNSET or args.outcome_outside_domain is not None:
        with _open_case(args.case) as case:
            case_path = case.path
        _apply_outcome_options(case_path, args)
    with _open_case(args.case) as case:
        if args.video:
            _check_same_video(Path(args.video), case.video)
        path = write_report(case, Path(args.output), options, registry=_registry(args))
    print(path)
    return EXIT_OK


def _cohort_report(args: argparse.Namespace) -> int:
    from scrubline.core.archive import ArchiveError
    from scrubline.report.cohort import write_cohort_report

    if args.case:
        raise UsageError("give either a case or --cohort DIR, not both")
    try:
        path = write_cohort_report(
            Path(args.cohort), Path(args.output), page_size=args.page_size, title=args.label
        )
    except ArchiveError as exc:
        raise UsageError(str(exc)) from exc
    print(path)
    return EXIT_OK


def _check_same_video(video: Path, recorded: dict[str, Any]) -> None:
    """--video must be the video the case was made from: the report would otherwise quietly fall
    back to thumbnails, and the person who typed it would not know why."""
    from scrubline.core.video import fingerprint

    if recorded.get("fingerprint") and fingerprint(video) != recorded["fingerprint"]:
        raise UsageError(
            f"{video.name}: not the video this case was analysed from "
            f"({recorded.get('name', 'another video')}; the content differs)"
        )


def cmd_models(args: argparse.Namespace) -> int:
    registry = _registry(args)
    rows = []
    for manifest in sorted(registry.manifests.values(), key=lambda m: (m.task, m.id)):
        rows.append(
            {
                "id": manifest.id,
                "version": manifest.version,
                "task": manifest.task,
                "name": manifest.name,
                "file": manifest.file.name,
                "licence": manifest.licence,
                "metrics": manifest.metrics,
                "training_data": manifest.training.get("data", ""),
                "card": str(manifest.card or ""),
                "source": str(manifest.source),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no models found")
    for row in rows:
        print(f"{row['id']} {row['version']}  [{row['task']}]  {row['name']}")
        print(f"    file: {row['file']}   card: {row['card']}")
        print(f"    licence: {row['licence']}")
        if row["training_data"]:
            print(f"    trained on: {row['training_data']}")
        if row["metrics"]:
            figures = ", ".join(f"{k} {_fmt(v)}" for k, v in row["metrics"].items())
            print(f"    validation: {figures}")
        else:
            print("    validation: none measured")
    return EXIT_OK


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def cmd_demo(args: argparse.Namespace) -> int:
    from scrubline.core.demo import ensure_demo_video

    video = ensure_demo_video()
    print(f"demo clip: {video}")
    if args.no_analyse:
        return EXIT_OK
    args.video, args.output, args.fresh = str(video), None, False
    return cmd_analyze(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from scrubline.core.bench import run_bench

    if args.batch:
        from scrubline.batch import batch_bench

        figures = batch_bench(
            clips=args.clips,
            models_dirs=[str(Path(d).resolve()) for d in args.models or []],
            log=None if args.json else print,
        )
        if args.json:
            print(json.dumps(figures, indent=2))
        return EXIT_OK

    results = run_bench(
        Path(args.video) if args.video else None,
        quick=args.quick,
        registry=_registry(args),
        log=None if args.json else print,
    )
    if args.json:
        print(json.dumps(results, indent=2))
    return EXIT_OK


def _check_gui_libraries() -> str:
    """The window's Qt libraries import (a display is not needed, nor opened)."""
    import pyqtgraph
    import PySide6
    from PySide6 import QtGui, QtSvg, QtWidgets  # noqa: F401 (importing is the check)

    return f"PySide6 {PySide6.__version__}, pyqtgraph {pyqtgraph.__version__}"


def cmd_self_check(args: argparse.Namespace) -> int:
    from scrubline.selfcheck import CheckResult, run_self_check

    def show(result: CheckResult) -> None:
        if not args.quiet or not result.ok:
            print(
                f"{'ok  ' if result.ok else 'FAIL'} {result.name:<10} {result.detail} "
                f"({result.seconds:.1f} s)",
                flush=True,
            )

    print(f"scrubline {__version__} self-check", flush=True)
    report = run_self_check(_registry(args) if args.models else None, progress=show)
    started = time.monotonic()
    try:
        gui = CheckResult("gui", True, _check_gui_libraries(), time.monotonic() - started)
    except Exception as exc:  # a missing or broken Qt library
        gui = CheckResult(
            "gui", False, f"the window's libraries do not import: {exc}", time.monotonic() - started
        )
    report.results.append(gui)
    show(gui)
    if not report.ok:
        print(f"error: self-check failed: {', '.join(report.failed)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"self-check passed: {len(report.results)} checks")
    return EXIT_OK


def cmd_phases(args: argparse.Namespace) -> int:
    """Phases from a researcher's own tool-presence table (no video needed)."""
    import pandas as pd

    from scrubline.core.case import load_procedure
    from scrubline.core.phase_model import PhaseModelError
    from scrubline.core.phases import TemplateError, phases_from_table

    _procedure_or_error(args.procedure)
    source = Path(args.presence)
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    try:
        table = pd.read_csv(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{source}: not a readable CSV table ({str(exc).splitlines()[0]})"
        ) from exc
    try:
        template = load_procedure(args.procedure)
        result = phases_from_table(table, template, where=str(source), registry=_registry(args))
    except (TemplateError, PhaseModelError) as exc:
        raise UsageError(str(exc)) from exc
    out = Path(args.output)
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder for the output")
    result.to_csv(out, index=False)
    counts = result["phase"].value_counts()
    print(f"{len(result)} rows, {counts.size} phases → {out}")
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    """Analyse many videos into one archive folder on Dask (see scrubline.batch)."""
    import threading

    from scrubline.batch import (
        BatchInputError,
        BatchOptions,
        collect_inputs,
        describe,
        local_cluster_size,
        run_batch,
    )

    if args.procedure:
        _procedure_or_error(args.procedure)
    if args.workers and args.scheduler:
        raise UsageError("--workers sizes the local cluster; an existing --scheduler has its own")
    try:
        items = collect_inputs(args.inputs)
        for item in items:
            if item.procedure:
                _procedure_or_error(item.procedure)
        if not args.scheduler:
            local_cluster_size(args.workers)  # refuse more workers than CPUs before any work
    except BatchInputError as exc:
        raise UsageError(str(exc)) from exc
    if not items:
        raise UsageError(f"no videos found in {', '.join(args.inputs)}")
    out_dir = Path(args.out_dir) if args.out_dir else _default_archive()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: is a file; give a folder for the archive")
    options = BatchOptions(
        fps=args.fps or 5.0,
        procedure=args.procedure,
        model_ids=list(dict.fromkeys(args.model or [])) or None,
        models_dirs=[str(Path(d).resolve()) for d in args.models or []],
        device=args.device,
        batch_size=args.batch,
        threads=args.threads,
        journal=args.journal,
        record_paths=args.record_paths,
        scrub_proxy=args.proxy,
        fresh=args.fresh,
    )
    cancel = threading.Event()
    received: list[int] = []

    def on_signal(number: int, _frame: Any) -> None:
        received.append(number)
        cancel.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    show = _BatchProgress(json_mode=args.json, quiet=args.quiet)
    try:
        result = run_batch(
            items,
            out_dir,
            options,
            workers=args.workers,
            scheduler=args.scheduler,
            on_event=show,
            cancel=cancel,
        )
    finally:
        show.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if show.bar_shown:  # the bar does not list them as they happen
        for name, error in result.failures[:20]:
            print(f"failed: {name}: {error}", file=sys.stderr)
    if result.cancelled:
        print(
            f"cancelled: {describe(result)}; what was analysed is kept in {out_dir}. "
            "Run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if signal.SIGTERM in received else EXIT_INTERRUPTED
    if not args.json:
        print(f"{describe(result)} → {out_dir}")
    if result.failed:
        print(
            f"error: {result.failed} of {result.total} videos could not be analysed "
            f"(their errors are in {out_dir}/index.sqlite: scrubline cases {out_dir})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return EXIT_OK


def _default_archive() -> Path:
    from scrubline.core.paths import cases_dir

    return cases_dir().parent / "archive"


class _BatchProgress:
    """The batch's events as one overall progress bar on a terminal (rich: done/failed/running
    counts and ETA), one line per finished case when stderr is not a terminal, or one JSON
    object per line on stdout with --json (for a scheduler's log)."""

    def __init__(self, *, json_mode: bool, quiet: bool) -> None:
        self.json_mode, self.quiet = json_mode, quiet
        self._progress: Any = None
        self._task: Any = None
        self._counts = {"done": 0, "failed": 0, "skipped": 0, "running": 0}
        self.bar_shown = False

    def __call__(self, event: dict[str, Any]) -> None:
        from scrubline.batch import json_line

        kind = event.get("event")
        if self.json_mode:
            if kind != "progress":
                print(json_line(event), flush=True)
            return
        if self.quiet:
            return
        if kind == "start":
            self._counts["skipped"] = event["skipped"]
            self._counts["failed"] = event["failed"]
            if sys.stderr.isatty():
                self._start_bar(event["total"], event["skipped"] + event["failed"])
            else:
                print(
                    f"{event['total']} videos: {event['to_analyse']} to analyse, "
                    f"{event['skipped']} already done",
                    file=sys.stderr,
                    flush=True,
                )
        elif kind in ("done", "failed", "interrupted"):
            if kind in self._counts:
                self._counts[kind] += 1
            if self._progress is not None:
                self._progress.advance(self._task)
            else:
                tail = f": {event['error']}" if event.get("error") else ""
                print(f"{kind}: {event['video']}{tail}", file=sys.stderr, flush=True)
        elif kind == "progress":
            self._counts["running"] = event["running"]
        elif kind == "cancelling" and not self.quiet:
            print(
                f"\ncancelling: {event['running']} running analyses save what they have…",
                file=sys.stderr,
                flush=True,
            )
        if self._progress is not None:
            c = self._counts
            self._progress.update(
                self._task,
                counts=f"{c['done']} done · {c['failed']} failed · {c['running']} running · "
                f"{c['skipped']} skipped",
            )

    def _start_bar(self, total: int, already: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("cases"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self.bar_shown = True
        self._task = self._progress.add_task("batch", total=total, completed=already, counts="")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def cmd_cases(args: argparse.Namespace) -> int:
    """The cases of a batch folder's index, as a table or JSON."""
    from scrubline.core.archive import ArchiveError, ArchiveIndex

    try:
        with ArchiveIndex(args.folder) as index:
            rows = index.rows()
    except ArchiveError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return EXIT_OK
    if not rows:
        print("no cases")
        return EXIT_OK
    header = ("case", "video", "status", "duration", "frames", "bleeding", "tip hidden", "outcome")
    table = [header]
    for row in rows:
        if row["blood_loss_ml"] is not None:
            outcome = f"{row['blood_loss_ml']:.0f} mL, {row['success_probability']:.0%} success"
        else:
            outcome = row["error"] or row["outcome_reason"] or ""
        table.append(
            (
                row["case"] or "",
                row["video_name"] or "",
                row["status"] or "",
                "" if row["duration_s"] is None else f"{row['duration_s']:.0f} s",
                "" if row["analysed_frames"] is None else str(row["analysed_frames"]),
                "" if row["bleeding_episodes"] is None else str(row["bleeding_episodes"]),
                "" if row["tip_hidden_episodes"] is None else str(row["tip_hidden_episodes"]),
                outcome if len(outcome) <= 70 else outcome[:69] + "…",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for record in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(record, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_export_all(args: argparse.Namespace) -> int:
    from scrubline.core.archive import ArchiveError
    from scrubline.core.archive_export import export_archive

    try:
        written = export_archive(args.folder, args.output, table_format=args.format)
    except ArchiveError as exc:
        raise UsageError(str(exc)) from exc
    for path in written:
        print(path)
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    if args.video is not None and not Path(args.video).exists():
        raise UsageError(f"{args.video}: no such file")
    # Qt aborts the process (core dump, exit 134) when its platform plugin cannot start; a child
    # process finds that out first, so the user gets one line naming what to install instead.
    from scrubline.gui_probe import gui_start_problem

    problem = gui_start_problem()
    if problem is not None:
        raise UsageError(problem)
    try:
        from scrubline.ui.app import run_app
    except ImportError as exc:
        raise UsageError(f"the desktop window cannot start: {exc}") from exc
    return run_app(args.video, models_dirs=[Path(d) for d in args.models or []])


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="scrubline", description="Offline review of surgical video.")
    parser.add_argument("--version", action="version", version=f"scrubline {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command")

    def with_models(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--models",
            action="append",
            metavar="DIR",
            type=models_folder,
            help="a folder of extra models (manifest + ONNX), merged over the bundled ones",
        )
        return p

    gui = with_models(sub.add_parser("gui", help="open the desktop window (default)"))
    gui.add_argument(
        "video",
        nargs="?",
        help="a video or a .scrub case file to open; the demo case without either",
    )
    gui.set_defaults(func=cmd_gui)

    def analysis_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--fps",
            type=frame_rate,
            help="frames analysed per second of video "
            "(default: the case's plan when resuming, else 5)",
        )
        p.add_argument("--start", type=seconds, metavar="S", help="start of the analysed range (s)")
        p.add_argument("--end", type=seconds, metavar="S", help="end of the analysed range (s)")
        p.add_argument(
            "--device",
            default="cpu",
            choices=["cpu", "auto", "cuda", "coreml", "directml"],
            help="execution provider (default cpu; falls back to cpu with a warning)",
        )
        p.add_argument(
            "--model", action="append", metavar="ID", type=model_id, help="run only these model ids"
        )
        p.add_argument("--batch", type=batch_size, default=4, help="frames per inference batch")
        p.add_argument(
            "--threads", type=thread_count, default=0, help="inference threads (0: automatic)"
        )
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def outcome_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--event-start",
            type=event_start,
            default=_UNSET,
            metavar="S",
            help="start of the bleeding event the outcome prediction reads (seconds; stored in "
            "the case as when set in the window; 'detect' goes back to the detected start)",
        )
        p.add_argument(
            "--outcome-outside-domain",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show the outcome prediction even for a procedure the model was not validated "
            "on, with a warning (stored in the case; --no-outcome-outside-domain turns it off)",
        )

    analyze = with_models(
        sub.add_parser("analyze", aliases=["analyse"], help="analyse a video into a case file")
    )
    analyze.add_argument("video")
    analyze.add_argument(
        "-o",
        "--output",
        metavar="CASE",
        type=case_output,
        help="case file (default: the per-user cache)",
    )
    analyze.add_argument(
        "--fresh", action="store_true", help="discard earlier results and start again"
    )
    analyze.add_argument(
        "--procedure",
        metavar="ID",
        help="the phase template the case uses (e.g. cholecystectomy; default: generic)",
    )
    analyze.add_argument(
        "--wait",
        action="store_true",
        help="if another analysis of this case is running, wait for it instead of stopping",
    )
    analysis_options(analyze)
    outcome_options(analyze)
    analyze.set_defaults(func=cmd_analyze)

    export = with_models(sub.add_parser("export", help="write CSV and JSON tables of a case"))
    export.add_argument("case", help="a .scrub case file, or an analysed video")
    export.add_argument("-o", "--output", required=True, metavar="DIR", type=export_output)
    export.add_argument(
        "--corrections",
        action="store_true",
        help="write the reviewer's corrections as training labels instead (corrections.json, "
        "reviewed_detections.csv, tool_phase_1fps.csv)",
    )
    export.set_defaults(func=cmd_export)

    report = with_models(sub.add_parser("report", help="write the PDF debrief of a case"))
    report.add_argument("case", nargs="?", help="a .scrub case file, or an analysed video")
    report.add_argument(
        "--cohort",
        metavar="DIR",
        help="a batch folder: one report comparing its cases (phases, tools, episodes, outcomes)",
    )
    report.add_argument("-o", "--output", required=True, metavar="FILE.pdf", type=report_output)
    report.add_argument("--page-size", type=page_size, choices=["A4", "letter"], default="A4")
    report.add_argument(
        "--label", help="case label as it should appear (nothing else identifies the case)"
    )
    report.add_argument("--procedure")
    report.add_argument("--surgeon")
    report.add_argument("--reviewer")
    report.add_argument("--date")
    report.add_argument(
        "--video",
        type=existing_file,
        help="the video, for key frames at full resolution (optional)",
    )
    outcome_options(report)
    report.add_argument(
        "--blur-out-of-body",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="blur key frames that are out of the body (operating room, menus); on by default",
    )
    report.set_defaults(func=cmd_report)

    models = with_models(
        sub.add_parser("models", help="list the models and their validation figures")
    )
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    demo = with_models(sub.add_parser("demo", help="render the synthetic demo clip and analyse it"))
    demo.add_argument("--no-analyse", action="store_true")
    analysis_options(demo)
    demo.set_defaults(func=cmd_demo)

    bench = with_models(
        sub.add_parser("bench", help="measure decoding, analysis, seeking, opening and memory")
    )
    bench.add_argument("video", nargs="?", help="a video to measure on (default: generated clips)")
    bench.add_argument("--json", action="store_true", help="one JSON object")
    bench.add_argument("--quick", action="store_true", help="short clips; under a minute")
    bench.add_argument(
        "--batch",
        action="store_true",
        help="batch throughput instead: cases per minute, one analyze at a time vs batch with "
        "1 and 2 local workers",
    )
    bench.add_argument(
        "--clips", type=worker_count, default=4, help="with --batch: how many clips (default 4)"
    )
    bench.set_defaults(func=cmd_bench)

    batch = with_models(
        sub.add_parser(
            "batch", help="analyse many videos into one archive folder (Dask; local by default)"
        )
    )
    batch.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="videos, folders (searched recursively) or .csv/.txt lists "
        "(a .csv has a column 'path', optionally 'case_label' and 'procedure')",
    )
    batch.add_argument(
        "--out-dir",
        metavar="DIR",
        help="the archive folder: cases/, index.sqlite (default: 'archive' in the data folder)",
    )
    batch.add_argument(
        "--workers",
        type=worker_count,
        help="local worker processes (default: one per two CPUs this process may use)",
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler (tcp://HOST:PORT, or its scheduler file) instead of "
        "a local cluster",
    )
    batch.add_argument(
        "--procedure", metavar="ID", help="the phase template of every case (default: generic)"
    )
    batch.add_argument(
        "--fps", type=frame_rate, help="frames analysed per second of video (default 5)"
    )
    batch.add_argument(
        "--model", action="append", metavar="ID", type=model_id, help="run only these model ids"
    )
    batch.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "auto", "cuda", "coreml", "directml"],
        help="execution provider on the workers (default cpu)",
    )
    batch.add_argument("--batch", type=batch_size, default=4, help="frames per inference batch")
    batch.add_argument(
        "--threads",
        type=thread_count,
        default=0,
        help="inference threads per analysis (0: the CPUs shared among the workers)",
    )
    batch.add_argument(
        "--journal",
        choices=["wal", "delete"],
        help="the case files' SQLite journal (default: delete on a network filesystem, else wal)",
    )
    batch.add_argument(
        "--record-paths",
        action="store_true",
        help="keep each video's path in the index (default: its file name only)",
    )
    batch.add_argument(
        "--fresh",
        action="store_true",
        help="analyse afresh the cases that hold another plan (cases already done with this "
        "plan are still skipped)",
    )
    batch.add_argument(
        "--proxy",
        action="store_true",
        help="also write each case's scrub proxy (a per-user cache for the window's scrubbing)",
    )
    batch.add_argument("--json", action="store_true", help="one JSON object per event on stdout")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress")
    batch.set_defaults(func=cmd_batch)

    cases = sub.add_parser("cases", help="list the cases of a batch folder")
    cases.add_argument("folder", metavar="DIR")
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(func=cmd_cases)

    export_all = sub.add_parser(
        "export-all", help="one table across the cases of a batch folder (CSV or Parquet)"
    )
    export_all.add_argument("folder", metavar="DIR")
    export_all.add_argument("-o", "--output", required=True, metavar="OUT", type=export_output)
    export_all.add_argument(
        "--format",
        choices=["csv", "parquet"],
        default="csv",
        help="of cases, tools, phases and episodes (parquet needs pyarrow installed)",
    )
    export_all.set_defaults(func=cmd_export_all)

    check = with_models(
        sub.add_parser(
            "self-check",
            help="check this installation end to end: imports, models, decoding, inference, report",
        )
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the verdict"
    )
    check.set_defaults(func=cmd_self_check)

    phases = with_models(
        sub.add_parser(
            "phases", help="surgical phases from a per-second tool-presence table (your own labels)"
        )
    )
    phases.add_argument(
        "presence",
        metavar="PRESENCE.csv",
        help="time_s (or second) and one 0/1 column per tool "
        "(names: any case, spaces, underscores)",
    )
    phases.add_argument(
        "-o", "--output", required=True, metavar="PHASES.csv", help="written as time_s,phase"
    )
    phases.add_argument(
        "--procedure",
        default="cholecystectomy",
        metavar="ID",
        help="the phase template (default: cholecystectomy, the learned Cholec80 model)",
    )
    phases.set_defaults(func=cmd_phases)
    return parser


def subcommand_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every subcommand name the parser accepts, aliases included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def unknown_argument_message(argument: str, commands: Sequence[str]) -> str:
    """The one-line error for an argument that is neither a subcommand nor an existing file,
    naming the nearest subcommand when one is close enough to be a typo."""
    nearest = difflib.get_close_matches(argument, commands, n=1, cutoff=0.6)
    if nearest:
        return f"unknown command or file: {argument} (did you mean '{nearest[0]}'?)"
    listed = ", ".join(sorted(commands))
    return f"unknown command or file: {argument} (commands: {listed}; see scrubline --help)"


def with_default_command(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`scrubline [VIDEO]` means `scrubline gui [VIDEO]`: insert `gui` after the top-level options
    unless a subcommand is given. An argument that is neither a subcommand nor an existing file
    raises UsageError before any window is started (a typo must not open one)."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return argv
    top_level = {option for action in parser._actions for option in action.option_strings}
    index = next((i for i, a in enumerate(argv) if a not in top_level), len(argv))
    first = argv[index] if index < len(argv) else None
    commands = subcommand_names(parser)
    if first in commands:
        return argv
    if first is not None and not first.startswith("-") and not Path(first).exists():
        raise UsageError(unknown_argument_message(first, commands))
    return [*argv[:index], "gui", *argv[index:]]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        argv = with_default_command(argv, parser)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    from scrubline.core.logfile import install_log_file, log_failure_to_file

    install_log_file()
    from scrubline.core.case import StoreError
    from scrubline.core.models import ManifestError, ModelError
    from scrubline.core.output import OutputError
    from scrubline.core.video import VideoError

    started = time.monotonic()
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a reader that went away shows up here for output still buffered
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (
        UsageError,
        VideoError,
        StoreError,
        OutputError,
        ModelError,
        ManifestError,
        KeyError,
        OSError,
    ) as exc:
        if args.debug:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror}"
        print(f"error: {one_line(message)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"\ninterrupted after {time.monotonic() - started:.0f} s", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        log_file = log_failure_to_file("unexpected failure", exc)
        where = (
            f"details in {log_file}, or run with --debug"
            if log_file
            else "run with --debug for details"
        )
        print(f"error: unexpected failure: {exc} ({where})", file=sys.stderr)
        return EXIT_FAILURE


def _quiet_broken_pipe() -> int:
    """The reader of the output closed it (`| head`): not an error, so no message. Standard
    output is pointed at the null device so the interpreter's last flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (embedded, captured): nothing to do
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
