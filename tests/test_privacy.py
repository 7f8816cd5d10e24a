"""Nothing leaves the machine, and nothing written for others names a patient.

- Exports and reports carry no video file name and no path; the case is named only by what the
  user typed (its label).
- The log file names only Scrubline's own folders, never a video or another path.
- `scrubline analyze` and the window, run for 15 s each as a user would run them (no `CI`, no
  `ORT_DISABLE_TELEMETRY` in the environment) under strace, open no network socket and write no
  file outside the case, cache, config, data and log folders and the temp folder. Without
  `ORT_DISABLE_TELEMETRY=1` set by `scrubline/__init__.py`, onnxruntime writes
  `~/.cache/Microsoft/DeveloperTools/` and opens an internet connection, and this test fails.
- A closed output pipe ends a command quietly.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scrubline.cli import main
from scrubline.core import paths
from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import write_clip
from scrubline.core.models import load_registry
from scrubline.core.store import CaseStore
from tests import tiny_models

# What a recorder might call a file: a patient's name and record number, in a ward's folder.
PATIENT_FOLDER = "Ward7 Doe-Jane"
PATIENT_FILE = "Doe_Jane_MRN4471_2024-03-02.mp4"
IDENTIFYING = ("Doe_Jane", "MRN4471", "Ward7", "Doe-Jane", "2024-03-02")


@pytest.fixture(scope="module")
def patient_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clip with an identifying name, analysed with the tiny segmenter; the case also holds a
    problem message quoting the video's path and a procedure template given by path."""
    root = tmp_path_factory.mktemp("privacy")
    video = write_clip(root / PATIENT_FOLDER / PATIENT_FILE, 40, fps=10, size=(160, 120))
    registry = load_registry([tiny_models.segmenter_folder(root / "models")], include_bundled=False)
    report = analyse_video(video, root / "case.scrub", AnalysisSettings(fps=5), registry=registry)
    assert report.complete
    with CaseStore(report.case_path) as store:
        store.set_case_info(label="Case 12")
        store.set_meta(
            "problems",
            [f"0.50 s: undecodable data in {video} skipped", f"{video.name}: 2 frames damaged"],
        )
        template = root / PATIENT_FOLDER / "templates" / "chole.toml"
        store.set_meta("procedure", str(template))
        store.add_bookmark(1.0, 10, "typed by the reviewer", "note")
    return video, report.case_path


def _assert_anonymous(text: str, where: str) -> None:
    for word in IDENTIFYING:
        assert word.lower() not in text.lower(), f"{where} names '{word}'"
    assert not re.search(r"(?:^|[\s\"'])/(?:tmp|home|root|Users)/", text), f"{where} holds a path"


def test_exports_name_no_video_file_and_no_path(
    patient_case: tuple[Path, Path], tmp_path: Path
) -> None:
    video, case = patient_case
    assert main(["export", str(case), "-o", str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert {p.name for p in written} == {
        "frames.csv",
        "detections.csv",
        "episodes.csv",
        "summary.json",
    }
    for path in written:
        _assert_anonymous(path.read_text(encoding="utf-8"), path.name)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["case"]["label"] == "Case 12"  # what the user typed is kept
    assert "name" not in summary["video"] and summary["video"]["frame_count"] == 40
    assert summary["procedure"] == "chole.toml"
    assert summary["analysis"]["problems"] == [
        "0.50 s: undecodable data in [path] skipped",
        "[video]: 2 frames damaged",
    ]
    assert summary["bookmarks"][0]["note"] == "typed by the reviewer"


def test_report_names_no_video_file_and_no_path(
    patient_case: tuple[Path, Path], tmp_path: Path
) -> None:
    from pypdf import PdfReader

    video, case = patient_case
    pdf = tmp_path / "debrief.pdf"
    assert main(["report", str(case), "-o", str(pdf), "--video", str(video)]) == 0
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Case 12" in text
    _assert_anonymous(text, "the report")
    metadata = PdfReader(pdf).metadata or {}
    _assert_anonymous(json.dumps({k: str(v) for k, v in metadata.items()}), "the report's metadata")


def test_a_label_that_repeats_the_file_name_is_printed_as_typed(
    patient_case: tuple[Path, Path], tmp_path: Path
) -> None:
    from scrubline.core.export import case_summary

    video, case = patient_case
    copy = tmp_path / "labelled.scrub"
    shutil.copy(case, copy)
    with CaseStore(copy) as store:
        store.set_case_info(label=video.name)
        summary = case_summary(store)
    assert summary["case"]["label"] == video.name
    assert summary["analysis"]["problems"][1] == f"{video.name}: 2 frames damaged"


# ---------------------------------------------------------------------------- the log file
def test_log_file_names_only_the_apps_folders(tmp_path: Path) -> None:
    from scrubline.core.logfile import install_log_file, log_failure_to_file, remove_log_file

    path = install_log_file()
    try:
        assert path == paths.log_dir() / "scrubline.log"
        logger = logging.getLogger("scrubline.test")
        video = tmp_path / PATIENT_FOLDER / PATIENT_FILE
        logger.warning("cannot open %s: moov atom not found", video)
        logger.warning("%s: 3 frames are damaged", PATIENT_FILE)
        logger.warning("case saved in %s", paths.cases_dir() / "abc123.scrub")
        logger.info("an info line is not kept")
        try:
            raise ValueError(f"bad frame in {video}")
        except ValueError as exc:
            assert log_failure_to_file("unexpected failure", exc) == path
    finally:
        remove_log_file()
    text = path.read_text(encoding="utf-8")
    _assert_anonymous(text, "the log")
    assert "cannot open [path]: moov atom not found" in text
    assert "[file]: 3 frames are damaged" in text
    assert "case saved in <cases>/abc123.scrub" in text
    assert "an info line" not in text
    assert "Traceback" in text and "ValueError: bad frame in [path]" in text


def test_log_file_rotates(tmp_path: Path) -> None:
    from scrubline.core import logfile

    path = logfile.install_log_file()
    try:
        assert path is not None
        line = "x" * 1000
        for _ in range(2 * logfile.MAX_BYTES // 1000 + 10):
            logging.getLogger("scrubline.test").warning(line)
    finally:
        logfile.remove_log_file()
    assert path.stat().st_size <= logfile.MAX_BYTES
    assert path.with_name(path.name + ".1").exists()
    assert len(list(path.parent.glob("scrubline.log*"))) <= 1 + logfile.BACKUPS


# ---------------------------------------------------------------------------- telemetry switch
@pytest.mark.parametrize(
    "entry", ["scrubline.cli", "scrubline.ui.app", "scrubline.core.bench", "models.train"]
)
def test_every_entry_point_switches_telemetry_off_before_onnxruntime(entry: str) -> None:
    """Forced, not defaulted: a stray ORT_DISABLE_TELEMETRY=0 does not turn it back on."""
    code = f"import os; import {entry}; print(os.environ['ORT_DISABLE_TELEMETRY'])"
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "0"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


# ---------------------------------------------------------------------------- broken pipe
def test_a_closed_output_pipe_ends_quietly() -> None:
    """`scrubline models --json | head -1`: the reader goes away; no traceback, no error."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        result = subprocess.run(
            [sys.executable, "-m", "scrubline.cli", "models", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode in (0, 141)


# ---------------------------------------------------------------------------- offline, proven
STRACE = shutil.which("strace")
RUN_FOR_S = 15
# System calls that create or change files, and the network ones.
TRACED = (
    "trace=%network,open,openat,openat2,creat,rename,renameat,renameat2,mkdir,mkdirat,link,linkat,"
    "symlink,symlinkat"
)
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT")
ALLOWED_FAMILIES = ("AF_UNIX", "AF_LOCAL", "AF_NETLINK")
SYSTEM_WRITABLE = ("/dev/", "/proc/")  # /dev/null, /dev/shm, /proc/self/...

# Runs a command as the user would, then keeps the process (and onnxruntime's threads) alive
# until RUN_FOR_S have passed: the telemetry connection comes about 9 s after the import.
_ANALYZE = textwrap.dedent("""
    import sys, time
    started = time.monotonic()
    from scrubline.cli import main
    code = main(sys.argv[1:])
    time.sleep(max(0.0, {seconds} - (time.monotonic() - started)))
    sys.exit(code)
""")
# The window on a video, closed after RUN_FOR_S by a timer as a user would close it.
_WINDOW = textwrap.dedent("""
    import sys
    from scrubline.cli import main
    from scrubline.ui.app import ensure_application
    from PySide6.QtCore import QTimer

    app = ensure_application()
    QTimer.singleShot({seconds} * 1000, app.closeAllWindows)
    sys.exit(main(sys.argv[1:]))
""")


def _user_environment(root: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """The environment of a user's desktop session in a temporary HOME: no CI marker, no
    telemetry switch, no Scrubline override; and the folders where writing is allowed."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "CI",
            "ORT_DISABLE_TELEMETRY",
            paths.HOME_ENV,
            paths.LEGACY_CASES_ENV,
            "SCRUBLINE_SETTINGS",
        )
        and not k.startswith("XDG_")
    }
    home = root / "home"
    env.update(
        HOME=str(home),
        TMPDIR=str(root / "tmp"),
        QT_QPA_PLATFORM="offscreen",
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_RUNTIME_DIR=str(root / "runtime"),
    )
    home.mkdir()
    (root / "tmp").mkdir()
    (root / "runtime").mkdir(mode=0o700)
    app = "scrubline"
    allowed = {
        "cases/data": home / ".local/share" / app,
        "cache": home / ".cache" / app,
        "config": home / ".config" / app,
        "log": home / ".local/state" / app,
        "temp": root / "tmp",
        "runtime": root / "runtime",
        "case given": root / "case",
    }
    return env, allowed


_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<result>-?\d+|\?)")
_PATH_ARG = re.compile(
    r'(?:(?P<dirfd>-?\d+|AT_FDCWD)(?:<(?P<dirpath>[^>]*)>)?,\s*)?"(?P<path>(?:[^"\\]|\\.)*)"'
)


def _violations(trace_dir: Path, allowed: dict[str, Path], cwd: Path) -> list[str]:
    """Every socket of a family other than AF_UNIX/AF_NETLINK, and every file created or opened
    for writing (or renamed into place, or folder made) outside the allowed folders."""
    found: list[str] = []
    roots = [str(p) for p in allowed.values()]

    def outside(path: str) -> bool:
        if path.startswith(SYSTEM_WRITABLE):
            return False
        if os.sep + "__pycache__" in path:  # the interpreter compiling Scrubline's own code
            return False
        return not any(path == root or path.startswith(root + os.sep) for root in roots)

    def absolute(match: re.Match[str]) -> str:
        path = match.group("path")
        if path.startswith("/"):
            return os.path.normpath(path)
        base = match.group("dirpath") or str(cwd)
        return os.path.normpath(os.path.join(base, path))

    for trace in sorted(trace_dir.glob("trace*")):
        for line in trace.read_text(errors="replace").splitlines():
            call = _CALL.match(line)
            if call is None or call.group("result") in ("-1", "?"):
                continue  # failed calls changed nothing
            name, args = call.group("name"), call.group("args")
            if name in ("socket", "socketpair"):
                family = args.split(",", 1)[0].strip()
                if family not in ALLOWED_FAMILIES:
                    found.append(f"{trace.name}: {line}")
            elif name in ("connect", "sendto", "sendmsg", "bind") and re.search(
                r"sa_family=AF_INET6?\b", args
            ):
                found.append(f"{trace.name}: {line}")
            elif name in ("open", "openat", "openat2", "creat"):
                target = _PATH_ARG.search(args)
                writes = name == "creat" or any(flag in args for flag in WRITE_FLAGS)
                if target and writes and outside(absolute(target)):
                    found.append(f"{trace.name}: {line}")
            elif name.startswith(("rename", "mkdir", "link", "symlink")):
                targets = list(_PATH_ARG.finditer(args))
                if not targets:
                    continue
                target = absolute(targets[-1])  # the created / renamed-to path
                if name.startswith("mkdir") and any(
                    root.startswith(target + os.sep) for root in roots
                ):
                    continue  # a parent of an allowed folder (`mkdir -p`): holds nothing itself
                if outside(target):
                    found.append(f"{trace.name}: {line}")
    return found


def _run_traced(script: str, args: list[str], env: dict[str, str], root: Path, name: str) -> Path:
    trace_dir = root / f"trace-{name}"
    trace_dir.mkdir()
    command = [
        STRACE,
        "-ff",
        "-qq",
        "-y",
        "-s",
        "4096",
        "-e",
        TRACED,
        "-e",
        "signal=none",
        "-o",
        str(trace_dir / "trace"),
        sys.executable,
        "-c",
        script.format(seconds=RUN_FOR_S),
        *args,
    ]
    result = subprocess.run(
        command,
        cwd=root / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_FOR_S * 5,
        check=False,
    )  # both runs fit the per-test limit
    assert result.returncode == 0, f"{name} failed under strace: {result.stderr[-2000:]}"
    return trace_dir


@pytest.mark.skipif(
    STRACE is None or not sys.platform.startswith("linux"), reason="needs strace (Linux)"
)
def test_analyze_and_window_stay_offline_and_write_only_their_folders(tmp_path: Path) -> None:
    root = tmp_path
    env, allowed = _user_environment(root)
    (root / "work").mkdir()
    (root / "case").mkdir()
    video = write_clip(root / "case" / "clip.mp4", 30, fps=10, size=(160, 120))
    models = tiny_models.segmenter_folder(root / "case" / "models")
    probe = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=none", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:  # e.g. a container without ptrace
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()}")

    problems: list[str] = []
    analysed = _run_traced(
        _ANALYZE,
        ["analyze", str(video), "--models", str(models), "--fps", "5", "-q"],
        env,
        root,
        "analyze",
    )
    problems += _violations(analysed, allowed, root / "work")
    assert list((allowed["cases/data"] / "cases").glob("*.scrub")), "the case is where cases belong"
    window = _run_traced(_WINDOW, [str(video), "--models", str(models)], env, root, "window")
    problems += _violations(window, allowed, root / "work")
    assert not problems, "network use or writes outside Scrubline's folders:\n" + "\n".join(
        problems[:40]
    )
    assert not (root / "home" / ".cache" / "Microsoft").exists()
