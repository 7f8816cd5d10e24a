"""Test helper: make a case's tools count as tip-validated the way a real installation does,
with a rule file for the case's model in a user models folder (`SCRUBLINE_MODELS`)."""

from __future__ import annotations

from pathlib import Path

import pytest

MODEL = {"id": "test-tools", "version": "1", "task": "segmenter", "labels": []}


def write_rule(folder: Path, labels: dict[str, bool], threshold: float = 0.5) -> Path:
    rules = folder / "tip-rules"
    rules.mkdir(parents=True, exist_ok=True)
    lines = ["schema = 1", f'model = "{MODEL["id"]}"', f'version = "{MODEL["version"]}"', ""]
    for label, validated in labels.items():
        lines += [
            f'[classes."{label}"]',
            f"validated = {'true' if validated else 'false'}",
            f"threshold = {threshold}",
            "",
        ]
    path = rules / f"{MODEL['id']}.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def validate_tools(
    monkeypatch: pytest.MonkeyPatch, folder: Path, store, labels: dict[str, bool]
) -> None:
    """`store` was analysed by MODEL, whose rule validates the `labels` marked True."""
    write_rule(folder, labels)
    monkeypatch.setenv("SCRUBLINE_MODELS", str(folder))
    store.set_meta("models", [MODEL])
