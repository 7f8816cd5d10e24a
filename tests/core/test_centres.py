"""Decoding class-aware tool boxes from centre heatmaps (`scrubline.core.models.centres`): peaks,
suppression, box geometry, labels and each tool's tip from the dense maps."""

from __future__ import annotations

import numpy as np
import pytest

from scrubline.core.models.centres import CentreBox, decode_centres, tools_from_centres

H, W = 48, 64
LABELS = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag")


def _maps(peaks: list[tuple[int, int, int, float, float, float]]):
    """peaks: (class, y, x, score, box width, box height) -> heatmap, size, offset with a small
    Gaussian around every peak (as a trained heatmap looks)."""
    heat = np.zeros((len(LABELS), H, W), np.float32)
    size = np.zeros((2, H, W), np.float32)
    offset = np.full((2, H, W), 0.5, np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    for c, y, x, score, bw, bh in peaks:
        blob = score * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))
        heat[c] = np.maximum(heat[c], blob)
        size[:, y, x] = (bw, bh)
    return heat, size, offset


def test_one_peak_gives_one_box_with_its_class_size_and_centre() -> None:
    heat, size, offset = _maps([(2, 24, 32, 0.9, 0.25, 0.5)])
    offset[:, 24, 32] = (0.0, 0.0)
    (found,) = decode_centres(heat, size, offset, score_threshold=0.3)
    assert found.cls == 2 and found.score == pytest.approx(0.9)
    x1, y1, x2, y2 = found.box
    assert (x1 + x2) / 2 == pytest.approx(32 / W) and (y1 + y2) / 2 == pytest.approx(24 / H)
    assert x2 - x1 == pytest.approx(0.25) and y2 - y1 == pytest.approx(0.5)


def test_the_neighbours_of_a_peak_are_not_boxes_of_their_own() -> None:
    heat, size, offset = _maps([(0, 10, 10, 0.8, 0.1, 0.1), (0, 30, 50, 0.6, 0.2, 0.2)])
    found = decode_centres(heat, size, offset, score_threshold=0.3)
    assert [(f.cls, round(f.score, 2)) for f in found] == [(0, 0.8), (0, 0.6)]


def test_below_the_threshold_nothing_and_at_most_max_detections() -> None:
    heat, size, offset = _maps([(1, 10, 10, 0.2, 0.1, 0.1)])
    assert decode_centres(heat, size, offset, score_threshold=0.3) == []
    many = [(0, 5 + 6 * (i // 8), 4 + 7 * (i % 8), 0.5 + i / 100, 0.05, 0.05) for i in range(30)]
    heat, size, offset = _maps(many)
    found = decode_centres(heat, size, offset, score_threshold=0.3, max_detections=5)
    assert len(found) == 5
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)


def test_two_classes_on_one_tool_keep_the_more_confident_only() -> None:
    heat, size, offset = _maps([(0, 24, 32, 0.7, 0.3, 0.3), (1, 24, 33, 0.5, 0.3, 0.3)])
    found = decode_centres(heat, size, offset, score_threshold=0.3)
    assert [f.cls for f in found] == [0]
    # two peaks of one class a few cells apart on one tool: one box
    heat, size, offset = _maps([(0, 24, 30, 0.7, 0.4, 0.4), (0, 24, 34, 0.6, 0.4, 0.4)])
    assert len(decode_centres(heat, size, offset, score_threshold=0.3)) == 1
    # two tools side by side of different classes both stay
    heat, size, offset = _maps([(0, 24, 10, 0.7, 0.2, 0.3), (1, 24, 50, 0.5, 0.2, 0.3)])
    assert {f.cls for f in decode_centres(heat, size, offset, score_threshold=0.3)} == {0, 1}


def test_boxes_are_clipped_to_the_frame() -> None:
    heat, size, offset = _maps([(3, 1, 1, 0.9, 0.6, 0.6)])
    (found,) = decode_centres(heat, size, offset, score_threshold=0.3)
    assert all(0.0 <= v <= 1.0 for v in found.box)
    assert found.box[0] == 0.0 and found.box[1] == 0.0


def test_mismatched_shapes_are_refused() -> None:
    heat, size, _ = _maps([])
    with pytest.raises(ValueError, match="do not match"):
        decode_centres(heat, size[:, :10], None)


def test_tools_carry_manifest_labels_frame_pixels_and_the_tip_inside_their_box() -> None:
    boxes = [CentreBox(2, 0.9, (0.5, 0.25, 1.0, 0.75)), CentreBox(0, 0.6, (0.0, 0.0, 0.25, 0.25))]
    instrument = np.zeros((96, 128), np.float32)
    instrument[30:60, 70:128] = 0.9  # the hook, entering from the right
    instrument[2:20, 2:30] = 0.9  # the grasper
    tip = np.zeros((96, 128), np.float32)
    tip[44:47, 70:73] = 0.95  # the hook's working end
    tip[10, 120] = 0.99  # outside the grasper's box: must not be its tip
    tools = tools_from_centres(
        boxes,
        LABELS,
        (854, 480),
        instrument_prob=instrument,
        tip_prob=tip,
        instrument_threshold=0.5,
        tip_threshold=0.9,
    )
    hook, grasper = tools
    assert (hook.label, grasper.label) == ("Hook", "Grasper")
    assert hook.box == pytest.approx((427.0, 120.0, 854.0, 360.0))
    assert hook.tip_visible and hook.tip is not None
    assert hook.tip[0] == pytest.approx(71.5 * 854 / 128, abs=8)
    assert hook.tip[1] == pytest.approx(45.5 * 480 / 96, abs=8)
    # no tip-map peak inside the grasper's box: an estimated tip on its pixels, not visible
    assert not grasper.tip_visible and grasper.tip is not None
    assert grasper.tip[0] <= 0.25 * 854 and grasper.tip[1] <= 0.25 * 480


def test_an_unknown_class_index_is_named_not_dropped() -> None:
    (tool,) = tools_from_centres([CentreBox(9, 0.5, (0.1, 0.1, 0.2, 0.2))], LABELS, (100, 100))
    assert tool.label == "class 9" and tool.tip is None
