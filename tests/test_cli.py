"""The command line as a script uses it: exit codes, one-line errors, and the analyze → export
round trip with the documented columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scrubline.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scrubline.cli", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def analysed(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("cli") / "case.scrub"
    assert main(["analyze", str(clips["long_gop"]), "-o", str(case), "--fps", "3", "-q"]) == 0
    return case


def test_analyze_then_export(analysed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(analysed), "-o", str(tmp_path)]) == 0
    frames = pd.read_csv(tmp_path / "frames.csv")
    assert list(frames.columns[:7]) == ["frame", "time_s", "n_instruments", "tips_visible", "tips_hidden",
                                        "bleeding_fraction", "phase"]
    assert all(c.startswith("tool_") for c in frames.columns[7:])
    assert len(frames) == 32  # 10.67 s at 3 fps
    detections = pd.read_csv(tmp_path / "detections.csv")
    assert list(detections.columns) == ["frame", "time_s", "label", "score", "x1", "y1", "x2", "y2", "tip_x",
                                        "tip_y", "tip_visible"]
    episodes = pd.read_csv(tmp_path / "episodes.csv")
    assert list(episodes.columns) == ["kind", "label", "start_s", "end_s", "peak"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["schema"] == 1
    assert summary["video"]["frame_count"] == 320 and "path" not in json.dumps(summary["video"])
    assert summary["analysis"]["complete"] is True
    assert {"event_start_s", "blood_loss_ml", "blood_loss_interval_ml", "success_probability", "model"} <= set(summary["outcome"])
    assert summary["models"] and summary["models"][0]["id"]


def test_export_by_video_path_finds_the_default_case(clips: dict[str, Path], tmp_path: Path) -> None:
    assert main(["analyze", str(clips["cfr"]), "--fps", "2", "-q"]) == 0
    assert main(["export", str(clips["cfr"]), "-o", str(tmp_path)]) == 0
    assert (tmp_path / "summary.json").exists()


def test_second_analyze_redoes_nothing(analysed: Path, clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(clips["long_gop"]), "-o", str(analysed), "--fps", "3", "-q"]) == 0
    assert "analysed 0 frames (32 already done)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "/no/such/video.mp4"], "error: video.mp4: file does not exist"),
        (["analyze", __file__], "error: test_cli.py: not a video file"),
        (["export", "/no/such/case.scrub", "-o", "/tmp/x"], "error: case file /no/such/case.scrub does not exist"),
        (["analyze", __file__, "--fps", "0"], "error: --fps must be positive"),
        (["analyze", __file__, "--model", "nope"], "error: "),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback() -> None:
    result = run("--debug", "analyze", "/no/such/video.mp4")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_models_lists_the_bundled_models() -> None:
    result = run("models", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert any(r["task"] == "segmenter" for r in rows)
    assert all(r["licence"] for r in rows)
    text = run("models")
    assert "validation:" in text.stdout


def test_wrong_case_for_video(analysed: Path, clips: dict[str, Path]) -> None:
    result = run("analyze", str(clips["cfr"]), "-o", str(analysed), "-q")
    assert result.returncode == 2 and "belongs to another video" in result.stderr


def test_demo_renders_and_analyses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SCRUBLINE_CACHE", str(tmp_path / "cases"))
    assert main(["demo", "-q"]) == 0
    out = capsys.readouterr().out
    assert "demo clip:" in out and "analysed 400 frames" in out
