"""Tip (working-end) visibility: when the app may say "TIP HIDDEN", and when it must say
"tip visibility not validated for this tool" instead.

Why a rule: a surgeon reads the badge as a fact. The vision model's tip map was measured on
real cholecystectomy tool instances labelled by eye (`models/train/labels/`,
`models/tip-visibility.md`), per tool class, and for most classes a hidden tip cannot be told
from a visible one often enough for the badge to be trusted. So the badge and the tip-hidden
episodes exist only for the classes whose measured specificity makes a false alarm rare; every
other tool gets the sentence `NOT_VALIDATED` instead.

The rule is data: `models/tip-rules/<model id>.toml`, written by
`python -m models.train.tip_eval --write-rule` for one model *version* (a retrained model has
not been validated until the evaluation is run again on it). Per class it holds `validated`
and the tip-score `threshold` below which the tip counts as hidden. The lookup keys on the
detection's class label exactly as the model's manifest names it ("instrument" for the
single-class segmenter; "Grasper", "Hook", ... for a class-aware detector).

A tip a reviewer marked visible or hidden (a correction, `scrubline.core.case`) is a person's
label: it is shown and counted as marked, for any class, and is not smoothed.

Per-frame scores flicker, so the timeline smooths each tool track's tip score over time
(`smooth_track_scores`: tools are followed from sample to sample by box overlap within one
class, and the score is a centred rolling median) before it cuts episodes.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core.results import FrameResult, Instrument
from scrubline.core.tools import display_name

NOT_VALIDATED = "tip visibility not validated for this tool"
RULES_FOLDER = "tip-rules"
SMOOTHING_WINDOW_S = 1.0  # rolling median over about one second of samples
TRACK_MIN_IOU = 0.2  # boxes of one class overlapping at least this much are one tool


@dataclass(frozen=True)
class ClassRule:
    label: str
    validated: bool
    threshold: float  # tip score below which the working end counts as hidden
    specificity: float | None = None
    specificity_ci95: tuple[float, float] | None = None
    sensitivity: float | None = None
    hidden: int = 0
    visible: int = 0


@dataclass(frozen=True)
class TipRules:
    """The classes of the models of one case, with their rule; an unknown label is not
    validated."""

    classes: Mapping[str, ClassRule] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # "model version" of each rule file read

    def rule(self, label: str) -> ClassRule | None:
        return self.classes.get(label)

    def validated(self, label: str) -> bool:
        rule = self.classes.get(label)
        return rule is not None and rule.validated

    def is_hidden(self, inst: Instrument) -> bool | None:
        """True/False for a validated class (tip score below/above its threshold), None when
        the class is not validated: then nothing may be claimed about its tip. A tip a reviewer
        marked visible or hidden is a person's label and counts as marked, for any class."""
        if inst.tip_reviewed:
            return not inst.tip_visible
        return self.hidden_at(inst.label, inst.tip_score)

    def hidden_at(self, label: str, tip_score: float) -> bool | None:
        rule = self.classes.get(label)
        if rule is None or not rule.validated:
            return None
        return bool(tip_score < rule.threshold)

    def validated_labels(self, labels: Iterable[str]) -> list[str]:
        return [label for label in labels if self.validated(label)]

    def unvalidated_labels(self, labels: Iterable[str]) -> list[str]:
        return [label for label in labels if not self.validated(label)]


NO_RULES = TipRules()


def _class_rule(label: str, table: Mapping[str, Any], where: Path) -> ClassRule:
    threshold = table.get("threshold", 0.0)
    validated = table.get("validated", False)
    if not isinstance(validated, bool):
        raise ValueError(f"{where}: classes.{label}.validated must be true or false")
    if (
        not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
        or not 0.0 <= float(threshold) <= 1.0
    ):
        raise ValueError(f"{where}: classes.{label}.threshold must be a number from 0 to 1")
    ci = table.get("specificity_ci95")
    return ClassRule(
        label=label,
        validated=validated,
        threshold=float(threshold),
        specificity=_number(table.get("specificity")),
        specificity_ci95=(float(ci[0]), float(ci[1]))
        if isinstance(ci, list) and len(ci) == 2
        else None,
        sensitivity=_number(table.get("sensitivity")),
        hidden=int(table.get("hidden", 0)),
        visible=int(table.get("visible", 0)),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def read_rule_file(path: Path, model_id: str, version: str) -> dict[str, ClassRule] | None:
    """The class rules in `path` when it is for this model id and version; None otherwise
    (a rule written for another version says nothing about this one)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if data.get("model") != model_id or str(data.get("version")) != version:
        return None
    classes = data.get("classes") or {}
    if not isinstance(classes, dict):
        return None
    found = {}
    for label, table in classes.items():
        if isinstance(table, dict):
            try:
                found[str(label)] = _class_rule(str(label), table, path)
            except ValueError:
                return None  # a damaged rule validates nothing
    return found


def default_rule_folders() -> list[Path]:
    """`tip-rules/` in each user models folder (`SCRUBLINE_MODELS`, first: a user's own model
    brings its own rule), then in the bundled models folder."""
    import os

    from scrubline.core.models.registry import USER_MODELS_ENV, bundled_models_dir

    env = os.environ.get(USER_MODELS_ENV, "")
    folders = [Path(p) / RULES_FOLDER for p in env.split(os.pathsep) if p]
    return [*folders, bundled_models_dir() / RULES_FOLDER]


def rules_for_models(
    models: Sequence[Mapping[str, Any]], folders: Sequence[Path] | None = None
) -> TipRules:
    """The rules for the models a case was analysed with (`store.models` records: id,
    version, task), read from `folders` (by default `default_rule_folders()`)."""
    if folders is None:
        folders = default_rule_folders()
    classes: dict[str, ClassRule] = {}
    sources: list[str] = []
    for record in models:
        if record.get("task") not in ("segmenter", "detector"):
            continue
        model_id, version = str(record.get("id", "")), str(record.get("version", ""))
        for folder in folders:
            found = read_rule_file(folder / f"{model_id}.toml", model_id, version)
            if found is None:
                continue
            for label, rule in found.items():
                classes.setdefault(label, rule)
            sources.append(f"{model_id} {version}")
            break
    return TipRules(classes=classes, sources=tuple(sources))


def hidden_count(result: FrameResult | None, rules: TipRules) -> int:
    """Instruments of validated classes whose tip counts as hidden in this frame."""
    if result is None:
        return 0
    return sum(1 for inst in result.instruments if rules.is_hidden(inst))


def badge_text(result: FrameResult | None, rules: TipRules) -> str | None:
    """ "TIP HIDDEN" (or "N TIPS HIDDEN") for validated classes only; None otherwise."""
    hidden = hidden_count(result, rules)
    if not hidden:
        return None
    return "TIP HIDDEN" if hidden == 1 else f"{hidden} TIPS HIDDEN"


def not_validated_note(result: FrameResult | None, rules: TipRules) -> str | None:
    """The sentence shown instead of a badge when tools of unvalidated classes are in view,
    naming them as people read them ('Specimen bag', not 'SpecimenBag')."""
    if result is None:
        return None
    labels = list(dict.fromkeys(inst.label for inst in result.instruments if not inst.tip_reviewed))
    missing = rules.unvalidated_labels(labels)
    if not missing:
        return None
    return f"{NOT_VALIDATED} ({', '.join(display_name(label) for label in missing)})"


# ------------------------------------------------------------------------- temporal smoothing
def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def assign_tracks(
    frames: Sequence[int], labels: Sequence[str], boxes: Sequence[Sequence[float]]
) -> np.ndarray:
    """A track number per detection: within one class, a detection continues the track of the
    previous sample's detection it overlaps most (IoU >= TRACK_MIN_IOU, each track taken once
    per sample, best overlaps first); otherwise it starts a new track. Detections must be
    ordered by frame."""
    tracks = np.full(len(frames), -1, dtype=np.int64)
    next_track = 0
    previous: dict[str, list[tuple[int, Sequence[float]]]] = {}  # label -> (track, box)
    order = np.argsort(np.asarray(frames), kind="stable")
    start = 0
    while start < len(order):
        frame = frames[order[start]]
        end = start
        while end < len(order) and frames[order[end]] == frame:
            end += 1
        current: dict[str, list[tuple[int, Sequence[float]]]] = {}
        rows = order[start:end]
        for label in dict.fromkeys(labels[i] for i in rows):
            mine = [i for i in rows if labels[i] == label]
            before = previous.get(label, [])
            pairs = sorted(
                (
                    (_iou(boxes[i], box), i, track)
                    for i in mine
                    for track, box in before
                    if _iou(boxes[i], box) >= TRACK_MIN_IOU
                ),
                reverse=True,
            )
            taken: set[int] = set()
            for _, i, track in pairs:
                if tracks[i] >= 0 or track in taken:
                    continue
                tracks[i] = track
                taken.add(track)
            for i in mine:
                if tracks[i] < 0:
                    tracks[i] = next_track
                    next_track += 1
            current[label] = [(int(tracks[i]), boxes[i]) for i in mine]
        previous = current
        start = end
    return tracks


def smooth_track_scores(
    frames: Sequence[int],
    labels: Sequence[str],
    boxes: Sequence[Sequence[float]],
    scores: Sequence[float],
    *,
    window: int,
) -> np.ndarray:
    """Each detection's tip score replaced by the centred rolling median over `window`
    samples of its own track (a track shorter than the window uses what it has)."""
    values = np.asarray(scores, dtype=float)
    if len(values) == 0 or window <= 1:
        return values.copy()
    tracks = assign_tracks(frames, labels, boxes)
    smoothed = values.copy()
    half = window // 2
    frame_array = np.asarray(frames)
    for track in np.unique(tracks):
        members = np.flatnonzero(tracks == track)
        members = members[np.argsort(frame_array[members], kind="stable")]
        series = values[members]
        for k, row in enumerate(members):
            smoothed[row] = float(np.median(series[max(0, k - half) : k + half + 1]))
    return smoothed


def smoothing_window(sample_period_s: float, window_s: float = SMOOTHING_WINDOW_S) -> int:
    """Samples in about `window_s` seconds, odd so the median is centred; 1 (no smoothing)
    when the samples are already a second or more apart."""
    if sample_period_s <= 0:
        return 1
    count = int(round(window_s / sample_period_s))
    if count <= 1:
        return 1
    return count if count % 2 == 1 else count + 1
