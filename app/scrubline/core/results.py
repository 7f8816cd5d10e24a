"""What one analysed frame yields: instruments (box, tip, tip visibility), a bleeding mask,
classifier scores, and whether the camera is inside the body. These plain records flow from the
model wrappers through the analysis pipeline into the case store, and back out to timelines,
exports, the window and the report.

Coordinates are pixels of the source video frame (after rotation), origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Instrument:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    tip: tuple[float, float] | None = None
    tip_score: float = 0.0  # probability that the working end is in view and not occluded
    tip_visible: bool = False
    source: str = "model"  # "reviewer" once a reviewer's correction changed it (core.case)
    # A reviewer said whether the tip is visible (core.case): then `tip_visible` is a person's
    # label, shown whatever the model's tip rule (core.tips) says about the class.
    tip_reviewed: bool = False


@dataclass
class BleedingMask:
    """A low-resolution bleeding map (uint8) and the fraction of the frame it marks as blood.

    The model's threshold is applied once, where the map is made (`from_probability`, called by
    the model wrapper with the threshold from the model's manifest): a pixel is blood exactly
    when its value is non-zero, and there it holds the probability (1..255). Every consumer —
    the window's overlay, the PNG/MP4 exports, the report's key frames, the area on the
    timeline, the event detector — reads `blood`, so none can apply a threshold of its own.
    """

    mask: np.ndarray
    fraction: float

    @classmethod
    def from_probability(cls, prob: np.ndarray, threshold: float) -> BleedingMask:
        """Decide a probability map (float 0..1) at `threshold`: pixels below it become 0,
        pixels at or above it keep their probability (at least 1 of 255)."""
        prob = np.asarray(prob, dtype=np.float32)
        blood = prob >= threshold
        scaled = np.clip(prob * 255.0 + 0.5, 1, 255).astype(np.uint8)
        return cls(mask=np.where(blood, scaled, 0).astype(np.uint8), fraction=float(blood.mean()))

    @property
    def blood(self) -> np.ndarray:
        """The blood pixels (bool, the map's resolution). A case written before the threshold
        was applied at the source holds raw probabilities; their blood pixels are the
        `fraction` most probable ones (that fraction was measured at the model's threshold)."""
        mask = np.asarray(self.mask)
        if mask.ndim == 3:
            mask = mask[..., 0]
        marked = mask > 0
        if marked.mean() <= self.fraction + 0.5 / max(1, marked.size):
            return marked
        count = round(self.fraction * marked.size)
        if count <= 0:
            return np.zeros_like(marked)
        cut = np.sort(mask, axis=None)[::-1][count - 1]
        return mask >= cut

    def cleared(self) -> BleedingMask:
        """The same map with no blood (a frame the blood-present gate rejected)."""
        return BleedingMask(mask=np.zeros_like(self.mask), fraction=0.0)


# A segmenter output with this role scores whether the frame shows blood at all, stored as the
# score '<model id>:blood_present'; below the model's `blood_present` threshold the frame's
# bleeding mask is cleared (`FrameResult.gate_bleeding`).
GATE_LABEL = "blood_present"


@dataclass
class FrameResult:
    frame: int
    time_s: float
    instruments: list[Instrument] = field(default_factory=list)
    bleeding: BleedingMask | None = None
    scores: dict[str, float] = field(default_factory=dict)
    # The in-body gate's decision: False for a menu, the operating room, a drape, a black screen,
    # a trocar view; None where no in-body model ran (cases analysed before there was one).
    in_body: bool | None = None

    def instrument_at(self, x: float, y: float) -> Instrument | None:
        """The instrument whose box holds the point (source pixels); of several, the smallest
        box (the one a person pointing there most likely means)."""
        inside = [
            i for i in self.instruments if i.box[0] <= x <= i.box[2] and i.box[1] <= y <= i.box[3]
        ]
        if not inside:
            return None
        return min(inside, key=lambda i: (i.box[2] - i.box[0]) * (i.box[3] - i.box[1]))

    def merge(self, other: FrameResult) -> None:
        """Fold another model's output for the same frame into this one."""
        self.instruments.extend(other.instruments)
        if other.bleeding is not None:
            self.bleeding = other.bleeding
        self.scores.update(other.scores)
        if other.in_body is not None:
            self.in_body = other.in_body if self.in_body is None else self.in_body and other.in_body

    @property
    def out_of_body(self) -> bool:
        return self.in_body is False

    def gate(self) -> None:
        """An out-of-body frame keeps no tool, tip or bleeding result: whatever the image models
        found in a menu or the operating room is not surgery. The one place this is decided."""
        if self.out_of_body:
            self.instruments = []
            self.bleeding = None

    def gate_bleeding(self, score_key: str, threshold: float) -> None:
        """Clear the bleeding mask when the frame-level blood-present score `score_key` is
        below `threshold`: a colour-trained mask also marks red tissue, and a frame the gate
        says has no blood gets no mask and no area. Missing score or mask: nothing to do."""
        score = self.scores.get(score_key)
        if self.bleeding is not None and score is not None and score < threshold:
            self.bleeding = self.bleeding.cleared()
