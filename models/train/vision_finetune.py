"""`python -m models.train.vision --finetune-bleeding IMAGES MASKS -o DIR`: fine-tune the
bundled network's bleeding head on a user's own masks (stage 2 of the UBE study), holding the
instrument, tip and tool outputs to the bundled network's (distillation), and write a model
and manifest with the same id that replaces the bundled one when the app is pointed at DIR.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
from models.train.vision_config import MANIFEST_PATH, ONNX_PATH, SEED, load_torch
from models.train.vision_data import Augment, Sample, make_example
from models.train.vision_export import export_onnx, load_onnx_weights
from models.train.vision_train import collate


def finetune_bleeding(
    images: Path, masks: Path, output: Path, steps: int = 600, source: Path = ONNX_PATH
) -> None:
    """Fine-tune on pairs `IMAGES/<stem>.<ext>` + `MASKS/<stem>.<ext>` (mask > 0 = blood).

    Starts from the bundled ONNX weights; every parameter may move, but the instrument and tip
    outputs are held to the original network's outputs (distillation), so improving the blood
    head does not silently degrade the instrument head. Writes a model and manifest with the
    same id into `output`: point the app at that folder (`--models`) and it replaces the
    bundled model."""
    torch = load_torch()
    import copy

    import cv2
    from models.train.vision_data import WORK_H, WORK_W
    from torch.nn import functional as F

    pairs = []
    mask_files = {p.stem: p for p in masks.iterdir() if p.is_file()}
    for img in sorted(images.iterdir()):
        if img.stem in mask_files:
            pairs.append((img, mask_files[img.stem]))
    if not pairs:
        raise SystemExit(f"no image/mask pairs with matching names in {images} and {masks}")
    data = []
    for img, msk in pairs:
        rgb = cv2.resize(
            cv2.imread(str(img))[..., ::-1], (WORK_W, WORK_H), interpolation=cv2.INTER_AREA
        )
        m = cv2.resize(
            (cv2.imread(str(msk), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8),
            (WORK_W, WORK_H),
            interpolation=cv2.INTER_NEAREST,
        )
        data.append(
            Sample(
                source="user", group="user", name=img.stem, index=-1, fold=0, image=rgb, bleeding=m
            )
        )
    print(f"fine-tuning on {len(data)} image/mask pairs")
    model = load_onnx_weights(source)
    teacher = copy.deepcopy(model).eval()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
    augment = Augment()
    for step in range(steps):
        rng = np.random.default_rng([SEED, step])
        batch = collate(
            [make_example(data[rng.integers(len(data))], rng, augment) for _ in range(8)]
        )
        outputs = model(batch["image"], logits=True)
        inst, tip, bleed = outputs[:3]
        with torch.no_grad():
            taught = teacher(batch["image"], logits=True)
        t_inst, t_tip = taught[:2]
        target = batch["bleeding"].unsqueeze(1)
        p = torch.sigmoid(bleed)
        loss = (
            F.binary_cross_entropy_with_logits(bleed, target)
            + 1
            - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        )
        loss = (
            loss
            + F.mse_loss(torch.sigmoid(inst), torch.sigmoid(t_inst))
            + F.mse_loss(torch.sigmoid(tip), torch.sigmoid(t_tip))
        )
        for mine, theirs in zip(outputs[3:], taught[3:], strict=True):  # 2.x tool outputs
            loss = loss + F.mse_loss(torch.sigmoid(mine), torch.sigmoid(theirs))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}/{steps} loss {float(loss):.3f}")
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    export_onnx(model, output / "scrubline-vision.onnx")
    text = MANIFEST_PATH.read_text()
    bundled = tomllib.loads(text)["version"]
    text = text.replace(f'version = "{bundled}"', f'version = "{bundled}+finetuned"')
    text = text.replace('card = "scrubline-vision.md"\n', "")
    head, _, _ = text.partition("[metrics]")
    head = head.replace('headline_metric = "instrument_dice"\n', "")
    (output / "scrubline-vision.toml").write_text(
        head
        + "[metrics]\n# fine-tuned on the user's bleeding masks: the bundled metrics no longer apply\n"
    )
    print(f"wrote {output}")
