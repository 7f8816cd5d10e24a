"""What "resume" and the progress count mean, stated on a case file made by hand: resuming keeps
the plan's models unless others are asked for, a plan without a rate keeps the rate asked for,
and progress counts analysed, planned and skipped frames of the plan.

Written for the survivors of mutation testing of `scrubline.core.analysis`
(`tests/mutation/run.sh analysis`): each test fails on mutants the earlier analysis tests let
through."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
