"""Predicted blood loss and success for a bleeding event: event window -> features -> model.

A bleeding event's first minute says a lot about how it will end (SOCALNet, Pangal et al. 2022).
This module turns what Scrubline's own analysis produces -- instrument boxes per analysed frame
and a bleeding-area fraction per frame -- into the per-second feature sequence a `sequence`
model reads, finds where the event starts, and asks the model for blood loss (with an 80%
interval) and the probability of success. The training script (`models/train/outcome.py`) calls
the same `sequence_features`, so the features the bundled model was validated on are computed by
exactly this code.

The features are class-agnostic on purpose: Scrubline's bundled detector labels every tool
"instrument", so the model may only rely on counts, box geometry, motion and in/out events. A
class-aware detector can still be used: pass `labels` to say which of its labels are instruments.

Nothing here imports Qt, torch or scikit-learn: numpy, pandas and (through the model wrapper)
onnxruntime only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from scrubline.core.models.wrappers import SequenceModel

# Per-second features, in the order the bundled model expects them (its manifest repeats this
# list; the manifest is what counts at run time). All are invariant to frame size and frame rate.
FEATURES: tuple[str, ...] = (
    "instrument_count",  # mean number of instrument boxes per analysed frame in the second
    "instrument_present",  # fraction of analysed frames with at least one instrument
    "two_or_more",  # fraction of analysed frames with two or more (both hands working)
    "box_area_sum",  # summed box area / frame area (clipped at 1)
    "box_area_max",  # largest box / frame area
    "centre_x",  # mean box centre, 0..1 of the width (0.5 when nothing is in view)
    "centre_y",  # mean box centre, 0..1 of the height (0.5 when nothing is in view)
    "centre_offset",  # distance of the mean box centre from the frame centre / half-diagonal
    "spread",  # spatial spread of box centres / diagonal (0 with fewer than two boxes)
    "box_bottom",  # lowest box edge, 0..1 of the height (0 when nothing is in view)
    "motion",  # displacement of the mean box centre since the previous second / diagonal
    "area_change",  # |change of box_area_sum| since the previous second
    "entries",  # instruments coming into view since the previous second (count increase)
    "exits",  # instruments leaving view since the previous second (count decrease)
)
# Features a model may ask for beyond the bundled set.
OPTIONAL_FEATURES: tuple[str, ...] = ("bleeding_fraction",)
KNOWN_FEATURES: tuple[str, ...] = FEATURES + OPTIONAL_FEATURES

DETECTION_COLUMNS = ("time_s", "label", "score", "x1", "y1", "x2", "y2")


class OutcomeError(ValueError):
    """Inputs that cannot be turned into a feature sequence (the message says why)."""


def _bins(times: np.ndarray, event_start_s: float, steps: int) -> np.ndarray:
    """1-s bin index of each time after the event start; -1 outside the window."""
    idx = np.floor(np.asarray(times, dtype=float) - event_start_s + 1e-9).astype(np.int64)
    idx[(idx < 0) | (idx >= steps)] = -1
    return idx


def _per_frame(det: pd.DataFrame, width: float, height: float) -> pd.DataFrame:
    """One row per analysed frame that has instruments: counts and geometry."""
    x1 = det["x1"].to_numpy(float)
    y1 = det["y1"].to_numpy(float)
    x2 = det["x2"].to_numpy(float)
    y2 = det["y2"].to_numpy(float)
    cx = np.clip((x1 + x2) / 2.0 / width, 0.0, 1.0)
    cy = np.clip((y1 + y2) / 2.0 / height, 0.0, 1.0)
    area = np.clip((x2 - x1) * (y2 - y1) / (width * height), 0.0, 1.0)
    bottom = np.clip(np.maximum(y1, y2) / height, 0.0, 1.0)
    table = pd.DataFrame(
        {
            "time_s": det["time_s"].to_numpy(float),
            "one": 1.0,
            "cx": cx,
            "cy": cy,
            "cx2": cx * cx,
            "cy2": cy * cy,
            "area": area,
            "bottom": bottom,
        }
    )
    g = table.groupby("time_s", sort=True)
    frame = pd.DataFrame(
        {
            "count": g["one"].sum(),
            "cx": g["cx"].mean(),
            "cy": g["cy"].mean(),
            "var": (g["cx2"].mean() - g["cx"].mean() ** 2)
            + (g["cy2"].mean() - g["cy"].mean() ** 2),
            "area_sum": g["area"].sum().clip(upper=1.0),
            "area_max": g["area"].max(),
            "bottom": g["bottom"].max(),
        }
    )
    frame["var"] = frame["var"].clip(lower=0.0)
    return frame


def sequence_features(
    detections: pd.DataFrame,
    frame_size: tuple[int, int],
    event_start_s: float,
    steps: int = 60,
    bleeding: pd.Series | None = None,
    *,
    analysed_times: np.ndarray | None = None,
    labels: Collection[str] | None = None,
    min_score: float = 0.0,
    features: Sequence[str] = FEATURES,
) -> np.ndarray:
    """The per-second feature sequence of the `steps` seconds from `event_start_s`.

    detections: one row per instrument per analysed frame, columns `time_s, label, score, x1, y1,
        x2, y2` (pixels of a `frame_size` = (width, height) frame). Rows whose label is not in
        `labels` (when given) or whose score is below `min_score` are ignored.
    analysed_times: the times of every analysed frame, so that a second in which nothing was
        detected reads "no instruments" rather than "not analysed". When None, the detection
        times are taken as the analysed frames (then empty frames are invisible: pass it).
    bleeding: time_s -> bleeding area fraction (0..1); needed only when `features` asks for
        `bleeding_fraction`.
    features: which features, in which order (a model's manifest `input.features`).

    Seconds with no analysed frame take the values of the nearest analysed second before them
    (after them at the start of the window); a window with no analysed frame at all raises
    `OutcomeError`. Returns float32 [steps, len(features)].
    """
    unknown = [f for f in features if f not in KNOWN_FEATURES]
    if unknown:
        raise OutcomeError(
            f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(KNOWN_FEATURES)}"
        )
    width, height = float(frame_size[0]), float(frame_size[1])
    if width <= 0 or height <= 0:
        raise OutcomeError(f"frame size {frame_size} is not positive")
    missing = [c for c in ("time_s", "x1", "y1", "x2", "y2") if c not in detections.columns]
    if missing:
        raise OutcomeError(f"detections lack column(s) {', '.join(missing)}")

    det = detections
    if labels is not None and "label" in det.columns:
        det = det[det["label"].isin(list(labels))]
    if min_score > 0 and "score" in det.columns:
        det = det[det["score"].to_numpy(float) >= min_score]
    det = det.dropna(subset=["x1", "y1", "x2", "y2"])

    # Times are matched to the microsecond: a store's float round trip must not split a frame.
    if analysed_times is None:
        analysed = np.unique(np.round(detections["time_s"].to_numpy(float), 6))
    else:
        analysed = np.unique(np.round(np.asarray(analysed_times, dtype=float), 6))
    analysed_bins = _bins(analysed, event_start_s, steps)
    keep = analysed_bins >= 0
    analysed, analysed_bins = analysed[keep], analysed_bins[keep]
    if analysed.size == 0:
        raise OutcomeError(
            f"no analysed frame in the {steps} s after the event start at {event_start_s:.1f} s"
        )

    # Per analysed frame: zeros where nothing was detected, geometry where something was.
    per_frame = pd.DataFrame(index=pd.Index(analysed, name="time_s"))
    det = det.assign(time_s=np.round(det["time_s"].to_numpy(float), 6))
    det = det[np.isin(det["time_s"].to_numpy(float), analysed)]
    geometry = _per_frame(det, width, height) if len(det) else None
    if geometry is not None:
        per_frame = per_frame.join(geometry)
    for column in ("count", "var", "area_sum", "area_max", "bottom"):
        if column not in per_frame:
            per_frame[column] = 0.0
        per_frame[column] = per_frame[column].fillna(0.0)
    for column in ("cx", "cy"):
        if column not in per_frame:
            per_frame[column] = np.nan
    per_frame["present"] = (per_frame["count"] > 0).astype(float)
    per_frame["two"] = (per_frame["count"] > 1).astype(float)
    per_frame["spread"] = np.sqrt(per_frame["var"]) / math.sqrt(2.0)
    per_frame["bin"] = analysed_bins

    # Per second: frame means (positions only over frames with instruments).
    g = per_frame.groupby("bin")
    sec = pd.DataFrame(
        {
            "instrument_count": g["count"].mean(),
            "instrument_present": g["present"].mean(),
            "two_or_more": g["two"].mean(),
            "box_area_sum": g["area_sum"].mean(),
            "box_area_max": g["area_max"].mean(),
            "cx": g["cx"].mean(),
            "cy": g["cy"].mean(),
            "spread": g["spread"].mean(),
            "box_bottom": g["bottom"].mean(),
        }
    )
    if bleeding is not None and "bleeding_fraction" in features:
        b_times = np.asarray(bleeding.index, dtype=float)
        b_bins = _bins(b_times, event_start_s, steps)
        b = pd.Series(np.asarray(bleeding.to_numpy(), dtype=float), index=b_bins)
        sec["bleeding_fraction"] = b[b.index >= 0].groupby(level=0).mean()
    # Unanalysed seconds: carry the last analysed second forward (back at the start). An analysed
    # second with nothing in view has no position; mark it so the fill does not invent one.
    sec[["cx", "cy"]] = sec[["cx", "cy"]].fillna(-1.0)
    sec = sec.reindex(range(steps)).ffill().bfill()
    sec.loc[sec["cx"] < 0, ["cx", "cy"]] = np.nan

    has = sec["cx"].notna().to_numpy()
    cx = sec["cx"].to_numpy(float)
    cy = sec["cy"].to_numpy(float)
    out: dict[str, np.ndarray] = {
        name: sec[name].to_numpy(float)
        for name in (
            "instrument_count",
            "instrument_present",
            "two_or_more",
            "box_area_sum",
            "box_area_max",
            "spread",
            "box_bottom",
        )
    }
    out["centre_x"] = np.where(has, cx, 0.5)
    out["centre_y"] = np.where(has, cy, 0.5)
    # Offsets and motion in units where the frame's half-diagonal (or diagonal) is 1, so that a
    # 16:9 and a 4:3 frame give comparable numbers.
    aspect = width / height
    dx, dy = (cx - 0.5) * aspect, cy - 0.5
    half_diag = math.hypot(aspect, 1.0) / 2.0
    out["centre_offset"] = np.where(has, np.hypot(dx, dy) / half_diag, 0.0)
    step_move = np.hypot(np.diff(cx) * aspect, np.diff(cy)) / (2.0 * half_diag)
    both = has[1:] & has[:-1]
    out["motion"] = np.concatenate([[0.0], np.where(both, step_move, 0.0)])
    area = out["box_area_sum"]
    out["area_change"] = np.concatenate([[0.0], np.abs(np.diff(area))])
    count = out["instrument_count"]
    delta = np.concatenate([[0.0], np.diff(count)])
    out["entries"] = np.clip(delta, 0.0, None)
    out["exits"] = np.clip(-delta, 0.0, None)
    if "bleeding_fraction" in features:
        if bleeding is None:
            raise OutcomeError("feature 'bleeding_fraction' needs the bleeding timeline")
        out["bleeding_fraction"] = np.nan_to_num(sec["bleeding_fraction"].to_numpy(float))

    matrix = np.stack([out[name] for name in features], axis=1)
    return np.nan_to_num(matrix, nan=0.0).astype(np.float32)


def window_coverage(
    analysed_times: np.ndarray, event_start_s: float, steps: int = 60
) -> tuple[float, float]:
    """(fraction of the window's 1-s bins with an analysed frame, how many seconds of the window
    the analysed span reaches: the 1-s bin of the last analysed time + 1, capped at `steps`)."""
    times = np.asarray(analysed_times, dtype=float)
    bins = _bins(times, event_start_s, steps)
    fraction = float(np.unique(bins[bins >= 0]).size) / steps
    after = times[times >= event_start_s]
    reach = (
        float(min(steps, math.floor(after.max() - event_start_s + 1e-9) + 1)) if after.size else 0.0
    )
    return fraction, reach


def detect_event_start(
    times: np.ndarray,
    bleeding_fraction: np.ndarray,
    *,
    min_fraction: float = 0.03,
    min_rise: float = 0.02,
    sustain_s: float = 3.0,
    baseline_s: float = 10.0,
) -> float | None:
    """The start of the first sustained rise of the bleeding area, or None.

    The fraction is taken per 1-s bin (median of the frames in it, so single-frame flashes do not
    count). A bleeding event is the first second from which, for at least `sustain_s` seconds, the
    area is at least `min_fraction` and at least `min_rise` above the baseline (the lowest area in
    the `baseline_s` seconds before; a colour-threshold bleeding model also marks some red tissue,
    which the baseline removes). The returned time is where the rise begins: stepping back from
    that second while the area keeps falling.
    """
    t = np.asarray(times, dtype=float)
    f = np.asarray(bleeding_fraction, dtype=float)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    if t.size == 0:
        return None
    start = math.floor(t.min())
    series = pd.Series(f, index=np.floor(t - start).astype(np.int64)).groupby(level=0).median()
    series = series.reindex(range(int(series.index.max()) + 1)).ffill()
    values = series.to_numpy(float)
    n = values.size
    window = max(1, round(baseline_s))
    sustain = max(1, round(sustain_s))
    # The first second has no "before", so a video that opens on a bleed (or on red tissue)
    # shows no rise there: the user sets such a start by hand.
    for i in range(1, n - sustain + 1):
        lo = max(0, i - window)
        baseline = values[lo:i].min()
        segment = values[i : i + sustain]
        if (segment >= min_fraction).all() and (segment - baseline >= min_rise).all():
            j = i
            while j > lo and values[j - 1] < values[j] and values[j - 1] > baseline + min_rise / 4:
                j -= 1
            return float(start + j)
    return None


def _refusal(reason: str, event_start_s: float | None, model: Any) -> dict[str, Any]:
    return {
        "event_start_s": event_start_s,
        "blood_loss_ml": None,
        "blood_loss_interval_ml": None,
        "success_probability": None,
        "model": _model_info(model),
        "reason": reason,
    }


def _model_info(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    manifest = model.manifest
    info: dict[str, Any] = {"id": manifest.id, "version": manifest.version}
    headline = manifest.extra.get("headline_metric")
    if headline and headline in manifest.metrics:
        info["headline_metric"] = headline
        info["headline_value"] = manifest.metrics[headline]
    return info


def predict_case_outcome(
    detections: pd.DataFrame,
    frame_size: tuple[int, int],
    analysed_times: np.ndarray,
    model: SequenceModel | None,
    *,
    bleeding: pd.Series | None = None,
    event_start_s: float | None = None,
    labels: Collection[str] | None = None,
    min_score: float = 0.0,
    min_coverage: float = 0.8,
    min_instrument_s: float = 3.0,
) -> dict[str, Any]:
    """The `outcome` object of a case's summary.json.

    detections / analysed_times / frame_size / labels / min_score: as for `sequence_features`.
    model: a loaded `SequenceModel` (None when no outcome model is installed).
    bleeding: time_s -> bleeding area fraction; used to find the event start when
        `event_start_s` is None (a start the user moved is passed as `event_start_s`).

    Returns a JSON-able dict with `event_start_s`, `blood_loss_ml`, `blood_loss_interval_ml`
    ([low, high]), `success_probability`, `model` ({id, version, headline}) and `reason`. When the
    case is outside what the model was validated on, the numbers are None and `reason` says why
    in plain words; a number is never given in that case.
    """
    if event_start_s is None:
        if bleeding is None or len(bleeding) == 0:
            return _refusal(
                "no bleeding timeline, so no bleeding event start; set the event start by hand",
                None,
                model,
            )
        event_start_s = detect_event_start(
            np.asarray(bleeding.index, dtype=float), bleeding.to_numpy(dtype=float)
        )
        if event_start_s is None:
            return _refusal("no bleeding event was found in the bleeding timeline", None, model)
    event_start_s = float(event_start_s)
    if model is None:
        return _refusal("no outcome model is installed", event_start_s, None)

    steps = int(model.steps)
    times = np.asarray(analysed_times, dtype=float)
    coverage, reach = window_coverage(times, event_start_s, steps)
    if reach < steps - 1.0:
        return _refusal(
            f"the model reads the {steps} s after the bleeding starts (at {event_start_s:.1f} s), "
            f"but the analysed video covers only {max(reach, 0.0):.0f} s of it",
            event_start_s,
            model,
        )
    if coverage < min_coverage:
        return _refusal(
            f"only {coverage:.0%} of the {steps} s after the bleeding starts were analysed; "
            f"the model needs at least {min_coverage:.0%}",
            event_start_s,
            model,
        )
    try:
        sequence = sequence_features(
            detections,
            frame_size,
            event_start_s,
            steps,
            bleeding,
            analysed_times=times,
            labels=labels,
            min_score=min_score,
            features=model.features,
        )
    except OutcomeError as exc:
        return _refusal(f"the features could not be computed: {exc}", event_start_s, model)
    if "instrument_present" in model.features:
        seen_s = float(sequence[:, list(model.features).index("instrument_present")].sum())
    else:
        seen_s = float(
            sequence_features(
                detections,
                frame_size,
                event_start_s,
                steps,
                analysed_times=times,
                labels=labels,
                min_score=min_score,
                features=("instrument_present",),
            ).sum()
        )
    if seen_s <= 0:
        return _refusal(
            f"no instruments were seen in the {steps} s after the bleeding starts; the model "
            "was trained only on cases where the surgeon works in view",
            event_start_s,
            model,
        )
    if seen_s < min_instrument_s:
        return _refusal(
            f"instruments were in view for only {seen_s:.0f} s of the {steps} s after the "
            "bleeding starts; too little to predict from",
            event_start_s,
            model,
        )
    prediction = model.predict_outcome(sequence)
    interval = prediction.blood_loss_interval_ml
    values = [prediction.blood_loss_ml, prediction.success_probability]
    if interval is not None:
        values.extend(interval)
    if not all(math.isfinite(v) for v in values):
        return _refusal("the model gave a non-finite result", event_start_s, model)
    return {
        "event_start_s": event_start_s,
        "blood_loss_ml": round(float(prediction.blood_loss_ml), 1),
        "blood_loss_interval_ml": (
            [round(float(interval[0]), 1), round(float(interval[1]), 1)] if interval else None
        ),
        "success_probability": round(float(prediction.success_probability), 4),
        "model": _model_info(model),
        "reason": None,
    }
