"""The raster overlay renderer: what is drawn where, at any picture scale, and nothing more."""

from __future__ import annotations

import numpy as np
import pytest

from scrubline.core.overlay import (
    BADGE_COLOUR,
    BLEEDING_COLOUR,
    NOTE_COLOUR,
    TIP_HIDDEN_COLOUR,
    TIP_VISIBLE_COLOUR,
    box_colour,
    draw_overlays,
)
from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.tips import ClassRule, TipRules

VALIDATED = TipRules({name: ClassRule(name, True, 0.5) for name in ("grasper", "hook")})

GREY = 90


def _canvas(width: int = 640, height: int = 360) -> np.ndarray:
    return np.full((height, width, 3), GREY, np.uint8)


def _close(pixel: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= tol)


def _result(*instruments: Instrument, bleeding: BleedingMask | None = None) -> FrameResult:
    return FrameResult(frame=10, time_s=0.4, instruments=list(instruments), bleeding=bleeding)


def test_returns_a_copy_and_leaves_the_input_alone() -> None:
    image = _canvas()
    before = image.copy()
    out = draw_overlays(
        image, _result(Instrument("grasper", 0.9, (10, 10, 100, 100), (100, 100), 0.9, True))
    )
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, before)
    assert not np.array_equal(out, image)
    blank = draw_overlays(image, None)
    assert np.array_equal(blank, image) and blank is not image


def test_box_is_drawn_at_the_scaled_place() -> None:
    # Source frame 1280x720 drawn onto a 640x360 picture: coordinates halve.
    inst = Instrument("grasper", 0.87, (200, 300, 600, 500), None, 0.0, True)
    by_size = draw_overlays(_canvas(), _result(inst), source_size=(1280, 720), labels=False)
    by_scale = draw_overlays(_canvas(), _result(inst), scale=(0.5, 0.5), labels=False)
    assert np.array_equal(by_size, by_scale)
    colour = box_colour("grasper")
    assert _close(by_size[200, 100], colour)  # left edge, halfway down: x=100, y=150..250
    assert _close(by_size[200, 300], colour)  # right edge
    assert _close(by_size[200, 200], (GREY, GREY, GREY), tol=0)  # inside the box: untouched
    assert _close(by_size[200, 400], (GREY, GREY, GREY), tol=0)  # where the unscaled box would be


def test_label_text_only_with_labels() -> None:
    inst = Instrument("grasper", 0.87, (100, 150, 300, 300), None, 0.0, True)
    with_labels = draw_overlays(_canvas(), _result(inst))
    without = draw_overlays(_canvas(), _result(inst), labels=False)
    above = (slice(120, 149), slice(100, 200))  # the label sits on the box's top edge
    assert not np.array_equal(with_labels[above], without[above])


def test_visible_tip_is_filled_and_hidden_tip_is_a_ring_with_a_badge() -> None:
    visible = Instrument("grasper", 0.9, (50, 50, 200, 200), (200, 200), 0.9, True)
    hidden = Instrument("hook", 0.9, (300, 100, 450, 250), (450, 250), 0.1, False)
    out = draw_overlays(
        _canvas(), _result(visible, hidden), boxes=False, labels=False, tip_rules=VALIDATED
    )
    assert _close(out[200, 200], TIP_VISIBLE_COLOUR)
    assert _close(out[250, 450], (GREY, GREY, GREY), tol=0)  # hollow: centre untouched
    ring = out[235:265, 435:465].reshape(-1, 3)
    assert any(_close(p, TIP_HIDDEN_COLOUR) for p in ring)
    corner = out[:40, -160:]
    assert (np.abs(corner.astype(int) - np.array(TIP_HIDDEN_COLOUR)).max(axis=2) < 30).sum() > 100
    no_badge = draw_overlays(
        _canvas(),
        _result(visible, hidden),
        boxes=False,
        labels=False,
        badge=False,
        tip_rules=VALIDATED,
    )
    assert np.array_equal(no_badge[:40, -160:], _canvas()[:40, -160:])
    only_visible = draw_overlays(
        _canvas(), _result(visible), boxes=False, labels=False, tip_rules=VALIDATED
    )
    assert np.array_equal(only_visible[:40, -160:], _canvas()[:40, -160:])


def test_unvalidated_tool_gets_a_muted_note_not_the_badge() -> None:
    """A hidden tip of a class without a validated rule (no rules, or the rule says not
    validated) draws no warning badge: a grey note says visibility is not validated."""
    hidden = Instrument("hook", 0.9, (300, 100, 450, 250), (450, 250), 0.1, False)
    unvalidated = TipRules({"hook": ClassRule("hook", False, 0.5)})
    for rules in (None, unvalidated):
        out = draw_overlays(_canvas(), _result(hidden), boxes=False, labels=False, tip_rules=rules)
        corner = out[:40, -260:].astype(int)
        orange = (np.abs(corner - np.array(BADGE_COLOUR)).max(axis=2) < 30).sum()
        grey_note = (np.abs(corner - np.array(NOTE_COLOUR)).max(axis=2) < 10).sum()
        assert orange == 0 and grey_note > 100


def test_bleeding_mask_is_resized_and_blended_where_above_threshold() -> None:
    prob = np.zeros((24, 32), np.float32)
    prob[:, 16:] = 0.9  # right half is blood
    prob[:12, :16] = 0.4  # below the model's 0.5 threshold: not drawn
    decided = BleedingMask.from_probability(prob, 0.5)
    out = draw_overlays(_canvas(), _result(bleeding=decided), labels=False)
    right = out[180, 500]
    assert right[0] > GREY and right[2] > GREY and right[1] < GREY  # tinted towards magenta
    assert _close(out[80, 100], (GREY, GREY, GREY), tol=0)
    assert _close(out[300, 100], (GREY, GREY, GREY), tol=0)
    # A model with a lower threshold marks the weak region, and the drawing follows it.
    low = draw_overlays(
        _canvas(), _result(bleeding=BleedingMask.from_probability(prob, 0.3)), labels=False
    )
    assert not _close(low[80, 100], (GREY, GREY, GREY), tol=0)
    # The area label is printed at the top left.
    labelled = draw_overlays(_canvas(), _result(bleeding=BleedingMask(prob, 0.5)))
    region = labelled[:30, :150].reshape(-1, 3)
    assert any(_close(p, BLEEDING_COLOUR, tol=10) for p in region)


def test_layers_can_be_switched_off() -> None:
    inst = Instrument("grasper", 0.9, (50, 50, 200, 200), (200, 200), 0.9, True)
    prob = np.full((24, 32), 255, np.uint8)
    out = draw_overlays(
        _canvas(),
        _result(inst, bleeding=BleedingMask(prob, 1.0)),
        boxes=False,
        tips=False,
        bleeding=False,
        labels=False,
        badge=False,
    )
    assert np.array_equal(out, _canvas())


def test_thumbnail_sized_pictures_and_bad_input() -> None:
    inst = Instrument("grasper", 0.9, (0, 0, 1920, 1080), (1900, 1070), 0.2, False)
    small = draw_overlays(_canvas(160, 90), _result(inst), source_size=(1920, 1080))
    assert small.shape == (90, 160, 3)
    with pytest.raises(ValueError):
        draw_overlays(_canvas(), None, scale=(1, 1), source_size=(10, 10))
    with pytest.raises(ValueError):
        draw_overlays(np.zeros((10, 10), np.uint8), None)
    # Non-ASCII labels do not break OpenCV's text drawing: the box and a label are drawn.
    accented = Instrument("pince à clip", 0.5, (10, 50, 90, 130))
    with_label = draw_overlays(_canvas(), _result(accented))
    assert _close(with_label[90, 10], box_colour("pince à clip"))
    unlabelled = draw_overlays(_canvas(), _result(accented), labels=False)
    assert not np.array_equal(with_label[20:50, 10:150], unlabelled[20:50, 10:150])
