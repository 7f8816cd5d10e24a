"""Tiny ONNX models built with the `onnx` package, one per task, to exercise each task's output
contract without trained weights. Each one computes something simple and checkable from its
input (dark pixels are "instrument", red pixels "blood", ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _save(graph, path: Path) -> Path:  # type: ignore[no-untyped-def]
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _const(name: str, value: np.ndarray):  # type: ignore[no-untyped-def]
    from onnx import helper, numpy_helper

    return helper.make_node(
        "Constant",
        [],
        [name],
        value=numpy_helper.from_array(
            value.astype(np.float32) if value.dtype.kind == "f" else value, name
        ),
    )


def dense_segmenter(path: Path, width: int = 64, height: int = 48) -> Path:
    """instrument = dark pixels, tip = dark AND blue-ish pixels, bleeding = red pixels."""
    from onnx import TensorProto, helper

    nodes = [
        _const("axis1", np.array([1], np.int64)),
        _const("half", np.array(0.3, np.float32)),
        _const("gain", np.array(40.0, np.float32)),
        _const("s0", np.array([0], np.int64)),
        _const("s1", np.array([1], np.int64)),
        _const("s2", np.array([2], np.int64)),
        _const("s3", np.array([3], np.int64)),
        helper.make_node("ReduceMean", ["image", "axis1"], ["grey"], keepdims=1),
        helper.make_node("Sub", ["half", "grey"], ["darkness"]),
        helper.make_node("Mul", ["darkness", "gain"], ["dark_logit"]),
        helper.make_node("Sigmoid", ["dark_logit"], ["instrument"]),
        helper.make_node("Slice", ["image", "s0", "s1", "axis1"], ["r"]),
        helper.make_node("Slice", ["image", "s1", "s2", "axis1"], ["g"]),
        helper.make_node("Slice", ["image", "s2", "s3", "axis1"], ["b"]),
        helper.make_node("Sub", ["b", "r"], ["blueness"]),
        helper.make_node("Mul", ["blueness", "gain"], ["blue_logit"]),
        helper.make_node("Sigmoid", ["blue_logit"], ["blue"]),
        helper.make_node("Mul", ["blue", "instrument"], ["tip"]),
        helper.make_node("Sub", ["r", "g"], ["redness"]),
        helper.make_node("Sub", ["redness", "half"], ["red_margin"]),
        helper.make_node("Mul", ["red_margin", "gain"], ["red_logit"]),
        helper.make_node("Sigmoid", ["red_logit"], ["bleeding"]),
    ]
    shape = ["N", 1, height, width]
    graph = helper.make_graph(
        nodes,
        "tiny_segmenter",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
            for n in ("instrument", "tip", "bleeding")
        ],
    )
    return _save(graph, path)


def constant_detector(path: Path, width: int = 64, height: int = 48) -> Path:
    """Always two boxes: (0.1..0.4) score 0.9 class 1 with a visible tip, and one at score 0.2."""
    from onnx import TensorProto, helper

    boxes = np.array([[[0.1, 0.1, 0.4, 0.5], [0.5, 0.5, 0.9, 0.9]]], np.float32)
    nodes = [
        _const("boxes_1", boxes),
        _const("scores_1", np.array([[0.9, 0.2]], np.float32)),
        _const("classes_1", np.array([[1.0, 0.0]], np.float32)),
        _const("tips_1", np.array([[[0.4, 0.5], [0.9, 0.9]]], np.float32)),
        _const("tip_scores_1", np.array([[0.8, 0.1]], np.float32)),
        _const("axes0", np.array([0], np.int64)),
        helper.make_node("Shape", ["image"], ["shape"], start=0, end=1),
    ]
    outputs = []
    for name in ("boxes", "scores", "classes", "tips", "tip_scores"):
        rank = {"boxes": 3, "tips": 3}.get(name, 2)
        repeats = f"{name}_repeats"
        nodes.append(_const(f"{name}_ones", np.ones(rank - 1, np.int64)))
        nodes.append(helper.make_node("Concat", ["shape", f"{name}_ones"], [repeats], axis=0))
        nodes.append(helper.make_node("Tile", [f"{name}_1", repeats], [name]))
        shape = ["N", "K", 4 if name == "boxes" else 2] if rank == 3 else ["N", "K"]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    graph = helper.make_graph(
        nodes,
        "tiny_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        outputs,
    )
    return _save(graph, path)


def mean_colour_classifier(path: Path, width: int = 32, height: int = 32) -> Path:
    """Scores = mean R, G, B of the frame."""
    from onnx import TensorProto, helper

    nodes = [
        _const("axes", np.array([2, 3], np.int64)),
        helper.make_node("ReduceMean", ["image", "axes"], ["scores"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
    )
    return _save(graph, path)


def red_gate(path: Path, width: int = 64, height: int = 48) -> Path:
    """A blood-present gate: blood_present [N, 1] = the frame's mean red channel."""
    from onnx import TensorProto, helper

    nodes = [
        _const("s0", np.array([0], np.int64)),
        _const("s1", np.array([1], np.int64)),
        _const("axis1", np.array([1], np.int64)),
        _const("axes", np.array([2, 3], np.int64)),
        helper.make_node("Slice", ["image", "s0", "s1", "axis1"], ["r"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["blood_present"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_gate",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        [helper.make_tensor_value_info("blood_present", TensorProto.FLOAT, ["N", 1])],
    )
    return _save(graph, path)


# Only the keys each task reads: a manifest naming any other threshold is refused.
THRESHOLD_LINES = {
    "segmenter": ["instrument = 0.5", "tip = 0.5", "bleeding = 0.5", "min_instrument_area = 0.01"],
    "detector": ["score = 0.5", "tip = 0.5"],
    "inbody": ["in_body = 0.5"],
}


def manifest(
    path: Path,
    *,
    model_id: str,
    task: str,
    onnx_file: str,
    outputs: list[tuple[str, str]],
    width: int = 64,
    height: int = 48,
    labels: list[str] | None = None,
    extra: str = "",
) -> Path:
    lines = [
        "schema = 1",
        f'id = "{model_id}"',
        'version = "0.0.1"',
        f'task = "{task}"',
        f'file = "{onnx_file}"',
        'licence = "test"',
        f"labels = {labels or []!r}".replace("'", '"'),
        extra,
        "[input]",
        'name = "image"',
        f"width = {width}",
        f"height = {height}",
        "[thresholds]",
        *THRESHOLD_LINES.get(task, []),
    ]
    for name, role in outputs:
        lines += ["[[outputs]]", f'name = "{name}"', f'role = "{role}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def segmenter_folder(folder: Path, model_id: str = "tiny-seg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dense_segmenter(folder / f"{model_id}.onnx")
    manifest(
        folder / f"{model_id}.toml",
        model_id=model_id,
        task="segmenter",
        onnx_file=f"{model_id}.onnx",
        outputs=[
            ("instrument", "instrument_mask"),
            ("tip", "tip_map"),
            ("bleeding", "bleeding_mask"),
        ],
        labels=["instrument"],
    )
    return folder


def brightness_gate(path: Path, width: int = 32, height: int = 24) -> Path:
    """in_body = sigmoid(40 * (mean brightness - 0.15)): a dark frame is "out of body"."""
    from onnx import TensorProto, helper

    nodes = [
        _const("axes", np.array([1, 2, 3], np.int64)),
        _const("floor", np.array(0.15, np.float32)),
        _const("gain", np.array(40.0, np.float32)),
        helper.make_node("ReduceMean", ["image", "axes"], ["mean"], keepdims=0),
        helper.make_node("Sub", ["mean", "floor"], ["margin"]),
        helper.make_node("Mul", ["margin", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p"]),
        _const("shape", np.array([-1, 1], np.int64)),
        helper.make_node("Reshape", ["p", "shape"], ["in_body"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_in_body",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])],
        [helper.make_tensor_value_info("in_body", TensorProto.FLOAT, ["N", 1])],
    )
    return _save(graph, path)


def gate_folder(folder: Path, model_id: str = "tiny-gate") -> Path:
    """A models folder with the tiny in-body gate (dark frames are out of body)."""
    folder.mkdir(parents=True, exist_ok=True)
    brightness_gate(folder / f"{model_id}.onnx")
    manifest(
        folder / f"{model_id}.toml",
        model_id=model_id,
        task="inbody",
        onnx_file=f"{model_id}.onnx",
        outputs=[("in_body", "in_body")],
        width=32,
        height=24,
    )
    return folder
