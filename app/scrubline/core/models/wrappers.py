"""One wrapper class per task. A wrapper turns a batch of video frames into `FrameResult`s (or,
for the sequence task, a feature sequence into an outcome), using only what the manifest says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scrubline.core.models.centres import decode_centres, tools_from_centres
from scrubline.core.models.instances import instances_from_maps
from scrubline.core.models.manifest import Manifest
from scrubline.core.models.session import ModelError, create_session
from scrubline.core.results import GATE_LABEL, BleedingMask, FrameResult, Instrument


class OnnxModel:
    def __init__(self, manifest: Manifest, device: str = "cpu", threads: int = 0) -> None:
        self.manifest = manifest
        self.session, self.device_notice = create_session(manifest, device, threads)
        self._output_names = [o.name for o in manifest.outputs]
        import onnxruntime as ort

        # Setting `run_options.terminate` from another thread stops a run in flight (cancel).
        self.run_options = ort.RunOptions()

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> str:
        return self.manifest.version

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(
                self._output_names, {self.manifest.input.name: batch}, self.run_options
            )
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelError(f"model '{self.id}' failed to run: {exc}") from exc
        return {
            spec.role: np.asarray(v) for spec, v in zip(self.manifest.outputs, values, strict=True)
        }


class FrameModel(OnnxModel):
    """Image models: a batch of RGB frames in, one `FrameResult` per frame out."""

    @property
    def input_size(self) -> tuple[int, int]:
        return self.manifest.input.width, self.manifest.input.height

    def to_tensor(self, resized_rgb: list[np.ndarray]) -> np.ndarray:
        """Frames already resized to `input_size` (RGB uint8) → the network's input tensor."""
        spec = self.manifest.input
        batch: np.ndarray = np.stack(resized_rgb).astype(np.float32)
        if spec.colour == "BGR":
            batch = batch[..., ::-1]
        batch = batch * np.float32(spec.scale)
        if spec.mean != (0.0, 0.0, 0.0) or spec.std != (1.0, 1.0, 1.0):
            batch = (batch - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
        if spec.layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)

    def predict(
        self, resized_rgb: list[np.ndarray], frame_size: tuple[int, int]
    ) -> list[FrameResult]:
        outputs = self._run(self.to_tensor(resized_rgb))
        return [self.interpret(outputs, i, frame_size) for i in range(len(resized_rgb))]

    def interpret(
        self, outputs: dict[str, np.ndarray], index: int, frame_size: tuple[int, int]
    ) -> FrameResult:
        raise NotImplementedError


def _plane(value: np.ndarray, index: int) -> np.ndarray:
    plane = value[index]
    while plane.ndim > 2:
        plane = plane[0]
    return plane.astype(np.float32)


class Segmenter(FrameModel):
    """Dense maps: a bleeding mask and/or instrument + tip maps (one shared encoder may give
    all)."""

    def interpret(
        self, outputs: dict[str, np.ndarray], index: int, frame_size: tuple[int, int]
    ) -> FrameResult:
        m = self.manifest
        result = FrameResult(frame=-1, time_s=0.0)
        if "bleeding_mask" in outputs:
            # The one place the bleeding threshold is applied (see BleedingMask).
            result.bleeding = BleedingMask.from_probability(
                _plane(outputs["bleeding_mask"], index), m.threshold("bleeding", 0.5)
            )
        if GATE_LABEL in outputs:
            score = float(np.asarray(outputs[GATE_LABEL][index]).reshape(-1)[0])
            result.scores[f"{self.id}:{GATE_LABEL}"] = score
        if "tool_heatmap" in outputs:
            # Class-aware boxes from the centre heatmaps; each tool's tip comes from the dense
            # maps inside its box.
            offset = outputs.get("tool_offset")
            boxes = decode_centres(
                np.asarray(outputs["tool_heatmap"][index], np.float32),
                np.asarray(outputs["tool_size"][index], np.float32),
                None if offset is None else np.asarray(offset[index], np.float32),
                score_threshold=m.threshold("tool_score", 0.3),
            )
            result.instruments = tools_from_centres(
                boxes,
                m.labels,
                frame_size,
                instrument_prob=(
                    _plane(outputs["instrument_mask"], index)
                    if "instrument_mask" in outputs
                    else None
                ),
                tip_prob=_plane(outputs["tip_map"], index) if "tip_map" in outputs else None,
                instrument_threshold=m.threshold("instrument", 0.5),
                tip_threshold=m.threshold("tip", 0.5),
            )
        elif "instrument_mask" in outputs:
            tip = _plane(outputs["tip_map"], index) if "tip_map" in outputs else None
            result.instruments = instances_from_maps(
                _plane(outputs["instrument_mask"], index),
                tip,
                frame_size,
                instrument_threshold=m.threshold("instrument", 0.5),
                tip_threshold=m.threshold("tip", 0.5),
                min_area_fraction=m.threshold("min_instrument_area", 0.002),
                label=m.labels[0] if m.labels else "instrument",
            )
        return result


class Detector(FrameModel):
    """Boxes after non-maximum suppression: boxes [N,K,4] as x1,y1,x2,y2 in 0..1 of the input,
    scores [N,K], optional classes [N,K], tips [N,K,2] (0..1) and tip_scores [N,K]."""

    def interpret(
        self, outputs: dict[str, np.ndarray], index: int, frame_size: tuple[int, int]
    ) -> FrameResult:
        m = self.manifest
        width, height = frame_size
        boxes, scores = outputs["boxes"][index], outputs["scores"][index]
        classes = outputs.get("classes")
        tips, tip_scores = outputs.get("tips"), outputs.get("tip_scores")
        keep = m.threshold("score", 0.5)
        tip_threshold = m.threshold("tip", 0.5)
        found = []
        for k in np.nonzero(scores >= keep)[0]:
            cls = int(classes[index][k]) if classes is not None else 0
            label = m.labels[cls] if 0 <= cls < len(m.labels) else f"class {cls}"
            x1, y1, x2, y2 = (float(v) for v in boxes[k])
            tip = None
            tip_score = 0.0
            if tips is not None:
                tip = (float(tips[index][k][0]) * width, float(tips[index][k][1]) * height)
            if tip_scores is not None:
                tip_score = float(tip_scores[index][k])
            found.append(
                Instrument(
                    label=label,
                    score=float(scores[k]),
                    box=(x1 * width, y1 * height, x2 * width, y2 * height),
                    tip=tip,
                    tip_score=tip_score,
                    tip_visible=tips is not None and tip_score >= tip_threshold,
                )
            )
        return FrameResult(frame=-1, time_s=0.0, instruments=found)


class Classifier(FrameModel):
    """Whole-frame scores [N, C], one per label, stored as '<model id>:<label>'."""

    def interpret(
        self, outputs: dict[str, np.ndarray], index: int, frame_size: tuple[int, int]
    ) -> FrameResult:
        row = outputs["scores"][index].reshape(-1)
        return FrameResult(
            frame=-1,
            time_s=0.0,
            scores={
                f"{self.id}:{label}": float(v)
                for label, v in zip(self.manifest.labels, row, strict=True)
            },
        )


class InBodyGate(FrameModel):
    """The in-body gate: `in_body` [N, 1], the probability that the frame shows the inside of
    the body. Below the manifest's `in_body` threshold the frame is out of body, and the analysis
    drops every tool, tip and bleeding result of it (`FrameResult.gate`). The probability is kept
    as the score '<model id>:in_body'."""

    def interpret(
        self, outputs: dict[str, np.ndarray], index: int, frame_size: tuple[int, int]
    ) -> FrameResult:
        probability = float(np.asarray(outputs["in_body"][index]).reshape(-1)[0])
        return FrameResult(
            frame=-1,
            time_s=0.0,
            scores={f"{self.id}:in_body": probability},
            in_body=probability >= self.manifest.threshold("in_body", 0.5),
        )


@dataclass(frozen=True)
class OutcomePrediction:
    blood_loss_ml: float
    blood_loss_interval_ml: tuple[float, float] | None
    success_probability: float


class SequenceModel(OnnxModel):
    """Case-level model: a [steps × features] sequence in, blood loss and success out."""

    @property
    def steps(self) -> int:
        return self.manifest.input.steps

    @property
    def features(self) -> tuple[str, ...]:
        return self.manifest.input.features

    def predict_outcome(self, sequence: np.ndarray) -> OutcomePrediction:
        expected = (self.steps, len(self.features))
        if sequence.shape != expected:
            raise ModelError(
                f"model '{self.id}' expects a sequence of shape {expected}, got {sequence.shape}"
            )
        out = self._run(sequence[None].astype(np.float32))
        interval = out.get("blood_loss_interval_ml")
        return OutcomePrediction(
            blood_loss_ml=float(out["blood_loss_ml"].reshape(-1)[0]),
            blood_loss_interval_ml=(
                (float(interval.reshape(-1)[0]), float(interval.reshape(-1)[1]))
                if interval is not None
                else None
            ),
            success_probability=float(out["success_probability"].reshape(-1)[0]),
        )


WRAPPERS: dict[str, type[OnnxModel]] = {
    "segmenter": Segmenter,
    "detector": Detector,
    "classifier": Classifier,
    "inbody": InBodyGate,
    "sequence": SequenceModel,
}


def load_model(manifest: Manifest, device: str = "cpu", threads: int = 0) -> Any:
    if manifest.task == "phase":  # reads tool presence, not frames: see scrubline.core.phase_model
        from scrubline.core.phase_model import PhaseModel

        return PhaseModel(manifest, create_session(manifest, device, threads)[0])
    return WRAPPERS[manifest.task](manifest, device, threads)
