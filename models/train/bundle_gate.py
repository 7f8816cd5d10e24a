"""Put the bleeding gate's head into the vision network, so a default analysis runs the shared
encoder once per frame instead of twice.

`bleeding-gate` 1.0.0 (`models/train/bleeding_gate.py`) is a frozen copy of scrubline-vision
1.1.0 followed by a small head: statistics of the bleeding map -> `blood_present`, and the map
plus each pixel's colour -> a refined `blood_mask`. scrubline-vision 2.x keeps the 1.1.0 maps bit
for bit (its tool branch sits beside a frozen encoder), so the head can read 2.x's own `bleeding`
output instead of recomputing it. This script copies the head's nodes and weights (the ones that
do not lie upstream of the gate's `bleeding` tensor) into the vision graph, wired to the vision
network's `bleeding` output and `image` input, and checks on random and demo frames that every
output equals what the two separate networks give (exactly: the same operations on the same
numbers).

    python -m models.train.bundle_gate [--vision models/scrubline-vision.onnx]
        [--gate models/bleeding-gate.onnx] [-o models/scrubline-vision.onnx]

Re-running it on a vision network that already carries the head replaces the head (it is
idempotent). The manifest (`models/scrubline-vision.toml`) lists the head's outputs with the
gate's roles and thresholds; `supersedes` keeps the separate gate out of a default analysis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

ROOT = Path(__file__).resolve().parents[2]
HEAD_OUTPUTS = ("blood_mask", "blood_present")
SHARED_TENSORS = ("bleeding", "image")  # what the head reads from the vision network


def _head_indices(graph: onnx.GraphProto) -> set[int]:
    """Positions of the nodes needed for the head's outputs but not for `bleeding`."""
    nodes = list(graph.node)
    producer = {out: k for k, node in enumerate(nodes) for out in node.output}

    def upstream(targets: tuple[str, ...]) -> set[int]:
        seen: set[int] = set()
        stack = [producer[t] for t in targets if t in producer]
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            stack.extend(producer[i] for i in nodes[k].input if i in producer)
        return seen

    return upstream(HEAD_OUTPUTS) - upstream(("bleeding",))


def _head_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    head = _head_indices(graph)
    return [node for k, node in enumerate(graph.node) if k in head]


def bundle(vision: onnx.ModelProto, gate: onnx.ModelProto) -> onnx.ModelProto:
    base = vision.graph
    old_head = _head_indices(base) if _has_head(base) else set()
    nodes = [n for k, n in enumerate(base.node) if k not in old_head]
    head = _head_nodes(gate.graph)
    head_inputs = {i for n in head for i in n.input if i}
    gate_inits = {i.name: i for i in gate.graph.initializer}
    kept_names = {o for n in nodes for o in n.output}
    kept_inputs = {i for n in nodes for i in n.input}
    inits = [i for i in base.initializer if i.name in kept_inputs]
    inits += [gate_inits[name] for name in sorted(head_inputs) if name in gate_inits]
    clash = {o for n in head for o in n.output} & kept_names
    if clash:
        raise SystemExit(f"error: gate tensors clash with the vision network's: {sorted(clash)}")
    outputs = [o for o in base.output if o.name not in HEAD_OUTPUTS]
    outputs += [o for o in gate.graph.output if o.name in HEAD_OUTPUTS]
    graph = helper.make_graph(nodes + head, base.name, list(base.input), outputs, inits)
    model = helper.make_model(graph, opset_imports=vision.opset_import)
    model.ir_version = vision.ir_version
    model.producer_name = vision.producer_name
    onnx.checker.check_model(model)
    return model


def _has_head(graph: onnx.GraphProto) -> bool:
    return any(o.name in HEAD_OUTPUTS for o in graph.output)


def check(bundled: onnx.ModelProto, vision_path: Path, gate_path: Path) -> float:
    """Largest difference between the bundled outputs and the two separate networks'."""
    import onnxruntime as ort

    from scrubline.core.demo import demo_frame_drawer

    run = ort.InferenceSession(bundled.SerializeToString())
    vision = ort.InferenceSession(str(vision_path))
    gate = ort.InferenceSession(str(gate_path))
    rng = np.random.default_rng(0)
    draw = demo_frame_drawer(256, 192)
    demo = [draw(round(t * 25), t) for t in (5.0, 15.0, 50.0)]  # RGB uint8
    batch = np.concatenate(
        [
            rng.random((3, 3, 192, 256), dtype=np.float32),
            np.stack(demo).astype(np.float32).transpose(0, 3, 1, 2) / 255.0,
        ]
    )
    got = dict(
        zip([o.name for o in run.get_outputs()], run.run(None, {"image": batch}), strict=True)
    )
    want = dict(
        zip([o.name for o in gate.get_outputs()], gate.run(None, {"image": batch}), strict=True)
    )
    names = [o.name for o in vision.get_outputs() if o.name not in HEAD_OUTPUTS]
    want.update(zip(names, vision.run(names, {"image": batch}), strict=True))
    return max(float(np.abs(got[k] - want[k]).max()) for k in want)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vision", type=Path, default=ROOT / "models/scrubline-vision.onnx")
    parser.add_argument("--gate", type=Path, default=ROOT / "models/bleeding-gate.onnx")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "models/scrubline-vision.onnx")
    args = parser.parse_args(argv)
    bundled = bundle(onnx.load(str(args.vision)), onnx.load(str(args.gate)))
    difference = check(bundled, args.vision, args.gate)
    print(f"largest difference from the separate networks: {difference:g}")
    if difference > 1e-6:
        print("error: the bundled head does not reproduce the gate", file=sys.stderr)
        return 1
    onnx.save(bundled, str(args.output))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
