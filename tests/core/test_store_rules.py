"""The case file keeps what the user will be shown later: when a case was made (the case
library's date for a case never analysed), which video a refused case belongs to, the in-body
gate's decision per frame, and the analysis plan.

Written for the survivors of mutation testing of `scrubline.core.store`
(`tests/mutation/run.sh store`): each test fails on mutants the earlier store tests let through."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from scrubline.core.results import FrameResult
from scrubline.core.store import CaseStore, StoreError


def _video(name: str, fingerprint: str) -> SimpleNamespace:
    info = {"name": name, "fingerprint": fingerprint, "fps": 25.0}
    return SimpleNamespace(name=name, fingerprint=fingerprint, to_dict=lambda: dict(info))


def test_a_new_case_records_its_video_and_when_it_was_made(tmp_path: Path) -> None:
    before = time.time()
    with CaseStore.for_video(_video("a.mp4", "f-a"), tmp_path / "a.scrub") as store:
        assert store.video["fingerprint"] == "f-a"
        created = store.get_meta("created")
    assert isinstance(created, float) and before <= created <= time.time()
    # Reopening the case keeps the first date.
    with CaseStore.for_video(_video("a.mp4", "f-a"), tmp_path / "a.scrub") as store:
        assert store.get_meta("created") == created


def test_a_case_for_another_video_is_refused_naming_the_video_it_belongs_to(
    tmp_path: Path,
) -> None:
    CaseStore.for_video(_video("theatre1.mp4", "f-1"), tmp_path / "case.scrub").close()
    with pytest.raises(StoreError) as refused:
        CaseStore.for_video(_video("theatre2.mp4", "f-2"), tmp_path / "case.scrub")
    assert str(refused.value) == (
        "case case.scrub belongs to another video (theatre1.mp4, fingerprint f-1), not theatre2.mp4"
    )


def test_the_in_body_decision_of_each_frame_reads_back_as_written(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        store.write_results(
            [
                FrameResult(frame=0, time_s=0.0, in_body=True),
                FrameResult(frame=1, time_s=0.04, in_body=False),
                FrameResult(frame=2, time_s=0.08, in_body=None),
            ]
        )
        assert [store.result_at(f).in_body for f in (0, 1, 2)] == [True, False, None]
        column = store.frames_table()["in_body"]
        assert str(column.dtype) == "Int8"
        assert column.tolist()[:2] == [1, 0] and column.iloc[2] is pd.NA


def test_the_analysis_plan_reads_back_as_the_frames_it_lists(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        assert store.planned_frames() is None  # no plan recorded
        store.set_meta("planned_frames", [0, 6, 12])
        planned = store.planned_frames()
        assert planned is not None and planned.tolist() == [0, 6, 12]
        store.set_meta("planned_frames", [])
        assert store.planned_frames().tolist() == []  # a plan of no frames is still a plan
