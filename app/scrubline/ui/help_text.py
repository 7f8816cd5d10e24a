"""The keyboard and mouse help (F1), as data: every key a window action answers to is listed
here (a test compares them with the window's actions), and the text is laid out from it in
one fixed-width table."""

from __future__ import annotations

from collections.abc import Sequence

# (section, [(keys, what they do)]); keys as Qt writes them (QKeySequence.PortableText), or a
# mouse gesture.
HELP: Sequence[tuple[str, Sequence[tuple[Sequence[str], str]]]] = (
    (
        "Files",
        (
            (("Ctrl+O",), "open a video or a case (.scrub)"),
            (("Ctrl+Shift+L",), "case library: analysed cases to open, re-analyse or remove"),
            (("Ctrl+,",), "preferences: analysis defaults, overlays, folders, theme"),
            (("Ctrl+Q",), "quit"),
            (("Ctrl+Shift+A",), "analyse (or resume) the open video"),
        ),
    ),
    (
        "Playback",
        (
            (("Space",), "play / pause"),
            (("J", "K", "L"), "shuttle: reverse (again: faster) / pause / forward (again: faster)"),
            (("Left", "Right", ",", "."), "previous / next frame"),
            (("Shift+Left", "Shift+Right"), "1 s back / forward"),
            (("Ctrl+Left", "Ctrl+Right"), "10 s back / forward"),
            (("PgUp", "PgDown"), "10 s back / forward"),
            (("Home", "End"), "start / end"),
            (("Ctrl+G",), "go to a time (1:02.5) or a frame (#1500): type it under the video"),
        ),
    ),
    (
        "Review",
        (
            (("]", "["), "next / previous event (kinds under Navigate); the status bar names it"),
            (("Ctrl+B",), "bookmark this frame (in the note, Ctrl+Enter saves)"),
            (("D",), "draw arrows, circles, freehand on this frame (kept with its bookmark)"),
            (("Ctrl+Z",), "undo the last bookmark, drawing, correction or event-start move"),
            (("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
            (("right-click",), "correct a box (video) or a phase / span (timeline)"),
            (("Ctrl+T",), "teaching mode (hides the prediction)"),
            (("Ctrl+R",), "reveal the prediction"),
        ),
    ),
    (
        "Clip range (the MP4 export)",
        (
            (("I", "O"), "clip start / end at this frame (the end frame is in the clip)"),
            (("Shift+I", "Shift+O"), "go to the clip's first / last frame"),
            (("Ctrl+L",), "loop playback over the clip range"),
        ),
    ),
    (
        "Video",
        (
            (("Ctrl+1", "Ctrl+2"), "instrument boxes / tips on or off"),
            (("Ctrl+3", "Ctrl+4"), "bleeding mask / tip-hidden warning on or off"),
            (("wheel",), "zoom the video around the pointer"),
            (("drag",), "pan the zoomed video"),
            (("double-click",), "fit the video again"),
            (("+", "=", "-"), "zoom the video in / in / out"),
            (("0",), "fit the video"),
            (("F11",), "full screen"),
            (("Ctrl+Shift+F",), "video only (hides the timeline, bars and panels)"),
            (("Esc",), "stop drawing; leave full screen and video only"),
        ),
    ),
    (
        "Timeline",
        (
            (("click",), "seek"),
            (("drag on the ruler",), "select the clip range (the top row)"),
            (("drag elsewhere",), "pan"),
            (("wheel",), "zoom time"),
            (("drag the yellow line",), "scrub"),
            (("drag the orange line",), "move the bleeding event start"),
            (("Ctrl+=", "Ctrl+-"), "zoom the timeline in / out"),
            (("Ctrl+0",), "show the whole case"),
        ),
    ),
    ("Help", ((("F1",), "this list"),)),
)


def listed_keys() -> set[str]:
    return {key for _, rows in HELP for keys, _ in rows for key in keys}


def shortcuts_text() -> str:
    """The help as text for a fixed-width font: keys in one column, what they do in the next."""
    rows = [(" / ".join(keys), what) for _, entries in HELP for keys, what in entries]
    width = max(len(keys) for keys, _ in rows) + 3
    lines: list[str] = []
    for section, entries in HELP:
        lines.append(section)
        lines.extend(f"  {' / '.join(keys):<{width}}{what}" for keys, what in entries)
    return "\n".join(lines) + "\n"
