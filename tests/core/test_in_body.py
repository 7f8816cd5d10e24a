"""The in-body gate end to end in the core: out-of-body frames keep no tool, tip or bleeding
results, `frames.csv` says which frames were out, the timeline shows the spans, phases and the
outcome read only in-body frames, and cases from before the gate still open.

The gate here is a tiny model (a dark frame is out of body) beside the tiny segmenter, which
calls every dark pixel an instrument: on a black frame it finds a frame-sized "instrument", so
without the gate the black frames would carry results."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import write_clip
from scrubline.core.export import export_case, frames_dataframe
from scrubline.core.models import load_registry
from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore
from scrubline.core.timeline import build_timeline
from tests import tiny_models

FPS = 10
OUT_FRAMES = range(10, 20)  # black: out of body


def _scene(index: int, t: float) -> np.ndarray:
    image = np.full((96, 128, 3), (200, 120, 110), np.uint8)  # tissue
    if index in OUT_FRAMES:
        return np.zeros((96, 128, 3), np.uint8)
    image[40:56, 10:80] = (20, 20, 20)  # a dark instrument
    image[60:80, 90:120] = (230, 10, 10)  # blood
    return image


@pytest.fixture(scope="module")
def gated_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gate")
    video = write_clip(folder / "gate.mp4", 30, fps=FPS, size=(128, 96), draw=_scene)
    models = folder / "models"
    tiny_models.segmenter_folder(models)
    tiny_models.gate_folder(models)
    registry = load_registry([models], include_bundled=False)
    case = folder / "gate.scrub"
    report = analyse_video(
        video,
        case,
        AnalysisSettings(fps=FPS, scrub_proxy=False),
        registry=registry,
    )
    assert report.complete
    return case


def test_out_of_body_frames_get_no_tool_tip_or_bleeding_results(gated_case: Path) -> None:
    with CaseStore(gated_case, readonly=True) as store:
        table = store.frames_table().set_index("frame")
        detections = store.detections_table()
        out = list(OUT_FRAMES)
        inside = [f for f in table.index if f not in OUT_FRAMES]
        assert (table.loc[out, "in_body"] == 0).all()
        assert (table.loc[inside, "in_body"] == 1).all()
        assert (table.loc[out, "n_instruments"] == 0).all()
        assert table.loc[out, "bleeding_fraction"].isna().all()
        assert not detections["frame"].isin(out).any()
        # The in-body frames keep what the models found there.
        assert (table.loc[inside, "n_instruments"] > 0).all()
        assert (table.loc[inside, "bleeding_fraction"] > 0).all()
        result = store.result_at(15)
        assert result is not None and result.in_body is False and not result.instruments
        assert result.scores["tiny-gate:in_body"] < 0.5
        kept = store.result_at(5)
        assert kept is not None and kept.in_body is True and kept.instruments


def test_frames_csv_has_in_body_column(gated_case: Path, tmp_path: Path) -> None:
    with CaseStore(gated_case, readonly=True) as store:
        export_case(store, tmp_path / "out")
    frames = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert frames.columns.get_loc("in_body") == frames.columns.get_loc("bleeding_fraction") + 1
    expected = [0 if f in OUT_FRAMES else 1 for f in frames["frame"]]
    assert frames["in_body"].tolist() == expected
    episodes = pd.read_csv(tmp_path / "out" / "episodes.csv")
    out = episodes[episodes["kind"] == "out_of_body"]
    assert len(out) == 1
    assert out.iloc[0]["start_s"] == pytest.approx(1.0)
    assert out.iloc[0]["end_s"] == pytest.approx(2.0)


def test_timeline_marks_out_of_body_span(gated_case: Path) -> None:
    with CaseStore(gated_case, readonly=True) as store:
        timeline = build_timeline(store)
    assert timeline.in_body.tolist() == [f not in OUT_FRAMES for f in timeline.frames]
    spans = [(e.start_s, e.end_s) for e in timeline.episodes_of("out_of_body")]
    assert spans == [pytest.approx((1.0, 2.0))]
    totals = timeline.totals()
    assert totals["out_of_body_frames"] == len(OUT_FRAMES)
    assert totals["out_of_body_total_s"] == pytest.approx(1.0)


def test_gate_is_the_one_place_results_are_dropped() -> None:
    result = FrameResult(
        3,
        0.1,
        [Instrument("grasper", 0.9, (0, 0, 10, 10), (5, 5), 0.8, True)],
        BleedingMask(np.zeros((4, 4), np.uint8), 0.2),
        {"gate:in_body": 0.1},
        in_body=False,
    )
    result.gate()
    assert result.instruments == [] and result.bleeding is None
    assert result.scores == {"gate:in_body": 0.1}  # the probability stays, for the record
    kept = FrameResult(4, 0.2, [Instrument("grasper", 0.9, (0, 0, 10, 10))], in_body=None)
    kept.gate()  # unknown (no in-body model) is not "out"
    assert len(kept.instruments) == 1


def test_phases_read_only_in_body_frames(gated_case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera out of the body is neither "no instruments" nor a change of phase: phase
    recognition is given the in-body frames only."""
    from scrubline.core import phases
    from scrubline.core.export import load_procedure

    given: list[np.ndarray] = []
    real = phases.presence_table

    def spy(detections, analysed_times, **kwargs):  # type: ignore[no-untyped-def]
        given.append(np.asarray(analysed_times, dtype=float))
        return real(detections, analysed_times, **kwargs)

    monkeypatch.setattr(phases, "presence_table", spy)
    with CaseStore(gated_case, readonly=True) as store:
        timeline = build_timeline(store, phase_template=load_procedure("generic"))
    assert timeline.episodes_of("phase"), "the generic template finds phases on this clip"
    (times,) = given
    out_times = timeline.times[~timeline.in_body]
    assert len(out_times) == len(OUT_FRAMES)
    assert not np.isin(np.round(out_times, 6), np.round(times, 6)).any()
    assert len(times) == len(timeline.times) - len(OUT_FRAMES)


def _old_case(path: Path) -> Path:
    """A case as written before the in-body column existed (no `in_body` in `frames`)."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE frames (frame INTEGER PRIMARY KEY, time_s REAL NOT NULL,
            n_instruments INTEGER NOT NULL, tips_visible INTEGER NOT NULL,
            tips_hidden INTEGER NOT NULL, bleeding_fraction REAL, bleeding_mask BLOB,
            scores TEXT, models TEXT);
        CREATE TABLE instruments (frame INTEGER NOT NULL, label TEXT NOT NULL, score REAL NOT NULL,
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            tip_x REAL, tip_y REAL, tip_score REAL NOT NULL, tip_visible INTEGER NOT NULL);
        CREATE TABLE thumbnails (frame INTEGER PRIMARY KEY, time_s REAL NOT NULL,
            jpeg BLOB NOT NULL);
        CREATE TABLE bookmarks (id INTEGER PRIMARY KEY AUTOINCREMENT, time_s REAL NOT NULL,
            frame INTEGER NOT NULL, category TEXT NOT NULL, note TEXT NOT NULL,
            created REAL NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO meta VALUES ('video', '{"fingerprint": "x", "duration_s": 1.0}');
        INSERT INTO frames VALUES (0, 0.0, 1, 1, 0, 0.1, NULL, NULL, NULL);
        INSERT INTO frames VALUES (5, 0.5, 0, 0, 0, 0.0, NULL, NULL, NULL);
        INSERT INTO instruments VALUES (0, 'instrument', 0.9, 1, 1, 5, 5, 3, 3, 0.9, 1);
        """
    )
    db.commit()
    db.close()
    return path


def test_case_from_before_the_gate_opens_read_only(tmp_path: Path) -> None:
    case = _old_case(tmp_path / "old.scrub")
    with CaseStore(case, readonly=True) as store:
        table = store.frames_table()
        assert table["in_body"].isna().all()
        result = store.result_at(0)
        assert result is not None and result.in_body is None and len(result.instruments) == 1
        timeline = build_timeline(store)
    assert timeline.in_body.all() and not timeline.episodes_of("out_of_body")
    frames = frames_dataframe(timeline)
    assert frames["in_body"].isna().all()  # unknown, not "in" and not "out"


def test_case_from_before_the_gate_gets_the_column_when_written(tmp_path: Path) -> None:
    case = _old_case(tmp_path / "old.scrub")
    with CaseStore(case) as store:
        store.write_results([FrameResult(10, 1.0, in_body=False)])
        table = store.frames_table().set_index("frame")
    assert pd.isna(table.loc[0, "in_body"])
    assert table.loc[10, "in_body"] == 0


def test_outcome_model_reads_only_in_body_frames(
    gated_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrubline.core import export, outcome

    given: list[np.ndarray] = []

    def spy(detections, frame_size, analysed_times, model, **kwargs):  # type: ignore[no-untyped-def]
        given.append(np.asarray(analysed_times, dtype=float))
        return {"reason": "spied"}

    monkeypatch.setattr(outcome, "predict_case_outcome", spy)
    with CaseStore(gated_case, readonly=True) as store:
        timeline = build_timeline(store)
        export.outcome_for(store, timeline, load_registry(include_bundled=False))
    (times,) = given
    assert len(times) == len(timeline.times) - len(OUT_FRAMES)
    assert not np.isin(np.round(timeline.times[~timeline.in_body], 6), np.round(times, 6)).any()


def test_a_span_a_reviewer_marks_out_of_body_counts_as_out_of_body(
    gated_case: Path, tmp_path: Path
) -> None:
    """The reviewer's "mark out of body" and the in-body gate are one notion: the span's frames
    are in_body 0 in frames.csv, out of body in the timeline and in the pictures."""
    import shutil

    from scrubline.core.case import Case
    from scrubline.core.edits import AddCorrection

    case_path = tmp_path / "reviewed.scrub"
    shutil.copy(gated_case, case_path)
    with Case.open(case_path, readonly=False) as case:
        case.apply(AddCorrection(case.correction_for_span("out_of_body", 2.5, 2.8)))
    with Case.open(case_path) as case:
        frames = frames_dataframe(case.timeline()).set_index("frame")
        assert (frames.loc[[25, 26, 27], "in_body"] == 0).all()
        assert frames.loc[24, "in_body"] == 1 and frames.loc[28, "in_body"] == 1
        result = case.result_at(26)
        assert result is not None and result.out_of_body and not result.instruments
        assert case.result_at(5).in_body is True  # type: ignore[union-attr]
