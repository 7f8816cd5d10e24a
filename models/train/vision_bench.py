"""`python -m models.train.vision --bench`: how fast the bundled network runs on this CPU,
alone and through the app's own per-frame path, for the manifest and the model card.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from models.train.vision_config import MANIFEST_PATH, ONNX_PATH, THREADS
from models.train.vision_data import INPUT_H, INPUT_W


def bench(path: Path = ONNX_PATH, runs: int = 100) -> dict[str, float]:
    """Median onnxruntime latency per frame (2 intra-op threads, as the app's default on this
    machine), for the network alone and for the app's whole per-frame path through the
    registry's Segmenter wrapper (resize + network + instances + bleeding fraction)."""
    import cv2
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for b in (1, 4):
        x = rng.random((b, 3, INPUT_H, INPUT_W), dtype=np.float32)
        for _ in range(10):
            session.run(None, {"image": x})
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            session.run(None, {"image": x})
            times.append(time.perf_counter() - t)
        out[f"network_ms_per_frame_batch{b}"] = 1000 * float(np.median(times)) / b
    if MANIFEST_PATH.is_file() and path == ONNX_PATH:
        from scrubline.core.models import load_manifest, load_model

        model = load_model(load_manifest(MANIFEST_PATH), threads=THREADS)
        frame = rng.integers(0, 255, (480, 854, 3), dtype=np.uint8)
        for b in (1, 4):
            times = []
            for i in range(runs // 2 + 5):
                t = time.perf_counter()
                resized = [
                    cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
                    for _ in range(b)
                ]
                model.predict(resized, (854, 480))
                if i >= 5:
                    times.append(time.perf_counter() - t)
            out[f"app_path_ms_per_frame_batch{b}"] = 1000 * float(np.median(times)) / b
    return out
