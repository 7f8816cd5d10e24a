"""Model manifests: the data that makes a model usable without code.

Every model in a models folder is a TOML manifest beside its ONNX file. The manifest says what the
network is for (its task), how to feed it (input size, colour order, normalisation), what each
output means (its role), the thresholds that turn scores into decisions, and where it came from
(training data, split, metrics, licence). The schema is documented in `models/README.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrubline.core.tomlfile import read_toml

TASKS = ("detector", "segmenter", "classifier", "sequence")

# Which output roles each task understands; a manifest naming any other role is refused.
ROLES: dict[str, tuple[str, ...]] = {
    "segmenter": ("bleeding_mask", "instrument_mask", "tip_map"),
    "detector": ("boxes", "scores", "classes", "tips", "tip_scores"),
    "classifier": ("scores",),
    "sequence": ("blood_loss_ml", "blood_loss_interval_ml", "success_probability"),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "segmenter": (),
    "detector": ("boxes", "scores"),
    "classifier": ("scores",),
    "sequence": ("blood_loss_ml", "success_probability"),
}


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


def _require(table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise ManifestError(f"{where}: missing required field '{key}'")
    value = table[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ManifestError(f"{where}: field '{key}' should be {names}, got {value!r}")
    return value


def _triple(value: Any, where: str, key: str) -> tuple[float, float, float]:
    if not (isinstance(value, list) and len(value) == 3):
        raise ManifestError(f"{where}: field '{key}' should be a list of three numbers")
    return (float(value[0]), float(value[1]), float(value[2]))


def parse_manifest(data: dict[str, Any], source: Path) -> Manifest:
    where = str(source)
    model_id = _require(data, "id", where, str)
    task = _require(data, "task", where, str)
    if task not in TASKS:
        raise ManifestError(f"{where}: task '{task}' is not one of {', '.join(TASKS)}")
    file = source.parent / _require(data, "file", where, str)

    raw_input = _require(data, "input", where, dict)
    input_where = f"{where} [input]"
    spec = InputSpec(
        name=_require(raw_input, "name", input_where, str),
        width=int(raw_input.get("width", 0)),
        height=int(raw_input.get("height", 0)),
        colour=str(raw_input.get("colour", "RGB")).upper(),
        layout=str(raw_input.get("layout", "NCHW")).upper(),
        scale=float(raw_input.get("scale", 1.0 / 255.0)),
        mean=_triple(raw_input.get("mean", [0, 0, 0]), input_where, "mean"),
        std=_triple(raw_input.get("std", [1, 1, 1]), input_where, "std"),
        steps=int(raw_input.get("steps", 0)),
        features=tuple(str(f) for f in raw_input.get("features", ())),
    )
    if task == "sequence":
        if spec.steps <= 0 or not spec.features:
            raise ManifestError(f"{input_where}: a sequence model needs 'steps' and 'features'")
    else:
        if spec.width <= 0 or spec.height <= 0:
            raise ManifestError(f"{input_where}: 'width' and 'height' must be positive")
        if spec.colour not in ("RGB", "BGR"):
            raise ManifestError(f"{input_where}: colour '{spec.colour}' is not RGB or BGR")
        if spec.layout not in ("NCHW", "NHWC"):
            raise ManifestError(f"{input_where}: layout '{spec.layout}' is not NCHW or NHWC")
        if any(s == 0 for s in spec.std):
            raise ManifestError(f"{input_where}: 'std' must not contain zero")

    raw_outputs = _require(data, "outputs", where, list)
    outputs = []
    for i, raw in enumerate(raw_outputs):
        out_where = f"{where} [[outputs]] #{i + 1}"
        if not isinstance(raw, dict):
            raise ManifestError(f"{out_where}: should be a table")
        role = _require(raw, "role", out_where, str)
        if role not in ROLES[task]:
            raise ManifestError(
                f"{out_where}: role '{role}' is not known to task '{task}' "
                f"(known: {', '.join(ROLES[task])})"
            )
        shape = tuple(raw.get("shape", ()))
        outputs.append(OutputSpec(name=_require(raw, "name", out_where, str), role=role, shape=shape))
    roles = [o.role for o in outputs]
    missing = [r for r in REQUIRED_ROLES[task] if r not in roles]
    if missing:
        raise ManifestError(f"{where}: task '{task}' needs outputs with roles {', '.join(missing)}")
    if task == "segmenter" and not roles:
        raise ManifestError(f"{where}: a segmenter needs at least one output")

    labels = tuple(str(x) for x in data.get("labels", ()))
    if task == "classifier" and not labels:
        raise ManifestError(f"{where}: a classifier needs 'labels'")
    card = data.get("card")
    known = {
        "schema", "id", "version", "task", "name", "file", "input", "outputs", "labels",
        "thresholds", "licence", "summary", "training", "metrics", "card",
    }
    return Manifest(
        id=model_id,
        version=str(data.get("version", "0")),
        task=task,
        name=str(data.get("name", model_id)),
        file=file,
        input=spec,
        outputs=tuple(outputs),
        labels=labels,
        thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
        licence=_require(data, "licence", where, str),
        summary=str(data.get("summary", "")),
        training=dict(data.get("training", {})),
        metrics=dict(data.get("metrics", {})),
        card=source.parent / card if card else None,
        source=source,
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_manifest(path: Path) -> Manifest:
    return parse_manifest(read_toml(path, ManifestError), path)
