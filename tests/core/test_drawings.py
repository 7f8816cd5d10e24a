"""Telestration as data: drawings round-trip through the case, undo data is exact, bad ones are
refused with the reason, and the raster renderer puts the strokes where they belong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scrubline.core.drawings import (
    Drawing,
    DrawingError,
    add_drawing,
    draw_drawings,
    read_drawings,
    remove_drawing,
    shown_at,
    simplified,
)
from scrubline.core.store import CaseStore


def test_drawings_are_kept_in_the_case_and_removed_with_what_undoes_it(tmp_path: Path) -> None:
    path = tmp_path / "c.scrub"
    arrow = Drawing("arrow", ((0.1, 0.2), (0.5, 0.5)), 120, 12.0, bookmark_id=1)
    ring = Drawing("circle", ((0.4, 0.4), (0.6, 0.7)), 120, 12.0, bookmark_id=1, colour="#18ffff")
    other = Drawing("freehand", ((0.0, 0.0), (0.1, 0.1), (0.2, 0.0)), 300, 30.0, bookmark_id=2)
    with CaseStore(path, create=True) as store:
        first = add_drawing(store, arrow)
        second = add_drawing(store, ring)
        add_drawing(store, other)
        assert (first.id, second.id) == (1, 2)
    with CaseStore(path) as store:  # survives closing and reopening
        kept = read_drawings(store)
        assert [d.kind for d in kept] == ["arrow", "circle", "freehand"]
        assert kept[1].colour == "#18ffff" and kept[0].points == ((0.1, 0.2), (0.5, 0.5))
        assert [d.kind for d in read_drawings(store, [1])] == ["arrow", "circle"]
        removed = remove_drawing(store, 2)
        assert removed == kept[1]
        restored = add_drawing(store, removed)  # the undo puts back the same drawing, same id
        assert restored.id == 2 and read_drawings(store)[-1] == kept[1]
        with pytest.raises(KeyError):
            remove_drawing(store, 99)
        store.set_meta("drawings", [*store.get_meta("drawings"), {"kind": "scribble"}])
        assert len(read_drawings(store)) == 3  # a damaged entry does not hide the others


def test_bad_drawings_say_why() -> None:
    for kwargs, says in (
        ({"kind": "laser"}, "unknown drawing kind"),
        ({"points": ((0.1, 0.1),)}, "at least 2 points"),
        ({"points": ((0.1, float("nan")), (0.2, 0.2))}, "numbers"),
        ({"colour": "red"}, "#rrggbb"),
        ({"width": 0.5}, "width"),
    ):
        args = {"kind": "arrow", "points": ((0.1, 0.1), (0.2, 0.2)), "frame": 1, "time_s": 0.1}
        with pytest.raises(DrawingError, match=says):
            Drawing(**{**args, **kwargs})


def test_drawings_show_on_their_frame_and_briefly_after_while_playing() -> None:
    drawing = Drawing("arrow", ((0.1, 0.1), (0.2, 0.2)), 100, 10.0)
    assert shown_at([drawing], 100, 10.0) == [drawing]
    assert shown_at([drawing], 110, 10.4) == [drawing]  # playing on: still there
    assert shown_at([drawing], 160, 11.6) == []
    assert shown_at([drawing], 99, 9.9) == []  # never before its frame


def test_freehand_strokes_are_thinned() -> None:
    stroke = [(0.1 + i * 1e-4, 0.1) for i in range(200)] + [(0.5, 0.5)]
    thin = simplified(stroke)
    assert thin[0] == stroke[0] and thin[-1] == stroke[-1] and len(thin) < 20


def test_the_renderer_draws_where_the_drawing_is() -> None:
    frame = np.zeros((180, 320, 3), np.uint8)
    ring = Drawing("circle", ((0.25, 0.25), (0.75, 0.75)), 1, 0.0, colour="#ffeb3b")
    arrow = Drawing("arrow", ((0.05, 0.9), (0.2, 0.6)), 1, 0.0, colour="#18ffff")
    out = draw_drawings(frame, [ring, arrow])
    assert frame.sum() == 0  # the input is not changed
    yellow = (out[..., 0] > 200) & (out[..., 1] > 200) & (out[..., 2] < 120)
    ys, xs = np.nonzero(yellow)
    assert 75 <= xs.min() <= 85 and 235 <= xs.max() <= 245  # the ellipse spans 80..240
    assert out[90, 160].sum() == 0  # its middle is left alone
    cyan = (out[..., 1] > 200) & (out[..., 2] > 200) & (out[..., 0] < 120)
    assert cyan[100:170, 10:70].any() and not cyan[:60].any()


def test_drawings_are_edits_of_the_case_with_inverses(tmp_path: Path) -> None:
    from scrubline.core.case import Case
    from scrubline.core.edits import AddBookmark, AddDrawing, DeleteBookmark, RemoveDrawing

    with Case.create(tmp_path / "c.scrub") as case:
        undo_mark = case.apply(AddBookmark(12.0, 120, "watch the clip", "teaching point"))
        assert isinstance(undo_mark, DeleteBookmark)
        mark = case.bookmarks()[0]
        drawing = Drawing("arrow", ((0.1, 0.1), (0.4, 0.4)), 120, 12.0, bookmark_id=mark.id)
        undo = case.apply(AddDrawing(drawing))
        assert isinstance(undo, RemoveDrawing) and len(case.drawings()) == 1
        redo = case.apply(undo)
        assert isinstance(redo, AddDrawing) and case.drawings() == []
        case.apply(redo)
        assert [d.id for d in case.drawings()] == [undo.id]  # the same drawing, same id
        # Deleting the bookmark hides its drawing; undoing the deletion shows it again.
        back = case.apply(DeleteBookmark(mark.id))
        assert case.drawings() == []
        case.apply(back)
        assert len(case.drawings()) == 1
        with pytest.raises(Exception, match="no drawing 99"):
            case.apply(RemoveDrawing(99))
