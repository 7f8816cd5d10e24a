"""Scrubline: offline review of surgical video.

`scrubline.core` and `scrubline.report` are Qt-free and drive both the command line and the
desktop window (`scrubline.ui`).

Every entry point (the command line, the window, the bench, the frozen app, the training
scripts through `scrubline.core`) imports this package first, so this is where onnxruntime's
telemetry is switched off. onnxruntime >= 1.2x writes a device id and a usage database under
`~/.cache/Microsoft/DeveloperTools/` when it is imported, and a few seconds later opens a
connection to Microsoft's event collector; only `ORT_DISABLE_TELEMETRY=1` in the environment
*before the first import* stops both (`disable_telemetry_events()` after import does not).
It is forced, not defaulted: Scrubline promises that nothing leaves the machine, and a stray
`ORT_DISABLE_TELEMETRY=0` in someone's environment must not break that promise.
"""

from __future__ import annotations

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
