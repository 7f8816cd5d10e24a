"""`scrubline batch` on Dask (a local cluster, and Dask's own scheduler and worker processes),
its index, `cases`, `export-all` and `report --cohort`.

Clips are tiny (96×72, 2–4 s, analysed at 5 fps with the tiny segmenter), so the time goes to
starting worker processes. The video file names look like a patient's, and nothing written for
others (exports, the cohort report) may carry them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrubline.batch import BatchInputError, collect_inputs
from scrubline.cli import main
from scrubline.core.archive import ArchiveIndex
from scrubline.core.demo import write_clip
from scrubline.core.export import load_procedure
from scrubline.core.timeline import phase_colour
from tests import tiny_models

PATIENT_NAMES = ("Doe_Jane_MRN1", "Roe_Rick_MRN2", "Poe_Ann_MRN3")


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batch")
    clips = root / "clips"
    for i, name in enumerate(PATIENT_NAMES):
        write_clip(clips / "ward" / f"{name}.mp4", 20 + 10 * i, fps=10, size=(96, 72))
    corrupt = root / "corrupt" / "Broken_MRN9.mp4"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 200)
    models = tiny_models.segmenter_folder(root / "models")
    return {"root": root, "clips": clips, "corrupt": corrupt, "models": models}


def _batch_args(material: dict[str, Path], *inputs: Path | str, out: Path) -> list[str]:
    return [
        "batch",
        *map(str, inputs),
        "--out-dir",
        str(out),
        "--models",
        str(material["models"]),
        "--model",
        "tiny-seg",
        "--fps",
        "5",
        "--json",
    ]


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def archive(material: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The folder of 3 clips analysed by a local cluster of 2 workers."""
    out = tmp_path_factory.mktemp("archive") / "arch"
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRUBLINE_HOME", str(home))
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrubline",
                *_batch_args(material, material["clips"], out=out),
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=170,
        )
    return {"out": out, "completed": completed, "home": home}


def test_a_folder_of_three_clips_on_two_local_workers_gives_three_cases_and_an_index(
    archive: dict,
) -> None:
    completed = archive["completed"]
    assert completed.returncode == 0, completed.stderr
    events = _events(completed.stdout)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished"
    assert kinds.count("done") == 3
    submitted = next(e for e in events if e["event"] == "submitted")
    assert submitted == {"event": "submitted", "tasks": 3, "workers": 2}
    out = archive["out"]
    cases = sorted((out / "cases").glob("*.scrub"))
    assert len(cases) == 3
    with ArchiveIndex(out) as index:
        rows = index.rows()
        phases = index.table("phases")
        episodes = index.table("episodes")
    assert {r["video_name"] for r in rows} == {f"{n}.mp4" for n in PATIENT_NAMES}
    assert all(r["status"] == "done" and r["error"] is None for r in rows)
    assert all(r["video_path"] is None for r in rows)  # names only, unless asked
    assert {r["case_file"] for r in rows} == {str(c.relative_to(out)) for c in cases}
    by_name = {r["video_name"]: r for r in rows}
    # Totals as the case's own summary has them: 2, 3 and 4 s of video at 5 fps, all analysed.
    frames = [by_name[f"{n}.mp4"]["analysed_frames"] for n in PATIENT_NAMES]
    assert frames == [by_name[f"{n}.mp4"]["planned_frames"] for n in PATIENT_NAMES]
    assert frames[0] == 10 and frames[0] < frames[1] < frames[2] == 20
    assert [round(by_name[f"{n}.mp4"]["duration_s"], 1) for n in PATIENT_NAMES] == [2.0, 3.0, 4.0]
    for row in rows:
        assert row["models"] == {"tiny-seg": "0.0.1"}
        assert row["plan"]["fps"] == 5.0 and row["plan"]["procedure"] == "generic"
        assert row["outcome_reason"]  # no outcome for these clips, and the index says why
        assert row["tip_hidden_episodes"] is not None
    assert {p["fingerprint"] for p in phases} == {r["fingerprint"] for r in rows}
    assert sum(p["duration_s"] for p in phases) > 0
    generic = load_procedure("generic")
    for phase in phases:  # the template's colours, as the window and the case report draw them
        assert phase["colour"] == (
            generic.colour_of(phase["phase"]) or phase_colour(phase["phase"])
        )
    assert {e["kind"] for e in episodes} >= {"phase"}
    # The case files are closed, whole cases: no WAL left beside them, no lock held.
    assert not list((out / "cases").glob("*-wal"))


def test_a_rerun_does_no_work(material: dict[str, Path], archive: dict) -> None:
    out = archive["out"]
    before = {p: p.stat().st_mtime_ns for p in (out / "cases").iterdir()}
    index_before = (
        sqlite3.connect(out / "index.sqlite")
        .execute("SELECT fingerprint, updated FROM cases ORDER BY fingerprint")
        .fetchall()
    )
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRUBLINE_HOME", str(archive["home"]))
        completed = subprocess.run(
            [sys.executable, "-m", "scrubline", *_batch_args(material, material["clips"], out=out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert completed.returncode == 0, completed.stderr
    events = _events(completed.stdout)
    assert [e["event"] for e in events] == ["skipped"] * 3 + ["start", "finished"]
    assert events[-1]["skipped"] == 3 and events[-1]["done"] == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "cases").iterdir()} == before
    index_after = (
        sqlite3.connect(out / "index.sqlite")
        .execute("SELECT fingerprint, updated FROM cases ORDER BY fingerprint")
        .fetchall()
    )
    assert index_after == index_before
    assert time.monotonic() - started < 60  # no cluster was started


def test_a_changed_plan_is_not_skipped_and_fresh_analyses_it_again(
    material: dict[str, Path], tmp_path: Path
) -> None:
    """Skipping needs the same plan: at another rate the case is refused (recorded with the
    reason, nothing mixed), and `--fresh` analyses it again at the new rate."""
    out = tmp_path / "arch"
    clip = sorted(material["clips"].rglob("*.mp4"))[0]
    assert main([*_batch_args(material, clip, out=out), "--workers", "1"]) == 0
    args = _batch_args(material, clip, out=out)
    args[args.index("--fps") + 1] = "2"
    assert main([*args, "--workers", "1"]) == 2
    with ArchiveIndex(out) as index:
        (row,) = index.rows()
    assert row["status"] == "failed" and "would mix" in row["error"]
    assert main([*args, "--workers", "1", "--fresh"]) == 0
    with ArchiveIndex(out) as index:
        (row,) = index.rows()
    assert row["status"] == "done" and row["plan"]["fps"] == 2.0 and row["analysed_frames"] == 4


def test_a_corrupt_video_is_recorded_as_failed_while_the_others_succeed(
    material: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "arch"
    good = sorted(material["clips"].rglob("*.mp4"))[:2]
    code = main(
        [
            *_batch_args(material, *good, material["corrupt"], out=out),
            "--workers",
            "2",
            "--journal",
            "delete",  # as for an archive on a network share
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "error: 1 of 3 videos could not be analysed" in captured.err
    events = _events(captured.out)
    failed = [e for e in events if e["event"] == "failed"]
    assert [e["video"] for e in failed] == ["Broken_MRN9.mp4"]
    assert [e["event"] for e in events].count("done") == 2
    with ArchiveIndex(out) as index:
        rows = {r["video_name"]: r for r in index.rows()}
    broken = rows["Broken_MRN9.mp4"]
    assert broken["status"] == "failed"
    assert "not a video file that can be read" in broken["error"]
    assert "Broken_MRN9" not in broken["error"] and str(tmp_path) not in broken["error"]
    assert all(rows[p.name]["status"] == "done" for p in good)
    for p in good:
        case = out / rows[p.name]["case_file"]
        db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        db.close()


def test_cases_lists_the_index(archive: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = archive["out"]
    assert main(["cases", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["case", "video", "status"]
    assert len(table) == 4 and all(" done " in line for line in table[1:])
    assert main(["cases", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and rows[0]["status"] == "done"


def test_cases_of_a_folder_that_is_not_a_batch_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cases", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a batch folder" in err and err.count("\n") == 1


def test_export_all_writes_one_table_per_kind_across_the_cases(
    archive: dict, tmp_path: Path
) -> None:
    import pandas as pd

    out = archive["out"]
    assert main(["export-all", str(out), "-o", str(tmp_path / "tables")]) == 0
    tables = tmp_path / "tables"
    cases = pd.read_csv(tables / "cases.csv")
    phases = pd.read_csv(tables / "phases.csv")
    episodes = pd.read_csv(tables / "episodes.csv")
    tools = pd.read_csv(tables / "tools.csv")
    assert len(cases) == 3 and cases["case"].is_unique
    assert list(phases.columns) == ["case", "phase", "duration_s"]
    assert list(episodes.columns) == ["case", "kind", "label", "start_s", "end_s", "peak"]
    assert list(tools.columns) == ["case", "label", "time_in_view_s", "entries"]
    for column in (
        "fingerprint",
        "duration_s",
        "status",
        "bleeding_episodes",
        "tip_hidden_episodes",
        "outcome_reason",
        "analysed_frames",
    ):
        assert column in cases.columns
    with ArchiveIndex(out) as index:
        assert sorted(cases["analysed_frames"]) == sorted(
            r["analysed_frames"] for r in index.rows()
        )
    assert set(phases["case"]) <= set(cases["case"]) and set(episodes["case"]) <= set(cases["case"])
    # One case's episodes are that case's own episodes.csv rows.
    for path in tables.iterdir():
        text = path.read_text(encoding="utf-8")
        for name in PATIENT_NAMES:
            assert name not in text, f"{path.name} names {name}"
        assert str(out) not in text and "/tmp" not in text


def test_export_all_as_parquet_says_what_it_needs(
    archive: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert (
            main(
                [
                    "export-all",
                    str(archive["out"]),
                    "-o",
                    str(tmp_path / "t"),
                    "--format",
                    "parquet",
                ]
            )
            == 2
        )
        assert "needs pyarrow" in capsys.readouterr().err
    else:
        import pandas as pd

        assert (
            main(
                [
                    "export-all",
                    str(archive["out"]),
                    "-o",
                    str(tmp_path / "t"),
                    "--format",
                    "parquet",
                ]
            )
            == 0
        )
        assert len(pd.read_parquet(tmp_path / "t" / "cases.parquet")) == 3


def test_the_cohort_report_compares_the_cases_without_naming_the_videos(
    archive: dict, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    pdf = tmp_path / "cohort.pdf"
    assert (
        main(
            [
                "report",
                "--cohort",
                str(archive["out"]),
                "-o",
                str(pdf),
                "--label",
                "Trainees, spring term",
            ]
        )
        == 0
    )
    reader = PdfReader(pdf)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Trainees, spring term" in text
    assert "3 analysed case(s)" in text
    for heading in (
        "Phase durations",
        "Phase sequence of each case",
        "Tool usage",
        "Bleeding and tip-hidden episodes",
        "Cases and predicted outcomes",
    ):
        assert heading in text
    for label in ("case 1", "case 2", "case 3"):
        assert label in text
    # each case's outcome, or why there is none (outside the outcome model's domain, as here:
    # generic procedure, or no bleeding event)
    assert "the outcome model was validated" in text or "no bleeding event was found" in text
    for name in PATIENT_NAMES:
        assert name not in text
    assert "/tmp" not in text and "fingerprint" not in text.lower()
    assert "not a medical device" in text


def test_inputs_from_folders_and_lists(material: dict[str, Path], tmp_path: Path) -> None:
    clips = sorted(material["clips"].rglob("*.mp4"))
    listing = tmp_path / "list.csv"
    listing.write_text(
        "path,case_label,procedure\n"
        f"{clips[0]},Trainee A,generic\n"
        f"{os.path.relpath(clips[1], tmp_path)},Trainee B,\n",
        encoding="utf-8",
    )
    items = collect_inputs([listing, material["clips"], clips[0]])
    assert [i.video for i in items] == [clips[0].resolve(), clips[1].resolve(), clips[2].resolve()]
    assert [(i.label, i.procedure) for i in items[:2]] == [
        ("Trainee A", "generic"),
        ("Trainee B", None),
    ]
    text_list = tmp_path / "list.txt"
    text_list.write_text(f"# one a line\n{clips[2]}\n\n", encoding="utf-8")
    assert [i.video for i in collect_inputs([text_list])] == [clips[2].resolve()]
    with pytest.raises(BatchInputError, match="column 'path'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("video\nx.mp4\n", encoding="utf-8")
        collect_inputs([bad])
    with pytest.raises(BatchInputError, match="no such file or folder"):
        collect_inputs([tmp_path / "nowhere"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workers", "3"], "this process may use 2 CPU(s); at most 2 workers"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers sizes the local"),
        (["--procedure", "no-such-template"], "no procedure 'no-such-template'"),
    ],
)
def test_bad_batch_options_stop_before_any_work(
    material: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scrubline.core import cpus

    monkeypatch.setattr(cpus, "usable_cpus", lambda: 2)
    out = tmp_path / "arch"
    assert main([*_batch_args(material, material["clips"], out=out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


# ---------------------------------------------------------------------------- a real cluster
@contextlib.contextmanager
def _process(args: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """A process that is ended (SIGTERM, then SIGKILL) whatever happens in the test."""
    handle = log.open("w")
    process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        handle.close()


def _wait_for_file(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"{process.args[:4]} ended with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout:.0f} s")
        time.sleep(0.1)  # polling for the file, not timing anything


def test_batch_on_dask_scheduler_and_worker_processes(
    material: dict[str, Path], tmp_path: Path
) -> None:
    """`dask scheduler` and `dask worker` as their own processes on 127.0.0.1, as a department
    runs them (or dask-jobqueue does on Slurm), and `batch --scheduler` against them."""
    scheduler_file = tmp_path / "scheduler.json"
    clips = sorted(material["clips"].rglob("*.mp4"))
    listing = tmp_path / "cases.csv"
    listing.write_text(
        f"path,case_label\n{clips[0]},Trainee A\n{clips[1]},Trainee B\n", encoding="utf-8"
    )
    env = dict(os.environ, SCRUBLINE_HOME=str(tmp_path / "home"))
    dask = [sys.executable, "-m", "dask"]
    with _process(
        [
            *dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            "--idle-timeout",
            "300",
        ],
        tmp_path / "scheduler.log",
    ) as scheduler:
        _wait_for_file(scheduler_file, scheduler, 60)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        with _process(
            [
                *dask,
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--death-timeout",
                "60",
            ],
            tmp_path / "worker.log",
        ):
            out = tmp_path / "arch"
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scrubline",
                    *_batch_args(material, listing, out=out),
                    "--scheduler",
                    address,
                ],
                capture_output=True,
                text=True,
                timeout=150,
                env=env,
            )
            assert completed.returncode == 0, completed.stderr
            events = _events(completed.stdout)
            assert [e["event"] for e in events].count("done") == 2
            # The scheduler file serves as the address too.
            again = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scrubline",
                    *_batch_args(material, listing, out=out),
                    "--scheduler",
                    str(scheduler_file),
                ],
                capture_output=True,
                text=True,
                timeout=150,
                env=env,
            )
            assert again.returncode == 0, again.stderr
            assert [e["event"] for e in _events(again.stdout)].count("skipped") == 2
    with ArchiveIndex(out) as index:
        rows = index.rows()
    assert [r["case"] for r in rows] == ["Trainee A", "Trainee B"]
    assert all(r["status"] == "done" for r in rows)
    assert scheduler.returncode is not None  # torn down


def test_analyze_and_the_report_never_load_dask() -> None:
    """Dask opens TCP sockets; only `batch` may load it (tests/test_privacy.py holds analyze and
    the window to local sockets)."""
    code = (
        "import sys, scrubline.cli, scrubline.core.analysis, scrubline.core.export, "
        "scrubline.core.archive, scrubline.report.cohort, scrubline.report\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'dask')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ctrl_c_cancels_cleanly_and_a_rerun_resumes(
    material: dict[str, Path], tmp_path: Path
) -> None:
    """SIGINT while the first case is being analysed: the running analysis saves and stops,
    queued ones never start, rc 130 with how to resume; the same command again finishes every
    case."""
    import signal

    out = tmp_path / "arch"
    env = dict(os.environ, SCRUBLINE_HOME=str(tmp_path / "home"))
    command = [
        sys.executable,
        "-m",
        "scrubline",
        *_batch_args(material, material["clips"], out=out),
        "--workers",
        "1",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        # Not at the "submitted" event: on a busy machine no worker may have started a case yet,
        # and then nothing is running to be interrupted. A case file appears once one is.
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any((out / "cases").glob("*.scrub")):
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)
    assert process.returncode == 130, stderr
    assert "cancelled: " in stderr and "Run the same command again to resume" in stderr
    events = _events(stdout)
    assert events[-1]["event"] == "finished" and events[-1]["cancelled"] is True
    with ArchiveIndex(out) as index:
        before = {r["fingerprint"]: r["status"] for r in index.rows()}
    assert set(before.values()) <= {"done", "interrupted"}
    assert "interrupted" in before.values()
    again = subprocess.run(command, capture_output=True, text=True, timeout=150, env=env)
    assert again.returncode == 0, again.stderr
    kinds = [e["event"] for e in _events(again.stdout)]
    assert kinds.count("skipped") == list(before.values()).count("done")
    assert kinds.count("done") == 3 - kinds.count("skipped")
    with ArchiveIndex(out) as index:
        assert [r["status"] for r in index.rows()] == ["done"] * 3


def test_a_case_whose_worker_died_repeatedly_is_recorded_as_failed(tmp_path: Path) -> None:
    """Dask retries a task whose worker died (allowed-failures); when it gives up, the future
    raises KilledWorker, and the case is recorded as failed with a reason, the batch going on."""
    from distributed.scheduler import KilledWorker

    from scrubline.batch import BatchItem, BatchResult, _collect

    class DeadFuture:
        def result(self) -> None:
            raise KilledWorker("scrubline-abc", "tcp://127.0.0.1:1", 3)

    future = DeadFuture()
    item = BatchItem(tmp_path / "Doe_Jane.mp4", "Trainee A")
    plan = {"fps": 5.0, "models": {"tiny-seg": "0.0.1"}, "procedure": "generic"}
    events: list[dict] = []
    result = BatchResult(total=1)
    with ArchiveIndex(tmp_path / "arch", create=True) as index:
        _collect(future, {future: (item, "abc", plan)}, index, result, events.append, [])
        (row,) = index.rows()
    assert result.failed == 1 and events[0]["event"] == "failed"
    assert row["status"] == "failed" and "worker analysing it died repeatedly" in row["error"]
    assert row["case"] == "Trainee A" and row["plan"] == plan
