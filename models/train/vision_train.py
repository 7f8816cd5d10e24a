"""`python -m models.train.vision --train`: train (or resume) the vision network and run a
trained checkpoint.

The loop draws each batch from the sources with SOURCE_WEIGHTS (EndoVis rigid and robotic for
instruments and tips, laparoscopic and cholec80 frames for blood), trains each head only on the
frames that carry its labels (masked losses), and resumes from its checkpoint with the same
batches, so a stopped run ends as an uninterrupted one would (`training.py`). The fold models of
`vision_folds.py` and `vision_compare.py` are trained by the same function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from models.train import training
from models.train.vision_config import SEED, load_torch
from models.train.vision_data import Augment, Sample, make_example

# How often each source is drawn into a batch (within a source, frames are drawn uniformly).
SOURCE_WEIGHTS = {"rigid": 0.32, "robotic": 0.28, "cholec": 0.22, "lap": 0.18}
HEAD_WEIGHTS = {"instrument": 1.0, "tip": 1.0, "bleeding": 0.5}


def masked_losses(logits, batch, heads: tuple[str, ...]):
    """BCE + soft Dice per head, over the samples that carry that head's labels only."""
    torch = load_torch()
    from models.train.vision_net import HEADS
    from torch.nn import functional as F

    losses = {}
    for name, logit in zip(HEADS, logits, strict=True):
        if name not in heads:
            continue
        w = batch[f"w_{name}"]
        if float(w.sum()) == 0:
            losses[name] = logit.sum() * 0.0
            continue
        target = batch[name].unsqueeze(1)
        keep = w > 0
        lg, tg = logit[keep], target[keep]
        bce = F.binary_cross_entropy_with_logits(lg, tg)
        p = torch.sigmoid(lg)
        # Dice over the whole (masked) batch: frames with nothing to find do not divide by zero.
        dice = 1 - (2 * (p * tg).sum() + 1.0) / (p.sum() + tg.sum() + 1.0)
        losses[name] = bce + dice
    return losses


def collate(examples: list[dict[str, np.ndarray]]):
    torch = load_torch()
    return {k: torch.from_numpy(np.stack([e[k] for e in examples])) for k in examples[0]}


def train(
    samples: list[Sample],
    out_dir: Path,
    *,
    steps: int,
    held_out: set[int],
    heads: tuple[str, ...] = ("instrument", "tip", "bleeding"),
    batch_size: int = 8,
    lr: float = 3e-3,
    seed: int = SEED,
    checkpoint_every: int = 200,
) -> Path:
    """Train (or resume) a model; returns the final checkpoint path."""
    torch = load_torch()
    from models.train.vision_net import VisionNet, count_parameters

    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / training.FINAL).is_file():
        return out_dir / training.FINAL
    log = training.log_to(out_dir / "log.txt")
    pool = [s for s in samples if s.fold not in held_out]
    by_source: dict[str, list[Sample]] = {}
    for s in pool:
        by_source.setdefault(s.source, []).append(s)
    weights = {k: v for k, v in SOURCE_WEIGHTS.items() if k in by_source}
    if "bleeding" not in heads:  # instrument-only model: only labelled sources help
        weights = {k: v for k, v in weights.items() if k in ("rigid", "robotic")}
    names = list(weights)
    probs = np.array([weights[k] for k in names]) / sum(weights.values())

    torch.manual_seed(seed)
    # channels-last runs the depthwise convolutions and BatchNorm much faster on the CPU
    model = VisionNet().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = training.cosine_schedule(opt, steps, warmup_div=30, floor=0.02)
    run = training.Run(out_dir, model, opt, sched, steps, log, 50, checkpoint_every)
    start = run.resume()
    if start == 0:
        log(
            f"training {out_dir.name}: {count_parameters(model)} parameters, held out folds {sorted(held_out)}, "
            f"heads {heads}, {len(pool)} frames ({ {k: len(v) for k, v in by_source.items()} }), "
            f"{steps} steps of {batch_size}, seed {seed}"
        )
    augment = Augment()
    model.train()
    running: dict[str, float] = {}
    for step in range(start, steps):
        # One generator per step, derived from the seed: resuming gives the same batches.
        rng = np.random.default_rng([seed, step])
        picks = rng.choice(len(names), size=batch_size, p=probs)
        batch_samples = [by_source[names[i]][rng.integers(len(by_source[names[i]]))] for i in picks]
        batch = collate([make_example(s, rng, augment) for s in batch_samples])
        logits = model(batch["image"].contiguous(memory_format=torch.channels_last), logits=True)
        losses = masked_losses(logits, batch, heads)
        loss = sum(HEAD_WEIGHTS[k] * v for k, v in losses.items())
        training.optimise(loss, model.parameters(), opt, sched)
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) * 0.95 + float(v.detach()) * 0.05
        run.after_step(step + 1, running)
    return run.finish(steps=steps, held_out=sorted(held_out), heads=heads, seed=seed)


def load_trained(path: Path):
    torch = load_torch()
    from models.train.vision_net import VisionNet

    model = VisionNet()
    model.load_state_dict(torch.load(path, weights_only=False)["model"])
    model.eval()
    return model


def predict(model, inputs: list[np.ndarray], batch: int = 16) -> np.ndarray:
    """uint8 RGB frames at the input size -> float32 N×3×OUT_H×OUT_W maps (instrument, tip,
    bleeding), with the same arithmetic as the exported graph."""
    torch = load_torch()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            x = torch.from_numpy(
                np.stack(inputs[i : i + batch]).astype(np.float32) / 255.0
            ).permute(0, 3, 1, 2)
            maps = model(x.contiguous())
            out.append(torch.cat(maps, dim=1).numpy())
    return np.concatenate(out)
