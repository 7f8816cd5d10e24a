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

    def merge(self, other: FrameResult) -> None:
        """Fold another model's output for the same frame into this one."""
        self.instruments.extend(other.instruments)
        if other.bleeding is not None:
            self.bleeding = other.bleeding
        self.scores.update(other.scores)
