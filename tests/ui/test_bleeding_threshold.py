"""One bleeding threshold everywhere: the model's manifest threshold is applied once, where the
wrapper makes the mask, and every consumer — the window's overlay plan, the pictures of the
PNG/MP4 exports and the report (`draw_overlays`), the stored case, the timeline's area track (which
the event detector and the report read) — marks exactly the same pixels.

The tiny segmenter's bleeding map spans 0..1 across the frame and the manifest's threshold is
0.35: a consumer that drew at the old 0.5 (or at any other value) would miss or add the pixels
between, and these tests would fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.models.manifest import load_manifest
from scrubline.core.models.wrappers import Segmenter
from scrubline.core.overlay import OverlayFlags, draw_overlays
from scrubline.core.results import BleedingMask, FrameResult
from scrubline.core.store import CaseStore
from scrubline.core.timeline import build_timeline
from scrubline.ui.overlays import plan_overlay
from tests import tiny_models

THRESHOLD = 0.35
W, H = 64, 48


def _segmenter(folder: Path) -> Segmenter:
    tiny_models.dense_segmenter(folder / "seg.onnx", W, H)
    path = tiny_models.manifest(
        folder / "seg.toml",
        model_id="seg",
        task="segmenter",
        onnx_file="seg.onnx",
        outputs=[("bleeding", "bleeding_mask")],
        width=W,
        height=H,
    )
    path.write_text(path.read_text().replace("bleeding = 0.5", f"bleeding = {THRESHOLD}"))
    return Segmenter(load_manifest(path))


def _gradient_frame() -> np.ndarray:
    """Red minus green rises slowly from left to right, so the tiny model's blood probability
    sigmoid(40 * (r - g - 0.3)) runs from about 0.02 to 0.98 across the columns, several
    columns between each of 0.2, 0.35 and 0.5."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[..., 0] = np.linspace(91, 142, W)[None, :].round().astype(np.uint8)
    frame[..., 1] = 40
    return frame


@pytest.fixture
def decided(tmp_path: Path) -> tuple[FrameResult, np.ndarray]:
    model = _segmenter(tmp_path)
    frame = _gradient_frame()
    raw = model._run(model.to_tensor([frame]))["bleeding_mask"][0, 0]
    # The band that separates a correct consumer from one with its own threshold.
    assert ((raw >= THRESHOLD) & (raw < 0.5)).any() and ((raw >= 0.2) & (raw < THRESHOLD)).any()
    (result,) = model.predict([frame], (W, H))
    return result, raw >= THRESHOLD


def test_the_wrapper_applies_the_manifest_threshold_once(decided) -> None:  # type: ignore[no-untyped-def]
    result, expected = decided
    assert result.bleeding is not None
    assert np.array_equal(result.bleeding.blood, expected)
    assert result.bleeding.fraction == pytest.approx(expected.mean())
    assert (result.bleeding.mask[~expected] == 0).all() and (
        result.bleeding.mask[expected] > 0
    ).all()


def test_window_and_pictures_draw_the_same_pixels(decided) -> None:  # type: ignore[no-untyped-def]
    result, expected = decided
    result.frame, result.time_s = 3, 0.1
    plan = plan_overlay(result, 3, 0.1, OverlayFlags())
    assert plan.mask_rgba is not None
    assert np.array_equal(plan.mask_rgba[..., 3] > 0, expected)  # the window
    grey = np.full((H, W, 3), 128, np.uint8)
    drawn = draw_overlays(grey, result, labels=False)  # PNG/MP4 exports and report key frames
    tinted = (drawn != grey).any(axis=-1)
    # The outline is anti-aliased, so compare away from the edge (a threshold of 0.5 or 0.2
    # would move the edge by five or more columns).
    edge = int(np.argmax(expected[H // 2]))
    away = np.abs(np.arange(W) - edge) >= 2
    assert np.array_equal(tinted[:, away], expected[:, away])


def test_the_stored_case_and_the_timeline_keep_the_same_area(tmp_path: Path, decided) -> None:  # type: ignore[no-untyped-def]
    result, expected = decided
    result.frame, result.time_s = 0, 0.0
    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        store.set_meta("video", {"width": W, "height": H})
        store.set_meta("settings", {"fps": 5.0})
        store.write_results([result])
        stored = store.result_at(0)
        timeline = build_timeline(store)
    assert stored is not None and stored.bleeding is not None
    assert np.array_equal(stored.bleeding.blood, expected)
    assert timeline.bleeding[0] == pytest.approx(expected.mean())  # area, episodes, event, report


def test_a_case_written_before_keeps_its_measured_area() -> None:
    """Older cases stored the raw probability map: their blood is the `fraction` most probable
    pixels (the fraction was measured at the model's threshold), not every non-zero pixel."""
    raw = np.array([[10, 60, 120, 200]], np.uint8)
    legacy = BleedingMask(raw, 0.5)
    assert legacy.blood.tolist() == [[False, False, True, True]]
    assert BleedingMask(raw, 0.0).blood.sum() == 0


def test_the_gate_clears_a_frame_without_blood() -> None:
    mask = BleedingMask.from_probability(np.full((4, 4), 0.9), 0.5)
    kept = FrameResult(0, 0.0, bleeding=mask, scores={"gate:blood_present": 0.8})
    kept.gate_bleeding("gate:blood_present", 0.5)
    assert kept.bleeding is not None and kept.bleeding.fraction == 1.0
    cleared = FrameResult(0, 0.0, bleeding=mask, scores={"gate:blood_present": 0.2})
    cleared.gate_bleeding("gate:blood_present", 0.5)
    assert cleared.bleeding is not None and cleared.bleeding.fraction == 0.0
    assert not cleared.bleeding.blood.any()
    ungated = FrameResult(0, 0.0, bleeding=mask)  # no gate model ran: the mask stays
    ungated.gate_bleeding("gate:blood_present", 0.5)
    assert ungated.bleeding is not None and ungated.bleeding.fraction == 1.0
