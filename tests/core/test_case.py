"""`core.case.Case`: the one door to a case file. Edits are data that come back with their
inverse; reviewer corrections sit beside the model's output and reach the timeline, the exports
and the report; a re-analysis makes them stale instead of applying them to other results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.case import Case, StoreError
from scrubline.core.edits import (
    AddBookmark,
    AddCorrection,
    Correction,
    DeleteBookmark,
    RemoveCorrection,
    SetCaseInfo,
    SetEventStart,
    SetProcedure,
    UpdateBookmark,
)
from scrubline.core.export import export_case
from scrubline.core.results import FrameResult, Instrument
from scrubline.core.store import CaseStore
from tests.report.synthetic import make_case

GRASPER_BOX = (300.0, 200.0, 700.0, 500.0)
HOOK_BOX = (600.0, 100.0, 1000.0, 400.0)
FRAME_12S = 300  # 25 fps video analysed at 5 fps: a grasper and a hook in view at 12 s


@pytest.fixture
def case_path(tmp_path: Path) -> Path:
    return make_case(tmp_path / "c.scrub", bookmarks=False)


def _state(case: Case) -> tuple[object, ...]:
    return (
        [(b.id, b.time_s, b.note, b.category) for b in case.bookmarks()],
        case.event_start_s,
        case.get_meta("procedure"),
        case.case_info,
        [(c.id, c.to_data()) for c in case.corrections()],
    )


def test_every_edit_is_undone_by_its_inverse_and_redone_by_the_inverse_of_that(
    case_path: Path,
) -> None:
    with Case.open(case_path, readonly=False) as case:
        first = case.apply(AddBookmark(5.0, 125, "first", "note"))
        assert isinstance(first, DeleteBookmark)
        mark = first.id
        sequence = [
            AddBookmark(12.0, 300, "  look here ", "complication"),
            UpdateBookmark(mark, note="changed", category="teaching point"),
            DeleteBookmark(mark),
            SetEventStart(21.5),
            SetProcedure("cholecystectomy"),
            SetCaseInfo({"label": "Case 12", "surgeon": "Dr A"}),
            SetCaseInfo({"surgeon": "Dr B"}),
            AddCorrection(case.correction_for_span("out_of_body", 40.0, 45.0)),
        ]
        for edit in sequence:
            before = _state(case)
            inverse = case.apply(edit)
            after = _state(case)
            assert after != before, edit
            redo = case.apply(inverse)
            assert _state(case) == before, edit
            case.apply(redo)
            assert _state(case) == after, edit
        # The typed note is stored trimmed; the case details merge field by field.
        assert case.case_info == {"label": "Case 12", "surgeon": "Dr B"}
        assert [b.note for b in case.bookmarks()] == ["look here"]
        with pytest.raises(ValueError, match="category"):
            case.apply(AddBookmark(1.0, 25, "", "gossip"))
        with pytest.raises(StoreError, match="no bookmark"):
            case.apply(DeleteBookmark(9999))


def test_listeners_hear_each_applied_edit(case_path: Path) -> None:
    heard: list[object] = []
    with Case.open(case_path, readonly=False) as case:
        stop = case.subscribe(heard.append)
        edit = SetEventStart(3.0)
        case.apply(edit)
        stop()
        case.apply(SetEventStart(None))
    assert heard == [edit]


def test_a_read_only_case_refuses_edits(case_path: Path) -> None:
    with Case.open(case_path) as case, pytest.raises(StoreError, match="reading only"):
        case.apply(SetEventStart(3.0))


def _grasper_at_12s(case: Case) -> Instrument:
    result = case.result_at(FRAME_12S)
    assert result is not None
    return next(i for i in result.instruments if i.label == "grasper")


def test_box_corrections_reach_results_detections_and_timeline_but_not_the_model_output(
    case_path: Path,
) -> None:
    with Case.open(case_path, readonly=False) as case:
        grasper = _grasper_at_12s(case)
        hook = next(i for i in case.result_at(FRAME_12S).instruments if i.label == "hook")  # type: ignore[union-attr]
        before = case.timeline()
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, hook)))
        case.apply(
            AddCorrection(
                case.correction_for_box("relabel_box", FRAME_12S, grasper, label="clipper")
            )
        )
        case.apply(
            AddCorrection(
                case.correction_for_box("tip_visibility", FRAME_12S, grasper, visible=False)
            )
        )
        result = case.result_at(FRAME_12S)
        assert result is not None
        assert [(i.label, i.tip_visible, i.source) for i in result.instruments] == [
            ("clipper", False, "reviewer")
        ]
        detections = case.detections()
        at = detections[detections["frame"] == FRAME_12S]
        assert at[["label", "tip_visible", "source"]].values.tolist() == [
            ["clipper", False, "reviewer"]
        ]
        # Every other frame is as the model gave it.
        assert set(detections[detections["frame"] != FRAME_12S]["source"]) == {"model"}
        after = case.timeline()
        row = int(np.flatnonzero(after.frames == FRAME_12S)[0])
        assert "clipper" in after.labels
        assert after.presence[row, after.labels.index("clipper")] == 1
        assert after.presence[row, after.labels.index("hook")] == 0
        # The reviewer's "hidden" is a person's label and counts; the model's own tips do not
        # (their classes have no validated tip rule, scrubline.core.tips).
        assert (after.tips_visible[row], after.tips_hidden[row]) == (0, 1)
        assert (before.tips_visible[row], before.tips_hidden[row]) == (0, 0)
        assert case.corrections_count() == {"delete_box": 1, "relabel_box": 1, "tip_visibility": 1}
    # The model's own output in the file is untouched.
    with CaseStore(case_path, readonly=True) as store:
        raw = store.result_at(FRAME_12S)
        assert raw is not None
        assert sorted((i.label, i.tip_visible) for i in raw.instruments) == [
            ("grasper", True),
            ("hook", True),
        ]


def test_corrections_survive_closing_and_a_second_connection_sees_them(case_path: Path) -> None:
    with Case.open(case_path) as reader:
        assert len(reader.result_at(FRAME_12S).instruments) == 2  # type: ignore[union-attr]
        with Case.open(case_path, readonly=False) as writer:
            hook = writer.result_at(FRAME_12S).instruments[1]  # type: ignore[union-attr]
            writer.apply(AddCorrection(writer.correction_for_box("delete_box", FRAME_12S, hook)))
        # The reader's cached corrections follow another connection's commit.
        assert len(reader.result_at(FRAME_12S).instruments) == 1  # type: ignore[union-attr]
    with Case.open(case_path) as again:
        (correction,) = again.corrections()
        assert correction.kind == "delete_box" and not correction.stale
        assert correction.label == "hook" and correction.box == HOOK_BOX


def test_a_re_analysis_by_other_models_makes_a_box_correction_stale(case_path: Path) -> None:
    with Case.open(case_path, readonly=False) as case:
        hook = case.result_at(FRAME_12S).instruments[1]  # type: ignore[union-attr]
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, hook)))
    with CaseStore(case_path) as store:  # the analysis writes the frame again, with a new model
        store.write_results([FrameResult(FRAME_12S, 12.0, [hook])], models=["tiny-detector@0.4.0"])
    with Case.open(case_path) as case:
        (correction,) = case.corrections()
        assert correction.stale
        assert [i.label for i in case.result_at(FRAME_12S).instruments] == ["hook"]  # type: ignore[union-attr]
        assert case.corrections_count() == {"stale": 1}


def test_phase_boundary_and_out_of_body_corrections_shape_the_phases(case_path: Path) -> None:
    with Case.open(case_path, readonly=False) as case:
        phases = case.timeline().episodes_of("phase")
        assert len(phases) >= 2, phases
        boundary = phases[1].start_s
        target = (phases[0].start_s + boundary) / 2
        case.apply(AddCorrection(case.correction_for_span("phase_boundary", boundary, target)))
        moved = case.timeline().episodes_of("phase")
        assert moved[1].start_s == pytest.approx(target) and moved[0].end_s == pytest.approx(target)
        case.apply(AddCorrection(case.correction_for_span("out_of_body", 40.0, 45.0)))
        timeline = case.timeline()
        inside = [p for p in timeline.episodes_of("phase") if p.start_s < 45.0 and p.end_s > 40.0]
        assert [(p.label, p.start_s, p.end_s) for p in inside] == [("out of body", 40.0, 45.0)]
        # Nothing the model saw in that span counts: no tools, no bleeding measured.
        rows = (timeline.times >= 40.0) & (timeline.times < 45.0)
        assert timeline.presence[rows].sum() == 0 and np.isnan(timeline.bleeding[rows]).all()
        assert case.result_at(int(42 * 25)).instruments == []  # type: ignore[union-attr]


def test_exports_carry_the_source_and_the_count_of_corrections(
    case_path: Path, tmp_path: Path
) -> None:
    with Case.open(case_path, readonly=False) as case:
        grasper = _grasper_at_12s(case)
        case.apply(
            AddCorrection(
                case.correction_for_box("relabel_box", FRAME_12S, grasper, label="clipper")
            )
        )
        export_case(case, tmp_path / "out")
    detections = pd.read_csv(tmp_path / "out" / "detections.csv")
    assert list(detections.columns)[-1] == "source"
    corrected = detections[detections["source"] == "reviewer"]
    assert corrected[["frame", "label"]].values.tolist() == [[FRAME_12S, "clipper"]]
    assert (detections["source"] == "model").sum() == len(detections) - 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["corrections"] == {"relabel_box": 1}


def test_a_report_says_how_many_results_a_reviewer_corrected(
    case_path: Path, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    from scrubline.report import write_report

    with Case.open(case_path, readonly=False) as case:
        grasper = _grasper_at_12s(case)
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, grasper)))
        case.apply(AddCorrection(case.correction_for_span("out_of_body", 40.0, 45.0)))
    with Case.open(case_path) as case:
        write_report(case, tmp_path / "r.pdf")
    text = " ".join((p.extract_text() or "") for p in PdfReader(tmp_path / "r.pdf").pages)
    text = " ".join(text.split())
    assert (
        "A reviewer corrected 2 results: 1 false tool box removed, 1 span marked out of body"
        in text
    ), text[:2000]


def test_timeline_and_reason_gives_the_reason_instead_of_raising(case_path: Path) -> None:
    with Case.open(case_path, readonly=False) as case:
        case.apply(SetProcedure("no-such-procedure"))
        timeline, reason = case.timeline_and_reason()
        assert timeline.episodes_of("phase") == []
        assert reason == "no phase template for the procedure 'no-such-procedure' is installed"


def test_the_outcome_never_raises_and_names_no_path(case_path: Path) -> None:
    class Broken:
        def by_task(self, task: str) -> list[object]:
            raise RuntimeError("cannot read /srv/videos/Doe_Jane_MRN4471_2024-03-02.mp4")

    with Case.open(case_path) as case:
        outcome = case.outcome(registry=Broken())
    assert outcome["blood_loss_ml"] is None
    assert outcome["reason"].startswith("the outcome could not be computed (cannot read")
    assert "/srv" not in outcome["reason"] and "Doe_Jane" not in outcome["reason"]


def test_corrections_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="unknown correction"):
        Correction(kind="paint_it_blue")
    with pytest.raises(ValueError, match="frame and box"):
        Correction(kind="delete_box", frame=3)
    with pytest.raises(ValueError, match="right class"):
        Correction(kind="relabel_box", frame=3, box=(0, 0, 1, 1))
    with pytest.raises(ValueError, match="end after"):
        Correction(kind="out_of_body", start_s=5.0, end_s=5.0)
    data = Correction(kind="tip_visibility", frame=3, box=(0, 0, 1, 1), visible=True).to_data()
    assert Correction.from_data(data).to_data() == data


def test_remove_correction_puts_back_the_same_one(case_path: Path) -> None:
    with Case.open(case_path, readonly=False) as case:
        inverse = case.apply(AddCorrection(case.correction_for_span("out_of_body", 1.0, 2.0)))
        assert isinstance(inverse, RemoveCorrection)
        (made,) = case.corrections()
        back = case.apply(inverse)
        assert case.corrections() == []
        case.apply(back)
        assert case.corrections() == [made]


def test_corrections_export_as_training_labels(case_path: Path, tmp_path: Path) -> None:
    from scrubline.core.export import export_corrections

    with Case.open(case_path, readonly=False) as case:
        result = case.result_at(FRAME_12S)
        hook = next(i for i in result.instruments if i.label == "hook")  # type: ignore[union-attr]
        grasper = _grasper_at_12s(case)
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, hook)))
        case.apply(
            AddCorrection(
                case.correction_for_box("tip_visibility", FRAME_12S, grasper, visible=False)
            )
        )
        case.apply(AddCorrection(case.correction_for_span("out_of_body", 40.0, 45.0)))
        case.apply(SetCaseInfo({"label": "Case 12"}))
    with Case.open(case_path) as case:
        written = export_corrections(case, tmp_path / "labels")
    assert [p.name for p in written] == [
        "corrections.json",
        "reviewed_detections.csv",
        "tool_phase_1fps.csv",
    ]
    document = json.loads(written[0].read_text())
    assert document["case"] == "Case 12" and document["video"]["fingerprint"] == "f" * 24
    assert [c["kind"] for c in document["corrections"]] == [
        "delete_box",
        "tip_visibility",
        "out_of_body",
    ]
    assert document["corrections"][0]["box"] == list(HOOK_BOX)
    boxes = pd.read_csv(written[1])
    assert boxes[["frame", "label", "tip_visible", "source", "removed"]].values.tolist() == [
        [FRAME_12S, "grasper", 0, "reviewer", 0],
        [FRAME_12S, "hook", 0, "reviewer", 1],
    ]
    table = pd.read_csv(written[2])
    # The columns the Cholec80 phase training reads, one row per second.
    assert list(table.columns[:5]) == ["video", "frame", "second", "phase", "phase_source"]
    assert set(table.columns[5:]) == {"grasper", "hook", "clipper"}
    assert table["second"].tolist() == list(range(60))
    at = table.set_index("second")
    assert at.loc[42, "phase"] == "out of body" and at.loc[42, "phase_source"] == "reviewer"
    assert at.loc[42, ["grasper", "hook"]].tolist() == [0, 0]
    assert at.loc[20, "phase_source"] == "model" and at.loc[20, "grasper"] == 1
    assert at.loc[12, "frame"] == 300


def test_a_corrected_box_is_labelled_as_the_reviewers_not_with_the_models_score() -> None:
    from scrubline.core.overlay import box_text

    model = Instrument("grasper", 0.91, (0, 0, 10, 10))
    assert box_text(model) == "grasper 0.91"
    assert box_text(Instrument("clipper", 0.91, (0, 0, 10, 10), source="reviewer")) == (
        "clipper (reviewer)"
    )
