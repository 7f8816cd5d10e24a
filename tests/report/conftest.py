"""The synthetic report case was analysed by `tiny-detector` 0.3.0; here its tip rule validates
the three tools it reports, so the report's tip-hidden tables have episodes to count (the rule
itself is tested in tests/core/test_tips.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.report.synthetic import MODEL_RECORDS


@pytest.fixture(scope="package", autouse=True)
def _validated_tip_rule(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    folder = tmp_path_factory.mktemp("report-models")
    rules = folder / "tip-rules"
    rules.mkdir()
    detector = next(m for m in MODEL_RECORDS if m["task"] == "detector")
    lines = ["schema = 1", f'model = "{detector["id"]}"', f'version = "{detector["version"]}"']
    for label in ("grasper", "hook", "clipper"):
        lines += [f'[classes."{label}"]', "validated = true", "threshold = 0.5"]
    (rules / f"{detector['id']}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRUBLINE_MODELS", str(folder))
        yield
