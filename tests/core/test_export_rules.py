"""What the exported training labels carry, beyond their file names: the schema and version a
reader checks, the video's frame rate and size that place the boxes, each correction's id and
whether it still applies, files a person can read (indented UTF-8 JSON, CSVs without a pandas
index column), and a case without a label exported as "case".

Written for the survivors of mutation testing of `scrubline.core.export`
(`tests/mutation/run.sh export`): each test fails on mutants the earlier export tests let
through."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from scrubline import __version__
from scrubline.core.case import Case
from scrubline.core.edits import AddCorrection
from scrubline.core.export import (
    CORRECTION_FILES,
    CORRECTIONS_SCHEMA,
    export_corrections,
    reviewed_detections,
    tool_phase_table,
)
from scrubline.core.output import OutputError
from tests.report.synthetic import make_case

FRAME_12S = 300  # as in test_case.py: a grasper and a hook in view at 12 s


@pytest.fixture
def corrected_case(tmp_path: Path) -> Path:
    path = make_case(tmp_path / "c.scrub", bookmarks=False)
    with Case.open(path, readonly=False) as case:
        hook = next(i for i in case.result_at(FRAME_12S).instruments if i.label == "hook")
        case.apply(AddCorrection(case.correction_for_box("delete_box", FRAME_12S, hook)))
    return path


def test_exported_labels_say_what_a_reader_needs_to_place_them(
    corrected_case: Path, tmp_path: Path
) -> None:
    with Case.open(corrected_case) as case:
        video = dict(case.video)
        (made,) = case.corrections()
        written = export_corrections(case, tmp_path / "labels")
    text = written[0].read_text(encoding="utf-8")
    assert text.startswith('{\n  "schema": ')  # indented for a person to read
    document = json.loads(text)
    assert document["schema"] == CORRECTIONS_SCHEMA
    assert document["scrubline_version"] == __version__
    assert document["case"] == "case"  # no label typed: the generic word, nothing identifying
    assert document["video"] == {
        k: video[k] for k in ("fingerprint", "fps", "width", "height", "duration_s")
    }
    (correction,) = document["corrections"]
    assert correction["id"] == made.id and correction["stale"] is False
    for path, first in ((written[1], "frame"), (written[2], "video")):
        assert pd.read_csv(path).columns[0] == first  # no pandas index column
    assert set(pd.read_csv(written[2])["video"]) == {"case"}


def _timeline(times: list[float]) -> SimpleNamespace:
    """A stand-in timeline: one tool lane and a phase per analysed sample."""
    n = len(times)
    presence = np.array([1, 0, 0, 1, 1, 0][:n], dtype=bool).reshape(n, 1)
    return SimpleNamespace(
        times=np.asarray(times, dtype=float),
        frames=np.array([12, 37, 55, 72, 97, 123][:n]),
        labels=["grasper"],
        presence=presence,
        phase_per_frame=lambda: ["a", "b", "c", "d", "e", "f"][:n],
    )


def test_each_second_of_the_phase_table_reads_the_nearest_sample_the_earlier_on_a_tie() -> None:
    timeline = _timeline([0.5, 1.5, 2.2, 2.9, 3.9, 4.95])
    span = SimpleNamespace(stale=False, kind="phase_boundary", start_s=2.0, end_s=1.0)
    table = tool_phase_table(timeline, [span], "case 7", 25.0)  # type: ignore[arg-type]
    # Seconds 1-4 (the analysed span); 1 s is as near 0.5 s as 1.5 s: the earlier sample; 3 s
    # reads 2.9 s, the sample before the first one after it.
    assert table.to_dict("list") == {
        "video": ["case 7"] * 4,
        "frame": [25, 50, 75, 100],
        "second": [1, 2, 3, 4],
        "phase": ["a", "c", "d", "e"],
        "phase_source": ["reviewer", "model", "model", "model"],
        "grasper": [1, 0, 1, 1],
    }
    assert table["frame"].dtype.kind == "i" and table["grasper"].dtype.kind == "i"
    # Without a frame rate the frame is the sample's own; at 1 fps it is the second itself.
    no_rate = tool_phase_table(timeline, [], "v", 0.0)  # type: ignore[arg-type]
    assert no_rate["frame"].tolist() == [12, 55, 72, 97]
    assert tool_phase_table(timeline, [], "v", 1.0)["frame"].tolist() == [1, 2, 3, 4]  # type: ignore[arg-type]
    out_of_body = SimpleNamespace(stale=False, kind="out_of_body", start_s=2.0, end_s=3.5)
    sources = tool_phase_table(timeline, [out_of_body], "v", 25.0)["phase_source"]  # type: ignore[arg-type]
    assert sources.tolist() == ["model", "reviewer", "reviewer", "model"]
    empty = tool_phase_table(_timeline([]), [], "v", 25.0)  # type: ignore[arg-type]
    assert list(empty.columns) == ["video", "frame", "second", "phase", "phase_source", "grasper"]


def test_a_removed_box_is_exported_where_it_was_and_when() -> None:
    detections = pd.DataFrame(
        {
            "frame": [300, 300, 305],
            "time_s": [12.000049, 12.000049, 12.2],
            "label": ["grasper", "hook", "grasper"],
            "x1": [1.04, 5.0, 1.0],
            "y1": [2.06, 6.0, 2.0],
            "x2": [3.0, 7.0, 3.0],
            "y2": [4.0, 8.0, 4.0],
            "tip_x": [3.04, None, None],
            "tip_y": [4.06, None, None],
            "tip_visible": [True, False, False],
            "source": ["model", "model", "model"],
        }
    )
    removed = SimpleNamespace(
        stale=False, frame=300, kind="delete_box", label="hook", box=(5.04, 6.06, 7.14, 8.16)
    )
    table = reviewed_detections([removed], detections.drop(index=1))
    assert table.to_dict("list") == {
        "frame": [300, 300],
        "time_s": [12.0, 12.0],
        "label": ["grasper", "hook"],
        "x1": [1.0, 5.0],
        "y1": [2.1, 6.1],
        "x2": [3.0, 7.1],
        "y2": [4.0, 8.2],
        "tip_x": [3.0, pytest.approx(np.nan, nan_ok=True)],
        "tip_y": [4.1, pytest.approx(np.nan, nan_ok=True)],
        "tip_visible": [1, 0],
        "source": ["model", "reviewer"],
        "removed": [0, 1],
    }
    assert table["tip_visible"].dtype.kind == "i"
    # A frame whose only correction is a tip's visibility: still 1/0, not True/False.
    tip = SimpleNamespace(stale=False, frame=305, kind="tip_visibility", label="grasper", box=None)
    assert reviewed_detections([tip], detections)["tip_visible"].tolist() == [0]
    assert reviewed_detections([tip], detections)["tip_visible"].dtype.kind == "i"
    nothing = reviewed_detections([], detections)
    assert len(nothing) == 0 and list(nothing.columns) == list(table.columns)


def test_frames_csv_rounds_times_to_a_tenth_of_a_millisecond_and_names_tools_plainly() -> None:
    from scrubline.core.export import column_name, frames_dataframe

    timeline = SimpleNamespace(
        frames=np.array([0, 5]),
        times=np.array([0.0, 0.123456]),
        n_instruments=np.array([1, 0]),
        tips_visible=np.array([1, 0]),
        tips_hidden=np.array([0, 0]),
        bleeding=np.array([0.1234567, 0.0]),
        in_body_state=None,  # analysed before there was an in-body model
        labels=["Specimen bag", " (Clip-applier) "],
        presence=np.array([[True, False], [False, True]]),
        phase_per_frame=lambda: ["preparation", "dissection"],
    )
    table = frames_dataframe(timeline)  # type: ignore[arg-type]
    assert list(table.columns) == [
        "frame",
        "time_s",
        "n_instruments",
        "tips_visible",
        "tips_hidden",
        "bleeding_fraction",
        "in_body",
        "phase",
        "tool_specimen_bag",
        "tool_clip_applier",
    ]
    assert table["time_s"].tolist() == [0.0, 0.1235]
    assert table["bleeding_fraction"].tolist() == [0.12346, 0.0]
    assert table["in_body"].isna().all()  # unknown, not "out of body"
    assert table["phase"].tolist() == ["preparation", "dissection"]
    assert table["tool_specimen_bag"].tolist() == [1, 0]
    assert table["tool_clip_applier"].dtype.kind == "i"
    assert column_name("Hook_") == "tool_hook"
    assert column_name("X-ray clamp") == "tool_x_ray_clamp"


@pytest.mark.parametrize("name", ["corrections.json", "reviewed_detections.csv"])
def test_the_labels_export_never_writes_over_a_case_file_of_the_same_name(
    tmp_path: Path, name: str
) -> None:
    """A case saved in the export folder under the name of one of the export's files is refused
    by name, and stays as it was (the corrections export guards as `export_case` does)."""
    path = make_case(tmp_path / "out" / name, bookmarks=False)
    before = path.read_bytes()
    with Case.open(path) as case, pytest.raises(OutputError) as refused:
        export_corrections(case, tmp_path / "out")
    assert str(refused.value) == (
        f"refusing to write the export over {path}: it is the case or its video"
    )
    assert path.read_bytes() == before
    written = {p.name for p in (tmp_path / "out").iterdir()} & set(CORRECTION_FILES)
    assert written == {name}  # nothing else of the export was written either


def test_the_labels_export_never_writes_over_the_case_or_the_video(tmp_path: Path) -> None:
    """The output folder given as the case itself, or as the video (`protect`), is refused naming
    that file; a video named like an export file in the export folder is refused too."""
    path = make_case(tmp_path / "c.scrub", bookmarks=False)
    video = tmp_path / "out" / "tool_phase_1fps.csv"
    video.parent.mkdir()
    video.write_bytes(b"not really a video")
    other = tmp_path / "v.mp4"
    other.write_bytes(b"a video")
    with Case.open(path) as case:
        with pytest.raises(OutputError, match=rf"^refusing to write the export over {path}:"):
            export_corrections(case, path)
        with pytest.raises(OutputError, match=rf"^refusing to write the export over {other}:"):
            export_corrections(case, other, protect=[other])
        with pytest.raises(OutputError, match=rf"^refusing to write the export over {video}:"):
            export_corrections(case, video.parent, protect=[video])
    assert video.read_bytes() == b"not really a video" and other.read_bytes() == b"a video"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tool_phase_1fps.csv"]


def test_episodes_csv_gives_times_to_the_millisecond_and_peaks_to_five_digits() -> None:
    from scrubline.core.export import episodes_dataframe
    from scrubline.core.timeline import Episode

    timeline = SimpleNamespace(
        episodes=[
            Episode("bleeding", "bleeding", 1.23456, 4.00049, 0.1234567),
            Episode("tip_hidden", "hook", 10.0004, 12.5, None),
        ]
    )
    table = episodes_dataframe(timeline)  # type: ignore[arg-type]
    assert table.to_dict("list") == {
        "kind": ["bleeding", "tip_hidden"],
        "label": ["bleeding", "hook"],
        "start_s": [1.235, 10.0],
        "end_s": [4.0, 12.5],
        "peak": [0.12346, pytest.approx(np.nan, nan_ok=True)],  # empty in the CSV
    }
    # No episode at all: the same columns, so a reader's script still finds them.
    empty = episodes_dataframe(SimpleNamespace(episodes=[]))  # type: ignore[arg-type]
    assert len(empty) == 0 and list(empty.columns) == ["kind", "label", "start_s", "end_s", "peak"]


def test_summary_json_is_strict_json_with_null_for_numbers_that_are_not_finite() -> None:
    """`summary.json` must load in any JSON reader: NaN and infinities (a statistic of an empty
    case) become null, numpy numbers plain ones, tuples lists, at any depth."""
    from scrubline.core.export import _json_safe

    value = {
        "a": float("nan"),
        "b": [float("inf"), -float("inf"), 1.5, (np.int64(3), np.float64(np.nan))],
        "c": {"d": np.float32(0.5), "e": np.bool_(True), "f": "text", "g": None},
    }
    safe = _json_safe(value)
    assert safe == {
        "a": None,
        "b": [None, None, 1.5, [3, None]],
        "c": {"d": 0.5, "e": True, "f": "text", "g": None},
    }
    assert type(safe["b"][3][0]) is int and type(safe["c"]["e"]) is bool
    assert json.loads(json.dumps(safe, allow_nan=False)) == safe


def test_the_case_timeline_follows_the_settings_it_is_given(tmp_path: Path) -> None:
    from scrubline.core.export import case_timeline
    from scrubline.core.timeline import TimelineSettings

    path = make_case(tmp_path / "c.scrub", bookmarks=False)
    strict = TimelineSettings(bleeding_threshold=1.0)  # no frame bleeds over its whole area
    with Case.open(path) as case:
        usual = case_timeline(case)
        custom = case_timeline(case, strict)
    assert usual.episodes_of("bleeding") and not custom.episodes_of("bleeding")
    assert custom.settings == strict and usual.settings == TimelineSettings()


def test_the_phase_table_numbers_each_second_by_the_videos_own_frame_at_that_second(
    tmp_path: Path,
) -> None:
    """Analysed 0.4 s after each whole second: `frame` is still the video's frame *at* the
    second (second x the video's 25 fps), not the frame of the sample read for it."""
    from scrubline.core.results import BleedingMask, FrameResult, Instrument
    from scrubline.core.store import CaseStore

    with CaseStore(tmp_path / "c.scrub", create=True) as store:
        store.set_meta(
            "video",
            {"name": "v.mp4", "frame_count": 250, "fps": 25.0, "duration_s": 10.0},
        )
        store.write_results(
            [
                FrameResult(
                    25 * k + 10,
                    k + 0.4,
                    [Instrument("grasper", 0.9, (1.0, 2.0, 3.0, 4.0), None, 0.0, False)],
                    BleedingMask(np.zeros((4, 4), np.uint8), 0.0),
                )
                for k in range(10)
            ]
        )
        written = export_corrections(store, tmp_path / "labels")
    table = pd.read_csv(written[2])
    assert table["second"].tolist() == list(range(1, 10))
    assert table["frame"].tolist() == [25 * s for s in range(1, 10)]


def _fractional_case(path: Path) -> Path:
    """One frame at 1/3 s with a box and tip at fractional pixels and a five-digit score."""
    from scrubline.core.results import BleedingMask, FrameResult, Instrument
    from scrubline.core.store import CaseStore

    with CaseStore(path, create=True) as store:
        store.set_meta("video", {"name": "v.mp4", "frame_count": 30, "fps": 30.0})
        tool = Instrument(
            "grasper", 0.91234, (10.04, 20.06, 110.14, 120.04), (110.04, 120.06), 0.8, True
        )
        store.write_results(
            [FrameResult(10, 1 / 3, [tool], BleedingMask(np.zeros((4, 4), np.uint8), 0.0))]
        )
    return path


def test_the_case_export_is_plain_text_a_person_can_read(tmp_path: Path) -> None:
    """detections.csv: times to 0.1 ms, scores to 4 digits, pixels to 0.1, the tip's visibility
    as 1/0; no pandas index column in any CSV; summary.json indented."""
    from scrubline.core.export import export_case

    with Case.open(_fractional_case(tmp_path / "c.scrub")) as case:
        frames, detections, episodes, summary = export_case(case, tmp_path / "out")
    lines = detections.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "frame,time_s,label,score,x1,y1,x2,y2,tip_x,tip_y,tip_visible,source",
        "10,0.3333,grasper,0.9123,10.0,20.1,110.1,120.0,110.0,120.1,1,model",
    ]
    assert frames.read_text(encoding="utf-8").startswith("frame,time_s,")
    assert episodes.read_text(encoding="utf-8").startswith("kind,label,start_s,end_s,peak")
    assert summary.read_text(encoding="utf-8").startswith('{\n  "')


def test_the_case_export_never_writes_over_the_case(tmp_path: Path) -> None:
    from scrubline.core.export import export_case

    path = _fractional_case(tmp_path / "c.scrub")
    named = _fractional_case(tmp_path / "out" / "summary.json")
    with Case.open(path) as case, pytest.raises(OutputError) as refused:
        export_case(case, path)
    assert str(refused.value) == (
        f"refusing to write the export over {path}: it is the case or its video"
    )
    with Case.open(named) as case, pytest.raises(OutputError) as refused:
        export_case(case, named.parent)
    assert str(refused.value).startswith(f"refusing to write the export over {named}:")
    assert not (named.parent / "frames.csv").exists()


def test_the_case_export_predicts_with_the_models_it_is_given(tmp_path: Path) -> None:
    """`export_case(..., registry=...)`: the summary's outcome comes from those models, not the
    installed ones (here none: the summary says so instead of naming the bundled model)."""
    from scrubline.core.export import export_case
    from scrubline.core.models import Registry

    with Case.open(make_case(tmp_path / "c.scrub", bookmarks=False)) as case:
        written = export_case(case, tmp_path / "out", registry=Registry())
    outcome = json.loads(written[3].read_text(encoding="utf-8"))["outcome"]
    assert outcome["model"] is None and outcome["reason"] == "no outcome model is installed"
