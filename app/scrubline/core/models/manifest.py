"""Model manifests: the data that makes a model usable without code.

Every model in a models folder is a TOML manifest beside its ONNX file. The manifest says what the
network is for (its task), how to feed it (input size, colour order, normalisation), what each
output means (its role), the thresholds that turn scores into decisions, and where it came from
(training data, split, metrics, licence). The schema is documented in `models/README.md`.

A manifest is validated completely when it is read, so that a wrong one is refused with a message
naming the file and the field instead of failing later, far away, as "unexpected failure" (a
threshold written `"high"`), or being half-used in silence (a misspelled `[treshholds]` table
leaves the defaults in force). Validation has two layers:

- the *shape* of the file (types, ranges, unknown keys) is declared once as `msgspec` structs and
  checked by `msgspec.convert`. msgspec was chosen over pydantic v2 because it is one small,
  dependency-free wheel that imports in a few milliseconds, is strict by default (it never turns
  `"5"` into 5 or `true` into 1, which pydantic's lax mode does unless configured otherwise), and
  rejects unknown keys with one flag. Hand-written checks, as before, had missed exactly these
  cases;
- the *meaning* (roles and threshold keys allowed for the task, required outputs, sizes that must
  be positive for image models, a headline metric that exists) is checked by hand below, because
  it depends on the task.

`[training]` and `[metrics]` stay free-form provenance: any key is allowed there (metric values
must still be numbers, text, or lists of numbers).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from scrubline.core.tomlfile import read_toml

TASKS = ("detector", "segmenter", "classifier", "inbody", "sequence", "phase")

# Which output roles each task understands; a manifest naming any other role is refused.
ROLES: dict[str, tuple[str, ...]] = {
    # blood_present: a frame-level [N, 1] score gating the bleeding mask (FrameResult.gate_bleeding)
    # tool_heatmap/tool_size/tool_offset: class-aware boxes decoded from centre heatmaps
    # (scrubline.core.models.centres), one heatmap channel per label
    "segmenter": (
        "bleeding_mask",
        "instrument_mask",
        "tip_map",
        "blood_present",
        "tool_heatmap",
        "tool_size",
        "tool_offset",
    ),
    "detector": ("boxes", "scores", "classes", "tips", "tip_scores"),
    "classifier": ("scores",),
    "inbody": ("in_body",),
    "sequence": ("blood_loss_ml", "blood_loss_interval_ml", "success_probability"),
    "phase": ("phase_probabilities",),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "segmenter": (),
    "detector": ("boxes", "scores"),
    "classifier": ("scores",),
    "inbody": ("in_body",),
    "sequence": ("blood_loss_ml", "success_probability"),
    "phase": ("phase_probabilities",),
}
# The `[thresholds]` keys each task's wrapper reads; any other key would have no effect.
THRESHOLDS: dict[str, tuple[str, ...]] = {
    "segmenter": (
        "bleeding",
        "instrument",
        "tip",
        "min_instrument_area",
        "blood_present",
        "tool_score",
    ),
    "detector": ("score", "tip"),
    "classifier": (),
    "inbody": ("in_body",),
    "sequence": ("success",),
    "phase": (),
}
MAX_INPUT_SIDE = 8192
MAX_STEPS = 100_000


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    width: int = 0
    height: int = 0
    colour: str = "RGB"
    layout: str = "NCHW"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # sequence models only
    steps: int = 0
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputSpec:
    name: str
    role: str
    shape: tuple[int | str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    id: str
    version: str
    task: str
    name: str
    file: Path
    input: InputSpec
    outputs: tuple[OutputSpec, ...]
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    licence: str
    summary: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    card: Path | None = None
    source: Path | None = None  # the manifest file itself
    # The optional keys beyond the core schema that are present: `headline_metric`, `supersedes`,
    # and a phase model's `features` and `decoding` tables (see scrubline.core.phase_model).
    extra: dict[str, Any] = field(default_factory=dict)

    def output_for(self, role: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.role == role), None)

    def threshold(self, key: str, default: float) -> float:
        return float(self.thresholds.get(key, default))

    @property
    def provenance(self) -> str:
        """One line a person can read beside any number this model produced."""
        headline = self.extra.get("headline_metric")
        text = f"{self.name} v{self.version}"
        if headline and headline in self.metrics:
            text += f" ({headline} {self.metrics[headline]})"
        return text


# ---------------------------------------------------------------------------- the file's shape
Text = Annotated[str, msgspec.Meta(min_length=1)]
Finite = Annotated[float, msgspec.Meta(ge=-1e9, le=1e9)]  # NaN and infinity fail both bounds
Side = Annotated[int, msgspec.Meta(ge=0, le=MAX_INPUT_SIDE)]


class _InputTable(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    width: Side = 0
    height: Side = 0
    colour: str = "RGB"
    layout: str = "NCHW"
    scale: Annotated[float, msgspec.Meta(gt=0.0, le=1e9)] = 1.0 / 255.0
    mean: tuple[Finite, Finite, Finite] = (0.0, 0.0, 0.0)
    std: tuple[Finite, Finite, Finite] = (1.0, 1.0, 1.0)
    steps: Annotated[int, msgspec.Meta(ge=0, le=MAX_STEPS)] = 0
    features: tuple[Text, ...] = ()


class _OutputTable(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    role: Text
    shape: tuple[Annotated[int, msgspec.Meta(ge=1)] | str, ...] = ()


class _DomainTable(msgspec.Struct, forbid_unknown_fields=True):
    """Where a model's numbers hold: the procedures it was validated on and, for a sequence
    model, its training statistics (pooled feature means and SDs) for the out-of-range check."""

    procedures: tuple[Text, ...] = ()
    description: str = ""
    max_abs_z: Annotated[float, msgspec.Meta(gt=0.0, le=1e3)] | None = None
    statistics: tuple[Text, ...] = ()
    mean: tuple[Finite, ...] = ()
    sd: tuple[Annotated[float, msgspec.Meta(gt=0.0, le=1e9)], ...] = ()


class _ManifestFile(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]
    task: str
    file: Text
    licence: Text
    input: _InputTable
    outputs: tuple[_OutputTable, ...]
    schema: int = 1
    version: Text = "0"
    name: str = ""
    card: str = ""
    summary: str = ""
    labels: tuple[Text, ...] = ()
    headline_metric: str = ""
    supersedes: tuple[Text, ...] = ()
    thresholds: dict[str, Any] = {}  # keys depend on the task: checked below, by name
    training: dict[str, Any] = {}
    metrics: dict[str, Any] = {}  # checked below, by name
    features: dict[str, Any] = {}  # phase models: checked by scrubline.core.phase_model
    decoding: dict[str, Any] = {}  # phase models: checked by scrubline.core.phase_model
    domain: _DomainTable | None = None


_LOCATION = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<where>[^`]*)`)?$", re.DOTALL)
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+|\.\.\.)\]")


def _explain(exc: msgspec.ValidationError, data: dict[str, Any]) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.input.width`" in the manifest's own terms:
    the field as written in the file, what it should be and what was found."""
    match = _LOCATION.match(str(exc))
    problem, where = (match["problem"], match["where"] or "") if match else (str(exc), "")
    names: list[str] = []
    value: Any = data
    for step in _STEP.finditer(where):
        key, index = step.group(1), step.group(2)
        if key is not None:
            names.append(key)
            value = value.get(key) if isinstance(value, dict) else None
        elif index == "...":
            names.append("[a value]")
            value = None
        else:
            names[-1:] = [f"{names[-1] if names else ''}[{int(index) + 1}]"]
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
    table = ".".join(names)
    unknown = re.match(r"Object contains unknown field `(.*)`", problem)
    if unknown:
        key = unknown[1]
        known = _known_keys(names)
        hint = difflib.get_close_matches(key, known, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known: {', '.join(known)})"
        place = f" in [{table}]" if table else ""
        return f"unknown field '{key}'{place}{suggestion}"
    missing = re.match(r"Object missing required field `(.*)`", problem)
    if missing:
        place = f" in [{table}]" if table else ""
        return f"missing required field '{missing[1]}'{place}"
    text = problem.replace("`", "")
    text = re.sub(r"^Expected ", "should be ", text)
    text = text.replace("should be array", "should be a list").replace(
        "should be object", "should be a table"
    )
    text = text.replace("should be str", "should be text").replace(
        "should be int", "should be an integer"
    )
    text = text.replace("should be float", "should be a number")
    found = (
        f" (found {value!r})" if value is not None and not isinstance(value, dict | list) else ""
    )
    return f"field '{table}' {text}{found}" if table else f"{text}{found}"


def _known_keys(names: list[str]) -> list[str]:
    struct: Any = _ManifestFile
    for name in names:
        struct = {"input": _InputTable, "outputs": _OutputTable, "domain": _DomainTable}.get(
            name.split("[")[0]
        )
        if struct is None:
            return []
    return list(struct.__struct_fields__)


# ---------------------------------------------------------------------------- the meaning
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_manifest(data: dict[str, Any], source: Path) -> Manifest:
    where = str(source)
    task = data.get("task")
    # The task decides what every other field may hold, so it is checked first.
    if task is None:
        raise ManifestError(f"{where}: missing required field 'task'")
    if task not in TASKS:
        raise ManifestError(
            f"{where}: task {task!r} is not one of {', '.join(TASKS)}".replace('"', "'")
        )
    try:
        raw = msgspec.convert(data, _ManifestFile)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{where}: {_explain(exc, data)}") from None

    if raw.schema != 1:
        raise ManifestError(
            f"{where}: field 'schema' is {raw.schema}; this Scrubline reads schema 1"
        )
    input_where = f"{where} [input]"
    table = raw.input
    spec = InputSpec(
        name=table.name,
        width=table.width,
        height=table.height,
        colour=table.colour.upper(),
        layout=table.layout.upper(),
        scale=table.scale,
        mean=table.mean,
        std=table.std,
        steps=table.steps,
        features=table.features,
    )
    if task == "sequence":
        if spec.steps <= 0 or not spec.features:
            raise ManifestError(f"{input_where}: a sequence model needs 'steps' and 'features'")
        from scrubline.core.outcome import KNOWN_FEATURES  # numpy and pandas only when needed

        unknown = [f for f in spec.features if f not in KNOWN_FEATURES]
        if unknown:
            raise ManifestError(
                f"{input_where}: unknown feature(s) {', '.join(unknown)} (known: "
                f"{', '.join(KNOWN_FEATURES)})"
            )
    elif task == "phase":
        if not spec.features or not raw.features or not raw.decoding:
            raise ManifestError(
                f"{where}: a phase model needs [input] features, a [features] and a [decoding] "
                "table"
            )
    else:
        if spec.width <= 0 or spec.height <= 0:
            raise ManifestError(f"{input_where}: 'width' and 'height' must be positive")
        if spec.colour not in ("RGB", "BGR"):
            raise ManifestError(f"{input_where}: colour '{table.colour}' is not RGB or BGR")
        if spec.layout not in ("NCHW", "NHWC"):
            raise ManifestError(f"{input_where}: layout '{table.layout}' is not NCHW or NHWC")
        if not math.isfinite(spec.scale):
            raise ManifestError(f"{input_where}: 'scale' must be a finite number")
        if any(s == 0 for s in spec.std):
            raise ManifestError(f"{input_where}: 'std' must not contain zero")

    outputs = []
    for i, out in enumerate(raw.outputs):
        if out.role not in ROLES[task]:
            raise ManifestError(
                f"{where} [[outputs]] #{i + 1}: role '{out.role}' is not known to task '{task}' "
                f"(known: {', '.join(ROLES[task])})"
            )
        outputs.append(OutputSpec(name=out.name, role=out.role, shape=out.shape))
    roles = [o.role for o in outputs]
    repeated = sorted({r for r in roles if roles.count(r) > 1})
    if repeated:
        raise ManifestError(f"{where}: more than one output with role {', '.join(repeated)}")
    missing = [r for r in REQUIRED_ROLES[task] if r not in roles]
    if missing:
        raise ManifestError(f"{where}: task '{task}' needs outputs with roles {', '.join(missing)}")
    if task == "segmenter" and not roles:
        raise ManifestError(f"{where}: a segmenter needs at least one output")
    if task == "segmenter" and "tool_heatmap" in roles:
        if "tool_size" not in roles:
            raise ManifestError(
                f"{where}: an output with role tool_heatmap needs one with role tool_size"
            )
        heat = next(o for o in outputs if o.role == "tool_heatmap")
        if not raw.labels:
            raise ManifestError(
                f"{where}: a tool_heatmap output needs 'labels' (one per heatmap channel)"
            )
        channels = heat.shape[1] if len(heat.shape) > 1 else None
        if isinstance(channels, int) and channels != len(raw.labels):
            raise ManifestError(
                f"{where}: output '{heat.name}' has {channels} heatmap channels but 'labels' names "
                f"{len(raw.labels)} classes"
            )

    if task in ("classifier", "phase") and not raw.labels:
        raise ManifestError(f"{where}: a {task} model needs 'labels'")
    if task != "phase" and (raw.features or raw.decoding):
        raise ManifestError(f"{where}: [features] and [decoding] are for phase models only")
    if len(set(raw.labels)) != len(raw.labels):
        raise ManifestError(f"{where}: 'labels' lists a label twice")
    for key, value in raw.thresholds.items():
        if key not in THRESHOLDS[task]:
            hint = difflib.get_close_matches(key, THRESHOLDS[task], n=1)
            known = ", ".join(THRESHOLDS[task]) or "none"
            raise ManifestError(
                f"{where} [thresholds]: '{key}' is not a threshold of a {task} "
                + (f"(did you mean '{hint[0]}'?)" if hint else f"(known: {known})")
            )
        if not (_is_number(value) and 0.0 <= value <= 1.0):  # NaN fails the comparison
            raise ManifestError(
                f"{where}: field 'thresholds.{key}' should be a number from 0 to 1 (found "
                f"{value!r})"
            )
    for key, value in raw.metrics.items():
        if not (
            _is_number(value)
            or isinstance(value, str)
            or (isinstance(value, list) and all(_is_number(v) for v in value))
        ):
            raise ManifestError(
                f"{where}: field 'metrics.{key}' should be a number, text or a list of numbers "
                f"(found {value!r})"
            )
    if raw.headline_metric and raw.headline_metric not in raw.metrics:
        raise ManifestError(f"{where}: headline_metric '{raw.headline_metric}' is not in [metrics]")

    extra: dict[str, Any] = {}
    if raw.domain is not None:
        extra["domain"] = _domain(raw.domain, task, spec, where)
    if raw.headline_metric:
        extra["headline_metric"] = raw.headline_metric
    if raw.supersedes:
        extra["supersedes"] = list(raw.supersedes)
    if task == "phase":
        extra["features"], extra["decoding"] = dict(raw.features), dict(raw.decoding)
    return Manifest(
        id=raw.id,
        version=raw.version,
        task=task,
        name=raw.name or raw.id,
        file=source.parent / raw.file,
        input=spec,
        outputs=tuple(outputs),
        labels=raw.labels,
        thresholds={k: float(v) for k, v in raw.thresholds.items()},
        licence=raw.licence,
        summary=raw.summary,
        training=dict(raw.training),
        metrics=dict(raw.metrics),
        card=source.parent / raw.card if raw.card else None,
        source=source,
        extra=extra,
    )


def _domain(table: _DomainTable, task: str, spec: InputSpec, where: str) -> dict[str, Any]:
    """`[domain]` as a plain dict (Manifest.extra["domain"]), its statistics checked against the
    model's input: one mean and one positive SD per pooled statistic of its features."""
    lengths = {len(table.statistics), len(table.mean), len(table.sd)}
    if len(lengths) != 1:
        raise ManifestError(
            f"{where} [domain]: 'statistics', 'mean' and 'sd' must have the same length"
        )
    if table.max_abs_z is not None and not table.statistics:
        raise ManifestError(f"{where} [domain]: 'max_abs_z' needs 'statistics', 'mean' and 'sd'")
    if table.statistics:
        if task != "sequence":
            raise ManifestError(f"{where} [domain]: training statistics are for sequence models")
        from scrubline.core.outcome import pooled_names

        expected = pooled_names(spec.features)
        if list(table.statistics) != expected:
            raise ManifestError(
                f"{where} [domain]: 'statistics' must be the pooled statistics of the input "
                f"features in order ({', '.join(expected[:3])}, ...)"
            )
    return {
        "procedures": list(table.procedures),
        "description": table.description,
        "max_abs_z": table.max_abs_z,
        "statistics": list(table.statistics),
        "mean": list(table.mean),
        "sd": list(table.sd),
    }


def load_manifest(path: Path) -> Manifest:
    return parse_manifest(read_toml(path, ManifestError), path)
