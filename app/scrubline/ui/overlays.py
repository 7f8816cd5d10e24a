"""What to draw over a video frame, decided without Qt.

`plan_overlay` turns the analysed result nearest to the shown frame into a list of plain
marks (boxes with label and score, tips styled by visibility, a semi-transparent bleeding
mask with its area, a warning badge when a tip is hidden) plus a note saying where the marks
came from when the frame on screen is not itself an analysed one. `QtFrameView` only paints
what the plan says, so the choices (and the honesty note) are tested headless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scrubline.core.nearest import rule_text, within
from scrubline.core.overlay import (
    BLEEDING_COLOUR,
    BOX_PALETTE,
    TIP_HIDDEN_COLOUR,
    TIP_VISIBLE_COLOUR,
    OverlayFlags,
    box_colour,
    box_text,
)
from scrubline.core.results import BleedingMask, FrameResult
from scrubline.core.tips import NO_RULES, TipRules, badge_text, not_validated_note

OVERLAY_NAMES = {
    "boxes": "Instrument boxes",
    "tips": "Instrument tips",
    "bleeding": "Bleeding mask",
    "badge": "Tip-hidden warning",
}


@dataclass(frozen=True)
class BoxMark:
    box: tuple[float, float, float, float]  # source-frame pixels
    text: str
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class TipMark:
    point: tuple[float, float]
    visible: bool
    colour: tuple[int, int, int]


@dataclass
class OverlayPlan:
    boxes: list[BoxMark] = field(default_factory=list)
    tips: list[TipMark] = field(default_factory=list)
    mask_rgba: np.ndarray | None = None  # HxWx4 uint8, stretched over the whole frame
    bleeding_text: str | None = None
    badge: str | None = None
    # Instead of a badge, for tools whose tip visibility has no validated rule.
    tip_note: str | None = None
    note: str | None = None  # where the marks come from, when not from this very frame

    @property
    def empty(self) -> bool:
        return not (
            self.boxes or self.tips or self.mask_rgba is not None or self.badge or self.tip_note
        )


# The window draws with the exported pictures' colours (`scrubline.core.overlay`), so what a
# trainee sees in a PNG, a clip or the report matches the window; one palette, one colour rule.
PALETTE = BOX_PALETTE
VISIBLE_TIP_COLOUR = TIP_VISIBLE_COLOUR
HIDDEN_TIP_COLOUR = TIP_HIDDEN_COLOUR
label_colour = box_colour


def mask_rgba(
    bleeding: BleedingMask,
    colour: tuple[int, int, int] = BLEEDING_COLOUR,
    max_alpha: int = 120,
) -> np.ndarray:
    """A bleeding map as a translucent RGBA layer: transparent where it is not blood
    (`BleedingMask.blood`, the model's threshold applied once at the source), more opaque the
    surer the model is."""
    prob = np.asarray(bleeding.mask, dtype=np.uint8)
    if prob.ndim == 3:
        prob = prob[..., 0]
    blood = bleeding.blood
    rgba = np.zeros((*prob.shape[:2], 4), np.uint8)
    rgba[..., :3] = colour
    least = min(60, max_alpha // 2)
    alpha = least + prob.astype(np.int32) * (max_alpha - least) // 255
    rgba[..., 3] = np.where(blood, alpha, 0).astype(np.uint8)
    return rgba


def plan_overlay(
    result: FrameResult | None,
    shown_frame: int,
    shown_time_s: float,
    flags: OverlayFlags,
    *,
    period_s: float | None = None,
    mask_alpha: int = 120,
    tip_rules: TipRules | None = None,
) -> OverlayPlan:
    """The marks for the frame at `shown_frame`, drawn from `result` (the nearest analysed
    sample, `scrubline.core.nearest`). A sample further from the shown frame than that rule's gap
    limit for the case's sampling period `period_s` is not drawn: it would describe a different
    moment. The note says which sample the marks come from, and the rule. The tip-hidden badge
    is given only for tool classes that `tip_rules` validates; other tools in view get
    `tip_note` instead."""
    plan = OverlayPlan()
    if result is None:
        plan.note = "not analysed"
        return plan
    gap = shown_time_s - result.time_s
    rule = rule_text(period_s)
    if not within(result.time_s, shown_time_s, period_s):
        plan.note = (
            f"not analysed here: the nearest analysed frame, {result.frame}, is {abs(gap):.1f} s "
            f"away (overlays show {rule})"
        )
        return plan
    if result.frame != shown_frame:
        when = "earlier" if gap > 0 else "later"
        plan.note = f"overlays from analysed frame {result.frame}, {abs(gap):.2f} s {when} ({rule})"
    if result.out_of_body:
        # The analysis keeps no results here (menus, operating room, drapes): say why.
        where = f" (analysed frame {result.frame})" if result.frame != shown_frame else ""
        plan.note = f"out of body{where}: no tool, tip or bleeding results"
        return plan
    for inst in result.instruments:
        colour = label_colour(inst.label)
        if flags.boxes:
            plan.boxes.append(BoxMark(_box(inst.box), box_text(inst), colour))
        if inst.tip is not None and flags.tips:
            plan.tips.append(
                TipMark(
                    (float(inst.tip[0]), float(inst.tip[1])),
                    inst.tip_visible,
                    VISIBLE_TIP_COLOUR if inst.tip_visible else HIDDEN_TIP_COLOUR,
                )
            )
    if flags.badge:
        rules = tip_rules if tip_rules is not None else NO_RULES
        plan.badge = badge_text(result, rules)
        plan.tip_note = not_validated_note(result, rules)
    if result.bleeding is not None and flags.bleeding:
        plan.mask_rgba = mask_rgba(result.bleeding, max_alpha=mask_alpha)
        plan.bleeding_text = f"bleeding area {result.bleeding.fraction:.1%}"
    return plan


def _box(box: tuple[float, ...]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2
