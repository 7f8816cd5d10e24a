"""`python -m models.train.vision`, the command line the model cards cite, after its commands
moved into modules of their own (`vision_train.py`, `vision_folds.py`, ...): every command line
the cards and the training docstrings print still parses, and each flag reaches its module's
function with the same arguments. Torch-free: the commands are replaced by recorders."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from models.train import (
    vision,
    vision_bench,
    vision_compare,
    vision_data,
    vision_export,
    vision_finetune,
    vision_folds,
    vision_manifest,
    vision_render,
    vision_train,
)
from models.train.vision_config import ONNX_PATH, RUNS

REPO = Path(__file__).resolve().parents[2]
# A command line in a code block (parsed whole), or one named in running text (`...`, whose
# flags must exist: "`python -m models.train.vision --finetune-bleeding` keeps ...").
COMMAND = re.compile(r"(?P<inline>`?)python -m models\.train\.vision (?P<args>[^`\n#]*)")


def _cited() -> list[tuple[str, bool]]:
    found = []
    for path in [*sorted((REPO / "models").glob("*.md")), REPO / "models/train/vision.py"]:
        for match in COMMAND.finditer(path.read_text(encoding="utf-8")):
            found.append((match["args"].strip(), bool(match["inline"])))
    return found


def test_the_cards_cite_the_vision_commands() -> None:
    cited = " ".join(args for args, _ in _cited())
    for flag in ("--train", "--export", "--evaluate", "--write-manifest", "--render", "--bench"):
        assert flag in cited


@pytest.mark.parametrize(("args", "inline"), _cited())
def test_every_cited_command_line_parses(args: str, inline: bool) -> None:
    parser = vision.build_parser()
    if inline:
        known = {option for action in parser._actions for option in action.option_strings}
        assert {word for word in shlex.split(args) if word.startswith("-")} <= known
    else:
        parser.parse_args(shlex.split(args))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, tuple, dict]]:
    """Every command function replaced by a recorder; the samples are a marker object."""
    recorded: list[tuple[str, tuple, dict]] = []

    def recorder(name: str, result: Any = None):
        def record(*args: Any, **kwargs: Any) -> Any:
            recorded.append((name, args, kwargs))
            return result

        return record

    for module, name, result in (
        (vision_train, "train", None),
        (vision_train, "load_trained", "the trained model"),
        (vision_export, "export_onnx", None),
        (vision_folds, "evaluate_folds", None),
        (vision_compare, "compare_separate", None),
        (vision_bench, "bench", {"network_ms_per_frame_batch1": 1.0}),
        (vision_manifest, "write_manifest_and_card", None),
        (vision_render, "render_all", None),
        (vision_finetune, "finetune_bleeding", None),
        (vision_data, "check_keypoint_alignment", {1: {0: 0.5}}),
        (vision_data, "check_segmentation_alignment", {1: {0: -0.25}}),
    ):
        monkeypatch.setattr(module, name, recorder(name, result))
    monkeypatch.setattr(vision, "load_samples", recorder("load_samples", ["samples"]))
    monkeypatch.setattr(vision_folds, "FOLD_STEPS", vision_folds.FOLD_STEPS)
    return recorded


def test_each_flag_runs_its_command(calls: list, tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    vision.main(["--data", str(data), "--train", "--steps", "7", "--name", "tiny", "--export"])
    assert calls == [
        ("load_samples", (data,), {}),
        ("train", (["samples"], RUNS / "tiny"), {"steps": 7, "held_out": set()}),
        ("load_trained", (RUNS / "tiny" / "model.pt",), {}),
        ("export_onnx", ("the trained model", ONNX_PATH), {}),
    ]
    calls.clear()
    vision.main(["--data", str(data), "--evaluate", "--compare-separate", "--fold-steps", "9"])
    assert vision_folds.FOLD_STEPS == 9  # the fold models that evaluation and overlays read
    assert calls == [
        ("load_samples", (data,), {}),
        ("evaluate_folds", (["samples"], 9), {}),
        ("compare_separate", (["samples"], 9), {}),
    ]
    calls.clear()
    vision.main(["--data", str(data), "--bench", "--write-manifest", "--render"])
    assert calls == [
        ("bench", (), {}),
        ("write_manifest_and_card", ("full",), {}),
        ("render_all", (data, 1200), {}),
    ]
    assert '"network_ms_per_frame_batch1": 1.0' in capsys.readouterr().out
    calls.clear()
    vision.main(["--data", str(data), "--check-alignment"])
    assert [name for name, _, _ in calls] == [
        "check_keypoint_alignment",
        "check_segmentation_alignment",
    ]
    out = capsys.readouterr().out
    assert "Dataset1: +0: 0.50" in out and "Dataset1: +0: -0.2500" in out


def test_finetuning_runs_alone(calls: list, tmp_path: Path) -> None:
    images, masks, out = tmp_path / "i", tmp_path / "m", tmp_path / "o"
    argv = ["--finetune-bleeding", str(images), str(masks), "-o", str(out), "--train"]
    vision.main([*argv, "--finetune-steps", "5", "--data", str(tmp_path)])
    assert calls == [("finetune_bleeding", (images, masks, out), {"steps": 5})]
