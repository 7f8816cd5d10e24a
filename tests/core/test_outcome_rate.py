"""The outcome prediction does not depend on the analysis frame rate.

The bundled model was trained on SOCAL's 1-fps annotations; the app reads one frame per whole
second of video whatever its analysis rate (`scrubline.core.outcome.second_frames`). Here one
generated clip, whose instruments move, flicker and come and go within seconds (so that any
averaging over a second's frames would differ between rates), is analysed at 1, 2 and 5 fps with
the tiny dark-pixel segmenter, and the bundled outcome model must give the same prediction for
the three cases.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import write_clip
from scrubline.core.export import case_summary, case_timeline, outcome_for
from scrubline.core.models import load_registry
from scrubline.core.outcome import sequence_features
from scrubline.core.store import CaseStore
from tests import tiny_models

CLIP_FPS = 10
SECONDS = 75
SIZE = (160, 120)
EVENT_START_S = 10.0


def _draw(_index: int, time_s: float) -> np.ndarray:
    """Grey tissue; dark instruments (the tiny segmenter's 'instrument') that drift slowly,
    flicker out for part of some seconds, and come and go at fractions of a second, so that
    averaging a second's frames would read differently at each rate."""
    w, h = SIZE
    image = np.full((h, w, 3), 170, np.uint8)
    phase = time_s - math.floor(time_s)
    # An instrument from below, drifting; out of view for 0.3-0.7 of every fifth second (a
    # 1-fps reading never sees those gaps, a 5-fps one does).
    if time_s >= 3.0 and not (int(time_s) % 5 == 0 and 0.3 <= phase < 0.7):
        x = int(45 + 10 * math.sin(time_s / 2.5))
        y = int(55 + 6 * math.cos(time_s / 4.0))
        image[y:h, x : x + 30] = 15
    # A second instrument beside it between 21.4 s and 44.6 s.
    if 21.4 <= time_s < 44.6:
        y = int(45 + 4 * math.sin(time_s / 3.0))
        image[y : y + 50, 92:120] = 10
    return image


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rate")
    return write_clip(
        folder / "moving.mp4", CLIP_FPS * SECONDS, fps=CLIP_FPS, size=SIZE, draw=_draw
    )


@pytest.fixture(scope="module")
def cases(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("rate-cases")
    models = tiny_models.segmenter_folder(folder / "models")
    registry = load_registry([models], include_bundled=False)
    out = {}
    for fps in (1, 2, 5):
        settings = AnalysisSettings(
            fps=float(fps), model_ids=["tiny-seg"], scrub_proxy=False, threads=1
        )
        report = analyse_video(clip, folder / f"at{fps}.scrub", settings, registry=registry)
        assert report.done_now > 0 and not report.problems
        with CaseStore(report.case_path) as store:
            store.set_meta("event_start_s", EVENT_START_S)
            store.set_meta("procedure", "socal-carotid")
        out[fps] = report.case_path
    return out


def test_each_second_reads_the_same_frame_at_every_rate(cases: dict[int, Path]):
    from scrubline.core.outcome import second_frames

    read = {}
    for fps, path in cases.items():
        with CaseStore(path, readonly=True) as store:
            read[fps] = second_frames(case_timeline(store).times, EVENT_START_S, 60)
    assert not np.isnan(read[1]).any()
    np.testing.assert_array_equal(read[2], read[1])
    np.testing.assert_array_equal(read[5], read[1])


def test_features_and_prediction_do_not_depend_on_the_analysis_rate(cases: dict[int, Path]):
    registry = load_registry(include_bundled=True)
    sequences, outcomes = {}, {}
    for fps, path in cases.items():
        with CaseStore(path, readonly=True) as store:
            timeline = case_timeline(store)
            sequences[fps] = sequence_features(
                store.detections_table(), SIZE, EVENT_START_S, analysed_times=timeline.times
            )
            outcomes[fps] = outcome_for(store, timeline, registry)
    # The clip really differs within seconds: the 5-fps analysis saw frames the 1-fps one did not.
    with CaseStore(cases[5], readonly=True) as five, CaseStore(cases[1], readonly=True) as one:
        assert five.frame_count() >= 5 * one.frame_count() - 5
    np.testing.assert_allclose(sequences[2], sequences[1], atol=1e-6)
    np.testing.assert_allclose(sequences[5], sequences[1], atol=1e-6)
    first = outcomes[1]
    assert first["reason"] is None, first["reason"]  # a prediction, not three equal refusals
    for fps in (2, 5):
        other = outcomes[fps]
        assert other["reason"] is None, (fps, other["reason"])
        assert round(other["blood_loss_ml"]) == round(first["blood_loss_ml"])
        assert [round(v) for v in other["blood_loss_interval_ml"]] == [
            round(v) for v in first["blood_loss_interval_ml"]
        ]
        assert round(other["success_probability"], 2) == round(first["success_probability"], 2)


def test_summary_carries_the_same_outcome(cases: dict[int, Path]):
    registry = load_registry(include_bundled=True)
    lines = set()
    for path in cases.values():
        with CaseStore(path, readonly=True) as store:
            outcome = case_summary(store, registry=registry)["outcome"]
        lines.add((round(outcome["blood_loss_ml"]), round(outcome["success_probability"], 2)))
    assert len(lines) == 1, lines


def test_outside_domain_request_is_an_undoable_case_edit(
    cases: dict[int, Path], tmp_path: Path
) -> None:
    import shutil

    from scrubline.core.case import Case
    from scrubline.core.edits import SetOutcomeOutsideDomain, SetProcedure

    path = Path(shutil.copy(cases[1], tmp_path / "copy.scrub"))
    registry = load_registry(include_bundled=True)
    with Case.open(path, readonly=False) as case:
        case.apply(SetProcedure("generic"))
        refused = case.outcome(None, registry)
        assert refused["blood_loss_ml"] is None and refused["outside_domain"] is True
        undo = case.apply(SetOutcomeOutsideDomain(True))
        assert case.outcome_outside_domain
        shown = case.outcome(None, registry)
        assert shown["blood_loss_ml"] is not None
        assert shown["warning"].startswith("outside the validated domain")
        assert undo == SetOutcomeOutsideDomain(False)
        case.apply(undo)
        assert case.outcome(None, registry)["blood_loss_ml"] is None
