"""Case files on network filesystems use SQLite's rollback journal: WAL is unsafe there."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from pathlib import Path

import pytest

from scrubline.core import journal
from scrubline.core.analysis import AnalysisSettings, analyse_video
from scrubline.core.demo import write_clip
from scrubline.core.models import load_registry
from scrubline.core.store import CaseStore, StoreError
from tests import tiny_models

Partition = namedtuple("Partition", "device mountpoint fstype opts")


def _mount(monkeypatch: pytest.MonkeyPatch, mountpoint: Path, fstype: str) -> None:
    import psutil

    table = [
        Partition("/dev/sda1", "/", "ext4", "rw"),
        Partition("srv:/x", str(mountpoint), fstype, "rw"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: table)


def _mode(path: Path) -> str:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    finally:
        db.close()


@pytest.mark.parametrize("fstype", ["nfs4", "cifs", "fuse.sshfs", "lustre"])
def test_a_folder_on_a_network_filesystem_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    share = tmp_path / "share"
    (share / "cases").mkdir(parents=True)
    _mount(monkeypatch, share, fstype)
    monkeypatch.delenv(journal.JOURNAL_ENV, raising=False)
    assert journal.network_filesystem(share / "cases") == fstype
    assert journal.journal_mode(share / "cases" / "new" / "a.scrub") == "delete"
    assert journal.network_filesystem(tmp_path) is None
    assert journal.journal_mode(tmp_path / "a.scrub") == "wal"


def test_the_environment_and_the_caller_choose_over_detection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(journal.JOURNAL_ENV, "delete")
    assert journal.journal_mode(tmp_path / "a.scrub") == "delete"
    assert journal.journal_mode(tmp_path / "a.scrub", "wal") == "wal"
    monkeypatch.setenv(journal.JOURNAL_ENV, "memory")
    with pytest.raises(StoreError, match="journal mode 'memory' .*SCRUBLINE_JOURNAL"):
        CaseStore(tmp_path / "b.scrub", create=True)


def test_a_case_on_a_network_share_is_written_without_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    _mount(monkeypatch, share, "nfs")
    monkeypatch.delenv(journal.JOURNAL_ENV, raising=False)
    video = write_clip(tmp_path / "v.mp4", 20, fps=10, size=(96, 72))
    registry = load_registry([tiny_models.segmenter_folder(tmp_path / "m")], include_bundled=False)
    report = analyse_video(video, share / "c.scrub", AnalysisSettings(fps=5), registry=registry)
    assert report.complete
    assert _mode(report.case_path) == "delete"
    assert not (share / "c.scrub-wal").exists()
    # The same analysis on a local disk keeps WAL, and journal="delete" asks for the other.
    local = analyse_video(video, tmp_path / "l.scrub", AnalysisSettings(fps=5), registry=registry)
    assert _mode(local.case_path) == "wal"
    asked = analyse_video(
        video, tmp_path / "d.scrub", AnalysisSettings(fps=5), registry=registry, journal="delete"
    )
    assert _mode(asked.case_path) == "delete"
    with CaseStore(asked.case_path, readonly=True) as store:
        assert store.frame_count() == report.planned
