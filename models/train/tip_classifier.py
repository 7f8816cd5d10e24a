"""Could a small per-instance classifier on the vision network's own features tell a hidden
working end from a visible one better than the tip map does? A feasibility measurement on the
eye labels (`models/train/labels/tip_visibility.csv`), split by video; nothing here is shipped.

Features per labelled instance (the bundled network run once per frame, intermediate decoder
activations exposed in memory, the model file untouched): mean and max over the labelled box
of the 1/16-scale decoder features (64 channels), the 1/4-scale ones (24) and the last shared
layer (24); the tip map's max, mean and 90th percentile in the box; the box's size, aspect and
whether it touches the frame edge; the tool class (one-hot). A logistic regression
(standardised, L2) is trained leave-one-video-out, so each score comes from a model that never
saw that instance's video; the scores are evaluated like the tip map (`tip_eval.evaluate`).

    PYTHONPATH=$PWD/app:$PWD /work/venv-train/bin/python -m models.train.tip_classifier
"""

from __future__ import annotations

import sys

import numpy as np
from models.train.tip_eval import evaluate, load_frame, read_labels, table
from models.train.tip_labels import REPO

LAYERS = (
    "/up4/refine/refine.1/refine.1.2/Clip_output_0",
    "/up2/refine/refine.1/refine.1.2/Clip_output_0",
    "/head/head.0/head.0.1/head.0.1.2/Clip_output_0",
)
CLASSES = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "Other")


def _session():
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(REPO / "models" / "scrubline-vision.onnx"))
    for name in LAYERS:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def features(instances) -> np.ndarray:
    import cv2

    session = _session()
    names = [o.name for o in session.get_outputs()]
    rows: dict[str, np.ndarray] = {}
    by_image: dict[str, list] = {}
    for inst in instances:
        by_image.setdefault(inst.image, []).append(inst)
    for image, group in by_image.items():
        rgb = load_frame(image)
        h, w = rgb.shape[:2]
        x = cv2.resize(rgb, (256, 192), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        out = dict(
            zip(names, session.run(None, {"image": x.transpose(2, 0, 1)[None]}), strict=True)
        )
        for inst in group:
            x1, y1, x2, y2 = inst.box
            parts = []
            for name in [*LAYERS, "tip"]:
                fmap = out[name][0]
                mh, mw = fmap.shape[-2:]
                c1, r1 = int(x1 / w * mw), int(y1 / h * mh)
                c2 = max(c1 + 1, int(np.ceil(x2 / w * mw)))
                r2 = max(r1 + 1, int(np.ceil(y2 / h * mh)))
                region = fmap[:, r1:r2, c1:c2].reshape(fmap.shape[0], -1)
                if name == "tip":
                    parts.append(np.array([region.max(), region.mean(), np.percentile(region, 90)]))
                else:
                    parts += [region.mean(axis=1), region.max(axis=1)]
            edge = float(x1 <= 2 or y1 <= 2 or x2 >= w - 2 or y2 >= h - 2)
            geometry = np.array(
                [(x2 - x1) * (y2 - y1) / (w * h), (x2 - x1) / max(1, y2 - y1), edge]
            )
            onehot = np.array([float(inst.tool_class == c) for c in CLASSES])
            rows[inst.id] = np.concatenate([*parts, geometry, onehot])
    return np.stack([rows[i.id] for i in instances])


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    instances = [i for i in read_labels() if i.tool_class]
    x = features(instances)
    y = np.array([i.hidden for i in instances], dtype=int)
    videos = np.array([i.video for i in instances])
    out_of_fold = np.zeros(len(y))
    for video in np.unique(videos):
        test = videos == video
        if y[~test].sum() == 0:
            continue
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.05, class_weight="balanced", max_iter=2000)
        )
        model.fit(x[~test], y[~test])
        out_of_fold[test] = model.predict_proba(x[test])[:, 1]
    # evaluate() reads a "tip score" (high = visible): give it 1 - P(hidden).
    scores = {i.id: {"clf": float(1.0 - p)} for i, p in zip(instances, out_of_fold, strict=True)}
    print(f"{len(instances)} instances, {x.shape[1]} features, leave-one-video-out\n")
    print(table(evaluate(instances, scores, "clf")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
