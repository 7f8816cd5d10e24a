"""The review window as surgeons and educators use it (issue 16): procedures the case cannot
support, the clip range, bookmarks, event jumps, help, and the timeline's empty state."""

from __future__ import annotations

from scrubline.core.store import CaseStore

TIMEOUT = 60_000


def test_a_procedure_whose_signals_the_case_lacks_is_refused_and_the_phases_stay(
    qtbot, with_case, window, demo_clip
) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.open_video(demo_clip)
    before = [(e.label, e.start_s, e.end_s) for e in window.timeline.episodes_of("phase")]
    assert before, "the demo case has generic phases"
    with CaseStore(with_case) as store:
        stored = store.get_meta("procedure")
    # SOCAL's carotid template reads suction, grasper, cottonoid, ...: the demo's models give
    # class-agnostic instruments and bleeding only.
    with qtbot.waitSignal(window.case_refreshed, timeout=TIMEOUT):
        window.set_procedure("socal-carotid")
    assert window.banner.isVisible()
    text = window.banner_label.text()
    assert "suction" in text and "cottonoid" in text and "Phases unchanged" in text
    after = [(e.label, e.start_s, e.end_s) for e in window.timeline.episodes_of("phase")]
    assert after == before
    with CaseStore(with_case) as store:
        assert store.get_meta("procedure") == stored
