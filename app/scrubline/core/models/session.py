"""ONNX Runtime sessions: provider choice with a visible fallback, thread counts set on purpose,
and validation of the network's inputs and outputs against its manifest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrubline.core.models.manifest import Manifest

log = logging.getLogger("scrubline.models")

DEVICES: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
}


class ModelError(RuntimeError):
    """A model that cannot be loaded or run; the message says which and why."""


@dataclass
class ProviderChoice:
    providers: list[str]
    notice: str | None  # set when what was asked for is not what is used


def choose_providers(device: str) -> ProviderChoice:
    import onnxruntime as ort

    device = device.lower()
    available = ort.get_available_providers()
    if device == "auto":
        for name in ("cuda", "coreml", "directml"):
            if DEVICES[name] in available:
                return ProviderChoice([DEVICES[name], DEVICES["cpu"]], None)
        return ProviderChoice([DEVICES["cpu"]], None)
    if device not in DEVICES:
        raise ModelError(f"unknown device '{device}' (choose from auto, {', '.join(DEVICES)})")
    if device == "cpu":
        return ProviderChoice([DEVICES["cpu"]], None)
    if DEVICES[device] in available:
        return ProviderChoice([DEVICES[device], DEVICES["cpu"]], None)
    return ProviderChoice(
        [DEVICES["cpu"]],
        f"device '{device}' is not available in this onnxruntime build "
        f"(available: {', '.join(available)}); running on the CPU",
    )


def create_session(
    manifest: Manifest, device: str = "cpu", threads: int = 0
) -> tuple[Any, str | None]:
    """Open the manifest's ONNX file and check it against the manifest."""
    import onnxruntime as ort

    if not manifest.file.is_file():
        raise ModelError(f"model '{manifest.id}': ONNX file {manifest.file} does not exist")
    choice = choose_providers(device)
    options = ort.SessionOptions()
    # Decoding runs in its own thread beside inference, so by default leave it a core.
    options.intra_op_num_threads = threads if threads > 0 else default_threads()
    options.inter_op_num_threads = 1
    # Idle pool threads must not spin: the decoder needs those cycles between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(manifest.file), options, providers=choice.providers)
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(
            f"model '{manifest.id}': {manifest.file.name} is not a loadable ONNX model ({exc})"
        ) from exc
    problems = contract_mismatches(manifest, session)
    if problems:
        raise ModelError(
            f"model '{manifest.id}' ({manifest.file.name}) does not match its manifest: "
            + "; ".join(problems)
        )
    if choice.notice:
        log.warning("model '%s': %s", manifest.id, choice.notice)
    return session, choice.notice


def default_threads() -> int:
    """Every CPU this process may use but one (left to the decoder), counted from its affinity
    (Slurm, taskset, cpusets), never from the machine's total."""
    from scrubline.core.cpus import inference_threads

    return inference_threads()


def _dims_match(expected: tuple[int | str, ...], actual: list[Any]) -> bool:
    if len(expected) != len(actual):
        return False
    for e, a in zip(expected, actual, strict=True):
        if isinstance(e, int) and isinstance(a, int) and e != a:
            return False
    return True


def _fmt(shape: Any) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def contract_mismatches(manifest: Manifest, session: Any) -> list[str]:
    """Every way the ONNX graph disagrees with the manifest, in words."""
    problems: list[str] = []
    inputs = {i.name: i for i in session.get_inputs()}
    spec = manifest.input
    if spec.name not in inputs:
        problems.append(
            f"manifest input '{spec.name}' is not an input of the network (it has: "
            f"{', '.join(inputs)})"
        )
    else:
        node = inputs[spec.name]
        if "float" not in node.type:
            problems.append(f"input '{spec.name}' is {node.type}, expected a float tensor")
        if manifest.task == "sequence":
            expected: tuple[int | str, ...] = ("N", spec.steps, len(spec.features))
            what = "N × steps × features"
        elif manifest.task == "phase":
            expected = ("N", len(spec.features))
            what = "N × features (one row per second)"
        elif spec.layout == "NCHW":
            expected = ("N", 3, spec.height, spec.width)
            what = "N × 3 × height × width"
        else:
            expected = ("N", spec.height, spec.width, 3)
            what = "N × height × width × 3"
        if not _dims_match(expected, list(node.shape)):
            problems.append(
                f"input '{spec.name}' has shape {_fmt(node.shape)} but the manifest implies "
                f"{_fmt(expected)} ({what})"
            )
    outputs = {o.name: o for o in session.get_outputs()}
    for out in manifest.outputs:
        if out.name not in outputs:
            problems.append(
                f"manifest output '{out.name}' ({out.role}) is not an output of the network "
                f"(it has: {', '.join(outputs)})"
            )
            continue
        if out.shape and not _dims_match(out.shape, list(outputs[out.name].shape)):
            problems.append(
                f"output '{out.name}' has shape {_fmt(outputs[out.name].shape)} but the manifest "
                f"says {_fmt(out.shape)}"
            )
    if manifest.task in ("classifier", "phase"):
        scores = manifest.output_for(
            "scores" if manifest.task == "classifier" else "phase_probabilities"
        )
        if scores and scores.name in outputs:
            shape = outputs[scores.name].shape
            if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != len(manifest.labels):
                problems.append(
                    f"output '{scores.name}' has {shape[1]} classes but the manifest lists "
                    f"{len(manifest.labels)} labels"
                )
    return problems
