"""Per-user folders: cases in the data folder, proxies in the cache, settings in the config
folder, the log in the log folder (platformdirs rules, checked with a temporary HOME and XDG
folders), and the one-time move of cases that earlier versions kept in the cache."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scrubline.core import paths
from scrubline.core.store import CaseStore


@pytest.fixture
def xdg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user: HOME and the XDG folders in a temporary folder, no Scrubline override."""
    home = tmp_path / "home"
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.delenv(paths.LEGACY_CASES_ENV, raising=False)
    monkeypatch.setenv("HOME", str(home))
    for variable, folder in (
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(variable, str(home / folder))
    monkeypatch.setattr(paths, "_migrated", False)
    return home


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are the Linux rules")
def test_each_kind_of_file_has_its_folder(xdg_home: Path) -> None:
    assert paths.cases_dir() == xdg_home / ".local/share/scrubline/cases"
    assert paths.cache_dir() == xdg_home / ".cache/scrubline"
    assert paths.config_dir() == xdg_home / ".config/scrubline"
    assert paths.log_dir() == xdg_home / ".local/state/scrubline/log"
    case = paths.cases_dir() / "abc.scrub"
    assert paths.proxy_dir_for_case(case).parent == xdg_home / ".cache/scrubline/proxies"


def test_one_override_moves_every_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "portable"))
    folders = paths.app_folders()
    assert all(folder.is_relative_to(tmp_path / "portable") for folder in folders.values())
    assert len(set(folders.values())) == len(folders)
    assert paths.legacy_cases_dir() is None


def test_cases_of_one_name_in_two_folders_have_separate_proxies(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "case.scrub", tmp_path / "b" / "case.scrub"
    assert paths.proxy_dir_for_case(first) != paths.proxy_dir_for_case(second)
    assert paths.proxy_dir_for_case(first) == paths.proxy_dir_for_case(first)


def _write_case(path: Path, note: str) -> None:
    """A real case with a bookmark that is still in the `-wal` file (as after a crash)."""
    store = CaseStore(path, create=True)
    store.add_bookmark(1.0, 10, note)
    keeper = sqlite3.connect(str(path))  # a second connection keeps the WAL from being folded in
    keeper.execute("SELECT COUNT(*) FROM bookmarks").fetchone()
    store._db.execute("PRAGMA wal_autocheckpoint=0")
    store.add_bookmark(2.0, 20, note + " (in the wal)")
    # Simulate the process dying with the WAL not checkpointed: copy the files as they are.
    snapshot = {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}
    store.close()
    keeper.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    for name, data in snapshot.items():
        (path.parent / name).write_bytes(data)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the legacy folder checked is the Linux one"
)
def test_cases_move_from_the_cache_once_and_none_is_lost(xdg_home: Path) -> None:
    legacy = xdg_home / ".cache/scrubline/cases"
    legacy.mkdir(parents=True)
    _write_case(legacy / "first.scrub", "first")
    assert (legacy / "first.scrub-wal").exists()
    _write_case(legacy / "second.scrub", "second")
    (legacy / "second.proxy").mkdir()
    (legacy / "second.proxy" / "0-299.mp4").write_bytes(b"proxy segment")
    (legacy / "orphan.proxy").mkdir()
    # A case of the same name already in the new folder is kept, and so is the moved one.
    target = xdg_home / ".local/share/scrubline/cases"
    target.mkdir(parents=True)
    _write_case(target / "second.scrub", "already here")

    assert paths.cases_dir() == target
    assert not legacy.exists()
    notes = {}
    for case in sorted(target.glob("*.scrub")):
        with CaseStore(case) as store:
            notes[case.name] = [b.note for b in store.bookmarks()]
    assert notes == {
        "first.scrub": ["first", "first (in the wal)"],
        "second.scrub": ["already here", "already here (in the wal)"],
        "second-earlier-1.scrub": ["second", "second (in the wal)"],
    }
    moved_proxy = paths.proxy_dir_for_case(target / "second-earlier-1.scrub")
    assert (moved_proxy / "0-299.mp4").read_bytes() == b"proxy segment"

    # Once: a later start finds nothing to move and changes nothing.
    assert paths.migrate_legacy_cases(legacy, target) == []
    assert sorted(p.name for p in target.glob("*.scrub")) == sorted(notes)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are the Linux rules")
def test_analyze_puts_the_case_in_the_data_folder_and_the_proxy_in_the_cache(
    xdg_home: Path, clips: dict[str, Path]
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in (paths.HOME_ENV, paths.LEGACY_CASES_ENV)}
    result = subprocess.run(
        [sys.executable, "-m", "scrubline.cli", "analyze", str(clips["cfr"]), "--fps", "2", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cases = list((xdg_home / ".local/share/scrubline/cases").glob("*.scrub"))
    assert len(cases) == 1 and cases[0].name in result.stdout
    proxies = list((xdg_home / ".cache/scrubline/proxies").iterdir())
    assert len(proxies) == 1 and list(proxies[0].glob("*.mp4"))
    assert not list(cases[0].parent.glob("*.proxy"))
