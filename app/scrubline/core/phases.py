"""Surgical phases from tool presence: procedure templates as data, rules, temporal smoothing.

A procedure template (a TOML file in `resources/phases/`, or a user's own) names the *signals* it
reads -- columns of a presence table such as a tool label's count per analysed frame, a detector
score, or the bleeding area fraction -- with the thresholds that switch each on and off
(hysteresis) and how long a dropout may last before it counts (`hold_s`, bridging a detector's
missed frames). It then lists *phases* in priority order, each a rule over those signals: all of
these on, any of these on, none of these on, only these on, or only after another phase has been
seen. The first rule that holds names the moment; the template's `default` names the rest.
Phases shorter than `min_phase_s` are merged into their neighbours.

    template = load_template(Path("resources/phases/generic.toml"))
    presence = presence_table(detections, analysed_times, bleeding=bleeding)
    for phase in recognise_phases(presence, template): ...

A template may instead name a *learned* phase model (`model = "<id>"` in `[template]`, a `phase`
task model in `models/`): its `[[phases]]` then only give each of the model's phase labels a colour
and a description, and `recognise_phases` runs the model (see `scrubline.core.phase_model`). A
presence table without the tool columns such a model reads raises `PhaseModelError` naming them,
rather than producing phases from nothing.

The file format is described in `resources/phases/README.md`. This module is Qt-free and needs
only numpy and pandas (and onnxruntime for learned templates).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scrubline.core.paths import resources_dir
from scrubline.core.tomlfile import read_toml


class TemplateError(ValueError):
    """A template that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Signal:
    """A presence-table column turned on/off with hysteresis: on at value >= `on`, off again
    below `off` (<= on); off-gaps shorter than `hold_s` between on-runs are bridged."""

    name: str
    column: str
    on: float = 0.5
    off: float = 0.5
    hold_s: float = 0.0


@dataclass(frozen=True)
class PhaseRule:
    label: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    only: bool = False  # no signal other than those in all_of / any_of may be on
    after: str | None = None  # only once this phase's rule has held at some earlier moment
    description: str = ""
    colour: str | None = None
    name: str = ""  # what the window and the report call the phase ("" : its label)


@dataclass(frozen=True)
class PhaseTemplate:
    id: str
    name: str
    signals: dict[str, Signal]
    phases: tuple[PhaseRule, ...]
    default: str = "idle"
    default_colour: str | None = None
    min_phase_s: float = 0.0
    description: str = ""
    source: Path | None = None
    model: str | None = None  # a learned phase model's id: then the phases have no rules

    @property
    def labels(self) -> tuple[str, ...]:
        """Every phase label this template can produce, default last (a learned template labels
        every moment, so it has no default)."""
        out = [p.label for p in self.phases]
        return tuple(dict.fromkeys(out if self.model else [*out, self.default]))

    def name_of(self, label: str) -> str:
        """The phase's display name ("Calot triangle dissection" for Cholec80's
        "CalotTriangleDissection"); exports keep the label."""
        return next((p.name for p in self.phases if p.label == label and p.name), label)

    def colour_of(self, label: str) -> str | None:
        if label == self.default and not self.model:
            return self.default_colour
        return next((p.colour for p in self.phases if p.label == label), None)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.column for s in self.signals.values()))

    def missing_columns(self, columns: Collection[str]) -> list[str]:
        """Columns the template reads that a presence table lacks (they count as never on):
        a template for a class-aware detector fed by a class-agnostic one misses most."""
        return [c for c in self.columns if c not in set(columns)]


@dataclass(frozen=True)
class Phase:
    label: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start_s": self.start_s, "end_s": self.end_s}


# ---------------------------------------------------------------------------------------------
# Templates


_TEMPLATE_KEYS = {"id", "name", "description", "default", "default_colour", "min_phase_s", "model"}
_SIGNAL_KEYS = {"column", "on", "off", "hold_s"}
_PHASE_KEYS = {"label", "name", "all", "any", "none", "only", "after", "description", "colour"}
_LEARNED_PHASE_KEYS = {"label", "name", "description", "colour"}


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TemplateError(f"{where}: '{key}' should be a list of signal names, got {value!r}")
    return tuple(value)


def _number(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"{where}: '{key}' should be a number, got {value!r}")
    if value < 0:
        raise TemplateError(f"{where}: '{key}' must not be negative, got {value!r}")
    return float(value)


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise TemplateError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in extra)} "
            f"(known: {', '.join(sorted(known))})"
        )


def _phase_name(raw: dict[str, Any], where: str) -> str:
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise TemplateError(f"{where}: 'name' should be text (the phase's display name)")
    return name.strip()


def _parse_learned(
    data: dict[str, Any], head: dict[str, Any], where: str, source: Path | str
) -> PhaseTemplate:
    """A template that names a learned phase model: phases give labels, colours, descriptions."""
    model = head["model"]
    if not isinstance(model, str) or not model.strip():
        raise TemplateError(f"{where} [template]: 'model' should be a phase model id")
    extra_top = sorted(set(data) - {"template", "phases"})
    if extra_top:
        raise TemplateError(
            f"{where}: unknown table(s) {', '.join(repr(k) for k in extra_top)} "
            "(a template with a learned 'model' has [template] and [[phases]] only)"
        )
    raw_phases = data.get("phases")
    if not isinstance(raw_phases, list) or not raw_phases:
        raise TemplateError(
            f"{where}: no [[phases]]: list the model's phase labels with their colours"
        )
    rules = []
    for i, raw in enumerate(raw_phases):
        p_where = f"{where} [[phases]] #{i + 1}"
        if not isinstance(raw, dict):
            raise TemplateError(f"{p_where}: should be a table")
        _unknown(
            raw, _LEARNED_PHASE_KEYS, f"{p_where} (the learned model decides the phase, not rules)"
        )
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            raise TemplateError(f"{p_where}: missing required text field 'label'")
        rules.append(
            PhaseRule(
                label=label,
                description=str(raw.get("description", "")),
                colour=raw.get("colour"),
                name=_phase_name(raw, p_where),
            )
        )
    return PhaseTemplate(
        id=head["id"].strip(),
        name=head["name"].strip(),
        signals={},
        phases=tuple(rules),
        default=str(head.get("default", "")),
        min_phase_s=_number(head, "min_phase_s", 0.0, f"{where} [template]"),
        description=str(head.get("description", "")),
        source=Path(source) if not isinstance(source, Path) else source,
        model=model.strip(),
    )


def parse_template(data: dict[str, Any], source: Path | str) -> PhaseTemplate:
    where = str(source)
    head = data.get("template")
    if not isinstance(head, dict):
        raise TemplateError(
            f"{where}: missing the [template] table (id, name, default, min_phase_s)"
        )
    _unknown(head, _TEMPLATE_KEYS, f"{where} [template]")
    for key in ("id", "name"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise TemplateError(f"{where} [template]: missing required text field '{key}'")
    if "model" in head:
        return _parse_learned(data, head, where, source)
    default = head.get("default", "idle")
    if not isinstance(default, str) or not default.strip():
        raise TemplateError(f"{where} [template]: 'default' should be a phase label")
    extra_top = sorted(set(data) - {"template", "signals", "phases"})
    if extra_top:
        raise TemplateError(
            f"{where}: unknown table(s) {', '.join(repr(k) for k in extra_top)} "
            "(a template has [template], [signals.<name>] and [[phases]])"
        )

    raw_signals = data.get("signals")
    if not isinstance(raw_signals, dict) or not raw_signals:
        raise TemplateError(
            f"{where}: no [signals.<name>] tables: a template must say which columns it reads"
        )
    signals: dict[str, Signal] = {}
    for name, raw in raw_signals.items():
        s_where = f"{where} [signals.{name}]"
        if not isinstance(raw, dict):
            raise TemplateError(f"{s_where}: should be a table")
        _unknown(raw, _SIGNAL_KEYS, s_where)
        column = raw.get("column", name)
        if not isinstance(column, str) or not column:
            raise TemplateError(f"{s_where}: 'column' should be a column name")
        on = _number(raw, "on", 0.5, s_where)
        off = _number(raw, "off", on, s_where)
        if off > on:
            raise TemplateError(
                f"{s_where}: 'off' ({off}) must not exceed 'on' ({on}) -- hysteresis switches off "
                "lower than on"
            )
        signals[name] = Signal(name, column, on, off, _number(raw, "hold_s", 0.0, s_where))

    raw_phases = data.get("phases")
    if not isinstance(raw_phases, list) or not raw_phases:
        raise TemplateError(f"{where}: no [[phases]]: a template needs at least one phase rule")
    rules: list[PhaseRule] = []
    for i, raw in enumerate(raw_phases):
        p_where = f"{where} [[phases]] #{i + 1}"
        if not isinstance(raw, dict):
            raise TemplateError(f"{p_where}: should be a table")
        _unknown(raw, _PHASE_KEYS, p_where)
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            raise TemplateError(f"{p_where}: missing required text field 'label'")
        p_where = f"{where} [[phases]] #{i + 1} ('{label}')"
        all_of = _names(raw.get("all", []), p_where, "all")
        any_of = _names(raw.get("any", []), p_where, "any")
        none_of = _names(raw.get("none", []), p_where, "none")
        for name in (*all_of, *any_of, *none_of):
            if name not in signals:
                raise TemplateError(
                    f"{p_where}: signal '{name}' is not declared (declared: {', '.join(signals)})"
                )
        only = raw.get("only", False)
        if not isinstance(only, bool):
            raise TemplateError(f"{p_where}: 'only' should be true or false")
        if not (all_of or any_of or none_of):
            raise TemplateError(
                f"{p_where}: a rule with no 'all', 'any' or 'none' would hold everywhere; "
                "make it the template's 'default' instead"
            )
        after = raw.get("after")
        if after is not None and not isinstance(after, str):
            raise TemplateError(f"{p_where}: 'after' should be a phase label")
        rules.append(
            PhaseRule(
                label=label,
                all_of=all_of,
                any_of=any_of,
                none_of=none_of,
                only=only,
                after=after,
                description=str(raw.get("description", "")),
                colour=raw.get("colour"),
                name=_phase_name(raw, p_where),
            )
        )
    labels = [r.label for r in rules]
    for rule in rules:
        if rule.after is not None:
            if rule.after not in labels:
                raise TemplateError(
                    f"{where}: phase '{rule.label}' is 'after' unknown phase '{rule.after}'"
                )
            if next(r for r in rules if r.label == rule.after).after is not None:
                raise TemplateError(
                    f"{where}: phase '{rule.label}' is 'after' '{rule.after}', which is itself "
                    "'after' another phase"
                )
    return PhaseTemplate(
        id=head["id"].strip(),
        name=head["name"].strip(),
        signals=signals,
        phases=tuple(rules),
        default=default.strip(),
        default_colour=head.get("default_colour"),
        min_phase_s=_number(head, "min_phase_s", 0.0, f"{where} [template]"),
        description=str(head.get("description", "")),
        source=Path(source) if not isinstance(source, Path) else source,
    )


def load_template(path: Path | str) -> PhaseTemplate:
    path = Path(path)
    return parse_template(read_toml(path, TemplateError), path)


def bundled_templates_dir() -> Path:
    """`resources/phases`, wherever the bundled resources are (see `scrubline.core.paths`)."""
    return resources_dir() / "phases"


def bundled_templates() -> dict[str, PhaseTemplate]:
    """Every bundled template by id (a broken bundled file raises: it is a packaging bug)."""
    out = {}
    for path in sorted(bundled_templates_dir().glob("*.toml")):
        template = load_template(path)
        out[template.id] = template
    return out


GENERIC_TEMPLATE_ID = "generic"


# ---------------------------------------------------------------------------------------------
# Presence


def presence_table(
    detections: pd.DataFrame,
    analysed_times: np.ndarray,
    *,
    bleeding: pd.Series | None = None,
    labels: Collection[str] | None = None,
    min_score: float = 0.0,
) -> pd.DataFrame:
    """Detections (`time_s, label, score, ...`, one row per box) -> one row per analysed time
    with the number of boxes of each label (0 where analysed and empty), plus a `bleeding`
    column (area fraction) when a bleeding series is given."""
    times = np.unique(np.round(np.asarray(analysed_times, dtype=float), 6))
    det = detections
    if labels is not None:
        det = det[det["label"].isin(list(labels))]
    if min_score > 0 and "score" in det.columns:
        det = det[det["score"].to_numpy(float) >= min_score]
    det = det.assign(time_s=np.round(det["time_s"].to_numpy(float), 6))
    counts = det.groupby(["time_s", "label"]).size().unstack("label", fill_value=0)
    table = counts.reindex(times, fill_value=0).astype(float)
    for label in labels or ():
        if label not in table.columns:
            table[label] = 0.0
    table.index = pd.Index(times, name="time_s")
    table.columns.name = None
    if bleeding is not None:
        b = pd.Series(
            np.asarray(bleeding.to_numpy(), dtype=float),
            index=np.round(np.asarray(bleeding.index, dtype=float), 6),
        )
        b = b.groupby(level=0).mean().sort_index()
        # Nearest bleeding sample for each analysed time (models may run on different frames).
        table["bleeding"] = b.reindex(times, method="nearest").to_numpy() if len(b) else 0.0
    return table


# ---------------------------------------------------------------------------------------------
# Recognition


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where mask is True."""
    if mask.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def _switch(values: np.ndarray, times: np.ndarray, signal: Signal) -> np.ndarray:
    """Hysteresis, then bridging of short dropouts."""
    state = False
    out = np.zeros(values.size, dtype=bool)
    for i, v in enumerate(values):
        state = v >= signal.on if not state else v >= signal.off
        out[i] = state
    if signal.hold_s > 0:
        for start, stop in _runs(~out):
            if start == 0 or stop == out.size:
                continue  # only gaps between two on-runs
            if times[stop] - times[start - 1] <= signal.hold_s + 1e-9:
                out[start:stop] = True
    return out


def signal_states(presence: pd.DataFrame, template: PhaseTemplate) -> pd.DataFrame:
    """Each template signal on/off at each time of the (sorted) presence table."""
    table = presence.sort_index()
    times = np.asarray(table.index, dtype=float)
    states = {}
    for name, signal in template.signals.items():
        if signal.column in table.columns:
            values = (
                pd.to_numeric(table[signal.column], errors="coerce").fillna(0.0).to_numpy(float)
            )
        else:
            values = np.zeros(times.size)
        states[name] = _switch(values, times, signal)
    return pd.DataFrame(states, index=table.index)


def raw_labels(presence: pd.DataFrame, template: PhaseTemplate) -> pd.Series:
    """The phase label of each moment before smoothing (first rule that holds, else default)."""
    states = signal_states(presence, template)
    n = len(states)
    on = {name: states[name].to_numpy() for name in states.columns}
    masks: dict[str, np.ndarray] = {}
    for rule in template.phases:
        mask = np.ones(n, dtype=bool)
        for name in rule.all_of:
            mask &= on[name]
        if rule.any_of:
            mask &= np.logical_or.reduce([on[name] for name in rule.any_of])
        for name in rule.none_of:
            mask &= ~on[name]
        if rule.only:
            allowed = set(rule.all_of) | set(rule.any_of)
            for name, values in on.items():
                if name not in allowed:
                    mask &= ~values
        masks[rule.label] = mask if rule.label not in masks else masks[rule.label] | mask
    labels = np.full(n, template.default, dtype=object)
    assigned = np.zeros(n, dtype=bool)
    for rule in template.phases:
        mask = masks[rule.label].copy()
        if rule.after is not None:
            seen = np.nonzero(masks[rule.after])[0]
            mask &= np.arange(n) > seen[0] if seen.size else np.zeros(n, dtype=bool)
        mask &= ~assigned
        labels[mask] = rule.label
        assigned |= mask
    return pd.Series(labels, index=states.index, name="phase")


def _segments(labels: list[str], times: np.ndarray) -> list[list[Any]]:
    """[label, start_s, end_s] runs; a run ends where the next begins, the last one sample
    period (the median spacing) after its last time."""
    if not labels:
        return []
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    segs: list[list[Any]] = []
    for i, label in enumerate(labels):
        if segs and segs[-1][0] == label:
            continue
        if segs:
            segs[-1][2] = float(times[i])
        segs.append([label, float(times[i]), float(times[i])])
    segs[-1][2] = float(times[-1]) + step
    return segs


def smooth_segments(segs: list[list[Any]], min_phase_s: float) -> list[list[Any]]:
    """Merge phases shorter than `min_phase_s` into a neighbour, shortest first: into both when
    they share a label (a flicker inside one phase), else into the longer neighbour."""
    segs = [list(s) for s in segs]
    while len(segs) > 1:
        durations = [s[2] - s[1] for s in segs]
        i = int(np.argmin(durations))
        if durations[i] >= min_phase_s:
            break
        left = segs[i - 1] if i > 0 else None
        right = segs[i + 1] if i + 1 < len(segs) else None
        if left is not None and right is not None and left[0] == right[0]:
            left[2] = right[2]
            del segs[i : i + 2]
        elif right is None or (left is not None and left[2] - left[1] >= right[2] - right[1]):
            assert left is not None
            left[2] = segs[i][2]
            del segs[i]
        else:
            right[1] = segs[i][1]
            del segs[i]
    return segs


def recognise_phases(
    presence: pd.DataFrame, template: PhaseTemplate, registry: Any = None
) -> list[Phase]:
    """Phases over the presence table's time span.

    presence: indexed by time_s (analysed frames, any spacing), one column per tool label (a 0/1
        flag, a count, or a detector score) and optionally `bleeding` (area fraction 0..1);
        columns a rule template reads but the table lacks count as never on; a learned
        template raises `PhaseModelError` naming the tool columns its model needs and lacks.
    registry: where a learned template's model is looked up (default: the bundled models and
        `SCRUBLINE_MODELS`).
    """
    if presence.empty:
        if template.model and len(presence.columns):
            # No frame to read (none analysed, or all out of body): still say which tool
            # signals the learned model lacks, as a case with frames would.
            _check_tool_columns(presence, template, registry)
        return []
    table = presence.sort_index()
    if template.model:
        return _learned_phases(table, template, registry)
    labels = raw_labels(table, template)
    times = np.asarray(table.index, dtype=float)
    segs = smooth_segments(_segments(list(labels), times), template.min_phase_s)
    return [Phase(label, start, end) for label, start, end in segs]


_MODELS: dict[tuple[str, str], Any] = {}  # (model id, manifest path) -> PhaseModel, loaded once


def learned_model(template: PhaseTemplate, registry: Any = None) -> Any:
    """The template's phase model, checked against the template's phase labels."""
    from scrubline.core.models import load_registry
    from scrubline.core.phase_model import PhaseModel, PhaseModelError

    assert template.model is not None
    registry = registry if registry is not None else load_registry()
    if template.model not in registry.manifests:
        raise PhaseModelError(
            f"{template.source or template.id}: the phase model '{template.model}' is not "
            f"installed (models found: {', '.join(sorted(registry.manifests)) or 'none'})"
        )
    manifest = registry.manifests[template.model]
    key = (manifest.id, str(manifest.source))
    if key not in _MODELS:
        _MODELS[key] = PhaseModel(manifest)
    model = _MODELS[key]
    unknown = sorted(set(model.labels) - {p.label for p in template.phases})
    if unknown:
        raise TemplateError(
            f"{template.source or template.id}: the model '{template.model}' also names the "
            f"phase(s) {', '.join(unknown)}, which the template's [[phases]] do not list"
        )
    return model


def _check_tool_columns(presence: pd.DataFrame, template: PhaseTemplate, registry: Any) -> None:
    """Raise `PhaseModelError` naming the tool columns the template's model needs and lacks."""
    from scrubline.core.phase_model import (
        PhaseModelError,
        match_tool_columns,
        missing_tools_message,
    )

    model = learned_model(template, registry)
    _, missing = match_tool_columns(list(presence.columns), model.tools)
    if missing:
        raise PhaseModelError(
            missing_tools_message(model.manifest.id, missing, list(presence.columns))
        )


def _learned_phases(table: pd.DataFrame, template: PhaseTemplate, registry: Any) -> list[Phase]:
    """Per-second phases from the learned model, over the analysed span only (the model still
    counts elapsed time from the start of the video)."""
    model = learned_model(template, registry)
    per_second = model.predict_table(table)
    times = np.asarray(table.index, dtype=float)
    first = max(float(np.floor(times[0] + 1e-6)), 0.0)
    kept = per_second[per_second.index >= first]
    if kept.empty:
        return []
    segs = smooth_segments(
        _segments(list(kept), np.asarray(kept.index, dtype=float)), template.min_phase_s
    )
    segs[0][1] = max(segs[0][1], float(times[0]))
    return [Phase(label, start, end) for label, start, end in segs]


def phases_from_table(
    table: pd.DataFrame, template: PhaseTemplate, where: str = "the table", registry: Any = None
) -> pd.DataFrame:
    """A researcher's own presence table -> `time_s, phase` (one row per input row).

    table: a `time_s` (or `second`) column and one 0/1 column per tool; names are matched
        case-insensitively ignoring spaces, underscores and hyphens (an export's `tool_<name>`
        columns match too). Raises TemplateError naming `where` and the problem: no time column,
        missing tool columns, non-numeric or empty cells, repeated times."""
    from scrubline.core.phase_model import match_tool_columns, normalise_name

    columns = {normalise_name(c): c for c in table.columns}
    time_column = columns.get("times") or columns.get("second")
    if time_column is None:
        raise TemplateError(
            f"{where}: no 'time_s' or 'second' column (columns: "
            f"{', '.join(map(str, table.columns))})"
        )
    if template.model:
        needed = list(learned_model(template, registry).tools)
    else:
        needed = list(template.columns)
    found, missing = match_tool_columns([c for c in table.columns if c != time_column], needed)
    if missing:
        raise TemplateError(
            f"{where}: no column for {', '.join(missing)} (the '{template.id}' procedure needs "
            f"{', '.join(needed)}; names are matched ignoring case, spaces and underscores; "
            f"columns found: {', '.join(map(str, table.columns))})"
        )
    used = [time_column, *found.values()]
    numbers = table[used].apply(pd.to_numeric, errors="coerce")
    for column in used:
        bad = numbers[column].isna() & table[column].notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise TemplateError(
                f"{where}: column '{column}' has a value that is not a number "
                f"({table[column].iloc[row]!r}, data row {row + 1})"
            )
        if numbers[column].isna().any():
            row = int(np.argmax(numbers[column].isna().to_numpy()))
            raise TemplateError(
                f"{where}: column '{column}' has an empty cell (data row {row + 1})"
            )
    times = numbers[time_column].to_numpy(float)
    if len(times) and (times < 0).any():
        raise TemplateError(f"{where}: '{time_column}' has negative times")
    if len(np.unique(times)) != len(times):
        raise TemplateError(
            f"{where}: '{time_column}' repeats a time; one row per time is expected"
        )
    presence = pd.DataFrame(
        {tool: numbers[column].to_numpy(float) for tool, column in found.items()},
        index=pd.Index(times, name="time_s"),
    ).sort_index()
    phases = recognise_phases(presence, template, registry)
    labels = phase_at(phases, presence.index.to_numpy(float), default=template.default or "")
    return pd.DataFrame({"time_s": presence.index.to_numpy(float), "phase": labels})


def phase_at(phases: list[Phase], times: np.ndarray, default: str | None = None) -> np.ndarray:
    """The phase label at each time (for comparing two timelines second by second)."""
    out = np.full(len(times), default, dtype=object)
    for phase in phases:
        out[(times >= phase.start_s) & (times < phase.end_s)] = phase.label
    return out


def phase_durations(phases: list[Phase]) -> dict[str, float]:
    """Total seconds per phase label."""
    out: dict[str, float] = {}
    for phase in phases:
        out[phase.label] = out.get(phase.label, 0.0) + phase.duration_s
    return out


__all__ = [
    "GENERIC_TEMPLATE_ID",
    "Phase",
    "PhaseRule",
    "PhaseTemplate",
    "Signal",
    "TemplateError",
    "bundled_templates",
    "bundled_templates_dir",
    "load_template",
    "parse_template",
    "learned_model",
    "phase_at",
    "phase_durations",
    "phases_from_table",
    "presence_table",
    "raw_labels",
    "recognise_phases",
    "signal_states",
    "smooth_segments",
]
