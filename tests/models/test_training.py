"""The pieces the vision training loops share (`models/train/training.py`): the learning-rate
schedule each loop had written out for itself before, and when a run logs and saves. Torch-free:
the schedule is a plain function, and the checkpoint writer is replaced by a recorder."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from models.train import training


def _as_written_before(steps: int, warmup_div: int, scale: float, offset: float):
    """The schedule as each loop wrote it inside its `train`, literal constants made arguments:
    vision.py (steps // 30, `* 0.98 + 0.02`) and vision_detect.py (steps // 20, `* 0.97 + 0.03`)."""
    warmup = max(1, steps // warmup_div)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return (
            0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))) * scale
            + offset
        )

    return lr_at


@pytest.mark.parametrize(
    ("warmup_div", "scale", "floor"), [(30, 0.98, 0.02), (20, 0.97, 0.03)], ids=["vision", "detect"]
)
@pytest.mark.parametrize("steps", [1, 2, 19, 20, 21, 30, 31, 100, 1200, 2400])
def test_the_shared_schedule_is_each_loops_own_to_the_last_bit(
    warmup_div: int, scale: float, floor: float, steps: int
) -> None:
    old = _as_written_before(steps, warmup_div, scale, floor)
    for step in range(steps + 1):
        new = training.warmup_cosine(step, steps, warmup_div=warmup_div, floor=floor)
        assert new == old(step), (steps, step)


def test_the_schedule_warms_up_then_decays_to_its_floor() -> None:
    factors = [training.warmup_cosine(s, 300, warmup_div=30, floor=0.02) for s in range(300)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == 1.0  # 10 warm-up steps
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))
    assert factors[-1] == pytest.approx(0.02, abs=1e-3) and min(factors) >= 0.02


class _Schedule:
    def get_last_lr(self) -> list[float]:
        return [1.5e-3]


def test_a_run_logs_and_saves_when_due(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    saved: list[int] = []
    monkeypatch.setattr(
        training, "save_checkpoint", lambda out, model, opt, sched, step: saved.append(step)
    )
    lines: list[str] = []
    run = training.Run(tmp_path, None, None, _Schedule(), 10, lines.append, 4, 3)
    run.first_step, run.started = 2, 0.0
    for done in range(3, 11):
        run.after_step(done, {"heat": 0.5, "size": 0.25})
    assert saved == [3, 6, 9, 10]  # every 3 steps and the last
    assert [line.split(" (")[0] for line in lines] == [
        "step 4/10 lr 1.50e-03 heat 0.500 size 0.250",
        "step 8/10 lr 1.50e-03 heat 0.500 size 0.250",
    ]
    assert lines[0].endswith(" steps/s)")
