"""What one analysed frame yields: instruments (box, tip, tip visibility), a bleeding mask and
classifier scores. These plain records flow from the model wrappers through the analysis
pipeline into the case store, and back out to timelines, exports, the window and the report.

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


@dataclass
class BleedingMask:
    """A low-resolution bleeding probability map (uint8, 0..255) and the area fraction above
    the model's threshold."""

    mask: np.ndarray
    fraction: float


@dataclass
class FrameResult:
    frame: int
    time_s: float
    instruments: list[Instrument] = field(default_factory=list)
    bleeding: BleedingMask | None = None
    scores: dict[str, float] = field(default_factory=dict)

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
