"""Where the vision network's files live, its id and version, and the seed and thread count
that every `python -m models.train.vision` command shares (`vision.py` is the entry point; each
command lives in its own module beside this one).

Kept apart so that training, export, evaluation, the manifest and the overlays all read the same
paths and settings without importing each other.
"""

from __future__ import annotations

from models.train.vision_data import REPO

RUNS = REPO / "models" / "train" / "runs"
MODELS = REPO / "models"
ONNX_PATH = MODELS / "scrubline-vision.onnx"
MANIFEST_PATH = MODELS / "scrubline-vision.toml"
MODEL_ID = "scrubline-vision"
VERSION = "1.1.0"
SEED = 0
THREADS = 2


def load_torch():
    """torch, limited to the shared THREADS (imported late: only training needs it)."""
    import torch

    torch.set_num_threads(THREADS)
    return torch
