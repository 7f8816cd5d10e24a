"""What "resume" and the progress count mean, stated on a case file made by hand: resuming keeps
the plan's models unless others are asked for, a plan without a rate keeps the rate asked for,
and progress counts analysed, planned and skipped frames of the plan.

Written for the survivors of mutation testing of `scrubline.core.analysis`
(`tests/mutation/run.sh analysis`): each test fails on mutants the earlier analysis tests let
through."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from scrubline.core.analysis import (
    PLAN_KEY,
    SKIPPED_KEY,
    AnalysisSettings,
    plan_progress,
    plan_settings,
)
from scrubline.core.results import FrameResult
from scrubline.core.store import CaseStore


def _case(path: Path, plan: dict) -> Path:
    with CaseStore(path, create=True) as store:
        store.set_meta(PLAN_KEY, plan)
    return path


def test_resuming_keeps_the_plans_models_unless_others_are_asked_for(tmp_path: Path) -> None:
    case = _case(
        tmp_path / "c.scrub",
        {"fps": 2.0, "start_s": 1.0, "end_s": 9.0, "models": {"vision": "2", "gate": "1"}},
    )
    resumed = plan_settings(case, AnalysisSettings(model_ids=["other"]))
    assert resumed.model_ids == ["gate", "vision"]
    assert (resumed.fps, resumed.start_s, resumed.end_s) == (2.0, 1.0, 9.0)
    chosen = plan_settings(case, AnalysisSettings(model_ids=["other"]), explicit=["model_ids"])
    assert chosen.model_ids == ["other"]


def test_a_plan_without_a_rate_or_models_keeps_those_asked_for(tmp_path: Path) -> None:
    case = _case(tmp_path / "c.scrub", {"fps": None, "start_s": None, "end_s": None, "models": {}})
    resumed = plan_settings(case, AnalysisSettings(fps=3.0, model_ids=["mine"]))
    assert resumed.fps == 3.0 and resumed.model_ids == ["mine"]


def test_progress_counts_analysed_planned_and_skipped_frames(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        assert plan_progress(store) == (0, 0, 0)  # before any analysis
        store.set_meta("planned_frames", [0, 5, 10, 15])
        store.set_meta(SKIPPED_KEY, {"damaged": [15], "unreadable": []})
        store.write_results([FrameResult(frame=0, time_s=0.0), FrameResult(frame=5, time_s=0.2)])
        assert plan_progress(store) == (2, 4, 1)


def test_without_a_proxy_every_frame_of_the_span_is_a_gap_and_no_span_has_none(
    tmp_path: Path,
) -> None:
    from scrubline.core.analysis import proxy_gaps

    none = proxy_gaps(tmp_path / "c.scrub", None)
    assert none.dtype == np.int64 and none.shape == (0,)
    gaps = proxy_gaps(tmp_path / "c.scrub", (10, 14))
    assert gaps.dtype == np.int64 and gaps.tolist() == [10, 11, 12, 13, 14]


def test_a_case_analysed_before_plans_were_recorded_resumes_what_it_was_analysed_with(
    tmp_path: Path,
) -> None:
    from scrubline.core.analysis import stored_plan

    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        assert stored_plan(store) is None  # never analysed: no plan
        store.set_meta("settings", {"fps": 2.0, "start_s": 3.0, "end_s": 8.0})
        store.set_meta(
            "models",
            [{"id": "vision", "version": "2"}, {"note": "no id"}, {"id": "gate", "version": "1"}],
        )
        assert stored_plan(store) == {
            "fps": 2.0,
            "start_s": 3.0,
            "end_s": 8.0,
            "models": {"vision": "2", "gate": "1"},
        }
        recorded = {"fps": 1.0, "start_s": None, "end_s": None, "models": {"vision": "3"}}
        store.set_meta(PLAN_KEY, recorded)
        assert stored_plan(store) == recorded  # the recorded plan wins over the settings


def _manifest(model_id: str, version: str) -> SimpleNamespace:
    return SimpleNamespace(id=model_id, version=version)


def _analysed(path: Path, frames: list[int], plan: dict | None) -> CaseStore:
    store = CaseStore(path, create=True)
    if plan is not None:
        store.set_meta(PLAN_KEY, plan)
    store.write_results([FrameResult(frame=f, time_s=f / 25) for f in frames], models=["vision"])
    return store


def test_resuming_a_case_adds_the_models_it_holds_and_refuses_what_would_mix(
    tmp_path: Path,
) -> None:
    from scrubline.core.analysis import PlanChanged, _reconcile_plan

    plan = {"fps": 5.0, "start_s": None, "end_s": None, "models": {"vision": "2", "gate": "1"}}
    settings = AnalysisSettings(fps=5.0)
    vision, gate = _manifest("vision", "2"), _manifest("gate", "1")
    registry = SimpleNamespace(manifests={"vision": vision, "gate": gate})
    planned = np.arange(0, 50, 5)
    with CaseStore(tmp_path / "new.scrub", create=True) as empty:
        empty.set_meta(PLAN_KEY, plan)  # a plan but no frame yet: nothing to mix with
        assert _reconcile_plan(empty, registry, [vision], planned, settings) == [vision]
    with _analysed(tmp_path / "c.scrub", [0, 5, 10], None) as unplanned:
        # Frames but no plan (nothing recorded at all): the request stands as it is.
        assert _reconcile_plan(unplanned, registry, [vision], planned, settings) == [vision]
    with _analysed(tmp_path / "c2.scrub", [0, 5, 10], plan) as store:
        # The same plan asked with one model: the case's other model comes along.
        assert _reconcile_plan(store, registry, [vision], planned, settings) == [vision, gate]
        # Frames the new plan would not hold (1 fps: 0, 25): refused, naming both plans.
        with pytest.raises(PlanChanged) as mixed:
            _reconcile_plan(store, registry, [vision], np.array([0, 25]), AnalysisSettings(fps=1.0))
        assert mixed.value.summary == (
            "c2.scrub holds an analysis at 5 fps over the whole video (3 frames) with gate 1, "
            "vision 2; 1 fps over the whole video (2 frames) with vision 2 would mix the two"
        )
        assert str(mixed.value).endswith(
            ": run without --fps/--start/--end/--model to resume the case's plan, "
            "or add --fresh to discard its results and start again"
        )
        with pytest.raises(PlanChanged) as newer:
            _reconcile_plan(store, registry, [_manifest("vision", "3")], planned, settings)
        assert str(newer.value) == (
            "c2.scrub was analysed with another version of vision 2 (now 3): "
            "add --fresh to analyse it again with the installed models"
        )
        for installed in ({"vision": vision}, {"vision": vision, "gate": _manifest("gate", "0")}):
            with pytest.raises(PlanChanged) as missing:
                _reconcile_plan(
                    store, SimpleNamespace(manifests=installed), [vision], planned, settings
                )
            assert str(missing.value) == (
                "c2.scrub was analysed with gate 1, which is not installed: add its folder with "
                "--models to resume, or add --fresh to discard its results and start again"
            )
        # The planned frames recorded, not only those analysed, must fit in the new plan.
        store.set_meta("planned_frames", [0, 5, 10, 15, 20, 25])
        with pytest.raises(PlanChanged, match=r"\(6 frames\)"):
            _reconcile_plan(store, registry, [vision], np.arange(0, 25, 5), settings)
        assert _reconcile_plan(store, registry, [vision], np.arange(0, 30, 5), settings) == [
            vision,
            gate,
        ]


def test_the_scrub_proxy_covers_the_plan_through_one_sampling_step_after_its_last_frame() -> None:
    from scrubline.core.analysis import proxy_range

    video = SimpleNamespace(
        frame_count=250, info=SimpleNamespace(fps=25.0), index_at=lambda t: round(t * 25)
    )
    every_5th = np.arange(0, 200, 5)
    assert proxy_range(video, AnalysisSettings(fps=5.0), np.array([], dtype=np.int64)) is None
    # 25 fps sampled at 5 fps: a step of 5 frames, 195 + 5 = 200 (inside the video).
    assert proxy_range(video, AnalysisSettings(fps=5.0), every_5th) == (0, 200)
    # 25 fps at 3 fps: ceil(8.33) = 9 frames.
    assert proxy_range(video, AnalysisSettings(fps=3.0), every_5th + 10) == (10, 214)
    # Sampled faster than the video: the step is still one frame.
    assert proxy_range(video, AnalysisSettings(fps=50.0), np.array([3, 4])) == (3, 5)
    # Never past the video's last frame, or past the end asked for.
    assert proxy_range(video, AnalysisSettings(fps=5.0), np.array([240, 245, 249])) == (240, 249)
    to_8s = AnalysisSettings(fps=5.0, end_s=8.0)
    assert proxy_range(video, to_8s, np.arange(100, 200, 5)) == (100, 200)
    assert proxy_range(video, to_8s, np.array([210])) == (210, 210)  # not before its first frame
    assert all(type(v) is int for v in proxy_range(video, to_8s, np.arange(100, 200, 5)))


def test_a_refusal_to_mix_names_the_range_and_every_newer_model(tmp_path: Path) -> None:
    from scrubline.core.analysis import PlanChanged, _reconcile_plan

    plan = {"fps": 5.0, "start_s": None, "end_s": None, "models": {"vision": "2", "gate": "1"}}
    vision, gate = _manifest("vision", "2"), _manifest("gate", "1")
    registry = SimpleNamespace(manifests={"vision": vision, "gate": gate})
    with _analysed(tmp_path / "c.scrub", [0, 5, 10], plan) as store:
        with pytest.raises(PlanChanged) as mixed:
            _reconcile_plan(
                store, registry, [vision], np.array([50]), AnalysisSettings(start_s=2, end_s=8)
            )
        assert "; 5 fps from 2 s to 8 s (1 frames) with vision 2 would mix" in str(mixed.value)
        with pytest.raises(PlanChanged) as newer:
            _reconcile_plan(
                store,
                registry,
                [_manifest("vision", "3"), _manifest("gate", "2")],
                np.arange(0, 50, 5),
                AnalysisSettings(),
            )
        assert "another version of vision 2 (now 3), gate 1 (now 2):" in str(newer.value)


def test_the_plan_samples_the_rate_and_range_asked_for() -> None:
    from scrubline.core.analysis import plan_frames

    asked: list[tuple] = []
    video = SimpleNamespace(sample_indices=lambda *args: asked.append(args) or np.array([1]))
    assert plan_frames(video, AnalysisSettings(fps=2.0, start_s=3.0, end_s=9.0)).tolist() == [1]
    assert asked == [(2.0, 3.0, 9.0)]
