"""ONNX model wrappers (one class per task) and the registry that finds them by manifest."""

from __future__ import annotations

from scrubline.core.models.manifest import Manifest, ManifestError, load_manifest
from scrubline.core.models.registry import Registry, bundled_models_dir, load_registry
from scrubline.core.models.session import ModelError
from scrubline.core.models.wrappers import (
    WRAPPERS,
    Classifier,
    Detector,
    FrameModel,
    InBodyGate,
    OutcomePrediction,
    Segmenter,
    SequenceModel,
    load_model,
)

__all__ = [
    "WRAPPERS",
    "Classifier",
    "Detector",
    "FrameModel",
    "InBodyGate",
    "Manifest",
    "ManifestError",
    "ModelError",
    "OutcomePrediction",
    "Registry",
    "Segmenter",
    "SequenceModel",
    "bundled_models_dir",
    "load_manifest",
    "load_model",
    "load_registry",
]
