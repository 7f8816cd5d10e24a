"""The words of the outcome panel, Qt-free.

The panel shows a prediction only with its interval and beside the model's validation figures
(README, Architecture: "Honest numbers"), or a plain statement of why there is none. These
functions turn the `outcome` dict of `scrubline.core.case.Case.outcome` into that text, so what
a person reads is tested without a window.
"""

from __future__ import annotations

import html
import math
from typing import Any

from scrubline.report.text import LOSS_METRICS, SUCCESS_METRICS, cross_validated_figures

NOT_A_DEVICE = "Decision support for review and teaching; not a medical device."
OUTSIDE_DOMAIN_CHECKBOX = "Predict outside the validated domain"
WARNING_COLOUR = "#ffb74d"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.3g}"
    return html.escape(str(value))


def validation_text(model: dict[str, Any] | None, metrics: dict[str, Any] | None) -> str:
    """'Model id version; cross-validated: blood loss RMSE 345 mL, ...; success accuracy 73%, ...'

    The figures a manifest may state are worded as in the report (`cross_validated_figures`),
    never as manifest keys; the headline figure is bold. Only a model that states none of those
    (a user's own) has its figures listed under their manifest names; the model card explains
    the rest (baselines, other splits) in words."""
    if not model:
        return "No outcome model is installed."
    name = f"{model.get('id', '?')} {model.get('version', '')}".strip()
    metrics = dict(metrics or {})
    headline = model.get("headline_metric")
    if headline is not None and "headline_value" in model:
        metrics.setdefault(str(headline), model["headline_value"])
    groups: list[str] = []
    loss, success = cross_validated_figures(metrics)
    for subject, figures, table in (
        ("blood loss", loss, LOSS_METRICS),
        ("success", success, SUCCESS_METRICS),
    ):
        bold = next((label for key, label, _ in table if key == headline), None)
        worded = [
            f"<b>{html.escape(f)}</b>" if bold and f.startswith(bold + " ") else html.escape(f)
            for f in figures
        ]
        if worded:
            groups.append(f"{subject} " + ", ".join(worded))
    known = {key for key, _, _ in (*LOSS_METRICS, *SUCCESS_METRICS)} | {"interval_coverage"}
    others = [
        (
            f"<b>{html.escape(str(key))} {_figure(value)}</b>"
            if key == headline
            else f"{html.escape(str(key))} {_figure(value)}"
        )
        for key, value in metrics.items()
        if key not in known and isinstance(value, int | float | str)
    ]
    others.sort(key=lambda text: not text.startswith("<b>"))
    if others and not groups:
        groups.append(", ".join(others[:8]))
    if not groups:
        return f"Model {html.escape(name)}: no validation figures recorded."
    return f"Model {html.escape(name)}; cross-validated: " + "; ".join(groups) + "."


def prediction_html(outcome: dict[str, Any] | None) -> str:
    """The prediction (blood loss with interval, chance of success) or why there is none."""
    if outcome is None:
        return "<i>Not computed yet.</i>"
    if outcome.get("blood_loss_ml") is None or outcome.get("success_probability") is None:
        reason = outcome.get("reason") or "the model gave no prediction"
        text = f"<b>No prediction:</b> {html.escape(str(reason))}."
        if outcome.get("outside_domain") and not outcome.get("outside_domain_requested"):
            text += (
                "<br><i>Choose the procedure it was validated on, or tick "
                f"“{OUTSIDE_DOMAIN_CHECKBOX}” to see it anyway.</i>"
            )
        return text
    loss = float(outcome["blood_loss_ml"])
    interval = outcome.get("blood_loss_interval_ml")
    loss_text = f"<b>{loss:.0f} mL</b>"
    if interval:
        loss_text += f" (80% interval {float(interval[0]):.0f}–{float(interval[1]):.0f} mL)"
    else:
        loss_text += " (no interval available)"
    success = float(outcome["success_probability"])
    text = (
        f"Predicted blood loss: {loss_text}<br>Chance of success (hemostasis): <b>{success:.0%}</b>"
    )
    if outcome.get("warning"):
        warning = str(outcome["warning"])
        text = (
            f'<span style="color: {WARNING_COLOUR};"><b>⚠ {html.escape(warning[:1].upper())}'
            f"{html.escape(warning[1:])}.</b></span><br>{text}"
        )
    return text


def event_start_text(outcome: dict[str, Any] | None, moved_by_user: bool) -> str:
    if outcome is None:
        return "Found from the bleeding timeline once the case is analysed."
    if outcome.get("event_start_s") is None:
        return "No bleeding event start found."
    how = "set by hand" if moved_by_user else "detected from the bleeding timeline"
    return f"Bleeding event starts at {float(outcome['event_start_s']):.1f} s ({how})."
