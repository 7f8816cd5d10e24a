"""Shared fixtures: generated media (numbered clips, the demo clip), tiny ONNX models built with
the `onnx` package, and the location of the real data (tests that need it skip without it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from scrubline.core.demo import write_clip

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("SCRUBLINE_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not present at {path}")
    return path


@pytest.fixture(scope="session")
def qapp():  # type: ignore[no-untyped-def]
    """pytest-qt's application, made as the app makes it (`ensure_application`): among other
    things, cyclic garbage is then collected in the GUI thread only, as in the app."""
    from scrubline.ui.app import ensure_application

    return ensure_application()


@pytest.fixture(autouse=True)
def _isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases, proxies, settings and the log never land in the user's real folders, nor in
    another test's."""
    from scrubline.core.paths import HOME_ENV, LEGACY_CASES_ENV

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "scrubline-home"))
    monkeypatch.delenv(LEGACY_CASES_ENV, raising=False)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Numbered clips of the three kinds frame-exact access must handle, plus MPEG-4 in AVI."""
    folder = tmp_path_factory.mktemp("clips")
    times = [0.0]
    # Irregular intervals between 10 and 70 ms, repeatable.
    import numpy as np

    steps = np.random.default_rng(5).uniform(0.01, 0.07, 179)
    times += list(np.cumsum(steps))
    return {
        "cfr": write_clip(folder / "cfr.mp4", 120, fps=25, codec="mpeg4", gop=12, bframes=0),
        "long_gop": write_clip(
            folder / "long_gop.mp4", 320, fps=30, codec="libx264", gop=250, bframes=2
        ),
        "vfr": write_clip(folder / "vfr.mkv", times, fps=30, codec="libx264", gop=40, bframes=2),
        "avi": write_clip(folder / "mpeg4.avi", 90, fps=25, codec="mpeg4", gop=25, bframes=0),
    }


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    folder = tmp_path_factory.mktemp("made")
    counter = iter(range(10_000))

    def make(frames: int = 60, suffix: str = ".mp4", **options: object) -> Path:
        return write_clip(folder / f"clip{next(counter)}{suffix}", frames, **options)  # type: ignore[arg-type]

    return make


# Property tests (hypothesis) are repeatable: the same examples every run, no example database
# written into the checkout. `HYPOTHESIS_PROFILE=explore` searches afresh (and longer).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("repeatable", derandomize=True, database=None, deadline=None)
_hypothesis_settings.register_profile("explore", max_examples=1000, database=None, deadline=None)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
