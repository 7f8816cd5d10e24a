"""The bundled vision model (`scrubline-vision`): it loads through the registry, matches its
manifest, gives sane instrument, tip and bleeding maps and class-aware tool boxes named by its
manifest (the detector contract, on generated frames whose tool boxes are known); on the real
data (skipped when the shared data folder is absent) it finds the labelled instruments of
EndoVis frames and the labelled tools of m2cai16 frames."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from scrubline.core.demo import DEMO_SIZE, demo_frame_drawer, demo_tool_boxes
from scrubline.core.models import Segmenter, load_model, load_registry
from scrubline.core.tools import TOOL_NAMES

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
    assert manifest.labels == TOOL_NAMES
    assert {o.role for o in manifest.outputs} == {
        "instrument_mask",
        "tip_map",
        "bleeding_mask",
        "tool_heatmap",
        "tool_size",
        "tool_offset",
        "blood_present",
    }
    # It carries the bleeding gate's head (models/train/bundle_gate.py), so a default analysis
    # runs one network: neither the HSV baseline nor the separate gate.
    assert {"bleeding-hsv", "bleeding-gate"} <= set(manifest.extra.get("supersedes", []))
    chosen = {m.id for m in registry.frame_models()}
    assert MODEL_ID in chosen and not {"bleeding-hsv", "bleeding-gate"} & chosen


def test_manifest_is_complete(manifest) -> None:
    for key in (
        "instrument",
        "tip",
        "bleeding",
        "blood_present",
        "min_instrument_area",
        "tool_score",
    ):
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
        assert value.shape == (3, *spec.shape[1:])
        assert value.dtype == np.float32
        assert np.isfinite(value).all()
        assert value.min() >= 0.0 and value.max() <= 1.0
    # the batch dimension does not change a frame's result
    single = model._run(model.to_tensor([_resized(model, frame)]))
    for role, value in single.items():
        np.testing.assert_allclose(value[0], outputs[role][0], atol=1e-4)


def test_sane_maps_on_a_generated_frame(model: Segmenter) -> None:
    frame = _synthetic_frame()
    (result,) = model.predict([_resized(model, frame)], (frame.shape[1], frame.shape[0]))
    assert result.bleeding is not None
    assert result.bleeding.mask.dtype == np.uint8
    assert result.bleeding.fraction == pytest.approx(SYNTHETIC_BLOOD_FRACTION, abs=0.01)
    height, width = frame.shape[:2]
    for inst in result.instruments:
        x1, y1, x2, y2 = inst.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert inst.label in TOOL_NAMES
        assert 0.0 <= inst.score <= 1.0 and 0.0 <= inst.tip_score <= 1.0


@pytest.mark.xfail(
    strict=True,
    reason="known failure (card: failure modes): a flat grey frame is reported as a specimen bag "
    "(its threshold is the lowest, 0.1, and the bag is a large pale object); the in-body gate "
    "is meant to keep such frames away from the detector",
)
def test_a_flat_grey_frame_holds_no_tool(model: Segmenter) -> None:
    blank = np.full((480, 854, 3), 128, np.uint8)
    (empty,) = model.predict([_resized(model, blank)], (854, 480))
    assert empty.instruments == []


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


@pytest.mark.parametrize("t", [3.0, 12.0, 33.0, 50.0])
def test_detector_contract_on_generated_demo_frames(model: Segmenter, t: float) -> None:
    """The generated demo scene (its tools' boxes known from the drawing): every tool is found
    with its class and a box overlapping it by IoU >= 0.5, boxes lie in the frame, labels come
    from the manifest, and nothing else is reported."""
    width, height = DEMO_SIZE
    frame = demo_frame_drawer(width, height)(0, t)
    truth = demo_tool_boxes(t, width, height)
    (result,) = model.predict([_resized(model, frame)], (width, height))
    for inst in result.instruments:
        x1, y1, x2, y2 = inst.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert inst.label in model.manifest.labels
        assert model.manifest.threshold("tool_score", 0.3) <= inst.score <= 1.0
    for name, box in truth:
        matches = [i for i in result.instruments if i.label == name and _iou(i.box, box) >= 0.5]
        assert matches, f"{name} at {box} not found in {result.instruments}"
    assert len(result.instruments) == len(truth)


@pytest.mark.parametrize("op", [1, 3])
def test_real_endovis_frames(model: Segmenter, op: int) -> None:
    """Sanity on real frames (the bundled model was trained on all EndoVis frames, so this
    checks the export and the pipeline, not generalisation: see the card for held-out numbers)."""
    import cv2

    root = _data_dir() / "endovis15" / "rigid_training" / f"OP{op}"
    if not root.is_dir():
        pytest.skip(f"real data not present at {_data_dir()}")
    inter = union = 0
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
    assert inter / union > 0.5


def test_real_m2cai16_frames(model: Segmenter) -> None:
    """Sanity on real m2cai16 frames with their boxes (the bundled model was trained on all of
    them, so this checks the export, the decoding and the class order, not generalisation:
    the card has the held-out numbers)."""
    import xml.etree.ElementTree as ET

    import cv2

    root = _data_dir() / "m2cai16_tool_locations"
    if not root.is_dir():
        pytest.skip(f"real data not present at {_data_dir()}")
    found = total = 0
    for xml in sorted((root / "Annotations").glob("v*.xml"))[::150]:
        frame = cv2.imread(str(root / "JPEGImages" / f"{xml.stem}.jpg"))[..., ::-1]
        (result,) = model.predict([_resized(model, frame)], (frame.shape[1], frame.shape[0]))
        for obj in ET.parse(xml).getroot().iter("object"):
            box = tuple(
                float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")
            )
            total += 1
            name = obj.findtext("name")
            found += any(i.label == name and _iou(i.box, box) >= 0.5 for i in result.instruments)
    assert total >= 15
    assert found / total >= 0.6


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
