"""Formatting for people: clock times, durations, percentages, numbers from manifests, and
escaping for reportlab's paragraph mark-up."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape


def clock(seconds: float | None, *, long: bool = False, decimals: int = 0) -> str:
    """m:ss (or h:mm:ss when `long` or past an hour); '–' for None."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0.0, float(seconds))
    if decimals:
        scale = 10**decimals
        seconds = round(seconds * scale) / scale
        whole = int(seconds)
        frac = f"{seconds - whole:.{decimals}f}"[1:]
    else:
        whole = int(round(seconds))
        frac = ""
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if long or h:
        return f"{h}:{m:02d}:{s:02d}{frac}"
    return f"{m}:{s:02d}{frac}"


def duration(seconds: float | None) -> str:
    """'12.4 s', '3 min 05 s', '2 h 04 min'."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        return f"{m} min {s:02d} s"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min"


def percent(fraction: float | None, decimals: int = 1) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "–"
    return f"{100.0 * fraction:.{decimals}f}%"


def number(value: Any) -> str:
    """A metric as a person reads it: 3 significant figures for floats, as-is otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(number(v) for v in value) + "]"
    return str(value)


def esc(text: Any) -> str:
    """Text for a reportlab Paragraph: <, > and & would otherwise be read as mark-up."""
    return escape(str(text))
