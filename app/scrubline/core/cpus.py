"""How many CPUs this process may use, for every thread and worker count Scrubline chooses.

`os.cpu_count()` counts the machine's CPUs, not the ones this process is allowed to run on: under
Slurm (`--cpus-per-task`), `taskset`, a container's cpuset or a batch worker sharing a node it
overstates them, and inference threads sized from it fight each other for the same cores.
`os.sched_getaffinity(0)` (Linux) and `os.process_cpu_count()` (Python 3.13+, every platform)
give the CPUs this process may use; `os.cpu_count()` is the last resort where neither exists
(macOS and Windows before 3.13, which have no affinity limits Python can read).
"""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The number of CPUs this process may run on (at least 1)."""
    process_cpu_count = getattr(os, "process_cpu_count", None)
    if process_cpu_count is not None:  # Python 3.13+: honours the affinity mask and -X cpu_count
        count = process_cpu_count()
        if count:
            return max(1, int(count))
    sched_getaffinity = getattr(os, "sched_getaffinity", None)
    if sched_getaffinity is not None:
        try:
            return max(1, len(sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)  # no affinity to read on this platform


def inference_threads(tasks_at_once: int = 1) -> int:
    """onnxruntime intra-op threads for each of `tasks_at_once` analyses sharing this process's
    CPUs: alone, every CPU but one (the decoder's) once there are more than two; shared, an equal
    share, so that analyses × threads never exceeds the CPUs."""
    cpus = usable_cpus()
    if tasks_at_once <= 1:
        return max(1, cpus - 1) if cpus > 2 else cpus
    return max(1, cpus // tasks_at_once)
