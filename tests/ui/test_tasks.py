"""The Qt adapter for long work: queued progress, one task at a time, cancel and wait, errors
reported with their traceback, and newest-request-wins background reads; and the UI probe."""

from __future__ import annotations

import threading
from pathlib import Path

from scrubline.ui.tasks import LatestJob, TaskRunner


def test_runner_reports_progress_and_result_on_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = TaskRunner("t")
    threads: list[str] = []
    runner.progressed.connect(lambda f, m: threads.append(threading.current_thread().name))

    def work(state):  # type: ignore[no-untyped-def]
        for i in range(3):
            state.progress((i + 1) / 3, f"step {i}")
        return threading.current_thread().name

    with qtbot.waitSignal(runner.finished, timeout=10_000) as done:
        assert runner.start(work)
    assert done.args[0].startswith("scrubline-")  # ran on a worker thread
    assert threads == [threading.main_thread().name] * 3  # delivered on the GUI thread
    assert not runner.running()


def test_runner_cancels_waits_and_allows_one_task_at_a_time(qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = TaskRunner("t")
    started = threading.Event()

    def work(state):  # type: ignore[no-untyped-def]
        started.set()
        while not state.cancelled():
            started.wait(0.001)
        return "stopped"

    with qtbot.waitSignal(runner.finished, timeout=10_000) as done:
        assert runner.start(work)
        assert not runner.start(work)
        started.wait(5)
        assert runner.shutdown(timeout=5)
    assert done.args[0] == "stopped"


def test_runner_reports_errors_with_details(qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = TaskRunner("t")

    def work(state):  # type: ignore[no-untyped-def]
        raise ValueError("the disk is full")

    with qtbot.waitSignal(runner.failed, timeout=10_000) as failed:
        runner.start(work)
    assert str(failed.args[0]) == "the disk is full" and "Traceback" in failed.args[1]


def test_latest_job_runs_the_newest_request(qtbot) -> None:  # type: ignore[no-untyped-def]
    job = LatestJob("j")
    started, gate = threading.Event(), threading.Event()
    results: list[int] = []
    job.done.connect(results.append)
    job.submit(lambda: started.set() or (gate.wait(5) and 1))
    assert started.wait(5)
    job.submit(lambda: 2)
    job.submit(lambda: 3)  # replaces 2, which never runs
    gate.set()
    qtbot.waitUntil(lambda: results == [1, 3], timeout=10_000)
    assert not job.busy()
    job.shutdown()


def test_ui_probe_measures_the_real_window(qtbot, demo_clip: Path, tiny_registry) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.probe import probe_ui

    result = probe_ui(demo_clip, 1.5, registry=tiny_registry, seeks=3)
    assert result.ticks > 50 and result.scrub_requests > 10 and result.seeks == 3
    assert result.frames_shown + result.previews_shown > 0
    assert 0.0 <= result.max_stall_ms < 5000 and result.seek_latency_ms_p50 > 0
