"""The bundled vision model (`scrubline-vision`): it loads through the registry, matches its
manifest, and gives sane instrument, tip and bleeding outputs; on the real data (skipped when
the shared data folder is absent) it finds the labelled instruments of EndoVis frames."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from scrubline.core.models import Segmenter, load_model, load_registry

MODEL_ID = "scrubline-vision"


def _data_dir() -> Path:
    return Path(
        os.environ.get("SCRUBLINE_DATA", Path(__file__).parents[2].parent / "shared" / "data")
    )


@pytest.fixture(scope="module")
def manifest():
    registry = load_registry(include_bundled=True)
    assert MODEL_ID in registry.manifests, registry.problems
    return registry.get(MODEL_ID)


@pytest.fixture(scope="module")
def model(manifest) -> Segmenter:
    return load_model(manifest, threads=1)


# What `_synthetic_frame` draws at its default size: the instrument (shaft and jaw) spans this
# box (x1, y1, x2, y2), and the blood pool covers this fraction of the frame.
SYNTHETIC_SHAFT_BOX = (377, 146, 854, 262)
SYNTHETIC_BLOOD_FRACTION = math.pi * 45**2 / (854 * 480)


def _synthetic_frame(width: int = 854, height: int = 480) -> np.ndarray:
    """Pink tissue, a grey instrument shaft entering from the right edge with a darker jaw,
    and a pool of dark red: enough structure to exercise every output."""
    import cv2

    rng = np.random.default_rng(0)
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = (205, 140, 130)
    frame = np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
    cv2.line(frame, (width, height // 3), (width // 2, height // 2), (170, 170, 175), 28)
    cv2.line(
        frame, (width // 2, height // 2), (width // 2 - 50, height // 2 + 15), (60, 60, 65), 14
    )
    cv2.circle(frame, (width // 4, 3 * height // 4), 45, (150, 10, 20), -1)
    return frame


def _resized(model: Segmenter, frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(frame, model.input_size, interpolation=cv2.INTER_AREA)


def test_registry_lists_it_and_it_replaces_the_hsv_baseline(manifest) -> None:
    registry = load_registry(include_bundled=True)
    assert manifest.task == "segmenter"
    assert manifest.labels == ("instrument",)
    assert {o.role for o in manifest.outputs} == {"instrument_mask", "tip_map", "bleeding_mask"}
    assert "bleeding-hsv" in manifest.extra.get("supersedes", [])
    chosen = {m.id for m in registry.frame_models()}
    assert MODEL_ID in chosen and "bleeding-hsv" not in chosen


def test_manifest_is_complete(manifest) -> None:
    for key in ("instrument", "tip", "bleeding", "min_instrument_area"):
        assert 0.0 < manifest.threshold(key, -1.0) < 1.0, key
    for key in ("data", "data_licence", "split", "script", "seed"):
        assert key in manifest.training, key
    assert manifest.card is not None and manifest.card.is_file()
    headline = manifest.extra.get("headline_metric")
    if "eval_frames" in manifest.metrics:  # quality metrics are written once measured
        assert headline in manifest.metrics
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in manifest.metrics.values())
    # a few MB at most: it ships inside the app
    assert manifest.file.stat().st_size < 5_000_000


def test_outputs_match_the_manifest(model: Segmenter) -> None:
    frame = _synthetic_frame()
    tensor = model.to_tensor([_resized(model, frame)] * 3)  # dynamic batch
    outputs = model._run(tensor)
    for spec in model.manifest.outputs:
        value = outputs[spec.role]
        assert value.shape == (3, 1, spec.shape[2], spec.shape[3])
        assert value.dtype == np.float32
        assert np.isfinite(value).all()
        assert value.min() >= 0.0 and value.max() <= 1.0
    # the batch dimension does not change a frame's result
    single = model._run(model.to_tensor([_resized(model, frame)]))
    for role, value in single.items():
        np.testing.assert_allclose(value[0], outputs[role][0], atol=1e-4)


def test_sane_results_on_a_generated_frame(model: Segmenter) -> None:
    frame = _synthetic_frame()
    (result,) = model.predict([_resized(model, frame)], (frame.shape[1], frame.shape[0]))
    assert result.bleeding is not None
    assert result.bleeding.mask.dtype == np.uint8
    assert result.bleeding.fraction == pytest.approx(SYNTHETIC_BLOOD_FRACTION, abs=0.01)
    assert len(result.instruments) == 1, "one instrument is drawn"
    for inst in result.instruments:
        x1, y1, x2, y2 = inst.box
        assert 0 <= x1 < x2 <= frame.shape[1] and 0 <= y1 < y2 <= frame.shape[0]
        assert 0.0 <= inst.score <= 1.0 and 0.0 <= inst.tip_score <= 1.0
        assert inst.tip is not None
        # The box holds the drawn instrument, and the tip is at the jaw's end (377, 255).
        sx1, sy1, sx2, sy2 = SYNTHETIC_SHAFT_BOX
        assert x1 <= sx1 + 20 and x2 >= sx2 - 5 and y1 <= sy1 + 20 and y2 >= sy2 - 20
        assert math.dist(inst.tip, (377, 255)) < 40
    # a flat, featureless frame holds no instrument
    blank = np.full_like(frame, 128)
    (empty,) = model.predict([_resized(model, blank)], (frame.shape[1], frame.shape[0]))
    assert len(empty.instruments) <= 1


@pytest.mark.parametrize("op", [1, 3])
def test_real_endovis_frames(model: Segmenter, op: int) -> None:
    """Sanity on real frames (the bundled model was trained on all EndoVis frames, so this
    checks the export and the pipeline, not generalisation: see the card for held-out numbers)."""
    import cv2

    root = _data_dir() / "endovis15" / "rigid_training" / f"OP{op}"
    if not root.is_dir():
        pytest.skip(f"real data not present at {_data_dir()}")
    inter = union = 0
    found = 0
    for n in (2, 12, 22, 32):
        frame = cv2.imread(str(root / "Raw" / f"img_{n:02d}_raw.png"))[..., ::-1]
        gt = (
            cv2.imread(str(root / "Masks" / f"img_{n:02d}_instrument.png"), cv2.IMREAD_GRAYSCALE)
            > 0
        )
        outputs = model._run(model.to_tensor([_resized(model, frame)]))
        prob = cv2.resize(outputs["instrument_mask"][0, 0], (frame.shape[1], frame.shape[0]))
        pred = prob >= model.manifest.threshold("instrument", 0.5)
        inter += int((pred & gt).sum())
        union += int((pred | gt).sum())
        (result,) = model.predict([_resized(model, frame)], (frame.shape[1], frame.shape[0]))
        found += len(result.instruments)
    assert inter / union > 0.5
    assert found >= 4


def test_real_cholec80_clip_decodes_and_runs(model: Segmenter) -> None:
    import av

    clips = sorted((_data_dir() / "cholec80_clips").glob("g*/*.mp4"))
    if not clips:
        pytest.skip(f"real data not present at {_data_dir()}")
    with av.open(str(clips[0])) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    (result,) = model.predict([_resized(model, frame)], (frame.shape[1], frame.shape[0]))
    assert result.bleeding is not None and 0.0 <= result.bleeding.fraction <= 1.0
    height, width = frame.shape[:2]
    assert result.instruments, "the clip opens with an instrument in view"
    for inst in result.instruments:
        x1, y1, x2, y2 = inst.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
