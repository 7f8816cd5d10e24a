"""Desktop integration files agree with each other: the icon exists at every size it claims, the
desktop entry names the icon and the case MIME type, and that MIME type matches `.scrub`."""

from __future__ import annotations

import configparser
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
PACKAGING = ROOT / "packaging"
CASE_MIME = "application/x-scrubline-case"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "scrubline.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_entry_names_the_icon_and_opens_cases() -> None:
    entry = desktop_entry()
    assert entry["Icon"] == "scrubline" and entry["Exec"] == "scrubline %f"
    assert CASE_MIME in entry["MimeType"].split(";")


def test_the_mime_type_matches_scrub_files() -> None:
    namespace = "{http://www.freedesktop.org/standards/shared-mime-info}"
    root = ET.parse(PACKAGING / "scrubline-case.xml").getroot()
    mime = root.find(f"{namespace}mime-type")
    assert mime is not None and mime.get("type") == CASE_MIME
    assert [g.get("pattern") for g in mime.findall(f"{namespace}glob")] == ["*.scrub"]


def test_the_icon_is_there_at_every_size_and_becomes_the_window_icon() -> None:
    from PySide6.QtGui import QImage

    from scrubline.ui.app import application_icon, ensure_application

    ensure_application()
    for size in SIZES:
        image = QImage(str(ICONS / f"scrubline-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel() and image.pixelColor(0, 0).alpha() == 0  # rounded corners
    icon = application_icon()
    assert not icon.isNull() and {s.width() for s in icon.availableSizes()} == set(SIZES)
    assert (ICONS / "scrubline.ico").read_bytes()[:4] == b"\0\0\1\0"
    assert (ICONS / "scrubline.icns").read_bytes()[:4] == b"icns"


@pytest.mark.parametrize("size", [32, 256])
def test_the_pngs_are_rendered_from_the_svg(size: int) -> None:
    """A PNG edited by hand (or an SVG changed without re-rendering) shows up here."""
    import sys

    from PySide6.QtGui import QImage

    from scrubline.ui.app import ensure_application

    ensure_application()
    sys.path.insert(0, str(PACKAGING))
    try:
        import render_icons
    finally:
        sys.path.remove(str(PACKAGING))
    fresh = QImage.fromData(render_icons.render_png(size))
    committed = QImage(str(ICONS / f"scrubline-{size}.png"))
    differing = sum(
        1
        for y in range(size)
        for x in range(size)
        if abs(fresh.pixelColor(x, y).red() - committed.pixelColor(x, y).red()) > 8
    )
    assert differing <= size * size // 100
