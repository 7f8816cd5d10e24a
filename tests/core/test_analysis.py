"""The analysis pipeline: results land in the store, progress is reported, cancel stops between
batches, and an interrupted analysis (cancel or kill -9) resumes without redoing frames."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scrubline.core.analysis import (
    AnalysisSettings,
    PlainTaskState,
    PlanChanged,
    analyse_video,
    plan_settings,
)
from scrubline.core.models import ModelError, load_registry
from scrubline.core.store import CaseStore, StoreError


def test_analysis_writes_every_sampled_frame(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    seen: list[float] = []
    state = PlainTaskState(lambda fraction, message: seen.append(fraction))
    report = analyse_video(
        clips["long_gop"],
        tmp_path / "c.scrub",
        AnalysisSettings(fps=5, batch_size=3),
        registry=tiny_registry,
        state=state,
    )
    assert report.complete and report.done_now == report.planned == 54
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert "ETA" in state.last[1]
    with CaseStore(tmp_path / "c.scrub") as store:
        frames = store.frames_table()
        assert frames["frame"].tolist() == list(range(0, 320, 6))[:54]
        assert frames["bleeding_fraction"].notna().all()
        assert store.models[0]["id"] == "tiny-seg"
        assert store.settings["fps"] == 5
        assert len(store.thumbnail_frames()) >= 10  # about one per second


def test_time_range(clips: dict[str, Path], tmp_path: Path, tiny_registry) -> None:
    report = analyse_video(
        clips["cfr"],
        tmp_path / "c.scrub",
        AnalysisSettings(fps=10, start_s=1.0, end_s=2.0),
        registry=tiny_registry,
    )
    with CaseStore(report.case_path) as store:
        times = store.frames_table()["time_s"]
    assert report.planned == 10 and times.min() >= 1.0 and times.max() < 2.0


def test_cancel_then_resume_without_redoing(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    state = PlainTaskState()
    calls = 0

    def progress(fraction: float, message: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # after two batches
            state.cancel()

    state._on_progress = progress
    case = tmp_path / "c.scrub"
    first = analyse_video(
        clips["long_gop"], case, AnalysisSettings(batch_size=4), registry=tiny_registry, state=state
    )
    assert first.cancelled and not first.complete
    assert first.done_now == 8
    second = analyse_video(
        clips["long_gop"], case, AnalysisSettings(batch_size=4), registry=tiny_registry
    )
    assert second.already_done == 8 and second.done_now == second.planned - 8 and second.complete
    third = analyse_video(
        clips["long_gop"], case, AnalysisSettings(batch_size=4), registry=tiny_registry
    )
    assert third.done_now == 0 and third.complete


def test_results_from_other_models_are_not_mixed(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    bundled = load_registry()
    with pytest.raises(StoreError, match=r"tiny-seg 0\.0\.1, which is not installed.*--fresh"):
        analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=bundled)
    report = analyse_video(
        clips["cfr"], case, AnalysisSettings(fps=2), registry=bundled, fresh=True
    )
    assert report.done_now == report.planned


def test_no_models(clips: dict[str, Path], tmp_path: Path) -> None:
    empty = load_registry([tmp_path], include_bundled=False)
    with pytest.raises(ModelError, match="no image models"):
        analyse_video(clips["cfr"], tmp_path / "c.scrub", registry=empty)


def test_kill_9_then_resume(make_clip, tmp_path: Path) -> None:
    video = make_clip(1800, fps=30, size=(640, 360), codec="libx264", gop=60)
    case = tmp_path / "killed.scrub"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scrubline.cli",
            "analyze",
            str(video),
            "-o",
            str(case),
            "--batch",
            "2",
            "-q",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    saved = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if case.exists():
                try:
                    with sqlite3.connect(case, timeout=1) as db:
                        saved = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
                except sqlite3.OperationalError:
                    saved = 0
                if saved >= 20:
                    break
            time.sleep(0.02)  # polling for a condition, not timing anything
        assert process.poll() is None, "the analysis finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    with CaseStore(case) as store:
        kept = store.frame_count()
    assert 20 <= kept < 300
    from scrubline.core.analysis import analyse_video as again

    report = again(video, case)
    assert report.already_done == kept
    assert report.done_now == report.planned - kept == 300 - kept
    # The proxy segment in flight at the kill was lost; the resume decoded those frames again,
    # so every frame of the analysed range can be scrubbed, and each is the right one.
    from scrubline.core.demo import read_frame_code
    from scrubline.core.proxy import ScrubProxy, proxy_dir_for

    proxy = ScrubProxy(proxy_dir_for(case))
    try:
        assert [i for i in range(1800) if not proxy.covers(i)] == []
        for index in (0, kept * 6 - 1, kept * 6 + 1, 299, 1799):
            assert read_frame_code(proxy.read(index)) == index  # type: ignore[arg-type]
    finally:
        proxy.close()


# ---------------------------------------------------------------------------- one plan per case
def _planned(case: Path) -> list[int]:
    with CaseStore(case) as store:
        return store.planned_frames().tolist()


def _stored(case: Path) -> list[int]:
    with sqlite3.connect(case) as db:  # every row, whichever plan it belongs to
        return [row[0] for row in db.execute("SELECT frame FROM frames ORDER BY frame")]


def test_another_rate_is_refused_instead_of_mixed(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    """Analysing at 5 fps then at 1 fps must not leave both sets in the case ('360 of 120')."""
    case = tmp_path / "c.scrub"
    first = analyse_video(clips["long_gop"], case, AnalysisSettings(fps=5), registry=tiny_registry)
    assert first.complete and first.planned == 54
    with pytest.raises(
        PlanChanged, match=r"5 fps over the whole video \(54 frames\).*1 fps.*--fresh"
    ):
        analyse_video(clips["long_gop"], case, AnalysisSettings(fps=1), registry=tiny_registry)
    assert _stored(case) == _planned(case) == list(range(0, 320, 6))[:54]  # untouched
    again = analyse_video(
        clips["long_gop"], case, AnalysisSettings(fps=1), registry=tiny_registry, fresh=True
    )
    assert again.complete and again.planned == again.done_now == 11
    assert _stored(case) == _planned(case) == list(range(0, 320, 30))[:11]


def test_a_rate_that_keeps_every_sample_extends_the_plan(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(clips["long_gop"], case, AnalysisSettings(fps=5), registry=tiny_registry)
    denser = analyse_video(
        clips["long_gop"], case, AnalysisSettings(fps=10), registry=tiny_registry
    )
    assert denser.already_done == 54 and denser.done_now == denser.planned - 54 and denser.complete
    assert _stored(case) == _planned(case) == list(range(0, 320, 3))


def test_resume_continues_the_plan_and_the_command_line_explains_a_change(
    clips: dict[str, Path], tmp_path: Path, tiny_registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from scrubline.cli import main

    case = tmp_path / "c.scrub"
    state = PlainTaskState()
    state._on_progress = lambda fraction, message: state.cancel() if fraction > 0 else None
    first = analyse_video(
        clips["long_gop"],
        case,
        AnalysisSettings(fps=10, batch_size=4),
        registry=tiny_registry,
        state=state,
    )
    assert first.cancelled and 0 < first.done_now < first.planned
    models = str(tiny_registry.get("tiny-seg").file.parent)
    # No --fps: the case's own plan (10 fps), not the default 5.
    assert plan_settings(case).fps == 10
    assert main(["analyze", str(clips["long_gop"]), "-o", str(case), "-q", "--models", models]) == 0
    assert _stored(case) == _planned(case) == list(range(0, 320, 3))
    capsys.readouterr()
    assert (
        main(
            [
                "analyze",
                str(clips["long_gop"]),
                "-o",
                str(case),
                "-q",
                "--models",
                models,
                "--fps",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("error: c.scrub holds an analysis at 10 fps")
        and "--fresh" in err[0]
    )
    assert (
        main(
            [
                "analyze",
                str(clips["long_gop"]),
                "-o",
                str(case),
                "-q",
                "--models",
                models,
                "--fps",
                "1",
                "--fresh",
            ]
        )
        == 0
    )
    assert _stored(case) == _planned(case) == list(range(0, 320, 30))


def test_readers_count_only_frames_of_the_plan(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    """A case mixed by an earlier Scrubline (rows of two rates) is read as its current plan."""
    from scrubline.core.export import case_summary
    from scrubline.core.results import FrameResult

    case = tmp_path / "c.scrub"
    analyse_video(clips["long_gop"], case, AnalysisSettings(fps=1), registry=tiny_registry)
    with CaseStore(case) as store:
        store.write_results(
            [FrameResult(frame=f, time_s=f / 30) for f in range(0, 320, 6)]
        )  # 5 fps rows
        assert len(_stored(case)) == 54  # 11 planned rows and 43 of the other rate
        assert store.frame_count() == 11 and store.analysed_frames().tolist() == list(
            range(0, 320, 30)
        )
        assert store.frames_table()["frame"].tolist() == list(range(0, 320, 30))
        assert set(store.detections_table()["frame"]) <= set(range(0, 320, 30))
        analysis = case_summary(store)["analysis"]
    assert analysis["analysed_frames"] == analysis["planned_frames"] == 11


# ---------------------------------------------------------------------------- model attribution
@pytest.fixture
def two_models(tmp_path: Path):
    from tests import tiny_models

    folder = tmp_path / "two"
    tiny_models.segmenter_folder(folder, "tiny-seg")
    tiny_models.segmenter_folder(folder, "tiny-seg-b")
    return load_registry([folder], include_bundled=False)


def _attribution(case: Path) -> set[tuple[str, ...]]:
    with CaseStore(case) as store:
        return {tuple(m or ()) for m in store.frame_attribution().values()}


def test_frames_name_their_models_and_a_model_added_later_runs_on_every_frame(
    clips: dict[str, Path], tmp_path: Path, two_models
) -> None:
    case = tmp_path / "c.scrub"
    one = analyse_video(
        clips["cfr"], case, AnalysisSettings(fps=5, model_ids=["tiny-seg"]), registry=two_models
    )
    assert one.complete and _attribution(case) == {("tiny-seg@0.0.1",)}
    both = analyse_video(clips["cfr"], case, AnalysisSettings(fps=5), registry=two_models)
    assert both.done_now == both.planned == one.planned and both.already_done == 0
    assert _attribution(case) == {("tiny-seg-b@0.0.1", "tiny-seg@0.0.1")}
    with CaseStore(case) as store:
        assert {m["id"] for m in store.models} == {"tiny-seg", "tiny-seg-b"}
    # Asking for one of the plan's models again redoes nothing and forgets nothing.
    again = analyse_video(
        clips["cfr"], case, AnalysisSettings(fps=5, model_ids=["tiny-seg"]), registry=two_models
    )
    assert again.done_now == 0 and again.complete
    assert _attribution(case) == {("tiny-seg-b@0.0.1", "tiny-seg@0.0.1")}


def test_another_version_of_a_model_is_refused(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    manifest = tiny_registry.get("tiny-seg").file.with_suffix(".toml")
    manifest.write_text(manifest.read_text().replace('version = "0.0.1"', 'version = "0.0.2"'))
    newer = load_registry([manifest.parent], include_bundled=False)
    with pytest.raises(PlanChanged, match=r"another version of tiny-seg 0\.0\.1 \(now 0\.0\.2\)"):
        analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=newer)
    assert _attribution(case) == {("tiny-seg@0.0.1",)}


def test_a_sequence_model_does_not_analyse_frames_and_a_plain_analyse_runs_the_vision_model(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`analyze --model outcome-socal` stored empty frames, and a later plain `analyze` then
    credited them to the vision model ("no instruments in the whole video")."""
    from scrubline.cli import main

    case = tmp_path / "c.scrub"
    video = str(clips["long_gop"])
    assert (
        main(["analyze", video, "-o", str(case), "-q", "--fps", "1", "--model", "outcome-socal"])
        == 2
    )
    assert "outcome-socal: a sequence model" in capsys.readouterr().err
    assert main(["analyze", video, "-o", str(case), "-q", "--fps", "1"]) == 0
    defaults = tuple(sorted(f"{m.id}@{m.version}" for m in load_registry().frame_models()))
    assert {"scrubline-vision", "scrubline-inbody"} <= {m.split("@")[0] for m in defaults}
    assert _attribution(case) == {defaults}
    assert len(_stored(case)) == 11


def test_frames_of_a_legacy_case_without_attribution_count_as_its_recorded_models(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    case = tmp_path / "c.scrub"
    analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    with sqlite3.connect(case) as db:
        db.execute("UPDATE frames SET models = NULL")
        db.execute("DELETE FROM meta WHERE key = 'plan'")
    again = analyse_video(clips["cfr"], case, AnalysisSettings(fps=2), registry=tiny_registry)
    assert again.done_now == 0 and again.complete


# ---------------------------------------------------------------------------- unreadable and
# damaged frames
def test_damaged_frames_are_left_out_and_counted(tmp_path: Path, tiny_registry) -> None:
    from scrubline.core.export import case_summary
    from tests.core.test_video import damaged_clip, visibly_broken

    clean, damaged = damaged_clip(tmp_path)
    broken = visibly_broken(clean, damaged)
    case = tmp_path / "c.scrub"
    report = analyse_video(damaged, case, AnalysisSettings(fps=30), registry=tiny_registry)
    analysed = set(_stored(case))
    assert not analysed & broken, "frames decoded from damaged data got results"
    assert report.complete and report.skipped >= len(broken)
    assert report.done_now + report.skipped == report.planned
    assert any("damaged data" in p and "left out" in p for p in report.problems)
    with CaseStore(case) as store:
        problems = case_summary(store)["analysis"]["problems"]
        skipped = store.get_meta("skipped_frames")
    assert any(
        p.startswith(f"{len(skipped['damaged'])} planned frame(s) were decoded from damaged data")
        for p in problems
    )
    assert set(skipped["damaged"]) >= broken
    # The report counts them among what is missing, and does not call the analysis partial.
    from scrubline.report import ReportOptions
    from scrubline.report.document import gather

    with CaseStore(case) as store:
        missing = gather(store, ReportOptions(), tiny_registry).missing
    unusable = len(skipped["damaged"]) + len(skipped.get("unreadable", []))
    assert any(
        m.startswith(f"{unusable} of {report.planned} planned frames have no results")
        for m in missing
    )
    assert not any("partial" in m for m in missing)
    # Resuming neither retries them nor calls the case incomplete.
    again = analyse_video(damaged, case, AnalysisSettings(fps=30), registry=tiny_registry)
    assert again.done_now == 0 and again.complete


@pytest.mark.parametrize(("suffix", "codec"), [(".ts", "libx264"), (".mpg", "mpeg2video")])
def test_mpeg_ts_and_ps_are_analysed_from_the_first_frame(
    make_clip, tmp_path: Path, tiny_registry, suffix: str, codec: str
) -> None:
    video = make_clip(120, suffix=suffix, fps=30, codec=codec, gop=60, bframes=2)
    report = analyse_video(
        video, tmp_path / "c.scrub", AnalysisSettings(fps=10), registry=tiny_registry
    )
    assert report.complete and report.skipped == 0 and report.done_now == report.planned == 40
    assert _stored(tmp_path / "c.scrub")[:3] == [0, 3, 6]


# ---------------------------------------------------------------------------- cancel
def _slow(
    monkeypatch: pytest.MonkeyPatch, started: threading.Event, per_batch_s: float = 0.25
) -> None:
    """Every loaded model takes `per_batch_s` per batch: inference far slower than decoding."""
    import scrubline.core.analysis as analysis

    real = analysis.load_model

    def load_slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        model = real(*args, **kwargs)
        predict = model.predict

        def slow_predict(inputs, frame_size):  # type: ignore[no-untyped-def]
            started.set()
            # The fake model's work, stopping when told to as onnxruntime does between nodes.
            working_until = time.monotonic() + per_batch_s
            while time.monotonic() < working_until:
                if model.run_options.terminate:
                    raise ModelError("model 'slow' failed to run: Exiting due to terminate flag")
                time.sleep(0.01)
            return predict(inputs, frame_size)

        model.predict = slow_predict
        return model

    monkeypatch.setattr(analysis, "load_model", load_slow)


def _scrubline_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("scrubline-") and t.is_alive()
    ]


def test_cancel_ends_within_a_second_and_joins_every_thread_when_inference_is_slow(
    clips: dict[str, Path], tmp_path: Path, tiny_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    _slow(monkeypatch, started)
    state = PlainTaskState()
    cancelled_at: list[float] = []

    def cancel_after_first_batch(fraction: float, message: str) -> None:
        if fraction > 0 and not cancelled_at:
            cancelled_at.append(time.monotonic())
            state.cancel()

    state._on_progress = cancel_after_first_batch
    report = analyse_video(
        clips["long_gop"],
        tmp_path / "c.scrub",
        AnalysisSettings(fps=30, batch_size=2),
        registry=tiny_registry,
        state=state,
    )
    took = time.monotonic() - cancelled_at[0]
    assert report.cancelled and report.done_now == 2
    assert took < 2.0, (
        f"cancel took {took:.1f} s"
    )  # the aim is 1 s; the margin is for a busy machine
    assert _scrubline_threads() == []
    assert _stored(tmp_path / "c.scrub") == [0, 1]  # the finished batch is kept


def test_cancel_from_another_thread_during_a_slow_batch(
    clips: dict[str, Path], tmp_path: Path, tiny_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    _slow(monkeypatch, started, per_batch_s=5.0)  # a batch far longer than the cancel may take
    state = PlainTaskState()
    outcome: list[object] = []
    runner = threading.Thread(
        target=lambda: outcome.append(
            analyse_video(
                clips["long_gop"],
                tmp_path / "c.scrub",
                AnalysisSettings(fps=30, batch_size=2),
                registry=tiny_registry,
                state=state,
            )
        ),
        name="test-analysis",
    )
    runner.start()
    assert started.wait(30)
    cancelled_at = time.monotonic()
    state.cancel()
    runner.join(10)
    took = time.monotonic() - cancelled_at
    assert not runner.is_alive() and outcome and outcome[0].cancelled  # type: ignore[attr-defined]
    assert took < 2.0, (
        f"cancel took {took:.1f} s"
    )  # within the batch's 5 s: the batch was interrupted
    assert _scrubline_threads() == []


def test_sigterm_stops_the_analysis_like_ctrl_c(make_clip, tmp_path: Path) -> None:
    video = make_clip(1800, fps=30, size=(640, 360), codec="libx264", gop=60)
    case = tmp_path / "term.scrub"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scrubline.cli",
            "analyze",
            str(video),
            "-o",
            str(case),
            "--batch",
            "2",
            "-q",
        ],
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    saved = 0
    try:
        while time.monotonic() < deadline and process.poll() is None and saved < 20:
            if case.exists():
                try:
                    with sqlite3.connect(case, timeout=1) as db:
                        saved = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
                except sqlite3.OperationalError:
                    saved = 0
            time.sleep(0.02)  # polling for a condition, not timing anything
        assert process.poll() is None, "the analysis finished before it could be stopped"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, err
    assert "run the same command again to resume" in err
    with CaseStore(case) as store:
        assert store.frame_count() >= 20  # the work done is kept (resuming is tested after kill -9)


def test_a_model_run_in_flight_is_interrupted_by_onnxruntime(tiny_registry) -> None:
    """The fakes above stop when `run_options.terminate` is set; the real wrapper must hand those
    options to onnxruntime, which then refuses to run."""
    import numpy as np

    from scrubline.core.analysis import ImageModels

    analyzer = ImageModels(tiny_registry.frame_models(), AnalysisSettings())
    frame = {size: np.zeros((size[1], size[0], 3), np.uint8) for size in analyzer.sizes}
    assert len(analyzer.run([(0, 0.0, frame)], (64, 48))) == 1
    analyzer.interrupt()
    with pytest.raises(ModelError, match="terminate"):
        analyzer.run([(0, 0.0, frame)], (64, 48))
