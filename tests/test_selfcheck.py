"""`scrubline self-check`: passes on a working install (what CI and the packaged bundle run), and
names the step that fails when a model does not match its manifest or frames are not exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scrubline.cli import main
from tests import tiny_models

STEPS = ("imports", "models", "decoding", "inference", "report", "gui")


def test_self_check_passes_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrubline.cli", "self-check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for step in STEPS:
        assert any(line.startswith("ok") and line.split()[1] == step for line in lines), (
            step,
            done.stdout,
        )
    assert lines[-1].startswith("self-check passed")


def test_a_model_that_does_not_match_its_manifest_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    tiny_models.dense_segmenter(folder / "wrong.onnx")  # 64 x 48 input
    tiny_models.manifest(
        folder / "wrong.toml",
        model_id="wrong",
        task="segmenter",
        onnx_file="wrong.onnx",
        outputs=[
            ("instrument", "instrument_mask"),
            ("tip", "tip_map"),
            ("bleeding", "bleeding_mask"),
        ],
        width=32,
        height=32,
    )
    assert main(["self-check", "--models", str(folder)]) == 2
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert failed[0].split()[1] == "models" and "'wrong'" in failed[0] and "manifest" in failed[0]
    assert captured.err.strip() == "error: self-check failed: models, inference, report"


def test_frames_that_are_not_exact_fail_the_decoding_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import scrubline.core.demo

    monkeypatch.setattr(scrubline.core.demo, "read_frame_code", lambda image: 7)
    assert main(["self-check", "--quiet"]) == 2
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert (
        len(failed) == 1
        and failed[0].split()[1] == "decoding"
        and "asked for 47, got 7" in failed[0]
    )
    assert captured.err.strip() == "error: self-check failed: decoding"
