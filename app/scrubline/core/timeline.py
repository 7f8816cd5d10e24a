"""Per-frame results → tracks and episodes: what the window's lanes, the exports and the report's
figures all draw from, computed once from the case store.

Tracks are sampled at the analysed frames: tool presence per label, tip visibility (visible /
hidden tip counts), bleeding area fraction and the in-body gate's decision. Episodes are time
spans with a start and an end: bleeding above a threshold that began with a rise in the same view
(`bleeding_rises`), an instrument in view with its tip hidden, surgical phases, out-of-body spans
(menus, the operating room, a camera out for cleaning) and bookmarks (zero-length).

Out-of-body frames carry no tool, tip or bleeding results (the analysis gates them), and the
phase recognition reads only the in-body frames: a camera taken out for cleaning is neither
"no instruments" nor a change of phase; the phases on either side continue across it.

Tip visibility is counted only for tool classes whose rule is validated
(`scrubline.core.tips`): each tool track's tip score is smoothed over about a second and
compared with its class's threshold. Tools of other classes add nothing to the tip counts or the
tip-hidden episodes; `Timeline.tip_note` names them with "tip visibility not validated for this
tool".
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scrubline.core.tips import NOT_VALIDATED, TipRules, rules_for_models
from scrubline.core.tools import display_name

EPISODE_KINDS = ("bleeding", "tip_hidden", "phase", "out_of_body", "bookmark")
# Colours for phases whose template gives none, picked by the label's name (crc32), never by
# order of appearance: a phase keeps its colour from case to case, in the window and the report.
PHASE_PALETTE = (
    "#5c6bc0",
    "#26a69a",
    "#8d6e63",
    "#7e57c2",
    "#43a047",
    "#00897b",
    "#7986cb",
    "#a1887f",
)


def phase_colour(label: str, template_colours: dict[str, str] | None = None) -> str:
    """The "#rrggbb" colour of a phase: the template's own, else a stable one for its name."""
    colour = (template_colours or {}).get(label)
    if colour:
        return colour
    return PHASE_PALETTE[zlib.crc32(label.encode("utf-8")) % len(PHASE_PALETTE)]


@dataclass(frozen=True)
class TimelineSettings:
    bleeding_threshold: float = 0.03  # area fraction that counts as a bleeding frame
    # A bleeding episode must begin with a rise in the same view (`bleeding_rises`): its peak
    # area at least `bleeding_rise` above the lowest area of the `bleeding_baseline_s` seconds
    # before it, and the view at its start the same scene as `same_view_lag_s` before (thumbnail
    # correlation of at least `same_view_correlation`). The event detector (core.outcome) uses
    # the same rise and baseline.
    bleeding_rise: float = 0.02
    bleeding_baseline_s: float = 10.0
    same_view_lag_s: float = 2.0
    same_view_correlation: float = 0.5
    min_episode_s: float = 1.0  # shorter runs are noise
    merge_gap_s: float = 1.0  # runs separated by less are one episode
    presence_score: float = 0.5  # instruments below this score do not count as present


@dataclass(frozen=True)
class Episode:
    kind: str
    label: str
    start_s: float
    end_s: float
    peak: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def contains(self, time_s: float) -> bool:
        return self.start_s <= time_s < self.end_s


@dataclass
class Timeline:
    frames: np.ndarray  # analysed frame indices
    times: np.ndarray  # their times (s)
    sample_period_s: float
    duration_s: float  # of the video
    labels: list[str]  # tool classes the models can report, then any other seen (presence columns)
    presence: np.ndarray  # [n_frames, n_labels] 0/1
    tips_visible: np.ndarray  # [n_frames] counts
    tips_hidden: np.ndarray
    bleeding: np.ndarray  # [n_frames] area fraction, NaN where not measured
    episodes: list[Episode] = field(default_factory=list)
    settings: TimelineSettings = field(default_factory=TimelineSettings)
    phase_colours: dict[str, str] = field(
        default_factory=dict
    )  # the template's "#rrggbb" per phase label
    phase_names: dict[str, str] = field(default_factory=dict)  # the template's display names
    tip_rules: TipRules = field(default_factory=TipRules)
    tip_unvalidated: list[str] = field(default_factory=list)  # tool classes seen, no rule

    @property
    def seen_labels(self) -> list[str]:
        """Tool classes present on at least one analysed frame (`labels` also lists the classes
        the models could report but never saw)."""
        return [label for i, label in enumerate(self.labels) if self.presence[:, i].any()]

    @property
    def tip_validated(self) -> list[str]:
        """Tool classes seen whose tip visibility is validated (badge and episodes shown)."""
        return self.tip_rules.validated_labels(self.seen_labels)

    @property
    def tip_note(self) -> str | None:
        """The sentence shown instead of tip-hidden claims for the tools that have no
        validated rule, by display name; None when every tool seen has one (or none was seen)."""
        if not self.tip_unvalidated:
            return None
        return f"{NOT_VALIDATED}: {', '.join(display_name(t) for t in self.tip_unvalidated)}"

    # [n_frames] the in-body gate per frame: 1 in, 0 out, -1 unknown (no in-body model ran)
    in_body_state: np.ndarray | None = None

    @property
    def in_body(self) -> np.ndarray:
        """[n_frames] bool: False for frames the gate put out of body (unknown counts as in)."""
        if self.in_body_state is None:
            return np.ones(len(self.frames), dtype=bool)
        return np.asarray(self.in_body_state) != 0

    @property
    def n_instruments(self) -> np.ndarray:
        return self.tips_visible + self.tips_hidden

    @property
    def tip_visibility(self) -> np.ndarray:
        """Fraction of instruments in view whose tip is visible; NaN with none in view."""
        total = self.n_instruments.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, self.tips_visible / np.maximum(total, 1), np.nan)

    def episodes_of(self, kind: str) -> list[Episode]:
        return [e for e in self.episodes if e.kind == kind]

    def phase_colour(self, label: str) -> str:
        """The colour every view draws phase `label` in (`phase_colour`)."""
        return phase_colour(label, self.phase_colours)

    def phase_name(self, label: str) -> str:
        """What every view calls phase `label` (the template's display name, else the label;
        exports keep the label)."""
        return self.phase_names.get(label, label)

    def phase_at(self, time_s: float) -> str | None:
        return next((e.label for e in self.episodes_of("phase") if e.contains(time_s)), None)

    def phase_per_frame(self) -> list[str]:
        phases = self.episodes_of("phase")
        out = []
        for t in self.times:
            out.append(next((p.label for p in phases if p.contains(float(t))), ""))
        return out

    def events(self) -> list[tuple[float, str]]:
        """Moments worth jumping to, in time order: starts of bleeding and tip-hidden episodes,
        phase changes and bookmarks."""
        found = [(e.start_s, f"{e.kind}: {e.label}") for e in self.episodes if e.kind != "phase"]
        phases = self.episodes_of("phase")
        found += [(p.start_s, f"phase: {p.label}") for p in phases[1:]]
        return sorted(found)

    def next_event(self, time_s: float, kinds: Sequence[str] = EPISODE_KINDS) -> float | None:
        starts = [
            t for t, label in self.events() if label.split(":")[0] in kinds and t > time_s + 1e-6
        ]
        return min(starts) if starts else None

    def previous_event(self, time_s: float, kinds: Sequence[str] = EPISODE_KINDS) -> float | None:
        starts = [
            t for t, label in self.events() if label.split(":")[0] in kinds and t < time_s - 1e-6
        ]
        return max(starts) if starts else None

    def totals(self) -> dict[str, Any]:
        """Per-track totals for summaries (seconds are analysed-sample seconds)."""
        period = self.sample_period_s
        per_label = {
            label: {
                "time_in_view_s": round(float(self.presence[:, i].sum() * period), 2),
                "entries": int(_rising_edges(self.presence[:, i])),
            }
            for i, label in enumerate(self.labels)
        }
        bleeding = self.episodes_of("bleeding")
        hidden = self.episodes_of("tip_hidden")
        measured = self.bleeding[~np.isnan(self.bleeding)]
        return {
            "analysed_frames": int(len(self.frames)),
            "analysed_span_s": [float(self.times[0]), float(self.times[-1] + period)]
            if len(self.times)
            else None,
            "tools": per_label,
            "bleeding_episodes": len(bleeding),
            "bleeding_total_s": round(sum(e.duration_s for e in bleeding), 2),
            "bleeding_peak_fraction": round(float(measured.max()), 4) if measured.size else None,
            "tip_validated_tools": self.tip_validated,
            "tip_not_validated_tools": list(self.tip_unvalidated),
            "tip_hidden_episodes": len(hidden),
            "tip_hidden_total_s": round(sum(e.duration_s for e in hidden), 2),
            "tip_hidden_longest_s": round(max((e.duration_s for e in hidden), default=0.0), 2),
            "out_of_body_frames": int((~self.in_body).sum()),
            "out_of_body_total_s": round(
                sum(e.duration_s for e in self.episodes_of("out_of_body")), 2
            ),
            "phases": {
                label: round(
                    sum(e.duration_s for e in self.episodes_of("phase") if e.label == label), 2
                )
                for label in dict.fromkeys(e.label for e in self.episodes_of("phase"))
            },
        }


def _rising_edges(flags: np.ndarray) -> int:
    padded = np.concatenate([[0], flags.astype(int)])
    return int(((padded[1:] == 1) & (padded[:-1] == 0)).sum())


def spans_from_flags(
    times: np.ndarray,
    flags: np.ndarray,
    *,
    period: float,
    min_duration: float,
    merge_gap: float,
    values: np.ndarray | None = None,
) -> list[tuple[float, float, float | None]]:
    """Runs of True samples → (start, end, peak value) spans. Each sample stands for the
    interval [t, t + period); runs closer than `merge_gap` merge; shorter than `min_duration`
    are dropped. Vectorised: a 3-hour case has 54 000 samples per track, and the window's tool
    lanes call this for every class on every refresh."""
    at = np.flatnonzero(np.asarray(flags, dtype=bool))
    if at.size == 0:
        return []
    t = np.asarray(times, dtype=float)[at]
    # A run breaks where the next flagged sample starts more than `merge_gap` after the previous
    # one's interval ends.
    breaks = np.flatnonzero(np.diff(t) - period > merge_gap + 1e-9)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [at.size - 1]])
    starts, ends = t[first], t[last] + period
    peaks: list[float | None] = (
        np.maximum.reduceat(np.asarray(values, dtype=float)[at], first).tolist()
        if values is not None
        else [None] * len(first)
    )
    return [
        (start, end, p)
        for start, end, p in zip(starts.tolist(), ends.tolist(), peaks, strict=True)
        if end - start >= min_duration - 1e-9
    ]


def view_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two pictures of the scene are (Pearson correlation of their blurred 32x18 grey
    images, -1..1): a bleed growing in a still view changes a patch of it and stays near 1; a
    camera move or a cut to another scene does not."""
    import cv2

    def small(rgb: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        grey = cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float64)
        return cv2.GaussianBlur(grey, (3, 3), 0).ravel()

    x, y = small(a), small(b)
    x, y = x - x.mean(), y - y.mean()
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / norm) if norm > 1e-9 else 1.0


def bleeding_rises(
    times: np.ndarray,
    area: np.ndarray,
    start_s: float,
    peak: float,
    settings: TimelineSettings,
    view_at: Any = None,
) -> bool:
    """The temporal rule for a bleeding episode starting at `start_s` with peak area `peak`:
    it counts when the area rose into it within the same view. Baseline = the lowest measured
    area in the `bleeding_baseline_s` seconds before the start; the peak must exceed it by
    `bleeding_rise`. `view_at(time_s)` (optional) gives a picture of the scene at a time; when
    the start and the moment `same_view_lag_s` before it both have one, they must correlate at
    `same_view_correlation` or more: a camera jump onto red tissue changes the view right where
    the area crosses the threshold, a bleed grows in a view that stays. (Over the whole 10-s
    baseline a laparoscope moves too much to compare: on the real bleed of cholec80 clip g19 the
    view 8 s before correlates at 0.38, 2 s before at 0.98.) An episode already under way where
    the analysis starts has no "before" and is kept."""
    t = np.asarray(times, dtype=float)
    a = np.asarray(area, dtype=float)
    before = (
        (t >= start_s - settings.bleeding_baseline_s - 1e-9) & (t < start_s - 1e-9) & np.isfinite(a)
    )
    if not before.any():
        return True
    low = int(np.flatnonzero(before)[np.argmin(a[before])])
    if peak - float(a[low]) < settings.bleeding_rise - 1e-12:
        return False
    if view_at is not None and start_s - settings.same_view_lag_s >= float(t.min()) - 1e-9:
        then, now = view_at(start_s - settings.same_view_lag_s), view_at(start_s)
        if then is not None and now is not None:
            return view_correlation(then, now) >= settings.same_view_correlation
    return True


def build_timeline(
    store: Any,
    settings: TimelineSettings | None = None,
    phase_template: Any = None,
    tip_rules: TipRules | None = None,
) -> Timeline:
    """The timeline of a case. `store` is a `core.case.Case` (its detections carry the
    reviewer's corrections) or anything with the same read methods: snapshot, frames_table,
    detections_table, video, settings, bookmarks, models.
    `tip_rules`: the tip-visibility rule per class; by default the bundled rules for the models
    the case was analysed with."""
    settings = settings or TimelineSettings()
    # One read transaction: frames and detections read in two queries while an analysis commits
    # batches would otherwise disagree (a detection of a frame the frames table did not have yet).
    with store.snapshot():
        table = store.frames_table()
        detections = store.detections_table()
        video = store.video
        fps_setting = float(store.settings.get("fps") or 0)
        bookmarks = store.bookmarks()
        models = store.models
    frames = table["frame"].to_numpy(dtype=np.int64)
    times = table["time_s"].to_numpy(dtype=float)
    if len(times) > 1:
        period = float(np.median(np.diff(times)))
    else:
        period = 1.0 / fps_setting if fps_setting > 0 else 1.0

    present = detections[detections["score"] >= settings.presence_score]
    # Every class a tool model of this case can report, in the model's order, seen or not: a
    # tool never in view is a lane and a column of zeros, not a missing signal; then any other
    # label found in the results (a user's model, an older case).
    model_labels = [
        str(x)
        for m in models
        if m.get("task") in ("detector", "segmenter")
        for x in m.get("labels") or []
    ]
    labels = list(dict.fromkeys([*model_labels, *sorted(present["label"].unique().tolist())]))
    presence = np.zeros((len(frames), len(labels)), dtype=np.uint8)
    if len(frames) and labels:
        row_of = {int(f): i for i, f in enumerate(frames)}
        col_of = {label: j for j, label in enumerate(labels)}
        for frame, label in zip(present["frame"], present["label"], strict=True):
            presence[row_of[int(frame)], col_of[label]] = 1
    rules = tip_rules if tip_rules is not None else rules_for_models(models)
    visible, hidden = _tip_counts(present, frames, period, rules)
    bleeding = table["bleeding_fraction"].to_numpy(dtype=float)
    in_body_state = (
        table["in_body"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
        if "in_body" in table
        else np.full(len(frames), -1, dtype=np.int8)
    )

    timeline = Timeline(
        frames=frames,
        times=times,
        sample_period_s=period,
        duration_s=float(video.get("duration_s", times[-1] + period if len(times) else 0.0)),
        labels=labels,
        presence=presence,
        tips_visible=visible,
        tips_hidden=hidden,
        bleeding=bleeding,
        settings=settings,
        tip_rules=rules,
        # Tools actually in view, not every class a model could report.
        tip_unvalidated=rules.unvalidated_labels(sorted(present["label"].unique().tolist())),
        in_body_state=in_body_state,
    )

    def spans(
        flags: np.ndarray, values: np.ndarray | None = None
    ) -> list[tuple[float, float, float | None]]:
        return spans_from_flags(
            times,
            flags,
            period=period,
            min_duration=settings.min_episode_s,
            merge_gap=settings.merge_gap_s,
            values=values,
        )

    bleeding_flags = np.nan_to_num(bleeding, nan=0.0) >= settings.bleeding_threshold

    def view_at(time_s: float) -> np.ndarray | None:
        # The stored thumbnail nearest the analysed frame at that time (one a second).
        frame = int(frames[int(np.argmin(np.abs(times - time_s)))])
        found = store.thumbnail(frame)
        return found[1] if found is not None else None

    for start, end, peak in spans(bleeding_flags, np.nan_to_num(bleeding)):
        if bleeding_rises(times, bleeding, start, float(peak or 0.0), settings, view_at):
            timeline.episodes.append(Episode("bleeding", "bleeding", start, end, peak))
    for start, end, _ in spans(hidden > 0):
        timeline.episodes.append(Episode("tip_hidden", "tip hidden", start, end, None))
    # Every out-of-body run is shown, however short: a single menu frame is worth seeing.
    for start, end, _ in spans_from_flags(
        times, in_body_state == 0, period=period, min_duration=0.0, merge_gap=0.5 * period
    ):
        timeline.episodes.append(Episode("out_of_body", "out of body", start, end, None))
    timeline.episodes.extend(_phases(timeline, present, phase_template, model_labels))
    if phase_template is not None:
        timeline.phase_colours = {
            label: colour
            for label in phase_template.labels
            if isinstance(colour := phase_template.colour_of(label), str) and colour.startswith("#")
        }
        timeline.phase_names = {
            label: name
            for label in phase_template.labels
            if (name := phase_template.name_of(label)) != label
        }
    for mark in bookmarks:
        timeline.episodes.append(
            Episode("bookmark", mark.note or mark.category, mark.time_s, mark.time_s, None)
        )
    timeline.episodes.sort(key=lambda e: (e.start_s, EPISODE_KINDS.index(e.kind)))
    return timeline


def case_signals(store: Any, timeline: Timeline | None = None) -> list[str]:
    """The signals a phase template can read in this case: every class its instrument models
    can report (seen or not), every label seen, and `bleeding` where it was measured."""
    timeline = timeline if timeline is not None else build_timeline(store)
    reported = [
        str(label)
        for model in store.models
        if model.get("task") in ("detector", "segmenter")
        for label in model.get("labels") or []
    ]
    signals = [*timeline.labels, *reported]
    if np.isfinite(timeline.bleeding).any():
        signals.append("bleeding")
    return list(dict.fromkeys(signals))


def missing_signals(store: Any, template: Any, registry: Any = None) -> list[str]:
    """What `template` (a `PhaseTemplate`) reads that this case has no signal for: the columns
    of a rule template (`PhaseTemplate.missing_columns`), the tools of a learned phase model.
    Empty: the template can be applied. Phases from a template missing its signals would be
    its default phase throughout, which says nothing."""
    signals = case_signals(store)
    if template.model:
        from scrubline.core.phase_model import match_tool_columns
        from scrubline.core.phases import learned_model

        _, missing = match_tool_columns(signals, learned_model(template, registry).tools)
        return list(missing)
    return list(template.missing_columns(signals))


def _tip_counts(
    present: Any, frames: np.ndarray, period: float, rules: TipRules
) -> tuple[np.ndarray, np.ndarray]:
    """Visible and hidden tips per analysed frame: tools of validated classes, each tool
    track's tip score smoothed over about a second first, and every tip a reviewer marked (as
    marked, whatever its class)."""
    from scrubline.core.tips import smooth_track_scores, smoothing_window

    visible = np.zeros(len(frames), dtype=np.int64)
    hidden = np.zeros(len(frames), dtype=np.int64)
    reviewed = (
        present["tip_reviewed"].to_numpy(dtype=bool)
        if "tip_reviewed" in present
        else np.zeros(len(present), dtype=bool)
    )
    validated = np.array([rules.validated(str(label)) for label in present["label"]], dtype=bool)
    mine = present[validated | reviewed].assign(_reviewed=reviewed[validated | reviewed])
    if not len(mine):
        return visible, hidden
    mine = mine.sort_values("frame", kind="stable")
    smoothed = smooth_track_scores(
        mine["frame"].to_numpy(),
        [str(label) for label in mine["label"]],
        mine[["x1", "y1", "x2", "y2"]].to_numpy(dtype=float),
        mine["tip_score"].to_numpy(dtype=float),
        window=smoothing_window(period),
    )
    is_hidden = np.array(
        [
            (not bool(shown)) if marked else bool(rules.hidden_at(str(label), float(score)))
            for label, score, marked, shown in zip(
                mine["label"], smoothed, mine["_reviewed"], mine["tip_visible"], strict=True
            )
        ],
        dtype=bool,
    )
    row_of = {int(f): i for i, f in enumerate(frames)}
    for frame, flag in zip(mine["frame"].to_numpy(), is_hidden, strict=True):
        row = row_of.get(int(frame))
        if row is None:
            continue
        if flag:
            hidden[row] += 1
        else:
            visible[row] += 1
    return visible, hidden


def _phases(
    timeline: Timeline, detections: Any, template: Any, detector_labels: Sequence[str] = ()
) -> list[Episode]:
    """Phase episodes from the procedure template over instrument counts per label (templates
    tell one instrument from two) and the bleeding track."""
    if template is None or not len(timeline.times):
        return []
    import pandas as pd

    from scrubline.core.phases import presence_table, recognise_phases

    inside = timeline.in_body
    times = timeline.times[inside]  # out-of-body frames are not "no tools": they are left out
    bleeding = pd.Series(np.nan_to_num(timeline.bleeding[inside]), index=times)
    labels = list(dict.fromkeys([*timeline.labels, *detector_labels]))
    presence = presence_table(detections, times, bleeding=bleeding, labels=labels)
    if "instrument" not in presence.columns:
        # Templates that count instrument boxes (the generic one) count boxes of every class
        # when the model names its tools.
        named = [c for c in labels if c in presence.columns]
        presence["instrument"] = presence[named].sum(axis=1) if named else 0.0
    return [
        Episode("phase", p.label, float(p.start_s), float(p.end_s), None)
        for p in recognise_phases(presence, template)
    ]
