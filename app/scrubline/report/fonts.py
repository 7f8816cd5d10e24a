"""The report's typeface: DejaVu Sans, bundled under resources/fonts/ (Bitstream Vera licence,
see LICENSE-DejaVu.txt) and registered as a TrueType font so every PDF embeds it (subset) and
reads the same on any machine. The standard PDF fonts are not embedded and cover Latin-1 only,
so a surgeon's name with other letters would come out as boxes.
"""

from __future__ import annotations

import logging

from scrubline.core.paths import resources_dir

log = logging.getLogger("scrubline.report")

REGULAR = "ScrublineSans"
BOLD = "ScrublineSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_registered: tuple[str, str] | None = None


def register_fonts() -> tuple[str, str]:
    """(regular, bold) font names to use; falls back to Helvetica (not embedded) with a warning
    if the bundled files are missing from a broken install."""
    global _registered
    if _registered is not None:
        return _registered
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = resources_dir() / "fonts"
    try:
        for name, file in _FILES.items():
            pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    except Exception as exc:  # reportlab raises its own TTFError or OSError; either way: fall back
        log.warning(
            "bundled report fonts not usable (%s); using Helvetica, which is not embedded", exc
        )
        _registered = ("Helvetica", "Helvetica-Bold")
        return _registered
    # Bold inside paragraphs (<b>) must map to the bold TTF, not to a synthesised Helvetica.
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    _registered = (REGULAR, BOLD)
    return _registered
