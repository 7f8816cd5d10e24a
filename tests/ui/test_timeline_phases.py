"""Phase bands on the timeline: the template's colours (stable from case to case, the same in the
report), labels that fit or hide and follow the band into view, and a hover that names the phase."""

from __future__ import annotations

import numpy as np
import pytest

from scrubline.core.timeline import PHASE_PALETTE, Episode, Timeline, phase_colour
from scrubline.ui.navigation import describe_at

TEMPLATE = {"Calot triangle dissection": "#1565c0", "Clipping and cutting": "#f9a825"}


def _timeline(
    order: list[tuple[str, float, float]], colours: dict[str, str] | None = None
) -> Timeline:
    n = 300
    timeline = Timeline(
        frames=np.arange(n) * 2,
        times=np.arange(n) * 0.2,
        sample_period_s=0.2,
        duration_s=60.0,
        labels=["grasper"],
        presence=np.ones((n, 1), np.uint8),
        tips_visible=np.ones(n, np.int64),
        tips_hidden=np.zeros(n, np.int64),
        bleeding=np.zeros(n),
        phase_colours=dict(TEMPLATE if colours is None else colours),
    )
    timeline.episodes = [Episode("phase", label, a, b) for label, a, b in order]
    return timeline


CASE_A = [
    ("Preparation", 0, 10),
    ("Calot triangle dissection", 10, 11.5),
    ("Clipping and cutting", 11.5, 12.0),
    ("Gallbladder dissection", 12.0, 40),
    ("Cleaning", 40, 60),
]
CASE_B = [("Cleaning", 0, 20), ("Clipping and cutting", 20, 30), ("Preparation", 30, 60)]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def test_phase_colours_come_from_the_template_and_stay_put_across_cases(qtbot) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.timeline_view import TimelineView

    first, second = TimelineView(), TimelineView()
    for view in (first, second):
        qtbot.addWidget(view)
        view.set_duration(60.0)
    first.set_timeline(_timeline(CASE_A))
    second.set_timeline(_timeline(CASE_B))
    assert _hex(first.phase_rgb["Calot triangle dissection"]) == "#1565c0"
    assert _hex(first.phase_rgb["Clipping and cutting"]) == "#f9a825"
    # Phases without a template colour keep theirs whatever comes first in the case.
    for label in ("Preparation", "Cleaning", "Clipping and cutting"):
        assert first.phase_rgb[label] == second.phase_rgb[label], label
    assert phase_colour("Cleaning") in PHASE_PALETTE
    assert phase_colour("Cleaning", {"Cleaning": "#123456"}) == "#123456"


def test_the_report_draws_phases_in_the_same_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrubline.report import figure

    asked: list[str] = []
    original = figure._tinted
    monkeypatch.setattr(
        figure, "_tinted", lambda colour, *a: asked.append(colour) or original(colour, *a)
    )
    timeline = _timeline(CASE_B)
    figure.timeline_drawing(timeline, 500.0)
    assert set(asked) >= {timeline.phase_colour(label) for label, _, _ in CASE_B}


def test_short_band_labels_fit_or_hide_and_follow_the_band_into_view(qtbot) -> None:  # type: ignore[no-untyped-def]
    from scrubline.ui.timeline_view import TimelineView

    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(1000, 330)
    view.set_duration(60.0)
    view.set_timeline(_timeline(CASE_A))
    view.show()
    qtbot.waitExposed(view)
    labels = dict(zip([e[0] for e in CASE_A], view.phase_labels, strict=False))

    def fits() -> None:  # no visible label is wider than the part of its band in view
        box = view.plots["ruler"].getPlotItem().getViewBox()
        per_px = box.viewPixelSize()[0]
        low, high = view.x_range()
        for (label, start, end), text in zip(CASE_A, view.phase_labels, strict=False):
            if text.isVisible():
                width_px = text.textItem.boundingRect().width()
                room_px = (min(end, high) - max(start, low)) / per_px
                assert width_px <= room_px, label

    # The whole hour: the 1.5 s and 0.5 s bands are a few pixels wide; their names hide.
    assert not labels["Calot triangle dissection"].isVisible()
    assert not labels["Clipping and cutting"].isVisible()
    assert labels["Preparation"].toPlainText() == "Preparation"
    fits()
    view.set_x_range(9.0, 14.0)
    assert labels["Calot triangle dissection"].toPlainText() == "Calot triangle dissection"
    shortened = labels["Clipping and cutting"].toPlainText()
    assert labels["Clipping and cutting"].isVisible() and shortened.endswith("\u2026")
    fits()
    # The band's start scrolled off to the left: its name moves with the part in view.
    view.set_x_range(20.0, 50.0)
    gallbladder = labels["Gallbladder dissection"]
    assert gallbladder.isVisible() and gallbladder.pos().x() >= 20.0
    fits()


def test_hover_names_the_phase_even_where_not_analysed() -> None:
    timeline = _timeline(CASE_A)
    text = describe_at(timeline, 11.7, [], np.arange(600) / 10.0)
    assert "phase: Clipping and cutting" in text
    beyond = _timeline(CASE_A)
    beyond.episodes.append(Episode("phase", "Closing", 60, 70))
    assert "phase: Closing" in describe_at(beyond, 65.0) and "not analysed here" in describe_at(
        beyond, 65.0
    )


def test_bands_and_hover_use_the_templates_phase_names(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Cholec80 labels ('CalotTriangleDissection') read as the template names them."""
    from scrubline.ui.timeline_view import TimelineView

    timeline = _timeline([("Preparation", 0, 20), ("CalotTriangleDissection", 20, 60)], {})
    timeline.phase_names = {"CalotTriangleDissection": "Calot triangle dissection"}
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(1200, 300)
    view.set_duration(60.0)
    view.set_timeline(timeline)
    shown = [t.toPlainText() for t in view.phase_labels if t.isVisible()]
    assert "Calot triangle dissection" in shown and "CalotTriangleDissection" not in shown
    assert "phase: Calot triangle dissection" in describe_at(timeline, 30.0)
