"""Draw one frame's analysis results onto its picture: instrument boxes with label and score, tip
points (visible filled, hidden hollow in another colour), the bleeding mask as a translucent
layer with its area, and a warning badge while a tip is hidden: only for tool classes whose
tip visibility is validated (`scrubline.core.tips`); tools of other classes get a muted note
"tip visibility not validated" in the badge's place instead.

Qt-free (numpy + OpenCV) so that the PDF report's key frames, the window's "export frame as PNG"
and "export clip as MP4" all draw exactly the same picture. The live player draws its own
vector overlays; this is the raster twin for everything that leaves the app.

Results are in pixels of the upright source frame; the picture may be a thumbnail or a scaled
frame, so callers pass either the scale factors or the source frame size.

Out-of-body frames (the in-body gate's "out": menus, the operating room with staff and patient,
drapes) are blurred beyond recognition in everything that leaves the app, unless the person
exporting turns it off, as clinical video-sharing tools do: `privacy_blur`, applied by
`draw_overlays` (`blur_out_of_body`), so the report's key frames, PNG and MP4 exports share it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from scrubline.core.results import FrameResult, Instrument
from scrubline.core.tips import NO_RULES, TipRules, badge_text, not_validated_note
from scrubline.core.tools import TOOL_NAMES, display_name

OVERLAY_KEYS = ("boxes", "tips", "bleeding", "badge")


@dataclass(frozen=True)
class OverlayFlags:
    """Which layers to draw (the window's View menu; the exported pictures follow it)."""

    boxes: bool = True
    tips: bool = True
    bleeding: bool = True
    badge: bool = True

    def with_(self, key: str, value: bool) -> OverlayFlags:
        if key not in OVERLAY_KEYS:
            raise KeyError(key)
        values = {k: getattr(self, k) for k in OVERLAY_KEYS}
        values[key] = value
        return OverlayFlags(**values)

    def as_dict(self) -> dict[str, bool]:
        return {k: getattr(self, k) for k in OVERLAY_KEYS}


# RGB. Blood is red, so the bleeding layer is magenta: red on red would hide what it marks.
BLEEDING_COLOUR = (255, 0, 200)
TIP_VISIBLE_COLOUR = (40, 220, 60)
TIP_HIDDEN_COLOUR = (255, 150, 0)
BADGE_COLOUR = (255, 150, 0)
NOTE_COLOUR = (90, 90, 90)  # the "not validated" note: muted, so it does not read as a warning
TEXT_DARK = (20, 20, 20)
TEXT_LIGHT = (255, 255, 255)
# Box colours by label, chosen to stay distinct from the tip and bleeding colours above.
BOX_PALETTE = (
    (0, 200, 255),
    (255, 230, 0),
    (170, 120, 255),
    (0, 255, 200),
    (255, 255, 255),
    (120, 180, 255),
    (255, 120, 120),
    (200, 255, 120),
)


def box_colour(label: str) -> tuple[int, int, int]:
    """A stable colour per label: the seven Cholec80 tools each get their own palette entry (no
    two share a colour); any other label by crc32 (not hash(): the same in every process)."""
    if label in TOOL_NAMES:
        return BOX_PALETTE[TOOL_NAMES.index(label) % len(BOX_PALETTE)]
    return BOX_PALETTE[zlib.crc32(label.encode("utf-8")) % len(BOX_PALETTE)]


def box_text(instrument: Instrument) -> str:
    """A box's label: the class and the model's score, or "(reviewer)" once a reviewer's
    correction changed it (the model's score does not belong to a class it did not give)."""
    name = display_name(instrument.label)
    if instrument.source == "reviewer":
        return f"{name} (reviewer)"
    return f"{name} {instrument.score:.2f}"


def _ascii(text: str) -> str:
    # OpenCV's Hershey fonts draw ASCII only; anything else would come out as '?'.
    return text.encode("ascii", "replace").decode("ascii")


OUT_OF_BODY_COLOUR = (190, 190, 200)
BLUR_CELLS = 16  # the blurred picture keeps about this many cells across: colour, no detail


def privacy_blur(rgb: np.ndarray) -> np.ndarray:
    """`rgb` blurred so that faces, screens and text cannot be made out: shrunk to about
    BLUR_CELLS cells across, then enlarged back smoothly (by way of a small smoothed copy, so no
    cell edge remains and a 4K frame costs no more than a thumbnail)."""
    import cv2

    height, width = rgb.shape[:2]
    cells_x = max(2, min(BLUR_CELLS, width))
    cells_y = max(2, min(height, round(BLUR_CELLS * height / max(width, 1))))
    small = cv2.resize(rgb, (cells_x, cells_y), interpolation=cv2.INTER_AREA)
    middle = cv2.resize(small, (cells_x * 4, cells_y * 4), interpolation=cv2.INTER_LINEAR)
    middle = cv2.GaussianBlur(middle, (0, 0), 2.0)
    return np.ascontiguousarray(cv2.resize(middle, (width, height), interpolation=cv2.INTER_LINEAR))


def _resolve_scale(
    image_size: tuple[int, int],
    scale: tuple[float, float] | None,
    source_size: tuple[int, int] | None,
) -> tuple[float, float]:
    if scale is not None and source_size is not None:
        raise ValueError("pass either scale or source_size, not both")
    if scale is not None:
        return float(scale[0]), float(scale[1])
    if source_size is not None:
        sw, sh = source_size
        if sw <= 0 or sh <= 0:
            raise ValueError(f"source_size must be positive, got {source_size}")
        return image_size[0] / float(sw), image_size[1] / float(sh)
    return 1.0, 1.0


def _label(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    colour: tuple[int, int, int],
    font_scale: float,
    thickness: int,
) -> None:
    """Text on a filled background, kept inside the picture."""
    import cv2

    text = _ascii(text)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    height, width = image.shape[:2]
    pad = max(1, thickness)
    x = int(min(max(origin[0], 0), max(0, width - tw - 2 * pad)))
    y = int(origin[1])
    if y - th - base - 2 * pad < 0:  # no room above: put it below the anchor
        y = min(height - 1, y + th + base + 2 * pad)
    cv2.rectangle(image, (x, y - th - base - 2 * pad), (x + tw + 2 * pad, y), colour, -1)
    # Dark text on light fills, light text on dark fills, so labels read on any box colour.
    ink = TEXT_DARK if sum(colour) > 380 else TEXT_LIGHT
    cv2.putText(
        image,
        text,
        (x + pad, y - base - pad),
        cv2.FONT_HERSHEY_SIMPLEX,
        font_scale,
        ink,
        thickness,
        cv2.LINE_AA,
    )


def draw_overlays(
    rgb: np.ndarray,
    result: FrameResult | None,
    *,
    scale: tuple[float, float] | None = None,
    source_size: tuple[int, int] | None = None,
    boxes: bool = True,
    tips: bool = True,
    bleeding: bool = True,
    labels: bool = True,
    badge: bool = True,
    bleeding_alpha: float = 0.45,
    text_scale: float = 1.0,
    tip_rules: TipRules | None = None,
    blur_out_of_body: bool = True,
) -> np.ndarray:
    """A copy of `rgb` (HxWx3 uint8) with `result` drawn on it.

    scale: (sx, sy) from source-frame pixels to `rgb` pixels; or source_size: the source frame's
        (width, height), from which the scale follows. Neither: the picture is the source frame.
    boxes / tips / bleeding / labels / badge: which layers to draw (labels covers the text on
        boxes and the bleeding area; badge is the "tip hidden" warning).
    The bleeding tint covers `result.bleeding.blood`: the model's own threshold, applied once
        where the map was made; there is no threshold to pass here.
    text_scale: text size relative to the default (a printed report shows pictures small, so it
        asks for larger text).
    tip_rules: which tool classes may carry the "TIP HIDDEN" badge (the case's rules,
        `Timeline.tip_rules`); without them no badge is drawn.
    blur_out_of_body: a frame the in-body gate put out of body is blurred (`privacy_blur`) and
        marked "out of body"; it has no results to draw. False shows it as it is (still marked).
    """
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB picture, got {rgb.shape} {rgb.dtype}")
    out = np.ascontiguousarray(rgb).copy()
    height, width = out.shape[:2]
    sx, sy = _resolve_scale((width, height), scale, source_size)
    if result is None:
        return out
    # Line widths and text grow with the picture so a thumbnail and a 1080p frame look alike.
    unit = max(1.0, min(width, height) / 360.0)
    thickness = max(1, round(unit))
    font_scale = 0.45 * unit * text_scale
    if result.out_of_body:
        if blur_out_of_body:
            out = privacy_blur(out)
        out_text = "out of body (blurred)" if blur_out_of_body else "out of body"
        _label(out, out_text, (2 * thickness, 0), OUT_OF_BODY_COLOUR, font_scale, thickness)
        return out

    if (
        bleeding
        and result.bleeding is not None
        and result.bleeding.mask is not None
        and result.bleeding.mask.size
    ):
        low = result.bleeding.blood.astype(np.uint8) * 255
        # Smooth edges when stretched to the picture; half way between in and out is the edge.
        blood = cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR) >= 128
        if blood.any():
            layer = out.copy()
            layer[blood] = BLEEDING_COLOUR
            out = cv2.addWeighted(layer, bleeding_alpha, out, 1.0 - bleeding_alpha, 0.0)
            contours, _ = cv2.findContours(
                blood.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            cv2.drawContours(out, contours, -1, BLEEDING_COLOUR, thickness, cv2.LINE_AA)
        if labels:
            # Top left: the bottom strip of endoscope video often carries burned-in text.
            _label(
                out,
                f"bleeding {100.0 * result.bleeding.fraction:.1f}% of frame",
                (2 * thickness, 0),
                BLEEDING_COLOUR,
                font_scale,
                thickness,
            )

    for inst in result.instruments:
        x1, y1, x2, y2 = inst.box
        p1 = (round(x1 * sx), round(y1 * sy))
        p2 = (round(x2 * sx), round(y2 * sy))
        colour = box_colour(inst.label)
        if boxes:
            cv2.rectangle(
                out, p1, p2, colour, thickness + 1 if unit > 1.5 else thickness, cv2.LINE_AA
            )
            if labels:
                _label(
                    out,
                    box_text(inst),
                    (p1[0], p1[1]),
                    colour,
                    font_scale,
                    thickness,
                )
        if tips and inst.tip is not None:
            centre = (round(inst.tip[0] * sx), round(inst.tip[1] * sy))
            radius = max(3, round(4 * unit))
            if inst.tip_visible:
                cv2.circle(out, centre, radius, TIP_VISIBLE_COLOUR, -1, cv2.LINE_AA)
                cv2.circle(out, centre, radius, TEXT_DARK, max(1, thickness // 2), cv2.LINE_AA)
            else:
                cv2.circle(
                    out, centre, radius + thickness, TIP_HIDDEN_COLOUR, thickness + 1, cv2.LINE_AA
                )

    rules = tip_rules if tip_rules is not None else NO_RULES
    text = badge_text(result, rules) if badge else None
    note = not_validated_note(result, rules) if badge and text is None else None
    if text is not None or note is not None:
        shown = text or "tip visibility not validated"
        colour = BADGE_COLOUR if text else NOTE_COLOUR
        ink = TEXT_DARK if text else TEXT_LIGHT
        size = font_scale * (1.2 if text else 0.9)
        (tw, th), base = cv2.getTextSize(shown, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)
        pad = 3 * thickness
        x2b, y1b = width - pad, pad
        x1b, y2b = x2b - tw - 2 * pad, y1b + th + base + 2 * pad
        cv2.rectangle(out, (x1b, y1b), (x2b, y2b), colour, -1)
        if text:
            cv2.rectangle(out, (x1b, y1b), (x2b, y2b), TEXT_DARK, thickness)
        cv2.putText(
            out,
            shown,
            (x1b + pad, y2b - base - pad),
            cv2.FONT_HERSHEY_SIMPLEX,
            size,
            ink,
            thickness,
            cv2.LINE_AA,
        )
    return out
