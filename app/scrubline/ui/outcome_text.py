"""The words of the outcome panel, Qt-free.

The panel shows a prediction only with its interval and beside the model's validation figures
(DESIGN.md principle 8), or a plain statement of why there is none. These functions turn the
`outcome` dict of `scrubline.core.export.case_summary` into that text, so what a person reads is
tested without a window.
"""

from __future__ import annotations

import html
import math
from typing import Any

NOT_A_DEVICE = "Decision support for review and teaching; not a medical device."


def _figure(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.3g}"
    return html.escape(str(value))


def validation_text(model: dict[str, Any] | None, metrics: dict[str, Any] | None) -> str:
    """'model id version — validated: metric value, ...' (headline first)."""
    if not model:
        return "No outcome model is installed."
    name = f"{model.get('id', '?')} {model.get('version', '')}".strip()
    figures: list[str] = []
    headline = model.get("headline_metric")
    if headline is not None and "headline_value" in model:
        figures.append(f"<b>{html.escape(str(headline))} {_figure(model['headline_value'])}</b>")
    for key, value in (metrics or {}).items():
        if key != headline and isinstance(value, int | float | str):
            figures.append(f"{html.escape(str(key))} {_figure(value)}")
    if not figures:
        return f"Model {html.escape(name)}: no validation figures recorded."
    return f"Model {html.escape(name)}; validation: " + ", ".join(figures[:8]) + "."


def prediction_html(outcome: dict[str, Any] | None) -> str:
    """The prediction (blood loss with interval, chance of success) or why there is none."""
    if outcome is None:
        return "<i>Not computed yet.</i>"
    if outcome.get("blood_loss_ml") is None or outcome.get("success_probability") is None:
        reason = outcome.get("reason") or "the model gave no prediction"
        return f"<b>No prediction:</b> {html.escape(str(reason))}."
    loss = float(outcome["blood_loss_ml"])
    interval = outcome.get("blood_loss_interval_ml")
    loss_text = f"<b>{loss:.0f} mL</b>"
    if interval:
        loss_text += f" (80% interval {float(interval[0]):.0f}–{float(interval[1]):.0f} mL)"
    else:
        loss_text += " (no interval available)"
    success = float(outcome["success_probability"])
    return (
        f"Predicted blood loss: {loss_text}<br>Chance of success (hemostasis): <b>{success:.0%}</b>"
    )


def event_start_text(outcome: dict[str, Any] | None, moved_by_user: bool) -> str:
    if outcome is None:
        return "Found from the bleeding timeline once the case is analysed."
    if outcome.get("event_start_s") is None:
        return "No bleeding event start found."
    how = "set by hand" if moved_by_user else "detected from the bleeding timeline"
    return f"Bleeding event starts at {float(outcome['event_start_s']):.1f} s ({how})."
