"""The laparoscopic tool classes the app names: the seven Cholec80 tools, in Cholec80's order.

One place for the class names (as the models, Cholec80's annotation files, `detections.csv`'s
`label` and `frames.csv`'s `tool_<name>` columns spell them) and the display names people read
in the window's lanes and the report. A model may name other classes (a user's detector): those
are shown as they are spelled.
"""

from __future__ import annotations

import re

# name -> display name
CHOLEC80_TOOLS: dict[str, str] = {
    "Grasper": "Grasper",
    "Bipolar": "Bipolar",
    "Hook": "Hook",
    "Scissors": "Scissors",
    "Clipper": "Clipper",
    "Irrigator": "Irrigator",
    "SpecimenBag": "Specimen bag",
}
TOOL_NAMES: tuple[str, ...] = tuple(CHOLEC80_TOOLS)


def display_name(label: str) -> str:
    """What a person reads for a tool class: 'SpecimenBag' -> 'Specimen bag'; other labels are
    split at lower-to-upper case changes and underscores ('needle_driver' -> 'Needle driver')."""
    if label in CHOLEC80_TOOLS:
        return CHOLEC80_TOOLS[label]
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).replace("_", " ").split()
    if not words:
        return label
    text = " ".join(words)
    return text[0].upper() + text[1:].lower() if len(words) > 1 else text
