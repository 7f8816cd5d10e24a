"""Reproducible training and export scripts for the bundled models (run with the `train` extra).

The export checks import onnxruntime; its telemetry is switched off before that can happen
(see `scrubline/__init__.py` for why it must be set before the first import).
"""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"
