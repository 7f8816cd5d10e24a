"""What the training loops of the vision network share: the run log, the learning-rate schedule,
the optimiser step, and checkpoints that let an interrupted run resume where it stopped.

The 1.x maps (`vision_train.py`) and `vision_detect.py` (the 2.x tool detection branch) train
for hours on a CPU and are often stopped; both resume from `checkpoint.pt` in their run folder,
and because each step draws its batch from a generator seeded with (seed, step), a resumed run
ends with the same weights as an uninterrupted one. Each loop passes its own constants (warm-up
length and floor of the schedule, how often it logs and saves), so one piece of code serves
both without changing either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT = "checkpoint.pt"
FINAL = "model.pt"


def log_to(path: Path) -> Callable[[str], None]:
    """A logger that prints each message with the time and appends it to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        fh.write(line + "\n")
        fh.flush()

    return log


def warmup_cosine(step: int, steps: int, *, warmup_div: int, floor: float) -> float:
    """The learning-rate factor at `step` of `steps`: a linear warm-up over the first
    `steps // warmup_div` steps (at least one), then a cosine decay from 1 down to `floor`."""
    warmup = max(1, steps // warmup_div)
    if step < warmup:
        return (step + 1) / warmup
    cosine = 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
    return cosine * (1 - floor) + floor


def cosine_schedule(optimizer: Any, steps: int, *, warmup_div: int, floor: float) -> Any:
    """The optimiser's schedule: its learning rate times `warmup_cosine` at each step."""
    import torch

    # A plain function, not a partial: LambdaLR stores a callable object's attributes in the
    # checkpoint, and the checkpoints stay what they were.
    def factor(step: int) -> float:
        return warmup_cosine(step, steps, warmup_div=warmup_div, floor=floor)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def resume(out_dir: Path, model: Any, optimizer: Any, scheduler: Any) -> int | None:
    """Load `out_dir/checkpoint.pt` into the model, optimiser and schedule; returns the step to
    continue from, or None when the run has no checkpoint yet (a fresh start)."""
    import torch

    path = out_dir / CHECKPOINT
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["opt"])
    scheduler.load_state_dict(state["sched"])
    return int(state["step"])


def save_checkpoint(out_dir: Path, model: Any, optimizer: Any, scheduler: Any, step: int) -> None:
    """Write what `resume` reads: the weights, optimiser and schedule after `step` steps."""
    import torch

    torch.save(
        {
            "model": model.state_dict(),
            "opt": optimizer.state_dict(),
            "sched": scheduler.state_dict(),
            "step": step,
        },
        out_dir / CHECKPOINT,
    )


def optimise(
    loss: Any, parameters: Iterable[Any], optimizer: Any, scheduler: Any, clip: float = 5.0
) -> None:
    """One update: gradients of `loss` clipped to norm `clip`, an optimiser and a schedule step."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, clip)
    optimizer.step()
    scheduler.step()


@dataclass
class Run:
    """One training run in `out_dir`: resumes from its checkpoint, logs its progress every
    `log_every` steps, saves a checkpoint every `checkpoint_every` steps and at the last, and
    ends with the weights and what they were trained with in `model.pt`."""

    out_dir: Path
    model: Any
    optimizer: Any
    scheduler: Any
    steps: int
    log: Callable[[str], None]
    log_every: int
    checkpoint_every: int
    first_step: int = 0
    started: float = field(default_factory=time.time)

    def resume(self) -> int:
        """The step to start from: the checkpoint's (loaded, and said in the log), 0 for a
        fresh run. The speed in the progress lines counts from here."""
        step = resume(self.out_dir, self.model, self.optimizer, self.scheduler)
        if step is not None:
            self.log(f"resumed at step {step}")
        self.first_step = step or 0
        self.started = time.time()
        return self.first_step

    def after_step(self, done: int, running: dict[str, float]) -> None:
        """After `done` steps: the progress line (learning rate, running losses, speed) and
        the checkpoint, when they are due."""
        if done % self.log_every == 0:
            rate = (done - self.first_step) / (time.time() - self.started)
            self.log(
                f"step {done}/{self.steps} lr {self.scheduler.get_last_lr()[0]:.2e} "
                + " ".join(f"{k} {v:.3f}" for k, v in running.items())
                + f" ({rate:.2f} steps/s)"
            )
        if done % self.checkpoint_every == 0 or done == self.steps:
            save_checkpoint(self.out_dir, self.model, self.optimizer, self.scheduler, done)

    def finish(self, **details: Any) -> Path:
        """Save the weights with `details` (steps, seed, ...) as `model.pt`; returns its path."""
        import torch

        final = self.out_dir / FINAL
        torch.save({"model": self.model.state_dict(), **details}, final)
        self.log(f"done: {final}")
        return final
