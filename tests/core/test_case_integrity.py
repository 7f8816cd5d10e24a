"""A case is never lost, mixed or misreported: a closed case is one file; damaged, empty and
foreign files get rc 2 with what is wrong and what can be recovered; a case on read-only storage
can still be exported; reports and exports never overwrite the case or the video and appear whole
or not at all; a reader sees one consistent snapshot while an analysis writes."""

from __future__ import annotations

import errno
import hashlib
import io
import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing, redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scrubline.cli import main
from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.results import FrameResult, Instrument
from scrubline.core.store import CASE_TABLES, CaseDamaged, CaseStore, StoreError, storage_problem
from scrubline.core.timeline import build_timeline
from scrubline.core.tips import ClassRule, TipRules


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`scrubline ARGS` run in this process (as a subprocess would, minus the start-up time)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # option errors end in argparse
            code = int(exit_.code or 0)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "unexpected failure" not in lines[0]
    return lines[0]


@pytest.fixture
def case(clips: dict[str, Path], tmp_path: Path, tiny_registry) -> Path:
    """An analysed case (tiny model: every frame has results), closed."""
    path = tmp_path / "work" / "case.scrub"
    report = analyse_video(clips["long_gop"], path, AnalysisSettings(fps=5), registry=tiny_registry)
    assert report.complete and report.planned == 54
    return path


# ---------------------------------------------------------------------------- item 7: one file
def test_a_closed_case_is_one_self_contained_file(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    """The window analyses, bookmarks and closes its case while its frame loader still has the
    file open for reading (so SQLite's own checkpoint at the last close does not happen); a copy
    of the .scrub alone (no -wal) then holds every table and row."""
    path = tmp_path / "case.scrub"
    analyse_video(clips["long_gop"], path, AnalysisSettings(fps=5), registry=tiny_registry)
    with CaseStore(path, readonly=True) as loader:  # the window's background reader
        window_store = CaseStore(path)
        window_store.add_bookmark(1.0, 30, "first cut")
        window_store.close()
        assert loader.frame_count() == 54
        copy = tmp_path / "copy" / "case.scrub"
        copy.parent.mkdir()
        shutil.copyfile(path, copy)
    with CaseStore(copy, readonly=True, check=True) as store:
        tables = {
            r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert set(CASE_TABLES) <= tables
        assert store.frame_count() == 54 and len(store.detections_table()) > 0
        assert [b.note for b in store.bookmarks()] == ["first cut"]


def test_the_end_of_an_analysis_checkpoints_while_the_window_stays_open(
    clips: dict[str, Path], tmp_path: Path, tiny_registry
) -> None:
    path = tmp_path / "case.scrub"
    with CaseStore(path, create=True):  # the window's connection, still open
        analyse_video(clips["long_gop"], path, AnalysisSettings(fps=5), registry=tiny_registry)
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        copy = tmp_path / "copy.scrub"
        shutil.copyfile(path, copy)
    with CaseStore(copy, readonly=True) as store:
        assert store.frame_count() == 54


# ---------------------------------------------------------------------------- item 9: damage
def _corrupt_page(path: Path, table: str) -> None:
    with closing(sqlite3.connect(path)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[
            0
        ]
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start : start + page_size] = (
        np.random.default_rng(1).integers(0, 256, page_size, dtype=np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))


def _bad_json(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '{\"name\": ' WHERE key = 'video'")


DAMAGE = {
    "corrupted page": (lambda p: _corrupt_page(p, "instruments"), "is damaged"),
    "bad JSON in meta": (_bad_json, "its 'video' record is not valid JSON"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]), "is damaged"),
    "zero bytes": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "not SQLite": (lambda p: p.write_bytes(b"RIFF....AVI LIST" * 400), "not an SQLite database"),
    "another program's database": (
        lambda p: (
            p.unlink(),
            sqlite3.connect(p).execute("CREATE TABLE songs (title TEXT)").connection.commit(),
        ),
        "an SQLite database but not a Scrubline case",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", ["export", "report"])
def test_damaged_cases_are_named_not_exported(
    case: Path, tmp_path: Path, damage: str, command: str
) -> None:
    spoil, expected = DAMAGE[damage]
    spoil(case)
    out = tmp_path / ("out" if command == "export" else "out.pdf")
    line = one_error_line(cli(command, str(case), "-o", str(out)))
    assert str(case) in line and expected in line
    assert not out.exists()


@pytest.mark.parametrize(
    "damage", ["corrupted page", "bad JSON in meta", "truncated", "not SQLite"]
)
def test_analyze_refuses_a_damaged_case(
    case: Path, clips: dict[str, Path], damage: str, tiny_registry
) -> None:
    spoil, expected = DAMAGE[damage]
    spoil(case)
    before = digest(case)
    models = str(tiny_registry.get("tiny-seg").file.parent)
    line = one_error_line(
        cli(
            "analyze",
            str(clips["long_gop"]),
            "-o",
            str(case),
            "--fps",
            "5",
            "-q",
            "--models",
            models,
        )
    )
    assert str(case) in line and expected in line
    assert digest(case) == before  # nothing was added to the damaged file


def test_damage_message_says_what_is_still_readable(case: Path) -> None:
    _corrupt_page(case, "instruments")
    with pytest.raises(CaseDamaged) as caught:
        CaseStore(case, readonly=True, check=True)
    message = str(caught.value)
    assert "bookmarks (0 rows)" in message and "frames (54 rows)" in message
    assert "damaged: instruments" in message and ".recover" in message


# ---------------------------------------------------------------------------- item 8: storage
def _read_only_mount_works() -> bool:
    probe = (
        subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
        if shutil.which("unshare")
        else None
    )
    return probe is not None and probe.returncode == 0


@pytest.mark.skipif(
    not _read_only_mount_works(), reason="needs unshare (user and mount namespaces)"
)
def test_export_and_report_from_a_read_only_folder(
    case: Path, tmp_path: Path, clips: dict[str, Path], tiny_registry
) -> None:
    """A real read-only file system: the case's folder is bind-mounted read-only in a private
    mount namespace (tests run as root, so file modes alone would not stop a write)."""
    folder = case.parent
    for stale in folder.glob("case.scrub-*"):
        stale.unlink()  # a case copied to a read-only medium comes without -wal/-shm
    out = tmp_path / "out"
    models = tiny_registry.get("tiny-seg").file.parent
    script = (
        f"mount --bind -o ro {folder} {folder} && {sys.executable} -m scrubline.cli export {case} "
        f"-o {out} && {sys.executable} -m scrubline.cli report {case} -o {tmp_path / 'r.pdf'} && "
        f"{{ {sys.executable} -m scrubline.cli analyze {clips['long_gop']} -o {case} -q --models "
        f"{models}; echo rc=$?; }}"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(out / "frames.csv")) == 54 and (tmp_path / "r.pdf").stat().st_size > 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.stdout.strip().endswith("rc=2") and len(errors) == 1
    assert (
        str(case.parent) in errors[0]
        and "read-only" in errors[0]
        and "not a Scrubline case" not in errors[0]
    )


def test_read_only_open_writes_nothing(case: Path) -> None:
    """Opening for reading does not switch the journal or add a row (the file is unchanged)."""
    before = digest(case)
    with CaseStore(case, readonly=True, check=True) as store:
        assert store.frame_count() == 54
        with pytest.raises(StoreError, match="open for reading only"):
            store.add_bookmark(1.0, 1, "x")
    assert digest(case) == before


def test_read_only_open_falls_back_to_the_file_alone(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: SQLite refuses the plain read-only open as it does in a read-only folder (it
    cannot create the -shm index there); with no -wal beside it the file is read as immutable.
    The real read-only folder is covered by the unshare test above where that tool works."""
    real = sqlite3.connect

    def connect(target: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        if "mode=ro" in target and "immutable=1" not in target:
            error = sqlite3.OperationalError("unable to open database file")
            error.sqlite_errorname = "SQLITE_CANTOPEN"  # type: ignore[attr-defined]
            raise error
        return real(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", connect)
    with CaseStore(case, readonly=True) as store:
        assert store.frame_count() == 54
    case.with_name(case.name + "-wal").write_bytes(b"x" * 100)  # unsaved transactions beside it
    with pytest.raises(StoreError, match="latest results are in case.scrub-wal"):
        CaseStore(case, readonly=True)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "read-only"),
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (sqlite3.OperationalError("database or disk is full"), "the disk is full"),
        (sqlite3.OperationalError("database is locked"), "locked by another program"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    ],
)
def test_storage_problems_are_named(tmp_path: Path, error: BaseException, words: str) -> None:
    names = {
        "database or disk is full": "SQLITE_FULL",
        "database is locked": "SQLITE_BUSY",
        "attempt to write a readonly database": "SQLITE_READONLY",
    }
    if isinstance(error, sqlite3.Error):
        error.sqlite_errorname = names[str(error)]  # type: ignore[attr-defined]
    assert words in storage_problem(tmp_path / "c.scrub", error)


def test_export_on_a_full_disk_changes_nothing(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: the third file's write fails with ENOSPC, as on a full disk."""
    out = tmp_path / "out"
    assert main(["export", str(case), "-o", str(out)]) == 0
    before = {p.name: digest(p) for p in out.iterdir()}
    real = pd.DataFrame.to_csv

    def to_csv(self: pd.DataFrame, path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith("episodes.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    with CaseStore(case) as store:  # the case changes, so a new export would differ
        store.write_results(
            [FrameResult(0, 0.0, [Instrument("hook", 0.9, (0, 0, 5, 5), None, 0.0, False)])]
        )
    with pytest.raises(Exception, match="the disk is full; nothing was changed"):
        from scrubline.core.export import export_case

        with CaseStore(case, readonly=True) as store:
            export_case(store, out)
    assert {p.name: digest(p) for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------------------- item 6: outputs
def test_report_never_overwrites_the_case_or_the_video(
    case: Path, clips: dict[str, Path], tmp_path: Path
) -> None:
    video = tmp_path / "theatre-3.mp4"
    shutil.copyfile(clips["long_gop"], video)
    kept = {p: digest(p) for p in (case, video)}
    line = one_error_line(cli("report", str(case), "-o", str(case)))
    assert "case or its video" in line
    line = one_error_line(cli("report", str(case), "-o", str(video)))
    assert "not a PDF" in line
    line = one_error_line(cli("report", str(case), "-o", str(video), "--video", str(video)))
    assert str(video) in line
    line = one_error_line(cli("export", str(case), "-o", str(case)))
    assert str(case) in line
    assert {p: digest(p) for p in kept} == kept
    left = [p.name for p in case.parent.iterdir()]
    assert not [
        n for n in left if n.endswith((".pdf", ".part", ".csv", ".json")) or n.startswith(".")
    ], left


def test_a_report_replaces_an_earlier_one_whole_or_not_at_all(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrubline.report import ReportOptions, document, write_report

    target = tmp_path / "debrief.pdf"
    with CaseStore(case, readonly=True) as store:
        write_report(store, target, ReportOptions(label="Case 1"))
        first = digest(target)

        def broken(*_: object) -> None:
            raise RuntimeError("the renderer failed half-way")

        monkeypatch.setattr(document, "_build", broken)
        with pytest.raises(RuntimeError):
            write_report(store, target, ReportOptions(label="Case 2"))
    assert digest(target) == first
    left = [p.name for p in tmp_path.iterdir()]
    assert [n for n in left if "debrief" in n or n.startswith(".")] == ["debrief.pdf"], left


def test_an_interrupted_export_leaves_the_earlier_export_whole(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrubline.core.export import export_case

    out = tmp_path / "tables"
    with CaseStore(case, readonly=True) as store:
        export_case(store, out)
    before = {p.name: digest(p) for p in out.iterdir()}
    with CaseStore(case) as store:
        store.write_results(
            [FrameResult(0, 0.0, [Instrument("hook", 0.9, (0, 0, 5, 5), None, 0.0, False)])]
        )
    real = pd.DataFrame.to_csv

    def interrupted(self: pd.DataFrame, path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith("episodes.csv"):
            raise KeyboardInterrupt  # Ctrl+C after two of the four files
        return real(self, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with CaseStore(case, readonly=True) as store, pytest.raises(KeyboardInterrupt):
        export_case(store, out)
    assert {p.name: digest(p) for p in out.iterdir()} == before
    left = [p.name for p in tmp_path.iterdir()]
    assert [n for n in left if "tables" in n or n.startswith(".")] == ["tables"], left
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    with CaseStore(case, readonly=True) as store:
        export_case(store, out)
    frames = pd.read_csv(out / "frames.csv")
    # The re-export holds the hook written after the first one (its tip is not counted:
    # tip visibility is claimed only for validated classes, see scrubline.core.tips).
    assert len(frames) == 54 and frames["tool_hook"][0] == 1 and frames["tips_hidden"][0] == 0
    assert digest(out / "frames.csv") != before["frames.csv"]  # so a mix would have shown


def test_export_into_a_shared_folder_keeps_other_files(case: Path, tmp_path: Path) -> None:
    from scrubline.core.export import export_case

    shared = tmp_path / "desktop"
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    with CaseStore(case, readonly=True) as store:
        written = export_case(store, shared)
    assert sorted(p.name for p in shared.iterdir()) == sorted(
        [p.name for p in written] + ["notes.txt"]
    )
    assert (shared / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------- issue 17 item 4
# Tip counts cover validated classes only (scrubline.core.tips): both tools count here.
BOTH_VALIDATED = TipRules({name: ClassRule(name, True, 0.5) for name in ("grasper", "hook")})


def test_timeline_reads_one_snapshot_while_an_analysis_writes(tmp_path: Path) -> None:
    """A reader rebuilding the timeline while another connection commits batches never sees a
    detection of a frame it has not seen (it raised KeyError on most reads before)."""
    path = tmp_path / "case.scrub"
    with CaseStore(path, create=True) as setup:
        setup.set_meta("video", {"duration_s": 1000.0, "fps": 30.0})
    writer_error: list[BaseException] = []

    def write() -> None:
        try:
            with CaseStore(path) as writer:
                for first in range(0, 3000, 4):
                    writer.write_results(
                        [
                            FrameResult(
                                frame,
                                frame / 30,
                                [
                                    Instrument("grasper", 0.9, (0, 0, 9, 9), (9, 9), 0.9, True),
                                    Instrument("hook", 0.8, (5, 5, 20, 20), (20, 20), 0.1, False),
                                ],
                            )
                            for frame in range(first, first + 4)
                        ]
                    )
        except BaseException as exc:  # reported by the main thread
            writer_error.append(exc)

    writer_thread = threading.Thread(target=write)
    grown = []
    with CaseStore(path, readonly=True) as reader:
        writer_thread.start()
        try:
            while writer_thread.is_alive() or len(grown) < 3:
                timeline = build_timeline(reader, tip_rules=BOTH_VALIDATED)
                assert (timeline.n_instruments == 2).all()
                assert timeline.presence.sum() == 2 * len(timeline.frames)
                grown.append(len(timeline.frames))
        finally:
            writer_thread.join()
    assert not writer_error
    assert len(set(grown)) >= 3  # the reader really read while the writer wrote
