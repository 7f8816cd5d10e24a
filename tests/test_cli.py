"""The command line as a script uses it: exit codes, one-line errors, and the analyze → export
round trip with the documented columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scrubline import __version__
from scrubline.cli import build_parser, main, with_default_command


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrubline.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def analysed(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("cli") / "case.scrub"
    assert main(["analyze", str(clips["long_gop"]), "-o", str(case), "--fps", "3", "-q"]) == 0
    return case


def test_analyze_then_export(
    analysed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(analysed), "-o", str(tmp_path)]) == 0
    frames = pd.read_csv(tmp_path / "frames.csv")
    assert list(frames.columns[:8]) == [
        "frame",
        "time_s",
        "n_instruments",
        "tips_visible",
        "tips_hidden",
        "bleeding_fraction",
        "in_body",
        "phase",
    ]
    assert all(c.startswith("tool_") for c in frames.columns[8:])
    assert len(frames) == 32  # 10.67 s at 3 fps
    detections = pd.read_csv(tmp_path / "detections.csv")
    assert list(detections.columns) == [
        "frame",
        "time_s",
        "label",
        "score",
        "x1",
        "y1",
        "x2",
        "y2",
        "tip_x",
        "tip_y",
        "tip_visible",
        "source",
    ]
    assert set(detections["source"]) <= {"model"}  # nobody corrected this case
    episodes = pd.read_csv(tmp_path / "episodes.csv")
    assert list(episodes.columns) == ["kind", "label", "start_s", "end_s", "peak"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["schema"] == 1
    assert summary["video"]["frame_count"] == 320 and "path" not in json.dumps(summary["video"])
    assert summary["analysis"]["complete"] is True
    assert {
        "event_start_s",
        "blood_loss_ml",
        "blood_loss_interval_ml",
        "success_probability",
        "model",
    } <= set(summary["outcome"])
    assert summary["models"] and summary["models"][0]["id"]


def test_export_by_video_path_finds_the_default_case(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    assert main(["analyze", str(clips["cfr"]), "--fps", "2", "-q"]) == 0
    assert main(["export", str(clips["cfr"]), "-o", str(tmp_path)]) == 0
    assert (tmp_path / "summary.json").exists()


def test_second_analyze_redoes_nothing(
    analysed: Path, clips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(clips["long_gop"]), "-o", str(analysed), "--fps", "3", "-q"]) == 0
    assert "analysed 0 frames (32 already done)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "/no/such/video.mp4"], "error: video.mp4: file does not exist"),
        (["analyze", __file__], "error: test_cli.py: not a video file"),
        (
            ["export", "/no/such/case.scrub", "-o", "/tmp/x"],
            "error: case file /no/such/case.scrub does not exist",
        ),
        (
            ["analyze", __file__, "--fps", "0"],
            "error: scrubline analyze: argument --fps: must be above 0",
        ),
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


def test_demo_renders_and_analyses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "-q"]) == 0
    out = capsys.readouterr().out
    assert "demo clip:" in out and "analysed 400 frames" in out


def test_an_unknown_model_id_is_refused_before_any_case_is_made(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """The video is real, so the command gets as far as the model check (with a text file as
    the video it used to stop at the video check and never test this)."""
    case = tmp_path / "case.scrub"
    result = run("analyze", str(clips["cfr"]), "-o", str(case), "--model", "nope", "-q")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no model with id 'nope' (known: bleeding-gate, bleeding-hsv, cholec80-phases, "
        "outcome-socal, scrubline-inbody, scrubline-vision)"
    ]
    assert not case.exists()


def test_report_writes_what_the_user_typed_on_the_page_size_asked(
    analysed: Path, clips: dict[str, Path], tmp_path: Path
) -> None:
    from pypdf import PdfReader

    out = tmp_path / "debrief.pdf"
    result = run(
        "report",
        str(analysed),
        "-o",
        str(out),
        "--label",
        "Case 7",
        "--procedure",
        "Cholecystectomy",
        "--surgeon",
        "Dr Ödön",
        "--reviewer",
        "A. Reviewer",
        "--date",
        "2024-05-01",
        "--page-size",
        "letter",
        "--video",
        str(clips["long_gop"]),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    reader = PdfReader(str(out))
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    for typed in ("Case 7", "Cholecystectomy", "Dr Ödön", "A. Reviewer", "2024-05-01"):
        assert typed in text
    assert "exact video frames" in " ".join(text.split())  # --video was used for the key frames
    assert "long_gop" not in text and str(tmp_path) not in text

    plain = tmp_path / "plain.pdf"
    assert run("report", str(analysed), "-o", str(plain)).returncode == 0
    reader = PdfReader(str(plain))
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [595, 842]  # A4 by default
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    assert "Untitled case" in text and "Case 7" not in text and "long_gop" not in text


def test_report_refuses_a_video_that_is_not_the_cases(
    analysed: Path, clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "debrief.pdf"
    result = run("report", str(analysed), "-o", str(out), "--video", str(clips["cfr"]))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cfr.mp4: not the video this case was analysed from (long_gop.mp4; the content "
        "differs)"
    ]
    assert not out.exists()


@pytest.mark.parametrize(("start", "end"), [("4", "4"), ("4", "2"), (None, "0")])
def test_end_not_after_start_is_refused(
    clips: dict[str, Path], tmp_path: Path, start: str | None, end: str
) -> None:
    case = tmp_path / "case.scrub"
    args = [
        "analyze",
        str(clips["cfr"]),
        "-o",
        str(case),
        "--end",
        end,
        *(["--start", start] if start else []),
    ]
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --end ({end} s) must be after --start ({start or 0} s)"
    ]
    assert not case.exists()


def test_a_range_analyses_only_its_frames_and_a_start_past_the_end_is_refused(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    from scrubline.core.store import CaseStore

    case = tmp_path / "case.scrub"
    assert (
        main(
            [
                "analyze",
                str(clips["cfr"]),
                "-o",
                str(case),
                "--start",
                "1",
                "--end",
                "2",
                "--fps",
                "5",
                "-q",
            ]
        )
        == 0
    )
    with CaseStore(case) as store:
        times = sorted(float(t) for t in store.frames_table()["time_s"])
    assert times == pytest.approx([1.0, 1.2, 1.4, 1.6, 1.8])  # 25 fps clip: [1, 2) at 5 fps
    late = tmp_path / "late.scrub"
    result = run(
        "analyze", str(clips["cfr"]), "-o", str(late), "--start", "5"
    )  # the clip lasts 4.8 s
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cfr.mp4: the analysed range starts at 5 s, after the end of the video (4.80 s)"
    ]
    assert not late.exists()


def test_models_threads_and_device_options_reach_the_analysis(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubline.core.store import CaseStore
    from tests import tiny_models

    folder = tiny_models.segmenter_folder(tmp_path / "models")
    case = tmp_path / "case.scrub"
    assert (
        main(
            [
                "analyze",
                str(clips["cfr"]),
                "-o",
                str(case),
                "--models",
                str(folder),
                "--model",
                "tiny-seg",
                "--threads",
                "1",
                "--batch",
                "3",
                "--device",
                "cpu",
                "--fps",
                "2",
                "-q",
            ]
        )
        == 0
    )
    with CaseStore(case) as store:
        assert [m["id"] for m in store.models] == ["tiny-seg"]
        assert store.settings["threads"] == 1 and store.settings["batch_size"] == 3
        assert store.settings["device"] == "cpu"
        assert store.frame_count() == 10
    capsys.readouterr()
    listed = run("models", "--models", str(folder))
    assert listed.returncode == 0 and "tiny-seg 0.0.1  [segmenter]" in listed.stdout


def test_an_unavailable_device_falls_back_to_the_cpu_with_a_warning(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    import onnxruntime as ort

    if "CoreMLExecutionProvider" in ort.get_available_providers():
        pytest.skip("CoreML is really available here")
    case = tmp_path / "case.scrub"
    result = run(
        "analyze", str(clips["cfr"]), "-o", str(case), "--device", "coreml", "--fps", "1", "-q"
    )
    assert result.returncode == 0, result.stderr
    assert any(
        line.startswith("warning: ") and "running on the CPU" in line
        for line in result.stderr.splitlines()
    )
    assert "analysed 5 frames" in result.stdout


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--fps", "inf", "argument --fps: 'inf' is not a finite number"),
        ("--fps", "nan", "argument --fps: 'nan' is not a finite number"),
        (
            "--fps",
            "-1",
            "argument --fps: must be above 0 and at most 1000 frames per second, got -1",
        ),
        (
            "--fps",
            "1e9",
            "argument --fps: must be above 0 and at most 1000 frames per second, got 1e9",
        ),
        ("--fps", "five", "argument --fps: 'five' is not a number"),
        ("--batch", "0", "argument --batch: must be from 1 to 256 frames, got 0"),
        ("--batch", "1.5", "argument --batch: '1.5' is not a whole number"),
        ("--threads", "-2", "argument --threads: must be from 0 (automatic) to 256, got -2"),
        ("--start", "-3", "argument --start: must be a time in seconds from 0 to 1e+07, got -3"),
        ("--end", "nan", "argument --end: 'nan' is not a finite number"),
        ("--device", "tpu", "argument --device: invalid choice: 'tpu'"),
        ("--model", " ", "argument --model: an empty model id"),
        ("--models", "/no/such/folder", "argument --models: /no/such/folder: no such folder"),
    ],
)
def test_each_bad_option_value_is_one_line_before_any_work(
    clips: dict[str, Path], tmp_path: Path, option: str, value: str, problem: str
) -> None:
    case = tmp_path / "case.scrub"
    result = run("analyze", str(clips["cfr"]), "-o", str(case), f"{option}={value}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: scrubline analyze: {problem}"), lines
    assert lines[0].endswith("(see: scrubline analyze --help)")
    assert not case.exists()


def run_without_display(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m scrubline ARGS` where a window that started would make Qt abort."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    return subprocess.run(
        [sys.executable, "-m", "scrubline", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["frobnicate"], "error: unknown command or file: frobnicate (commands: "),
        (["case42.mp4"], "error: unknown command or file: case42.mp4 (commands: "),
        (
            ["reprot", "case.scrub"],
            "error: unknown command or file: reprot (did you mean 'report'?)",
        ),
        (["--debug", "anlyze"], "error: unknown command or file: anlyze (did you mean 'analyze'?)"),
        (["gui", "case42.mp4"], "error: case42.mp4: no such file"),
    ],
)
def test_a_typo_is_an_error_not_a_window(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_without_display(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_python_dash_m_scrubline_is_the_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrubline", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == f"scrubline {__version__}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["gui"]),
        (["{video}"], ["gui", "{video}"]),
        (["--debug", "{video}"], ["--debug", "gui", "{video}"]),
        (["--models", "DIR", "{video}"], ["gui", "--models", "DIR", "{video}"]),
        (["report", "x.scrub", "-o", "r.pdf"], ["report", "x.scrub", "-o", "r.pdf"]),
        (["--help"], ["--help"]),
    ],
)
def test_an_existing_file_or_nothing_opens_the_window(
    argv: list[str], expected: list[str], tmp_path: Path
) -> None:
    video = tmp_path / "case 42.mp4"
    video.write_bytes(b"")
    fill = [a.replace("{video}", str(video)) for a in argv]
    assert with_default_command(fill, build_parser()) == [
        a.replace("{video}", str(video)) for a in expected
    ]


def test_fresh_redoes_every_frame_and_keeps_only_the_new_results(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubline.core.store import CaseStore

    case = tmp_path / "case.scrub"
    assert main(["analyze", str(clips["cfr"]), "-o", str(case), "--fps", "2", "-q"]) == 0
    assert main(["analyze", str(clips["cfr"]), "-o", str(case), "--fps", "2", "-q"]) == 0
    assert "analysed 0 frames (10 already done)" in capsys.readouterr().out
    assert main(["analyze", str(clips["cfr"]), "-o", str(case), "--fps", "2", "-q", "--fresh"]) == 0
    assert "analysed 10 frames (0 already done)" in capsys.readouterr().out
    with CaseStore(case) as store:
        assert store.frame_count() == 10


def test_an_error_message_that_spans_lines_is_printed_as_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite's integrity report, for one, comes in several lines."""
    import scrubline.cli as cli

    def damaged(args: object) -> int:
        raise cli.UsageError(
            "case x.scrub is damaged (*** in database main ***\nOn tree page 21 cell 5: bad\n"
            "On tree page 14 cell 4: Rowid 50 out of order); still readable: meta"
        )

    monkeypatch.setattr(cli, "cmd_models", damaged)
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: case x.scrub is damaged (*** in database main ***; On tree page 21 cell 5: bad; "
        "On tree page 14 cell 4: Rowid 50 out of order); still readable: meta\n"
    )


def test_export_corrections_writes_the_training_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubline.core.case import Case
    from scrubline.core.edits import AddCorrection
    from tests.report.synthetic import make_case

    case_path = make_case(tmp_path / "c.scrub", bookmarks=False)
    assert main(["export", str(case_path), "-o", str(tmp_path / "none"), "--corrections"]) == 0
    assert "warning: no reviewer has corrected this case" in capsys.readouterr().err
    with Case.open(case_path, readonly=False) as case:
        case.apply(AddCorrection(case.correction_for_span("out_of_body", 40.0, 45.0)))
    assert main(["export", str(case_path), "-o", str(tmp_path / "labels"), "--corrections"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [
        "corrections.json",
        "reviewed_detections.csv",
        "tool_phase_1fps.csv",
    ]
    assert (
        json.loads((tmp_path / "labels" / "corrections.json").read_text())["corrections"][0]["kind"]
        == "out_of_body"
    )
