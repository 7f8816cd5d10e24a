"""The blood-present gate and the temporal rule for bleeding episodes.

Gate: a segmenter output with the role `blood_present` scores each frame; the analysis clears the
bleeding mask and area of a frame scored below the model's `blood_present` threshold, so a red
patch on a frame the gate rejects draws nothing and adds no area. Episodes: a run of bleeding
area counts only when it rose from a lower baseline in the same view."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from scrubline.core.analysis import AnalysisSettings, ImageModels
from scrubline.core.models.manifest import load_manifest
from scrubline.core.results import BleedingMask, FrameResult
from scrubline.core.store import CaseStore
from scrubline.core.timeline import TimelineSettings, build_timeline, view_correlation
from tests import tiny_models

W, H = 64, 48


def _models(folder: Path, gate_threshold: float = 0.6):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    tiny_models.segmenter_folder(folder, "seg")
    tiny_models.red_gate(folder / "gate.onnx", W, H)
    gate = tiny_models.manifest(
        folder / "gate.toml",
        model_id="gate",
        task="segmenter",
        onnx_file="gate.onnx",
        outputs=[("blood_present", "blood_present")],
    )
    gate.write_text(
        gate.read_text().replace("[thresholds]", f"[thresholds]\nblood_present = {gate_threshold}")
    )
    return [load_manifest(folder / "seg.toml"), load_manifest(gate)]


def _frame(red_fraction: float) -> np.ndarray:
    """Grey tissue with a pure red patch covering `red_fraction` of the frame's width."""
    frame = np.full((H, W, 3), 90, np.uint8)
    frame[:, : round(W * red_fraction)] = (230, 20, 20)
    return frame


def _run(models: ImageModels, frames: list[np.ndarray]) -> list[FrameResult]:
    batch = [(i, i * 0.2, {(W, H): f}) for i, f in enumerate(frames)]
    return models.run(batch, (W, H))


def test_a_frame_the_gate_rejects_gets_no_mask_and_no_area(tmp_path: Path) -> None:
    models = ImageModels(_models(tmp_path / "m"), AnalysisSettings(threads=1))
    small, large = _run(models, [_frame(0.2), _frame(0.8)])
    # mean red: 0.2 * 230 + 0.8 * 90 = 118 of 255 (0.46) vs 0.8 * 230 + 0.2 * 90 (0.79)
    assert small.scores["gate:blood_present"] == pytest.approx(0.46, abs=0.02)
    assert small.bleeding is not None and small.bleeding.fraction == 0.0
    assert not small.bleeding.blood.any()
    assert large.scores["gate:blood_present"] == pytest.approx(0.79, abs=0.02)
    assert large.bleeding is not None and large.bleeding.fraction == pytest.approx(0.8, abs=0.05)


def test_the_gate_threshold_comes_from_its_manifest(tmp_path: Path) -> None:
    """At a threshold of 0.4 the same small patch (score 0.46) passes and keeps its mask."""
    models = ImageModels(_models(tmp_path / "m", gate_threshold=0.4), AnalysisSettings(threads=1))
    (small,) = _run(models, [_frame(0.2)])
    assert small.bleeding is not None and small.bleeding.fraction == pytest.approx(0.2, abs=0.05)


def test_without_a_gate_the_mask_is_kept(tmp_path: Path) -> None:
    seg, _ = _models(tmp_path / "m")
    models = ImageModels([seg], AnalysisSettings(threads=1))
    (small,) = _run(models, [_frame(0.2)])
    assert small.bleeding is not None and small.bleeding.fraction == pytest.approx(0.2, abs=0.05)


def test_the_gating_model_runs_last_so_its_mask_is_kept(tmp_path: Path) -> None:
    seg, gate = _models(tmp_path / "m")
    models = ImageModels([gate, seg], AnalysisSettings(threads=1))
    assert [m.manifest.id for m in models.models] == ["seg", "gate"]


# ------------------------------------------------------------------------- episodes
def _scene(shift: int = 0, blob: float = 0.0) -> np.ndarray:
    """A textured scene (optionally panned by `shift` pixels) with a red blob of `blob` radius
    fraction in the middle: the same view with a growing bleed, or a different view."""
    rng = np.random.default_rng(3)
    base = cv2.resize(
        rng.integers(40, 220, (9, 16, 3)).astype(np.uint8),
        (320, 180),
        interpolation=cv2.INTER_CUBIC,
    )
    base = np.roll(base, shift, axis=1)
    if blob:
        cv2.circle(base, (160, 90), round(180 * blob), (200, 10, 10), -1)
    return base


def _case(path: Path, areas: list[float], scenes: list[np.ndarray] | None = None) -> CaseStore:
    store = CaseStore(path, create=True)
    store.set_meta("video", {"width": 100, "height": 100})
    store.set_meta("settings", {"fps": 1.0})
    results = [
        FrameResult(i, float(i), bleeding=BleedingMask(np.zeros((4, 4), np.uint8), a))
        for i, a in enumerate(areas)
    ]
    thumbs = []
    for i, scene in enumerate(scenes or []):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
        assert ok
        thumbs.append((i, float(i), bytes(data)))
    store.write_results(results, thumbs)
    return store


def test_an_episode_needs_a_rise_above_the_baseline(tmp_path: Path) -> None:
    settings = TimelineSettings(bleeding_threshold=0.03, bleeding_rise=0.02, min_episode_s=1.0)
    hovering = [0.025] * 10 + [0.035] * 5 + [0.025] * 5  # crosses the threshold, barely rises
    rising = [0.0] * 10 + [0.08] * 5 + [0.0] * 5
    with _case(tmp_path / "a.scrub", hovering) as store:
        assert build_timeline(store, settings).episodes_of("bleeding") == []
    with _case(tmp_path / "b.scrub", rising) as store:
        (episode,) = build_timeline(store, settings).episodes_of("bleeding")
    assert (episode.start_s, episode.end_s) == (10.0, 15.0)


def test_a_bleed_under_way_where_the_analysis_starts_is_kept(tmp_path: Path) -> None:
    with _case(tmp_path / "c.scrub", [0.1] * 5 + [0.0] * 5) as store:
        (episode,) = build_timeline(store).episodes_of("bleeding")
    assert episode.start_s == 0.0


def test_a_rise_from_a_camera_move_is_not_an_episode(tmp_path: Path) -> None:
    areas = [0.0] * 10 + [0.1] * 6
    same_view = [_scene() for _ in range(10)] + [_scene(blob=0.25) for _ in range(6)]
    other_view = [_scene() for _ in range(10)] + [_scene(shift=130, blob=0.25) for _ in range(6)]
    with _case(tmp_path / "same.scrub", areas, same_view) as store:
        assert len(build_timeline(store).episodes_of("bleeding")) == 1
    with _case(tmp_path / "moved.scrub", areas, other_view) as store:
        assert build_timeline(store).episodes_of("bleeding") == []


def test_view_correlation() -> None:
    assert view_correlation(_scene(), _scene()) == pytest.approx(1.0)
    assert view_correlation(_scene(), _scene(blob=0.2)) > 0.5
    assert view_correlation(_scene(), _scene(shift=130)) < 0.5
