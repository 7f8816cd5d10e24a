"""Entry point of the PyInstaller executables (both run `scrubline.cli.main`).

`scrubline` (console) is the command line: `scrubline self-check`, `scrubline analyze ...`.
`scrubline-gui` (windowed, no console on Windows) opens the window; a desktop entry or a
double-clicked case file starts it. A windowed executable on Windows has no stdout/stderr at all
(None), so anything printed there would raise; it goes to the null device instead and the log
file keeps what matters.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _ensure_streams() -> None:
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (lives as long as the process)


if __name__ == "__main__":
    # Dask's local cluster starts worker processes from this executable.
    multiprocessing.freeze_support()
    _ensure_streams()
    from scrubline.cli import main

    sys.exit(main())
