"""The case library's rows: per-user cases with their status, batch folders read from their
index, unreadable files listed with the reason, and removing a case with all its files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from scrubline.core.caselock import CaseLock
from scrubline.core.library import (
    COMPLETE,
    NOT_ANALYSED,
    PARTIAL,
    UNREADABLE,
    read_batch_index,
    remove_case,
    scan_cases_folder,
)
from scrubline.core.results import FrameResult
from scrubline.core.store import CaseStore, StoreError


def _case(path: Path, analysed: list[int], planned: int, label: str = "") -> Path:
    with CaseStore(path, create=True) as store:
        store.set_meta("video", {"fingerprint": path.stem, "name": "clip.mp4", "duration_s": 42.0})
        store.set_meta("planned_frames", list(range(planned)))
        store.set_meta("procedure", "generic")
        if analysed:
            store.write_results([FrameResult(f, f / 10) for f in analysed])
            store.set_meta("analysed_at", 1_700_000_000.0 + len(analysed))
        if label:
            store.set_case_info(label=label)
    return path


def test_the_cases_folder_lists_every_case_with_its_status(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    _case(folder / "aaa.scrub", [0, 1, 2], 3, label="Chole 12")
    _case(folder / "bbb.scrub", [0], 3)
    _case(folder / "ccc.scrub", [], 3)
    (folder / "ddd.scrub").write_bytes(b"this is not a case file at all" * 100)
    (folder / "notes.txt").write_text("not a case")
    entries = {e.path.name: e for e in scan_cases_folder(folder)}
    assert set(entries) == {"aaa.scrub", "bbb.scrub", "ccc.scrub", "ddd.scrub"}
    done = entries["aaa.scrub"]
    assert (done.status, done.label, done.procedure, done.duration_s) == (
        COMPLETE,
        "Chole 12",
        "generic",
        42.0,
    )
    assert done.analysed_at == 1_700_000_003.0
    assert entries["bbb.scrub"].status == PARTIAL
    assert entries["bbb.scrub"].status_text == "partial: 1 of 3 frames"
    assert entries["ccc.scrub"].status == NOT_ANALYSED
    assert entries["ddd.scrub"].status == UNREADABLE and entries["ddd.scrub"].detail
    assert scan_cases_folder(tmp_path / "nowhere") == []


def test_a_batch_folder_is_read_from_its_index(tmp_path: Path) -> None:
    batch = tmp_path / "archive"
    (batch / "cases").mkdir(parents=True)
    _case(batch / "cases" / "eee.scrub", [0, 1], 2)
    db = sqlite3.connect(batch / "index.sqlite")
    db.execute(
        'CREATE TABLE cases (fingerprint TEXT, "case" TEXT, case_file TEXT, video_name TEXT, '
        "duration_s REAL, procedure TEXT, status TEXT, error TEXT)"
    )
    db.executemany(
        "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("eee", "Case 7", "cases/eee.scrub", "a.mp4", 42.0, "generic", "done", None),
            ("fff", "", "cases/fff.scrub", "b.mp4", 10.0, "generic", "failed", "cannot decode"),
        ],
    )
    db.commit()
    db.close()
    entries = {e.fingerprint: e for e in read_batch_index(batch)}
    assert entries["eee"].status == COMPLETE and entries["eee"].label == "Case 7"
    assert entries["eee"].from_batch
    assert entries["fff"].status == "failed" and "cannot decode" in entries["fff"].status_text
    with pytest.raises(ValueError, match="not a batch folder"):
        read_batch_index(tmp_path)


def test_removing_a_case_takes_its_sidecars_and_proxy_and_refuses_a_locked_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBLINE_HOME", str(tmp_path / "home"))
    from scrubline.core.proxy import proxy_dir_for

    path = _case(tmp_path / "ggg.scrub", [0], 1)
    (tmp_path / "ggg.scrub-wal").write_bytes(b"")
    proxy = proxy_dir_for(path)
    proxy.mkdir(parents=True)
    (proxy / "000000-000009.mp4").write_bytes(b"x")
    lock = CaseLock(path).acquire()
    with pytest.raises(StoreError, match="being analysed"):
        remove_case(path)
    assert path.exists()
    lock.release()
    removed = remove_case(path)
    assert path in removed and not path.exists()
    assert not (tmp_path / "ggg.scrub-wal").exists() and not proxy.exists()
    assert not list(tmp_path.glob("ggg.scrub*"))
