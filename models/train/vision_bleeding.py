"""Refined HSV pseudo-masks for blood: the targets the vision network's bleeding head learns from.

This is stage 1 of the UBE bleeding study: with no surgeon-drawn bleeding masks available, a
colour rule labels frames and a small network learns from those labels (the network then
generalises a little beyond the rule: it smooths speckle, sees context, and runs in the same
pass as the instrument heads). The plain rule (`hsv_reference` in `bleeding_hsv.py`) marks
nearly every saturated red surface, which in laparoscopy is most of the tissue. Each refinement
below removes a kind of false positive we saw when looking at the frames:

* specular highlights and their red halo (wet tissue reflects the light source; the halo around
  a highlight is saturated red but it is a reflection, not blood);
* a tighter colour box: blood is a deep red, so green and blue are a small fraction of red
  (G/R, B/R bounds) and it is strongly saturated; very bright pixels are glare;
* a higher value floor (0.25 instead of 0.15): in dark pixels a few code values of sensor and
  compression noise swing saturation and hue widely, and the dark red-brown liver of the
  cholec80 frames (median value 0.22 under the looser rule) was most of what the rule marked
  there, while the fresh blood we looked at sits at value 0.35–0.85;
* crimson, not brown: hue at most +4° (fresh blood measured −14° to −2.5° on the bloody
  laparoscopic frames and −7° to −3° on the robotic blood spots; the lit liver of cholec80
  clip g57 sits around 0°), and a pixel darker than value 0.35 must be clearly crimson
  (hue ≤ −3°), because dark red-brown is where liver, clot and shadow overlap;
* a frame-relative bound: blood is redder than the tissue around it, so a pixel must be clearly
  redder than the frame's typical tissue (the 75th percentile of G/R inside the field of view).
  This removes whole-frame red casts from white balance and pink peritoneum;
* labelled instrument pixels are never blood (EndoVis masks);
* speckle removal: a small opening and a minimum blob area;
* on video, temporal consistency: a pixel is kept when the rule holds in at least two of three
  frames 80 ms apart (flicker from highlights and compression noise does not survive).

What it cannot fix (stated in the model card): dark liver and clotted blood share a colour, so
lit liver next to a frame's pale tissue can still be marked and very dark clotted blood is
missed; a frame that is mostly blood loses the relative bound's help (a lens covered in blood
gives an empty mask).
"""

from __future__ import annotations

import numpy as np
from models.train.bleeding_hsv import hsv_reference

SATURATION_MIN = 0.55
VALUE_MIN, VALUE_MAX = 0.25, 0.92
GREEN_RED_MAX = 0.35  # G/R: fresh and venous blood reflect little green
BLUE_RED_MAX = 0.55
RELATIVE_MARGIN = 0.12  # below the frame's 75th percentile of G/R
HUE_MAX_DEG = 4.0  # crimson, not brown
DARK_VALUE, DARK_HUE_MAX_DEG = 0.35, -3.0  # below this value only clearly crimson pixels
SPECULAR_VALUE, SPECULAR_SATURATION = 0.80, 0.35
HALO_FRACTION = 0.02  # dilation radius around highlights, as a fraction of the frame width
MIN_BLOB_FRACTION = 0.0002  # smaller blobs are speckle (about 15 px at 320x240)
FIELD_OF_VIEW_VALUE = 0.08  # darker pixels are the endoscope's black border


def specular_mask(rgb: np.ndarray) -> np.ndarray:
    """Highlights (bright, unsaturated) dilated to cover their red halo; rgb float 0..1."""
    import cv2

    value = rgb.max(axis=-1)
    saturation = (value - rgb.min(axis=-1)) / np.maximum(value, 1e-6)
    spec = ((value >= SPECULAR_VALUE) & (saturation <= SPECULAR_SATURATION)).astype(np.uint8)
    radius = max(1, round(HALO_FRACTION * rgb.shape[1]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(spec, kernel) > 0


def colour_rule(rgb8: np.ndarray, instrument: np.ndarray | None = None) -> np.ndarray:
    """The refined per-pixel rule before speckle removal (rgb uint8 HxWx3 → bool HxW)."""
    import cv2

    rgb = rgb8.astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    saturation = (value - rgb.min(axis=-1)) / np.maximum(value, 1e-6)
    chroma = value - rgb.min(axis=-1)
    hue_deg = 60.0 * (g - b) / np.maximum(chroma, 1e-6)  # red-centred hue, as in the baseline
    green_red = g / np.maximum(r, 1e-6)
    blue_red = b / np.maximum(r, 1e-6)
    fov = value >= FIELD_OF_VIEW_VALUE
    reference = float(np.percentile(green_red[fov], 75)) if fov.sum() > 100 else 1.0
    mask = (
        hsv_reference(rgb)
        & (saturation >= SATURATION_MIN)
        & (value >= VALUE_MIN)
        & (value <= VALUE_MAX)
        & (green_red <= GREEN_RED_MAX)
        & (blue_red <= BLUE_RED_MAX)
        & (green_red <= reference - RELATIVE_MARGIN)
        & (hue_deg <= HUE_MAX_DEG)
        & ((value >= DARK_VALUE) | (hue_deg <= DARK_HUE_MAX_DEG))
        & ~specular_mask(rgb)
    )
    if instrument is not None:
        grown = cv2.dilate(instrument.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        mask &= ~grown
    return mask


def clean(mask: np.ndarray) -> np.ndarray:
    """Opening plus a minimum blob area: isolated pixels are noise, not bleeding."""
    import cv2

    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(4.0, MIN_BLOB_FRACTION * mask.size)
    return keep[labels]


def refined_bleeding_mask(
    rgb8: np.ndarray,
    instrument: np.ndarray | None = None,
    neighbours: list[np.ndarray] | None = None,
) -> np.ndarray:
    """The pseudo-mask for one frame. `neighbours` are the same video's frames about 80 ms
    before and after (same size); when given, a pixel must pass the rule in two of the three."""
    mask = colour_rule(rgb8, instrument)
    if neighbours:
        votes = mask.astype(np.uint8)
        for other in neighbours:
            votes += colour_rule(other, instrument)
        mask = votes >= 2
    return clean(mask)
