"""The PDF debrief from generated cases: what it says, what it refuses to say, page sizes and
fonts, and that a 3-hour case renders (the time is printed, not asserted)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from pypdf import PdfReader

from scrubline.core.case import Case
from scrubline.core.models import Registry
from scrubline.core.store import CaseStore
from scrubline.core.timeline import Episode, build_timeline
from scrubline.report import ReportOptions, write_report
from scrubline.report.figure import make_columns, runs, timeline_drawing
from tests.report.synthetic import VIDEO_NAME, make_case

A4 = (595.2756, 841.8898)
LETTER = (612.0, 792.0)


def _empty_registry() -> Registry:
    return Registry()


def _text(pdf: Path) -> tuple[str, PdfReader]:
    reader = PdfReader(str(pdf))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"\s+", " ", text), reader


def _report(case: Path, out: Path, registry: Any = None, **options: Any) -> tuple[str, PdfReader]:
    with CaseStore(case) as store:
        written = write_report(
            store, out, ReportOptions(**options), registry=registry or _empty_registry()
        )
    assert written == out and out.exists()
    assert not out.with_name(out.name + ".part").exists()
    return _text(out)


def _assert_nothing_identifying(text: str, reader: PdfReader, *paths: Path) -> None:
    stem = Path(VIDEO_NAME).stem
    for needle in (VIDEO_NAME, stem, "Doe_Jane", "MRN4471"):
        assert needle.lower() not in text.lower()
    for path in paths:
        assert str(path) not in text and path.name not in text
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    assert "Doe" not in meta and "/tmp" not in meta and "MRN" not in meta


def _sequence_registry(metrics: dict[str, float]) -> Registry:
    manifest = SimpleNamespace(
        id="tiny-outcome",
        version="0.2.0",
        task="sequence",
        name="Tiny outcome model",
        metrics=metrics,
        training={"data": "simulated bleeding videos", "split": "5-fold by surgeon"},
        licence="CC BY-NC 4.0",
        summary="Blood loss and success from the first minute.",
        card=None,
        extra={},
    )
    return Registry(manifests={"tiny-outcome": manifest})  # type: ignore[dict-item]


def test_full_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = make_case(
        tmp_path / "full.scrub",
        case_info={"surgeon": "Dr Ödön Kovács", "procedure": "stored procedure"},
    )
    prediction = {
        "event_start_s": 20.0,
        "blood_loss_ml": 412.5,
        "blood_loss_interval_ml": [260.0, 655.0],
        "success_probability": 0.73,
        "model": {"id": "tiny-outcome", "version": "0.2.0"},
        "reason": None,
    }
    monkeypatch.setattr(Case, "outcome", lambda *a, **k: prediction)
    registry = _sequence_registry(
        {"cv_rmse_ml": 318.0, "cv_accuracy": 0.78, "cv_auroc": 0.81, "interval_coverage": 0.79}
    )
    out = tmp_path / "full.pdf"
    text, reader = _report(
        case,
        out,
        registry,
        label="Case 12 – lap chole",
        procedure="Cholecystectomy",
        reviewer="A. Reviewer",
        date="2024-05-01",
    )
    pages = len(reader.pages)
    assert 4 <= pages <= 8
    # Header: what was typed, with the stored surgeon filling in; version, settings, models.
    for needle in (
        "Case 12 – lap chole",
        "Cholecystectomy",
        "A. Reviewer",
        "2024-05-01",
        "Dr Ödön Kovács",
        "version 0.1.0",
        "5 frames per second",
        "tiny-detector 0.3.0",
        "tiny-bleeding 1.0.0",
        "tiny-outcome 0.2.0",
    ):
        assert needle in text, needle
    assert "stored procedure" not in text  # typed beats stored
    # Summary and the prediction with its model figures and the literature anchors.
    for needle in (
        "412 mL",
        "80% interval 260–655 mL",
        "73% probability",
        "RMSE 318 mL",
        "accuracy 78%",
        "AUROC 0.81",
        "295 mL",
        "351 mL",
        "85%",
        "69%",
        "Pangal et al., Sci Rep 2022",
        "not measured by Scrubline",
        "80% interval held the true loss in 79% of cases",
    ):
        assert needle in text, needle
    # Tables.
    for needle in (
        "Tool usage",
        "grasper",
        "hook",
        "clipper",
        "Tip-hidden episodes",
        "Bleeding episodes",
        "not controlled by the end of the analysed video",
        "Time to control",
        "bleeding at the cystic artery",
        "tip behind the liver edge <check>",
        "complication",
    ):
        assert needle in text, needle
    # Key frames and provenance.
    for needle in (
        "Peak bleeding",
        "Longest tip-hidden moment",
        "Bookmark 1",
        "Bookmark 2",
        "stored thumbnail",
        "Models and their validation",
        "Tiny instrument detector",
        "val mAP@0.5 0.61",  # the manifest's val_map50, in words
        "CC BY-NC 4.0",
        "not a medical device",
    ):
        assert needle.lower() in text.lower(), needle
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text
    assert text.count("Case 12 – lap chole") >= pages  # the label is in every footer
    _assert_nothing_identifying(text, reader, tmp_path, case)
    # Every font is embedded (TrueType subsets), none of the unembedded standard 14.
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            assert font["/Subtype"] != "/Type1", font["/BaseFont"]
            descriptor = (
                font["/FontDescriptor"]
                if "/FontDescriptor" in font
                else (font["/DescendantFonts"][0].get_object()["/FontDescriptor"])
            )
            assert "/FontFile2" in descriptor.get_object()


def test_page_sizes(tmp_path: Path) -> None:
    case = make_case(tmp_path / "c.scrub")
    _, a4 = _report(case, tmp_path / "a4.pdf", page_size="A4")
    _, letter = _report(case, tmp_path / "letter.pdf", page_size="letter")
    assert [float(v) for v in a4.pages[0].mediabox[2:]] == pytest.approx(A4, abs=0.01)
    assert [float(v) for v in letter.pages[-1].mediabox[2:]] == pytest.approx(LETTER, abs=0.01)
    with pytest.raises(ValueError):
        ReportOptions(page_size="A5")


def test_no_prediction_says_why_and_no_label_is_untitled(tmp_path: Path) -> None:
    case = make_case(tmp_path / "c.scrub")
    text, reader = _report(case, tmp_path / "r.pdf")
    assert "Untitled case" in text
    assert "No prediction was made: no outcome model is installed." in text
    assert "mL" not in text.split("Models and their validation")[0].replace(
        "RMSE", ""
    )  # no invented number
    assert "not given" in text  # surgeon, reviewer, ... left blank
    _assert_nothing_identifying(text, reader, tmp_path)


def test_stored_case_info_is_used_when_nothing_is_typed(tmp_path: Path) -> None:
    case = make_case(
        tmp_path / "c.scrub", case_info={"label": "Teaching case 3", "reviewer": "R. Lee"}
    )
    text, _ = _report(case, tmp_path / "r.pdf")
    assert "Teaching case 3" in text and "R. Lee" in text and "Untitled case" not in text


def test_partial_analysis_says_what_is_missing(tmp_path: Path) -> None:
    case = make_case(tmp_path / "p.scrub", analysed_until=24.0)
    text, reader = _report(case, tmp_path / "p.pdf")
    assert "The analysis is partial: 120 of 300 planned frames (40%)" in text
    assert "partial" in text and "not analysed" in text
    assert len(reader.pages) >= 3


def test_no_bleeding(tmp_path: Path) -> None:
    case = make_case(tmp_path / "nb.scrub", bleeds=False)
    text, _ = _report(case, tmp_path / "nb.pdf")
    assert "No bleeding episodes: the bleeding area stayed below 3%" in text
    assert "No bleeding episode was found, so there is no peak-bleeding frame." in text
    assert "Longest tip-hidden moment" in text


def test_no_bleeding_model(tmp_path: Path) -> None:
    case = make_case(tmp_path / "nbm.scrub", bleeding=False)
    text, _ = _report(case, tmp_path / "nbm.pdf")
    assert "No bleeding model ran, so bleeding was not measured." in text
    assert "None: bleeding was not measured" in text


def test_no_tools(tmp_path: Path) -> None:
    case = make_case(tmp_path / "nt.scrub", tools=False)
    text, _ = _report(case, tmp_path / "nt.pdf")
    assert "No instrument detector ran" in text
    assert "No instruments were detected in the analysed frames." in text
    assert "no instruments were detected, so tip visibility was not measured" in text
    assert "Peak bleeding" in text and "Longest tip-hidden moment" not in text


def test_empty_case(tmp_path: Path) -> None:
    path = tmp_path / "empty.scrub"
    CaseStore(path, create=True).close()
    text, reader = _report(path, tmp_path / "e.pdf")
    assert "Nothing was analysed" in text
    assert "nothing (no analysed frames in the case file)" in text
    assert "No bookmarks were set." in text and "No key frames to show." in text
    assert "No timeline: nothing was analysed." in text
    assert "not a medical device" in text.lower()
    assert len(reader.pages) >= 2


def test_phases_from_the_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = make_case(tmp_path / "ph.scrub")

    def with_phases(case: Case, settings: Any = None) -> Any:
        timeline = build_timeline(case, settings)
        timeline.episodes += [
            Episode("phase", "preparation", 0.0, 20.0),
            Episode("phase", "dissection", 20.0, 50.0),
            Episode("phase", "preparation", 50.0, 60.0),
        ]
        return timeline

    monkeypatch.setattr(Case, "timeline", with_phases)
    text, _ = _report(case, tmp_path / "ph.pdf")
    assert "preparation" in text and "dissection" in text
    assert "No surgical phases" not in text
    assert re.search(r"preparation 30\.0 s 50% 0:00 1:00 2", text), text[:3000]


def test_key_frames_from_the_video(tmp_path: Path) -> None:
    from scrubline.core.analysis import AnalysisSettings, analyse_video
    from scrubline.core.demo import render_demo_clip

    video = render_demo_clip(tmp_path / VIDEO_NAME, seconds=4.0)
    case = tmp_path / "v.scrub"
    analyse_video(video, case, AnalysisSettings(fps=5))
    with CaseStore(case) as store:
        store.add_bookmark(1.0, 25, "look here", "note")
    text, reader = _report(case, tmp_path / "v.pdf", video_path=video)
    assert "Key frames are exact video frames at full resolution." in text
    assert "video frame" in text
    _assert_nothing_identifying(text, reader, tmp_path, video, case)
    # Another video than the case's: thumbnails, and the report says why.
    other = render_demo_clip(tmp_path / "other.mp4", seconds=1.0)
    text, _ = _report(case, tmp_path / "v2.pdf", video_path=other)
    assert "not the one this case was analysed from" in text
    missing = tmp_path / "gone.mp4"
    text, _ = _report(case, tmp_path / "v3.pdf", video_path=missing)
    assert "could not be opened" in text and "gone.mp4" not in text


def test_three_hour_case_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case(
        tmp_path / "long.scrub", seconds=3 * 3600, thumbnails_every_s=30.0, mask_size=(6, 8)
    )
    with CaseStore(case) as store:
        assert store.frame_count() == 54_000
        for k in range(30):
            store.add_bookmark(300.0 * k + 12.5, int((300 * k + 12.5) * 25), f"note {k}", "note")
    started = time.perf_counter()
    text, reader = _report(case, tmp_path / "long.pdf")
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n3-hour case (54,000 samples, 30 bookmarks): report in {elapsed:.2f} s, "
            f"{len(reader.pages)} pages, {(tmp_path / 'long.pdf').stat().st_size / 1e6:.2f} MB"
        )
    assert "2:00:00" in text  # the axis switches to hours
    assert "longest of" in text  # long episode lists are cut, saying so
    assert "first 24 of 32 bookmarks" in text
    assert len(reader.pages) < 20


def test_figure_downsamples_to_columns() -> None:
    times = np.arange(0, 10800, 0.2)
    cols = make_columns(times, 0.2, 0.0, 10800.0, 600)
    values = np.zeros(times.size)
    values[1000] = 1.0  # one sample spike survives the max
    reduced = cols.reduce(values, "max")
    assert reduced.shape == (600,) and np.nanmax(reduced) == 1.0 and cols.covered.all()
    assert cols.reduce(values, "mean").max() == pytest.approx(1 / 90)  # 90 samples per column
    # Sparse samples (period wider than a column) still cover the columns between them.
    sparse = make_columns(np.array([0.0, 10.0]), 10.0, 0.0, 20.0, 100)
    assert sparse.covered.all()
    assert np.array_equal(sparse.reduce(np.array([1.0, 2.0]), "max")[[0, 49, 50, 99]], [1, 1, 2, 2])
    gap = make_columns(np.array([0.0, 0.2, 15.0]), 0.2, 0.0, 20.0, 100)
    assert not gap.covered[10:70].any() and gap.covered[0] and gap.covered[75]
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]


def test_figure_size_is_bounded_for_long_cases(tmp_path: Path) -> None:
    case = make_case(
        tmp_path / "mid.scrub", seconds=1800, thumbnails_every_s=600.0, mask_size=(6, 8)
    )
    with CaseStore(case) as store:
        timeline = build_timeline(store)
    drawing = timeline_drawing(timeline, 500.0)
    # Thousands of samples and episodes, a few hundred shapes.
    assert len(timeline.times) == 9000
    assert len(drawing.contents) < 1500


def test_damaged_stored_results_still_give_a_report(tmp_path: Path) -> None:
    import sqlite3

    case = make_case(tmp_path / "d.scrub")
    with sqlite3.connect(case) as db:  # every stored mask unreadable
        db.execute("UPDATE frames SET bleeding_mask = x'00010203'")
    text, _ = _report(case, tmp_path / "d.pdf")
    assert "Peak bleeding" in text and "Bookmark 1" in text


def _tiny_sequence_model(folder: Path) -> Path:
    """A real ONNX sequence model with the outcome contract that answers 420 mL [250, 700] and
    a 0.6 success probability whatever it reads (its input still flows through the graph)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from scrubline.core.outcome import FEATURES

    folder.mkdir(parents=True, exist_ok=True)

    def const(name: str, value: float) -> Any:
        return helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(np.array(value, np.float32), name)
        )

    nodes = [
        helper.make_node(
            "Constant",
            [],
            ["axes"],
            value=numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
        ),
        helper.make_node("ReduceMean", ["sequence", "axes"], ["mean"], keepdims=0),
        helper.make_node(
            "Constant", [], ["one"], value=numpy_helper.from_array(np.array([1], np.int64), "one")
        ),
        helper.make_node("Unsqueeze", ["mean", "one"], ["column"]),
        const("zero", 0.0),
        const("loss", 420.0),
        const("low", 250.0),
        const("high", 700.0),
        const("p", 0.6),
        helper.make_node("Mul", ["column", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "loss"], ["blood_loss_ml"]),
        helper.make_node("Add", ["nothing", "low"], ["lo"]),
        helper.make_node("Add", ["nothing", "high"], ["hi"]),
        helper.make_node("Concat", ["lo", "hi"], ["blood_loss_interval_ml"], axis=1),
        helper.make_node("Add", ["nothing", "p"], ["success_probability"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_outcome",
        [helper.make_tensor_value_info("sequence", TensorProto.FLOAT, ["N", 60, len(FEATURES)])],
        [
            helper.make_tensor_value_info("blood_loss_ml", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("blood_loss_interval_ml", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("success_probability", TensorProto.FLOAT, ["N", 1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, folder / "tiny-outcome.onnx")
    features = ", ".join(f'"{f}"' for f in FEATURES)
    (folder / "tiny-outcome.toml").write_text(
        'schema = 1\nid = "tiny-outcome"\nversion = "0.0.1"\nname = "Tiny outcome"\n'
        'task = "sequence"\n'
        'file = "tiny-outcome.onnx"\nlicence = "test only"\n'
        f'[input]\nname = "sequence"\nsteps = 60\nfeatures = [{features}]\n'
        '[[outputs]]\nname = "blood_loss_ml"\nrole = "blood_loss_ml"\n'
        '[[outputs]]\nname = "blood_loss_interval_ml"\nrole = "blood_loss_interval_ml"\n'
        '[[outputs]]\nname = "success_probability"\nrole = "success_probability"\n'
        '[training]\ndata = "nothing: a test model"\n'
        "[metrics]\ncv_rmse_ml = 300.0\ncv_accuracy = 0.75\n",
        encoding="utf-8",
    )
    return folder


def test_prediction_end_to_end_through_the_outcome_model(tmp_path: Path) -> None:
    """No monkeypatching: the real outcome path (event start from the bleeding track, features
    from the detections, an ONNX sequence model) puts its numbers into the summary."""
    from scrubline.core.models import load_registry

    registry = load_registry([_tiny_sequence_model(tmp_path / "models")], include_bundled=False)
    assert registry.by_task("sequence"), registry.problems
    case = make_case(tmp_path / "long.scrub", seconds=120.0, thumbnails_every_s=5.0)
    text, _ = _report(case, tmp_path / "p.pdf", registry)
    assert "420 mL" in text and "80% interval 250–700 mL" in text and "60% probability" in text
    assert "RMSE 300 mL" in text and "accuracy 75%" in text
    assert "Tiny outcome" in text and "test only" in text  # provenance page
    # Its metrics are in words there, not manifest keys that wrap mid-word.
    assert "cross-validated RMSE mL" in text and "cv_rmse_ml" not in text
    # A minute-long case cannot give the model its minute after the bleeding starts: it says so.
    short = make_case(tmp_path / "short.scrub", seconds=60.0)
    text, _ = _report(short, tmp_path / "s.pdf", registry)
    assert "No prediction was made: the model reads the 60 s after the bleeding starts" in text
    assert "420 mL" not in text


def test_bleeding_already_present_at_the_start_has_only_a_lower_bound(tmp_path: Path) -> None:
    from scrubline.core.results import BleedingMask, FrameResult

    path = tmp_path / "b.scrub"
    with CaseStore(path, create=True) as store:
        store.set_meta(
            "video",
            {"name": VIDEO_NAME, "duration_s": 20.0, "fps": 25.0, "width": 320, "height": 240},
        )
        mask = np.full((6, 8), 255, np.uint8)
        store.write_results(
            [
                FrameResult(
                    frame=5 * i, time_s=0.2 * i, bleeding=BleedingMask(mask, 0.1 if i < 50 else 0.0)
                )
                for i in range(100)
            ]
        )
    text, _ = _report(path, tmp_path / "b.pdf")
    assert "at least 10.0 s (already bleeding where the analysis starts)" in text


def test_error_messages_are_printed_without_paths_or_the_video_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"cannot read /srv/videos/{VIDEO_NAME} (or {Path(VIDEO_NAME).stem}.json)"
        )

    monkeypatch.setattr(Case, "summary", broken)
    case = make_case(tmp_path / "c.scrub")
    text, reader = _report(case, tmp_path / "r.pdf")
    assert "the outcome could not be computed (cannot read [path]" in text
    assert "/srv/videos" not in text
    _assert_nothing_identifying(text, reader, tmp_path, case)


def test_provenance_names_what_each_output_of_a_model_feeds() -> None:
    from types import SimpleNamespace

    from scrubline.report.document import _use_of

    vision = SimpleNamespace(
        outputs=[SimpleNamespace(role=r) for r in ("instrument_mask", "tip_map", "bleeding_mask")]
    )
    assert (
        _use_of(vision)
        == "instrument boxes and tool lanes; tips and tip visibility; bleeding mask and area; "
        "bleeding episodes"
    )
    bleeding_only = SimpleNamespace(outputs=[SimpleNamespace(role="bleeding_mask")])
    assert _use_of(bleeding_only) == "bleeding mask and area; bleeding episodes"
    assert _use_of(None) is None  # a model no longer installed: the task's generic text is used


def test_tools_seen_are_the_classes_found_not_all_the_model_could_report(tmp_path: Path) -> None:
    """A class-aware detector lists 7 classes; the summary names only those it found (the demo
    report once said '7 kinds seen' with two tools in view)."""
    case = make_case(tmp_path / "seen.scrub", seconds=20)
    with CaseStore(case) as store:
        models = store.models
        for record in models:
            if record["task"] == "detector":
                record["labels"] = ["grasper", "hook", "clipper", "scissors", "SpecimenBag"]
        store.set_meta("models", models)
    text, _ = _report(case, tmp_path / "seen.pdf")
    assert "2 kinds seen: grasper, hook" in text
    assert "Specimen bag" not in text.split("kinds seen")[1].split("Bookmarks")[0]


def test_a_case_with_tools_never_says_no_instruments_were_detected(tmp_path: Path) -> None:
    """Tools in view with unvalidated tip visibility: the tip section says why nothing is shown,
    and not also 'no instruments were detected' (a real cholecystectomy report said both)."""
    case = make_case(tmp_path / "tools.scrub", seconds=20)
    text, _ = _report(case, tmp_path / "tools.pdf")
    tip_section = text.split("Tip-hidden episodes")[1].split("Bleeding episodes")[0]
    assert "no instruments were detected" not in tip_section.lower()
    assert "Not shown" in tip_section or "episode" in tip_section


def test_tool_usage_table_uses_display_names(tmp_path: Path) -> None:
    """Cholec80's 'SpecimenBag' reads 'Specimen bag' in the tool table, as in the lanes."""
    case = make_case(
        tmp_path / "bag.scrub", seconds=20, tool_names=("Grasper", "SpecimenBag", "Clipper")
    )
    text, _ = _report(case, tmp_path / "bag.pdf")
    table = text.split("Tool usage")[1].split("Tip-hidden episodes")[0]
    assert "Specimen bag" in table and "SpecimenBag" not in table
