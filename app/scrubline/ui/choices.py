"""The user's choices as checked plain values, Qt-free (README, Architecture: "Ask, then do"):
the analysis settings from the dialog's fields, the frames of a teaching clip from the selected
range, and the file name an export suggests. A dialog asks; these check and convert, so each is
testable without a window. (Formerly `ui/actions.py`, a name that read like Qt's QAction.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from scrubline.core.analysis import AnalysisSettings
from scrubline.core.pictures import ClipPlan

DEVICES = ("cpu", "auto", "cuda", "coreml", "directml")


# ---------------------------------------------------------------------------- analysis
def analysis_settings(
    *,
    model_ids: Sequence[str] | None,
    fps: float,
    whole: bool = True,
    start_s: float = 0.0,
    end_s: float = 0.0,
    device: str = "cpu",
    duration_s: float | None = None,
) -> AnalysisSettings:
    """Validated settings from the analysis dialog's fields (ValueError says what is wrong)."""
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError("the sampling rate must be a positive number of frames per second")
    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}' (use one of {', '.join(DEVICES)})")
    if model_ids is not None and not model_ids:
        raise ValueError("choose at least one model")
    start: float | None = None
    end: float | None = None
    if not whole:
        start, end = float(start_s), float(end_s)
        if start < 0 or end <= start:
            raise ValueError("the range must end after it starts")
        if duration_s is not None and start >= duration_s:
            raise ValueError(f"the range starts after the video ends ({duration_s:.1f} s)")
    return AnalysisSettings(
        fps=float(fps),
        start_s=start,
        end_s=end,
        device=device,
        model_ids=list(model_ids) if model_ids is not None else None,
    )


# ---------------------------------------------------------------------------- clips
MAX_CLIP_S = 300.0


def clip_plan(
    times: np.ndarray, selection: tuple[float, float] | None, max_s: float = MAX_CLIP_S
) -> ClipPlan:
    """The frames of a teaching clip: the selected range (ValueError when there is none or it
    is too long to be a "short clip")."""
    if selection is None:
        raise ValueError(
            "select a range first (I and O set its start and end, or drag on the ruler)"
        )
    start, end = sorted(selection)
    if end - start > max_s:
        raise ValueError(
            f"the selection is {end - start:.0f} s long; clips are limited to {max_s:.0f} s"
        )
    first = int(np.searchsorted(times, start - 1e-9, side="left"))
    last = int(np.searchsorted(times, end - 1e-9, side="left")) - 1
    if len(times) == 0 or first >= len(times) or last < first:
        raise ValueError("the selection contains no frames")
    return ClipPlan(first, last, float(times[first]), float(times[last]))


def default_export_name(
    case_label: str | None, what: str, suffix: str, time_s: float | None = None
) -> str:
    """A file name to suggest: from the case label the user typed, never from the video's file
    name (recorders often name files after the patient)."""
    stem = re.sub(r"[^\w .-]+", "_", case_label or "").strip(" ._") or "case"
    at = f"-{time_s:08.2f}s".replace(".", "_") if time_s is not None else ""
    return f"{stem}-{what}{at}{suffix}"
