"""An interrupted analysis, resumed the way `scrubline analyze` resumes (the case's plan filled in
by `plan_settings`), exports exactly what an uninterrupted analysis exports.
`tests/stress/interrupt_resume.py` does the same with real signals at random moments."""

from __future__ import annotations

from pathlib import Path

from scrubline.core.analysis import AnalysisSettings, PlainTaskState, analyse_video, plan_settings
from scrubline.core.export import EXPORT_FILES, export_case
from scrubline.core.store import CaseStore


def _export(case: Path, folder: Path, registry) -> dict[str, bytes]:
    with CaseStore(case, readonly=True) as store:
        export_case(store, folder, registry)
    return {name: (folder / name).read_bytes() for name in EXPORT_FILES}


def test_a_resumed_case_exports_the_same_bytes_as_an_uninterrupted_one(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    video = clips["long_gop"]
    settings = AnalysisSettings(batch_size=4)
    whole = tmp_path / "whole.scrub"
    analyse_video(video, whole, settings, registry=tiny_registry)

    interrupted = tmp_path / "interrupted.scrub"
    state = PlainTaskState()
    state._on_progress = lambda fraction, message: state.cancel() if fraction > 0.3 else None
    first = analyse_video(video, interrupted, settings, registry=tiny_registry, state=state)
    assert first.cancelled and not first.complete
    resumed = analyse_video(
        video, interrupted, plan_settings(interrupted, settings), registry=tiny_registry
    )
    assert resumed.complete and resumed.already_done > 0

    assert _export(interrupted, tmp_path / "b", tiny_registry) == _export(
        whole, tmp_path / "a", tiny_registry
    )
