"""`python -m models.train.vision --export`: a trained network to the bundled ONNX file, and
back (`load_onnx_weights`), so the bundled model can be fine-tuned without its checkpoint.

The export folds BatchNorm into the convolutions and refuses to write a file whose outputs
differ from torch's by more than 1e-4 on the same input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from models.train.vision_config import MODEL_ID, VERSION, load_torch
from models.train.vision_data import INPUT_H, INPUT_W, OUT_H, OUT_W


def export_onnx(model, path: Path) -> None:
    """Fold BatchNorm, export with a dynamic batch, check against torch."""
    torch = load_torch()
    import copy

    import onnx
    from models.train.vision_net import fuse_batchnorm

    fused = fuse_batchnorm(copy.deepcopy(model).eval())
    x = torch.rand(2, 3, INPUT_H, INPUT_W)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ["instrument", "tip", "bleeding"]
    if getattr(model, "detect", False):  # keep the 2.x tool detection outputs
        names += ["tool_heatmap", "tool_size", "tool_offset"]
    torch.onnx.export(
        fused,
        (x,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_axes={n: {0: "N"} for n in ("image", *names)},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    proto.producer_name = "scrubline models/train/vision.py"
    proto.doc_string = f"{MODEL_ID} {VERSION}: instrument, tip and bleeding maps (sigmoid), N x 1 x {OUT_H} x {OUT_W}"
    save_checked(proto, path, model, x)


def save_checked(proto, path: Path, model, x) -> None:
    """Write the ONNX graph `proto` to `path` once onnx's checker accepts it, and refuse it when
    onnxruntime's outputs for the input `x` differ from the torch `model`'s by more than 1e-4."""
    import onnx
    import onnxruntime as ort
    import torch

    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = model(x)
    err = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))
    if err > 1e-4:
        raise RuntimeError(f"ONNX export differs from torch by {err}")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB), max |onnx - torch| = {err:.2e}")


def load_onnx_weights(path: Path):
    """Rebuild a trainable (BatchNorm-fused) network from an exported ONNX file, so that the
    bundled model can be fine-tuned without the training run's checkpoint."""
    torch = load_torch()
    import onnx
    from models.train.vision_net import fused_skeleton
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    # 2.x files carry the tool detection branch (`vision_detect.py`): rebuild it too
    model = fused_skeleton(detect=any(name.startswith("det.") for name in inits))
    state = model.state_dict()
    # Conv weights keep their parameter names; a bias may have been renamed (identical
    # initializers are shared), so take it from the Conv node that uses the named weight.
    conv_bias = {}
    for node in proto.graph.node:
        if node.op_type == "Conv" and len(node.input) == 3:
            conv_bias[node.input[1]] = node.input[2]
    new = {}
    for name in state:
        if name in inits:
            new[name] = torch.from_numpy(inits[name].copy())
        elif name.endswith(".bias") and name[:-5] + ".weight" in conv_bias:
            new[name] = torch.from_numpy(inits[conv_bias[name[:-5] + ".weight"]].copy())
        else:
            raise ValueError(f"{path}: no initializer for {name}")
    model.load_state_dict(new)
    return model
