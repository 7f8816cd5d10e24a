"""Where bundled data lives: `models/` and `resources/` at the top of a checkout (editable
install), inside a PyInstaller bundle, or under `share/scrubline/` after a wheel install."""

from __future__ import annotations

import sys
from pathlib import Path


def bundled_dir(name: str) -> Path:
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / name)
    candidates.append(Path(__file__).resolve().parents[3] / name)
    candidates.append(Path(sys.prefix) / "share" / "scrubline" / name)
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]


def resources_dir() -> Path:
    return bundled_dir("resources")
