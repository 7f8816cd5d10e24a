"""Learned surgical phases: per-second tool presence -> features -> an ONNX classifier -> an HMM.

The rule templates in `scrubline.core.phases` describe a procedure by hand; a *learned* template
names a phase model instead (task `phase` in `models/`), trained on real annotated surgeries
(the bundled `cholec80-phases` on Cholec80's 1 fps tool presence and phase labels). The model is
small and explainable on purpose:

1. **Features** (here, not in the graph, so the training script and the app compute the same
   numbers from the same code): for each tool, its presence now, the share of seconds it was in
   view over windows before (and, offline, after) each second, its cumulative time in view, the
   seconds since it was last (and until it is next) in view, plus elapsed time and, offline, the
   fraction of the video elapsed. The manifest's `[features]` table holds the parameters and the
   full list of feature names, which is checked against what this code computes.
2. **A tree ensemble** (the ONNX file; ai.onnx.ml TreeEnsembleClassifier) gives each second a
   probability per phase.
3. **Smoothing** over phase transitions (parameters in the manifest's `[decoding]` table):
   surgical phases follow each other mostly in one order, so a hidden Markov model with the
   transition probabilities counted on the training videos turns the per-second probabilities
   (divided by the phase priors, raised to `emission_weight`) into the most likely phase path
   (Viterbi over the whole video, offline) or the filtered phase (forward pass, online).

Presence comes in at any frame rate; it is resampled to whole seconds (a tool counts as present in
a second when it is in view in at least half of that second's analysed frames; seconds with no
analysed frame take the nearest analysed second's value). Qt-free; numpy, pandas, onnxruntime.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scrubline.core.models.manifest import Manifest

NEVER_S = 3600.0  # "seconds since/until seen" when the tool is never seen on that side (capped)


class PhaseModelError(ValueError):
    """The phase model cannot be applied to this input; the message says what is missing."""


def normalise_name(name: str) -> str:
    """A column or tool name compared case-insensitively, ignoring spaces, underscores, hyphens."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def match_tool_columns(
    columns: Collection[str], tools: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Which column holds each tool (a column `Specimen bag`, `specimen_bag` or the export's
    `tool_specimen_bag` all match tool `SpecimenBag`), and the tools no column matches."""
    by_norm: dict[str, str] = {}
    for column in columns:
        key = normalise_name(column)
        by_norm.setdefault(key, column)
        if key.startswith("tool") and len(key) > 4:
            by_norm.setdefault(key[4:], column)
    found: dict[str, str] = {}
    missing: list[str] = []
    for tool in tools:
        match = by_norm.get(normalise_name(tool))
        if match is None:
            missing.append(tool)
        else:
            found[tool] = match
    return found, missing


# ---------------------------------------------------------------------------------------------
# Features


@dataclass(frozen=True)
class FeatureSpec:
    """What the features are made of: the tools (in model order), the window lengths in seconds
    and whether the future may be used (offline) or only the past (online, causal)."""

    tools: tuple[str, ...]
    windows_s: tuple[int, ...]
    offline: bool

    def names(self) -> list[str]:
        names = ["elapsed_min"]
        for tool in self.tools:
            t = tool.lower()
            names.append(f"{t}_now")
            names += [f"{t}_past_{w}s" for w in self.windows_s]
            names += [f"{t}_cum_min", f"{t}_since_s"]
            if self.offline:
                names += [f"{t}_next_{w}s" for w in self.windows_s]
                names += [f"{t}_rest_min", f"{t}_until_s"]
        names.append("tools_now")
        if self.offline:
            names += ["fraction_elapsed", "total_min"]
        return names


def _since_last(on: np.ndarray) -> np.ndarray:
    """Seconds since the tool was last on (0 while on; NEVER_S before its first appearance)."""
    idx = np.arange(on.size)
    last = np.where(on, idx, -1)
    last = np.maximum.accumulate(last) if on.size else last
    return np.where(last >= 0, np.minimum(idx - last, NEVER_S), NEVER_S).astype(float)


def video_features(presence: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """presence: [T seconds, n tools] 0/1, second 0 = the start of the video -> [T, features]."""
    x = np.asarray(presence, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(spec.tools):
        raise PhaseModelError(
            f"presence should have {len(spec.tools)} tool columns, got shape {x.shape}"
        )
    n = x.shape[0]
    seconds = np.arange(n, dtype=float)
    cum = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])  # cum[i] = sum of x[:i]
    cols: list[np.ndarray] = [seconds / 60.0]
    for j in range(x.shape[1]):
        on = x[:, j] > 0.5
        cols.append(x[:, j])
        for w in spec.windows_s:
            lo = np.maximum(np.arange(n) - w + 1, 0)
            cols.append((cum[np.arange(n) + 1, j] - cum[lo, j]) / (np.arange(n) + 1 - lo))
        cols.append(cum[1:, j] / 60.0)
        cols.append(_since_last(on))
        if spec.offline:
            for w in spec.windows_s:
                hi = np.minimum(np.arange(n) + w, n)
                cols.append((cum[hi, j] - cum[np.arange(n), j]) / (hi - np.arange(n)))
            cols.append((cum[n, j] - cum[np.arange(n), j]) / 60.0)
            cols.append(_since_last(on[::-1])[::-1])
    cols.append(x.sum(axis=1))
    if spec.offline:
        cols.append(seconds / max(n - 1, 1))
        cols.append(np.full(n, n / 60.0))
    return (
        np.column_stack(cols).astype(np.float32)
        if n
        else np.zeros((0, len(spec.names())), np.float32)
    )


def per_second(presence: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A presence table indexed by time_s (any spacing; counts, flags or scores >= 0.5 as
    present) -> [seconds from 0 to the last analysed second, len(columns)] 0/1."""
    table = presence.sort_index()
    times = np.asarray(table.index, dtype=float)
    if times.size == 0:
        return np.zeros((0, len(columns)))
    values = np.column_stack(
        [
            pd.to_numeric(table[c], errors="coerce").fillna(0.0).to_numpy(float) >= 0.5
            for c in columns
        ]
    ).astype(float)
    second = np.floor(times + 1e-6).astype(int)
    second = np.maximum(second, 0)
    frame = pd.DataFrame(values, index=second).groupby(level=0).mean()
    grid = np.arange(int(second.max()) + 1)
    filled = frame.reindex(grid, method="nearest")
    return (filled.to_numpy(float) >= 0.5).astype(float)


# ---------------------------------------------------------------------------------------------
# Decoding


@dataclass(frozen=True)
class Decoding:
    """The HMM over phases: `transitions[i][j]` = P(phase j at t+1 | phase i at t) per second,
    `initial` = P(first second's phase), `priors` = the training share of each phase (the
    classifier's probabilities are divided by them to act as likelihoods), `emission_weight`
    tempers over-confident probabilities (correlated from one second to the next)."""

    transitions: np.ndarray
    initial: np.ndarray
    priors: np.ndarray
    emission_weight: float = 1.0

    @classmethod
    def from_table(cls, table: dict[str, Any], n: int, where: str) -> Decoding:
        try:
            a = np.asarray(table["transitions"], dtype=float)
            pi = np.asarray(table["initial"], dtype=float)
            priors = np.asarray(table["priors"], dtype=float)
            weight = float(table.get("emission_weight", 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise PhaseModelError(
                f"{where}: [decoding] needs transitions, initial and priors ({exc})"
            ) from exc
        if a.shape != (n, n) or pi.shape != (n,) or priors.shape != (n,):
            raise PhaseModelError(f"{where}: [decoding] sizes do not match the {n} phase labels")
        if (a < 0).any() or (pi < 0).any() or (priors <= 0).any():
            raise PhaseModelError(f"{where}: [decoding] probabilities must not be negative")
        return cls(a / a.sum(axis=1, keepdims=True), pi / pi.sum(), priors / priors.sum(), weight)

    def log_emissions(self, probabilities: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(probabilities, dtype=float), 1e-6, 1.0)
        return self.emission_weight * (np.log(p) - np.log(self.priors))

    def viterbi(self, probabilities: np.ndarray) -> np.ndarray:
        """The most likely phase index per second given the whole video."""
        emit = self.log_emissions(probabilities)
        n, k = emit.shape
        if n == 0:
            return np.zeros(0, dtype=int)
        log_a = np.log(np.maximum(self.transitions, 1e-300))
        score = np.log(np.maximum(self.initial, 1e-300)) + emit[0]
        back = np.zeros((n, k), dtype=np.int32)
        for t in range(1, n):
            cand = score[:, None] + log_a
            back[t] = np.argmax(cand, axis=0)
            score = cand[back[t], np.arange(k)] + emit[t]
        path = np.zeros(n, dtype=int)
        path[-1] = int(np.argmax(score))
        for t in range(n - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path

    def forward(self, probabilities: np.ndarray) -> np.ndarray:
        """The filtered phase index per second (uses only the seconds up to it: causal)."""
        emit = self.log_emissions(probabilities)
        n, k = emit.shape
        out = np.zeros(n, dtype=int)
        belief = self.initial.copy()
        for t in range(n):
            if t:
                belief = belief @ self.transitions
            logp = np.log(np.maximum(belief, 1e-300)) + emit[t]
            logp -= logp.max()
            belief = np.exp(logp)
            belief /= belief.sum()
            out[t] = int(np.argmax(belief))
        return out


# ---------------------------------------------------------------------------------------------
# The model


class PhaseModel:
    """A `phase` task model: its manifest's features and decoding, and its ONNX session."""

    def __init__(self, manifest: Manifest, session: Any = None) -> None:
        where = str(manifest.source or manifest.id)
        if manifest.task != "phase":
            raise PhaseModelError(
                f"{where}: model '{manifest.id}' is a {manifest.task}, not a phase model"
            )
        self.manifest = manifest
        raw = manifest.extra.get("features")
        if not isinstance(raw, dict) or not raw.get("tools") or not raw.get("windows_s"):
            raise PhaseModelError(
                f"{where}: a phase model needs a [features] table with tools and windows_s"
            )
        self.spec = FeatureSpec(
            tools=tuple(str(t) for t in raw["tools"]),
            windows_s=tuple(int(w) for w in raw["windows_s"]),
            offline=bool(raw.get("offline", True)),
        )
        if list(manifest.input.features) != self.spec.names():
            raise PhaseModelError(
                f"{where}: [input] features do not match what [features] computes "
                f"({len(manifest.input.features)} listed, {len(self.spec.names())} computed)"
            )
        decoding = manifest.extra.get("decoding")
        if not isinstance(decoding, dict):
            raise PhaseModelError(f"{where}: a phase model needs a [decoding] table")
        self.labels = manifest.labels
        self.decoding = Decoding.from_table(decoding, len(self.labels), where)
        self._session = session

    @property
    def tools(self) -> tuple[str, ...]:
        return self.spec.tools

    def _run(self, features: np.ndarray) -> np.ndarray:
        if self._session is None:
            from scrubline.core.models.session import create_session

            self._session, _ = create_session(self.manifest, "cpu", 1)
        output = self.manifest.output_for("phase_probabilities")
        assert output is not None  # the manifest parser requires it
        (probabilities,) = self._session.run([output.name], {self.manifest.input.name: features})
        return np.asarray(probabilities, dtype=float)

    def probabilities(self, presence: np.ndarray) -> np.ndarray:
        """[T seconds, tools] 0/1 -> [T, phases] per-second probabilities (before smoothing)."""
        features = video_features(presence, self.spec)
        if not len(features):
            return np.zeros((0, len(self.labels)))
        return self._run(features)

    def predict(self, presence: np.ndarray) -> np.ndarray:
        """[T seconds, tools] 0/1 -> the phase index of each second (offline models: Viterbi
        over the whole video; online: the forward filter)."""
        probabilities = self.probabilities(presence)
        if not len(probabilities):
            return np.zeros(0, dtype=int)
        if self.spec.offline:
            return self.decoding.viterbi(probabilities)
        return self.decoding.forward(probabilities)

    def predict_table(self, presence: pd.DataFrame) -> pd.Series:
        """A presence table (indexed by time_s; one column per tool, names matched loosely) ->
        the phase label of each second, indexed by whole seconds from 0. Raises
        PhaseModelError naming the tool columns the table lacks."""
        found, missing = match_tool_columns(list(presence.columns), self.tools)
        if missing:
            raise PhaseModelError(
                missing_tools_message(self.manifest.id, missing, list(presence.columns))
            )
        seconds = per_second(presence, [found[t] for t in self.tools])
        path = self.predict(seconds)
        return pd.Series(
            [self.labels[i] for i in path],
            index=pd.Index(np.arange(len(path), dtype=float), name="time_s"),
            name="phase",
            dtype=object,
        )


def missing_tools_message(model_id: str, missing: Sequence[str], columns: Sequence[str]) -> str:
    have = ", ".join(str(c) for c in columns) or "none"
    return (
        f"the phase model '{model_id}' needs per-tool presence, and there is none for "
        f"{', '.join(missing)} (the tool signals present: {have}); a class-aware tool detector "
        "or tool labels for these tools are needed"
    )


def load_phase_model(model_id: str, registry: Any = None) -> PhaseModel:
    """The phase model with this id from the registry (bundled models and the user's)."""
    from scrubline.core.models import load_registry

    registry = registry if registry is not None else load_registry()
    try:
        manifest = registry.get(model_id)
    except KeyError as exc:
        raise PhaseModelError(str(exc.args[0])) from None
    return PhaseModel(manifest)


__all__ = [
    "Decoding",
    "FeatureSpec",
    "PhaseModel",
    "PhaseModelError",
    "load_phase_model",
    "match_tool_columns",
    "missing_tools_message",
    "normalise_name",
    "per_second",
    "video_features",
]
