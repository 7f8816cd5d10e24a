"""Thread counts come from the CPUs this process may use (its affinity), not the machine's."""

from __future__ import annotations

import os

import pytest

from scrubline.core import cpus
from scrubline.core.models.session import default_threads


@pytest.fixture
def one_cpu_of_64(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Slurm job or `taskset -c 0` on a 64-CPU node."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 1, raising=False)


def test_usable_cpus_honour_the_affinity_not_the_machine(one_cpu_of_64: None) -> None:
    assert cpus.usable_cpus() == 1


def test_inference_threads_default_to_the_usable_cpus(one_cpu_of_64: None) -> None:
    assert default_threads() == 1


def test_analyses_sharing_the_cpus_never_ask_for_more_threads_than_there_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 8, raising=False)
    assert cpus.usable_cpus() == 8
    assert cpus.inference_threads() == 7
    for workers in (1, 2, 3, 4, 8, 16):
        threads = cpus.inference_threads(workers)
        assert threads >= 1
        assert workers * threads <= max(8, workers)
