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
# list; the manifest is what counts at run time). Each second reads the one frame on screen at
# that whole second (see `second_frames`), so they are invariant to the analysis rate, and all
# are invariant to frame size.
FEATURES: tuple[str, ...] = (
    "instrument_count",  # number of instrument boxes in the second's frame
    "instrument_present",  # 1 when the second's frame has at least one instrument
    "two_or_more",  # 1 when it has two or more (both hands working)
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

# Window statistics a pooled model (the bundled one) reads: each feature's mean over the whole
# window, its first and second half and its last 10 s, plus the entropy of the instrument-count
# states. The training script and the app's out-of-range check both use these functions; the
# bundled ONNX graph computes the same numbers.
POOLS: tuple[str, ...] = ("mean", "first30", "last30", "last10")

# Plain words for the refusal that names a feature out of the training range.
FEATURE_WORDS: dict[str, str] = {
    "instrument_count": "number of instruments in view",
    "instrument_present": "time with an instrument in view",
    "two_or_more": "time with two or more instruments in view",
    "box_area_sum": "area the instruments cover",
    "box_area_max": "size of the largest instrument",
    "centre_x": "left-right position of the instruments",
    "centre_y": "up-down position of the instruments",
    "centre_offset": "distance of the instruments from the centre of the view",
    "spread": "spread of the instruments across the view",
    "box_bottom": "lowest instrument edge",
    "motion": "instrument movement",
    "area_change": "change in the area the instruments cover",
    "entries": "instruments coming into view",
    "exits": "instruments leaving the view",
    "bleeding_fraction": "bleeding area",
}
POOL_WORDS: dict[str, str] = {
    "mean": "over the minute",
    "first30": "in the first 30 s",
    "last30": "in the last 30 s",
    "last10": "in the last 10 s",
}
ENTROPY_WORDS = "mix of no, one and two or more instruments over the minute"


def pooling_matrix(steps: int) -> np.ndarray:
    """[steps, len(POOLS)]: column k averages the seconds of window statistic k."""
    w = np.zeros((steps, len(POOLS)), dtype=np.float64)
    w[:, 0] = 1.0 / steps
    half = steps // 2
    w[:half, 1] = 1.0 / half
    w[half:, 2] = 1.0 / (steps - half)
    last = min(10, steps)
    w[steps - last :, 3] = 1.0 / last
    return w


def count_entropy(p_present: np.ndarray, p_two: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of the instrument-count states none / one / two or more: how
    evenly the window is split between them."""
    p = np.stack([1.0 - p_present, p_present - p_two, p_two], axis=-1)
    p = np.clip(p, 1e-6, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def pooled_statistics(sequences: np.ndarray, names: Sequence[str] = FEATURES) -> np.ndarray:
    """[N, steps, F] (or one [steps, F]) -> [N, F * len(POOLS) + 1], feature-major
    (f0.mean, f0.first30, ..., count_entropy), in the order of `pooled_names(names)`."""
    seqs = np.asarray(sequences, dtype=np.float64)
    if seqs.ndim == 2:
        seqs = seqs[None]
    names = tuple(names)
    pooled = np.einsum("ntf,tk->nfk", seqs, pooling_matrix(seqs.shape[1]))
    flat = pooled.reshape(len(seqs), -1)
    means = pooled[:, :, 0]
    h = count_entropy(
        means[:, names.index("instrument_present")], means[:, names.index("two_or_more")]
    )
    return np.concatenate([flat, h[:, None]], axis=1)


def pooled_names(names: Sequence[str] = FEATURES) -> list[str]:
    return [f"{n}.{p}" for n in names for p in POOLS] + ["count_entropy"]


def describe_statistic(name: str) -> str:
    """'box_area_sum.first30' -> 'area the instruments cover in the first 30 s'."""
    if name == "count_entropy":
        return ENTROPY_WORDS
    feature, _, pool = name.partition(".")
    return f"{FEATURE_WORDS.get(feature, feature)} {POOL_WORDS.get(pool, pool)}".strip()


def out_of_range(
    sequence: np.ndarray,
    features: Sequence[str],
    domain: dict[str, Any],
) -> list[tuple[str, float]]:
    """(statistic, z) for every pooled statistic of `sequence` farther than the domain's
    `max_abs_z` training standard deviations from the training mean, farthest first."""
    limit = domain.get("max_abs_z")
    statistics = list(domain.get("statistics") or ())
    if not limit or not statistics:
        return []
    names = pooled_names(features)
    if statistics != names:
        raise OutcomeError("the model's training statistics do not match its input features")
    z = (pooled_statistics(sequence, features)[0] - np.asarray(domain["mean"], dtype=float)) / (
        np.asarray(domain["sd"], dtype=float)
    )
    far = [(names[i], float(z[i])) for i in np.nonzero(np.abs(z) > float(limit))[0]]
    return sorted(far, key=lambda item: -abs(item[1]))


class OutcomeError(ValueError):
    """Inputs that cannot be turned into a feature sequence (the message says why)."""


def window_origin(event_start_s: float) -> float:
    """The whole second of video time nearest the event start: the window's first second.

    The model was trained on SOCAL's 1-fps annotations (one frame per whole second from the
    injury), so each second of the window reads one frame, the one on screen at a whole second.
    Every analysis rate that is a whole number of frames per second from the video's start
    samples those instants, so 1, 2 and 5 fps read the same frames (averaging all the frames of
    a second instead made the prediction depend on the rate)."""
    return float(math.floor(float(event_start_s) + 0.5))


def second_frames(analysed_times: np.ndarray, event_start_s: float, steps: int) -> np.ndarray:
    """For each second k of the window, the analysed time it reads; NaN when none is near.

    Second k reads the analysed frame on screen at `window_origin + k` (the last one at or
    before it) when that is less than half a second old, else the first one after it within
    half a second (an analysis that started between whole seconds), else none."""
    times = np.unique(np.asarray(analysed_times, dtype=float))
    targets = window_origin(event_start_s) + np.arange(steps, dtype=float)
    chosen = np.full(steps, np.nan)
    if times.size == 0:
        return chosen
    at_or_before = np.searchsorted(times, targets + 1e-6, side="right") - 1
    for k, (target, i) in enumerate(zip(targets, at_or_before, strict=True)):
        if i >= 0 and target - times[i] < 0.5:
            chosen[k] = times[i]
        elif i + 1 < times.size and times[i + 1] - target < 0.5:
            chosen[k] = times[i + 1]
    return chosen


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

    Each second reads one analysed frame, the one on screen at a whole second of video time
    (`second_frames`; the window starts at the whole second nearest `event_start_s`), as the
    model's 1-fps training data did, so the features do not depend on the analysis rate.
    Seconds with no analysed frame near them take the values of the nearest analysed second
    before them (after them at the start of the window); a window with no analysed frame at all
    raises `OutcomeError`. Returns float32 [steps, len(features)].
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
    chosen = second_frames(analysed, event_start_s, steps)
    has_frame = ~np.isnan(chosen)
    if not has_frame.any():
        raise OutcomeError(
            f"no analysed frame in the {steps} s after the event start at {event_start_s:.1f} s"
        )
    seconds = np.nonzero(has_frame)[0]
    read = np.round(chosen[has_frame], 6)

    # Per second read: zeros where nothing was detected, geometry where something was.
    per_frame = pd.DataFrame(index=pd.Index(np.unique(read), name="time_s"))
    det = det.assign(time_s=np.round(det["time_s"].to_numpy(float), 6))
    det = det[np.isin(det["time_s"].to_numpy(float), read)]
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
    frame = per_frame.loc[read]
    count = frame["count"].to_numpy(float)
    sec = pd.DataFrame(
        {
            "instrument_count": count,
            "instrument_present": (count > 0).astype(float),
            "two_or_more": (count > 1).astype(float),
            "box_area_sum": frame["area_sum"].to_numpy(float),
            "box_area_max": frame["area_max"].to_numpy(float),
            "cx": frame["cx"].to_numpy(float),
            "cy": frame["cy"].to_numpy(float),
            "spread": np.sqrt(frame["var"].to_numpy(float)) / math.sqrt(2.0),
            "box_bottom": frame["bottom"].to_numpy(float),
        },
        index=seconds,
    )
    if bleeding is not None and "bleeding_fraction" in features:
        by_time = pd.Series(
            np.asarray(bleeding.to_numpy(), dtype=float),
            index=np.round(np.asarray(bleeding.index, dtype=float), 6),
        )
        by_time = by_time[~by_time.index.duplicated()]
        sec["bleeding_fraction"] = by_time.reindex(read).to_numpy(float)
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
    """(fraction of the window's seconds that have an analysed frame to read (`second_frames`),
    how many seconds of the window the analysed span reaches: the 1-s bin of the last analysed
    time + 1, capped at `steps`)."""
    times = np.asarray(analysed_times, dtype=float)
    fraction = float(np.count_nonzero(~np.isnan(second_frames(times, event_start_s, steps))))
    fraction /= steps
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


def model_domain(model: Any) -> dict[str, Any]:
    """The model's validated domain from its manifest (`[domain]`), {} when it states none."""
    if model is None:
        return {}
    return dict(model.manifest.extra.get("domain") or {})


def domain_words(domain: dict[str, Any]) -> str:
    """'simulated carotid-artery injury (SOCAL; procedure 'socal-carotid')'."""
    procedures = list(domain.get("procedures") or ())
    description = str(domain.get("description") or "").strip()
    ids = ", ".join(f"'{p}'" for p in procedures)
    label = "procedure" if len(procedures) == 1 else "procedures"
    if description.endswith(")"):  # "... (SOCAL)" -> "... (SOCAL; procedure 'socal-carotid')"
        return f"{description[:-1]}; {label} {ids})"
    if description:
        return f"{description} ({label} {ids})"
    return f"the {label} {ids}"


def outside_domain_warning(domain: dict[str, Any], procedure: str | None) -> str:
    """The warning shown beside a prediction the user asked for outside the domain."""
    which = f"'{procedure}'" if procedure else "an unnamed procedure"
    return (
        f"outside the validated domain: the model was validated only on {domain_words(domain)}; "
        f"on this case's procedure, {which}, its error is unknown"
    )


def predict_case_outcome(
    detections: pd.DataFrame,
    frame_size: tuple[int, int],
    analysed_times: np.ndarray,
    model: SequenceModel | None,
    *,
    bleeding: pd.Series | None = None,
    event_start_s: float | None = None,
    procedure: str | None = None,
    outside_domain: bool = False,
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
    procedure: the case's procedure id. A model whose manifest names the procedures it was
        validated on (`[domain] procedures`) predicts only for those, unless `outside_domain`
        (the user asked for it explicitly): then the numbers carry a `warning`.

    Returns a JSON-able dict with `event_start_s`, `blood_loss_ml`, `blood_loss_interval_ml`
    ([low, high]), `success_probability`, `model` ({id, version, headline}), `reason`,
    `procedure`, `outside_domain` (the procedure is not one the model was validated on),
    `outside_domain_requested` (the user asked for a prediction anyway) and `warning`. When the
    case is outside what the model was validated on, the numbers are None and `reason` says why
    in one plain sentence; inputs beyond `[domain] max_abs_z` training standard
    deviations on any pooled statistic are refused even when asked for, as is a prediction whose
    interval does not hold its own estimate.
    """
    domain = model_domain(model)
    procedures = list(domain.get("procedures") or ())
    outside = bool(procedures) and procedure not in procedures
    out = _predict(
        detections,
        frame_size,
        analysed_times,
        model,
        bleeding=bleeding,
        event_start_s=event_start_s,
        refuse_domain=outside and not outside_domain,
        domain=domain,
        procedure=procedure,
        labels=labels,
        min_score=min_score,
        min_coverage=min_coverage,
        min_instrument_s=min_instrument_s,
    )
    out["procedure"] = procedure
    out["outside_domain"] = outside
    out["outside_domain_requested"] = bool(outside_domain)
    out["warning"] = (
        outside_domain_warning(domain, procedure)
        if outside and out["blood_loss_ml"] is not None
        else None
    )
    return out


def _predict(
    detections: pd.DataFrame,
    frame_size: tuple[int, int],
    analysed_times: np.ndarray,
    model: SequenceModel | None,
    *,
    bleeding: pd.Series | None,
    event_start_s: float | None,
    refuse_domain: bool,
    domain: dict[str, Any],
    procedure: str | None,
    labels: Collection[str] | None,
    min_score: float,
    min_coverage: float,
    min_instrument_s: float,
) -> dict[str, Any]:
    if event_start_s is None and bleeding is not None and len(bleeding) > 0:
        event_start_s = detect_event_start(
            np.asarray(bleeding.index, dtype=float), bleeding.to_numpy(dtype=float)
        )
    if model is not None and refuse_domain:
        # Before the event and coverage checks: for a case the model was never meant to read,
        # the reason must say so rather than ask for an event start.
        which = f"this case's procedure is '{procedure}'" if procedure else "this case names none"
        return _refusal(
            f"the outcome model was validated only on {domain_words(domain)} and "
            f"{which}, so no prediction is shown",
            None if event_start_s is None else float(event_start_s),
            model,
        )
    if event_start_s is None:
        if bleeding is None or len(bleeding) == 0:
            return _refusal(
                "no bleeding timeline, so no bleeding event start; set the event start by hand",
                None,
                model,
            )
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
    try:
        far = out_of_range(sequence, model.features, domain)
    except OutcomeError as exc:
        return _refusal(str(exc), event_start_s, model)
    if far:
        limit = float(domain["max_abs_z"])
        named = "; ".join(
            f"{describe_statistic(name)} {abs(z):.1f} SD {'above' if z > 0 else 'below'} "
            "the training average"
            for name, z in far[:3]
        )
        more = f" (and {len(far) - 3} more)" if len(far) > 3 else ""
        return _refusal(
            f"this case is unlike every case the model was trained on, beyond {limit:g} "
            f"standard deviations in: {named}{more}",
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
    if interval is not None and not (interval[0] <= prediction.blood_loss_ml < interval[1]):
        # The graph does not clamp its interval onto its estimate: an estimate outside its own
        # interval means the model is extrapolating (a negative square-root-scale blood loss).
        return _refusal(
            f"the model's estimate ({prediction.blood_loss_ml:.0f} mL) falls outside its own 80% "
            f"interval ({interval[0]:.0f}-{interval[1]:.0f} mL), which happens only far from "
            "its training cases",
            event_start_s,
            model,
        )
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


def outcome_line(outcome: dict[str, Any]) -> str:
    """The outcome in one line of plain text (the CLI's summary): the numbers with their
    interval and any warning, or 'no prediction: <why>'."""
    loss = outcome.get("blood_loss_ml")
    success = outcome.get("success_probability")
    if loss is None or success is None:
        return f"no prediction: {outcome.get('reason') or 'the model gave no prediction'}"
    interval = outcome.get("blood_loss_interval_ml")
    text = f"predicted blood loss {float(loss):.0f} mL"
    if interval:
        text += f" (80% interval {float(interval[0]):.0f}-{float(interval[1]):.0f} mL)"
    text += f", chance of hemostasis {float(success):.0%}"
    model = outcome.get("model") or {}
    if model:
        text += f" [{model.get('id', '?')} {model.get('version', '')}]".replace(" ]", "]")
    if outcome.get("warning"):
        text += f"; {outcome['warning']}"
    return text
