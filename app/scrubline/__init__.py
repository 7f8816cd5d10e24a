"""Scrubline: offline review of surgical video.

`scrubline.core` and `scrubline.report` are Qt-free and drive both the command line and the
desktop window (`scrubline.ui`).
"""

from __future__ import annotations

__version__ = "0.1.0"
