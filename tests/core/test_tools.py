"""Tool class names and the display names people read (`scrubline.core.tools`)."""

from __future__ import annotations

from scrubline.core.overlay import box_colour
from scrubline.core.tools import TOOL_NAMES, display_name


def test_the_seven_cholec80_tools_in_cholec80_order() -> None:
    assert TOOL_NAMES == (
        "Grasper",
        "Bipolar",
        "Hook",
        "Scissors",
        "Clipper",
        "Irrigator",
        "SpecimenBag",
    )


def test_display_names() -> None:
    assert display_name("SpecimenBag") == "Specimen bag"
    assert display_name("Hook") == "Hook"
    assert display_name("needle_driver") == "Needle driver"
    assert display_name("instrument") == "instrument"
    assert display_name("") == ""


def test_each_tool_has_its_own_box_colour() -> None:
    assert len({box_colour(name) for name in TOOL_NAMES}) == len(TOOL_NAMES)
