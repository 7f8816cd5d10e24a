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


# Cross-validated figures a sequence model's manifest may state, in the order they are shown:
# (metric key, label, unit: "mL", "%" for fractions, "" for plain numbers).
LOSS_METRICS = (
    ("cv_rmse_ml", "RMSE", "mL"),
    ("cv_mae_ml", "MAE", "mL"),
    ("cv_mean_error_ml", "mean error", "mL"),
    ("cv_r2", "R²", ""),
)
SUCCESS_METRICS = (
    ("cv_accuracy", "accuracy", "%"),
    ("cv_auroc", "AUROC", ""),
    ("cv_sensitivity", "sensitivity", "%"),
    ("cv_specificity", "specificity", "%"),
    ("cv_brier", "Brier", ""),
)


def cross_validated_figures(metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The manifest's cross-validated figures for blood loss and for success, in words a clinician
    reads ("RMSE 345 mL", "accuracy 73%"), for the report and the window's outcome panel alike;
    only what the manifest states (a missing figure is left out, never filled in)."""

    def fmt(key: str, label: str, unit: str) -> str | None:
        value = metrics.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if unit == "%":
            return f"{label} {percent(float(value), 0)}"
        return f"{label} {number(float(value))}" + (f" {unit}" if unit else "")

    loss = [t for t in (fmt(*m) for m in LOSS_METRICS) if t]
    coverage = metrics.get("interval_coverage")
    if isinstance(coverage, int | float) and not isinstance(coverage, bool):
        loss.append(f"80% interval held the true loss in {percent(float(coverage), 0)} of cases")
    success = [t for t in (fmt(*m) for m in SUCCESS_METRICS) if t]
    return loss, success


# Words for the tokens of manifest metric names (`tip_visibility_spec_at_95sens_ci95`), so the
# report's provenance tables read as words and wrap between them, not inside a long key.
_METRIC_WORDS = {
    "cv": "cross-validated",
    "ci95": "(95% CI)",
    "ml": "mL",
    "auroc": "AUROC",
    "iou": "IoU",
    "ap50": "AP@0.5",
    "map50": "mAP@0.5",
    "r2": "R²",
    "rmse": "RMSE",
    "mae": "MAE",
    "spec": "specificity",
    "95sens": "95% sensitivity",
    "20px": "20 px",
    "ms": "ms",
    "vs": "vs",
    "hsv": "HSV",
    "yolov4": "YOLOv4",
    "dice": "Dice",
    "cpu": "CPU",
}


def metric_label(key: str) -> str:
    """A manifest metric name in words: `cv_rmse_ml` -> "cross-validated RMSE mL",
    `tip_visibility_spec_at_95sens` -> "tip visibility specificity at 95% sensitivity"."""
    return " ".join(_METRIC_WORDS.get(token.lower(), token) for token in key.split("_") if token)
