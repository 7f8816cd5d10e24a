"""One analysis per case: a second `scrubline analyze` of a case that another process is
analysing stops with rc 2 and names the holder, or waits for it with `--wait`; the lock dies with
its process (kill -9 leaves nothing to clear); the window's analysis (analyse_video on a worker
thread) is refused the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.caselock import CaseLock, CaseLocked, info_path_for

# A process that takes the case's lock, says so, and holds it until its stdin closes.
HOLDER = """
import sys
from scrubline.core.caselock import CaseLock
lock = CaseLock(sys.argv[1]).acquire()
print("held", flush=True)
sys.stdin.read()
lock.release()
"""


def _hold(case: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(case)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _analyze(video: Path, case: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scrubline.cli",
            "analyze",
            str(video),
            "-o",
            str(case),
            "--fps",
            "2",
            "-q",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_second_analysis_names_the_holder_and_exits_2(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    case = tmp_path / "case.scrub"
    holder = _hold(case)
    try:
        second = _analyze(clips["cfr"], case)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert (
            f"process {holder.pid} on {socket.gethostname()}" in lines[0] and "--wait" in lines[0]
        )
        assert not case.exists()  # the refused analysis did not touch the case
    finally:
        holder.communicate("")
    assert not info_path_for(case).exists()  # released: who-holds-it goes with the lock


def test_wait_starts_when_the_holder_finishes(clips: dict[str, Path], tmp_path: Path) -> None:
    case = tmp_path / "case.scrub"
    holder = _hold(case)
    waiting = _analyze(clips["cfr"], case, "--wait")
    try:
        assert waiting.stderr is not None
        line = waiting.stderr.readline()
        assert line.startswith(f"waiting for process {holder.pid}"), line
        assert waiting.poll() is None and not case.exists()
    finally:
        holder.communicate("")  # the first analysis ends
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "analysed 10 frames (0 already done)" in out


def test_ctrl_c_while_waiting_ends_with_130(clips: dict[str, Path], tmp_path: Path) -> None:
    case = tmp_path / "case.scrub"
    holder = _hold(case)
    try:
        waiting = _analyze(clips["cfr"], case, "--wait")
        assert waiting.stderr is not None
        assert waiting.stderr.readline().startswith(f"waiting for process {holder.pid}")
        waiting.send_signal(signal.SIGINT)
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 130, err
        assert err.startswith("cancelled: stopped waiting") and not case.exists()
    finally:
        holder.communicate("")


def test_lock_dies_with_a_killed_process(tmp_path: Path) -> None:
    case = tmp_path / "case.scrub"
    holder = _hold(case)
    with pytest.raises(CaseLocked):
        CaseLock(case).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert info_path_for(case).exists()  # the killed holder could not tidy up
    lock = CaseLock(case).acquire()  # ... but its lock went with it
    try:
        assert f'"pid": {os.getpid()}' in info_path_for(case).read_text()
    finally:
        lock.release()


def test_the_windows_analysis_is_refused_while_the_case_is_locked(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    """The window runs `analyse_video` on a worker thread; the lock is taken there, so a second
    analysis from the same process (a second window) is refused like a second command."""
    case = tmp_path / "case.scrub"
    with CaseLock(case), pytest.raises(CaseLocked, match=f"process {os.getpid()}"):
        analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    report = analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    assert report.complete and report.done_now == 10
