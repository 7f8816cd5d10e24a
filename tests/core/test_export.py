"""`export_case`: every exported number is the stored one (values, not only columns and row
counts), and nothing in the export names a path or the video's file name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.core.export import column_name, export_case
from scrubline.core.results import BleedingMask, FrameResult, Instrument
from scrubline.core.store import CaseStore
from tests.tip_rules_helper import validate_tools

PERIOD = 0.2  # 5 analysed frames per second


def _case(path: Path) -> CaseStore:
    """20 s analysed at 5 fps from a 25 fps video: a grasper throughout with its tip hidden from
    4 s to 6 s, a hook (tip never seen) from 10 s on, bleeding of 10 % from 2 s to 5 s (peak 12 %
    at 3 s)."""
    store = CaseStore(path, create=True)
    store.set_meta(
        "video",
        {
            "name": "case 7.mp4",
            "frame_count": 500,
            "fps": 25.0,
            "duration_s": 20.0,
            "width": 640,
            "height": 360,
            "rotation": 0,
            "codec": "h264",
            "container": "mp4",
            "variable_frame_rate": False,
            "fingerprint": "f00d",
        },
    )
    store.set_meta("settings", {"fps": 5.0})
    store.set_meta("planned_frames", list(range(0, 500, 5)))
    results = []
    for n in range(100):
        t = n * PERIOD
        hidden = 4.0 <= t < 6.0 - 1e-9
        tools = [
            Instrument(
                "grasper",
                0.9,
                (10.0 + n, 20.0, 110.0 + n, 120.0),
                (110.0 + n, 120.0),
                0.2 if hidden else 0.8,
                not hidden,
            )
        ]
        if t >= 10.0 - 1e-9:
            tools.append(Instrument("hook", 0.75, (300.0, 200.0, 400.0, 300.0), None, 0.0, False))
        fraction = 0.0
        if 2.0 - 1e-9 <= t < 5.0 - 1e-9:
            fraction = 0.12 if abs(t - 3.0) < 1e-9 else 0.10
        results.append(
            FrameResult(n * 5, t, tools, BleedingMask(np.zeros((4, 4), np.uint8), fraction))
        )
    store.write_results(results)
    store.add_bookmark(7.5, 187, "clip on the artery", "teaching point")
    return store


@pytest.fixture
def exported(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Made for each test (not once per module): mutation testing runs, for a changed function,
    # only the tests that called it, and a cached export would hide the calls from all but one.
    folder = tmp_path_factory.mktemp("export")
    with _case(folder / "case.scrub") as store:
        # The case's model has a validated tip rule for both tools (threshold 0.5).
        validate_tools(monkeypatch, folder / "models", store, {"grasper": True, "hook": True})
        written = export_case(store, folder / "out")
    assert [p.name for p in written] == [
        "frames.csv",
        "detections.csv",
        "episodes.csv",
        "summary.json",
    ]
    return folder / "out"


def test_frames_csv_values(exported: Path) -> None:
    frames = pd.read_csv(exported / "frames.csv")
    assert frames["frame"].tolist() == list(range(0, 500, 5))
    np.testing.assert_allclose(frames["time_s"], np.arange(100) * PERIOD, atol=1e-4)
    at = frames.set_index("frame")
    assert at.loc[0, ["n_instruments", "tips_visible", "tips_hidden"]].tolist() == [1, 1, 0]
    assert at.loc[125, ["n_instruments", "tips_visible", "tips_hidden"]].tolist() == [
        1,
        0,
        1,
    ]  # 5 s
    assert at.loc[375, ["n_instruments", "tips_visible", "tips_hidden"]].tolist() == [
        2,
        1,
        1,
    ]  # 15 s
    assert at.loc[75, "bleeding_fraction"] == pytest.approx(0.12)  # 3 s
    assert at.loc[50, "bleeding_fraction"] == pytest.approx(0.10)  # 2 s
    assert at.loc[125, "bleeding_fraction"] == 0.0  # 5 s: over
    assert at[column_name("grasper")].tolist() == [1] * 100
    assert at[column_name("hook")].tolist() == [0] * 50 + [1] * 50


def test_detections_csv_values(exported: Path) -> None:
    detections = pd.read_csv(exported / "detections.csv")
    assert len(detections) == 150
    first = detections.iloc[0]
    assert (first["frame"], first["label"], first["score"]) == (0, "grasper", 0.9)
    assert [first[c] for c in ("x1", "y1", "x2", "y2", "tip_x", "tip_y")] == [
        10.0,
        20.0,
        110.0,
        120.0,
        110.0,
        120.0,
    ]
    hook = detections[detections["label"] == "hook"]
    assert (
        hook["frame"].min() == 250
        and hook["tip_x"].isna().all()
        and (hook["tip_visible"] == 0).all()
    )
    # Within a frame the higher-scoring box comes first.
    assert detections[detections["frame"] == 250]["label"].tolist() == ["grasper", "hook"]
    hidden = detections[(detections["label"] == "grasper") & (detections["tip_visible"] == 0)]
    assert hidden["frame"].tolist() == list(range(100, 150, 5))


def test_episodes_csv_values(exported: Path) -> None:
    episodes = pd.read_csv(exported / "episodes.csv")
    rows = {kind: group for kind, group in episodes.groupby("kind")}
    (bleeding,) = rows["bleeding"].itertuples()
    assert (bleeding.start_s, bleeding.end_s, bleeding.peak) == pytest.approx((2.0, 5.0, 0.12))
    # The grasper's tip from 4 s to 6 s; the hook's (never seen) from 10 s to the end.
    spans = rows["tip_hidden"][["start_s", "end_s"]].values.tolist()
    np.testing.assert_allclose(spans, [[4.0, 6.0], [10.0, 20.0]])
    (mark,) = rows["bookmark"].itertuples()
    assert (mark.label, mark.start_s, mark.end_s) == ("clip on the artery", 7.5, 7.5)
    phases = rows["phase"]
    assert phases["start_s"].iloc[0] == 0.0 and phases["end_s"].iloc[-1] == pytest.approx(20.0)
    # Phases tile the analysed span: each starts where the previous ended.
    np.testing.assert_allclose(phases["start_s"].to_numpy()[1:], phases["end_s"].to_numpy()[:-1])


def test_summary_json_values(exported: Path) -> None:
    summary = json.loads((exported / "summary.json").read_text())
    assert summary["video"]["fingerprint"] == "f00d" and summary["video"]["frame_count"] == 500
    assert "case 7" not in json.dumps(summary)  # the file name may identify the patient
    assert summary["analysis"] == {
        "planned_frames": 100,
        "analysed_frames": 100,
        "complete": True,
        "problems": [],
        "skipped_frames": {},
    }
    totals = summary["totals"]
    assert totals["analysed_span_s"] == pytest.approx([0.0, 20.0])
    assert totals["tools"]["grasper"] == {"time_in_view_s": 20.0, "entries": 1}
    assert totals["tools"]["hook"] == {"time_in_view_s": 10.0, "entries": 1}
    assert totals["bleeding_episodes"] == 1 and totals["bleeding_total_s"] == pytest.approx(3.0)
    assert totals["bleeding_peak_fraction"] == pytest.approx(0.12)
    assert totals["tip_hidden_episodes"] == 2 and totals["tip_hidden_longest_s"] == pytest.approx(
        10.0
    )
    assert totals["tip_hidden_total_s"] == pytest.approx(12.0)
    assert sum(totals["phases"].values()) == pytest.approx(20.0)
    assert summary["bookmarks"] == [
        {"time_s": 7.5, "frame": 187, "category": "teaching point", "note": "clip on the artery"}
    ]
    text = (exported / "summary.json").read_text()
    assert "/" not in json.dumps(summary["video"]) and "case.scrub" not in text


def test_a_partly_analysed_case_is_not_called_complete(tmp_path: Path) -> None:
    """Planned frames beyond those analysed: the summary says so (found by mutation testing:
    `complete` read "planned or all analysed" and no test noticed)."""
    with _case(tmp_path / "case.scrub") as store:
        store.set_meta("planned_frames", list(range(0, 1000, 5)))  # 200 planned, 100 analysed
        export_case(store, tmp_path / "out")
    analysis = json.loads((tmp_path / "out" / "summary.json").read_text())["analysis"]
    assert analysis["planned_frames"] == 200 and analysis["analysed_frames"] == 100
    assert analysis["complete"] is False
