"""Build the HSV colour-threshold bleeding segmenter as an ONNX graph.

This is the baseline of the UBE bleeding study (stage 0: HSV thresholds, median Dice 0.57 there):
a pixel is blood when red is its largest channel, its hue lies within a narrow band around red,
it is saturated and not too dark. There are no weights to learn; the script writes the graph, its
manifest thresholds, and nothing else, so rerunning it reproduces the bundled file byte for byte.

    python -m models.train.bleeding_hsv            # writes models/bleeding-hsv.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 256, 192
# Hue window around red in degrees (negative = towards magenta), saturation and value floors.
HUE_LOW_DEG, HUE_HIGH_DEG = -20.0, 12.0
SATURATION_MIN = 0.45
VALUE_MIN = 0.15
POOL = 2  # output at half the input resolution: enough for an overlay and an area fraction


def hsv_reference(rgb: np.ndarray) -> np.ndarray:
    """The same rule in numpy (rgb float 0..1, HxWx3) for tests and for the learned model's
    pseudo-masks."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    chroma = value - rgb.min(axis=-1)
    saturation = chroma / np.maximum(value, 1e-6)
    red_is_max = (r >= g) & (r >= b)
    hue_ok = (g - b >= HUE_LOW_DEG / 60.0 * chroma) & (g - b <= HUE_HIGH_DEG / 60.0 * chroma)
    return red_is_max & hue_ok & (saturation >= SATURATION_MIN) & (value >= VALUE_MIN)


def build_model():
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, value: float | list[int]) -> onnx.NodeProto:
        if isinstance(value, list):
            tensor = helper.make_tensor(name, TensorProto.INT64, [len(value)], value)
        else:
            tensor = helper.make_tensor(name, TensorProto.FLOAT, [], [value])
        return helper.make_node("Constant", [], [name], value=tensor)

    nodes = [
        const("eps", 1e-6),
        const("hue_low", HUE_LOW_DEG / 60.0),
        const("hue_high", HUE_HIGH_DEG / 60.0),
        const("sat_min", SATURATION_MIN),
        const("val_min", VALUE_MIN),
        const("axis1", [1]),
        const("s0", [0]),
        const("s1", [1]),
        const("s2", [2]),
        const("s3", [3]),
        helper.make_node("Slice", ["image", "s0", "s1", "axis1"], ["r"]),
        helper.make_node("Slice", ["image", "s1", "s2", "axis1"], ["g"]),
        helper.make_node("Slice", ["image", "s2", "s3", "axis1"], ["b"]),
        helper.make_node("ReduceMax", ["image", "axis1"], ["value"], keepdims=1),
        helper.make_node("ReduceMin", ["image", "axis1"], ["low"], keepdims=1),
        helper.make_node("Sub", ["value", "low"], ["chroma"]),
        helper.make_node("Max", ["value", "eps"], ["value_safe"]),
        helper.make_node("Div", ["chroma", "value_safe"], ["saturation"]),
        helper.make_node("GreaterOrEqual", ["r", "g"], ["r_ge_g"]),
        helper.make_node("GreaterOrEqual", ["r", "b"], ["r_ge_b"]),
        helper.make_node("And", ["r_ge_g", "r_ge_b"], ["red_max"]),
        helper.make_node("Sub", ["g", "b"], ["g_minus_b"]),
        helper.make_node("Mul", ["chroma", "hue_low"], ["hue_low_bound"]),
        helper.make_node("Mul", ["chroma", "hue_high"], ["hue_high_bound"]),
        helper.make_node("GreaterOrEqual", ["g_minus_b", "hue_low_bound"], ["above_low"]),
        helper.make_node("LessOrEqual", ["g_minus_b", "hue_high_bound"], ["below_high"]),
        helper.make_node("And", ["above_low", "below_high"], ["hue_ok"]),
        helper.make_node("GreaterOrEqual", ["saturation", "sat_min"], ["sat_ok"]),
        helper.make_node("GreaterOrEqual", ["value", "val_min"], ["val_ok"]),
        helper.make_node("And", ["red_max", "hue_ok"], ["c1"]),
        helper.make_node("And", ["sat_ok", "val_ok"], ["c2"]),
        helper.make_node("And", ["c1", "c2"], ["blood"]),
        helper.make_node("Cast", ["blood"], ["blood_f"], to=TensorProto.FLOAT),
        helper.make_node(
            "AveragePool",
            ["blood_f"],
            ["bleeding"],
            kernel_shape=[POOL, POOL],
            strides=[POOL, POOL],
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "bleeding_hsv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, HEIGHT, WIDTH])],
        [
            helper.make_tensor_value_info(
                "bleeding", TensorProto.FLOAT, ["N", 1, HEIGHT // POOL, WIDTH // POOL]
            )
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18)],
        producer_name="scrubline models/train/bleeding_hsv.py",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "bleeding-hsv.onnx",
    )
    args = parser.parse_args()
    onnx.save(build_model(), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
