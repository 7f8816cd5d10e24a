"""Where Scrubline keeps things.

Bundled data (`bundled_dir`): inside the installed package (`scrubline/_bundled/`, read through
`importlib.resources`, so a `--user`, `--target` or system-pip install finds it as well as a
venv), inside a PyInstaller bundle, or at the top of a checkout (`models/`, `resources/`) for an
editable install.

Per-user folders, where a desktop app is expected to keep them (`platformdirs` knows each
platform's rules, so nothing here is hand-written per platform):

- cases (`cases_dir`) under the user *data* folder: they hold bookmarks, notes and event edits
  that cannot be recomputed, so they must not sit where system cleaners purge (the cache);
- the scrub proxies, the demo clip and bench clips under the *cache* folder: all regenerable;
- settings under the *config* folder;
- the log file under the *log* folder.

`SCRUBLINE_HOME` puts all four under one folder (tests, the UI probe, portable use).
`SCRUBLINE_CACHE`, the older override, still names the cases folder when it is set.

Cases used to live in the per-user cache; `cases_dir()` moves any found there into the data
folder the first time it is asked in a process (`migrate_legacy_cases`), keeping every case.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import logging
import os
import shutil
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

HOME_ENV = "SCRUBLINE_HOME"
LEGACY_CASES_ENV = "SCRUBLINE_CACHE"
CASE_SUFFIX = ".scrub"
# Linux folders are lower case by convention; macOS and Windows show the product name.
APP_NAME = "scrubline" if sys.platform.startswith("linux") else "Scrubline"


def bundled_dir(name: str) -> Path:
    """The folder of bundled `models` or `resources`: the first that exists of the frozen bundle,
    the package data of an installed wheel and the checkout (the first of them when none does,
    so that an error names where it was expected)."""
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / name)
    packaged = importlib.resources.files("scrubline") / "_bundled" / name
    if isinstance(packaged, Path):  # always, except for an import from a zip file
        candidates.append(packaged)
    candidates.append(Path(__file__).resolve().parents[3] / name)
    return next((path for path in candidates if path.is_dir()), candidates[0])


def resources_dir() -> Path:
    return bundled_dir("resources")


# ---------------------------------------------------------------------------- per-user folders
def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else None


def data_dir() -> Path:
    """The per-user data folder (what cannot be recomputed)."""
    home = _home_override()
    if home is not None:
        return home / "data"
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """The per-user cache folder: everything in it can be regenerated."""
    home = _home_override()
    if home is not None:
        return home / "cache"
    import platformdirs

    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    """The per-user settings folder."""
    home = _home_override()
    if home is not None:
        return home / "config"
    import platformdirs

    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    """The per-user log folder."""
    home = _home_override()
    if home is not None:
        return home / "log"
    import platformdirs

    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def app_folders() -> dict[str, Path]:
    """Scrubline's own per-user folders by role: what the log may name, and what the privacy
    test allows to be written."""
    return {
        "cases": cases_dir(migrate=False),
        "data": data_dir(),
        "cache": cache_dir(),
        "config": config_dir(),
        "log": log_dir(),
    }


def proxies_dir() -> Path:
    return cache_dir() / "proxies"


def proxy_dir_for_case(case_path: Path) -> Path:
    """The scrub proxy of a case, in the cache: named by the case's file name and a digest of its
    full path, so two cases of one name in different folders never share a proxy."""
    resolved = str(Path(case_path).resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return proxies_dir() / f"{Path(case_path).stem}-{digest}"


_migrated = False
_migration_lock = threading.Lock()


def cases_dir(*, migrate: bool = True) -> Path:
    """Where cases live by default, per user. The first call in a process moves the cases of
    earlier versions from the cache folder (see `migrate_legacy_cases`)."""
    override = os.environ.get(LEGACY_CASES_ENV)
    folder = Path(override) if override else data_dir() / "cases"
    global _migrated
    if migrate and not _migrated:
        with _migration_lock:
            if not _migrated:
                _migrated = True
                legacy = legacy_cases_dir()
                if legacy is not None:
                    try:
                        migrate_legacy_cases(legacy, folder)
                    except OSError as exc:  # the cases stay where they were; nothing is lost
                        log.warning("could not move the cases of an earlier version: %s", exc)
    return folder


def legacy_cases_dir() -> Path | None:
    """Where versions up to 0.1 kept cases (the per-user cache), or None under an override."""
    if _home_override() is not None or os.environ.get(LEGACY_CASES_ENV):
        return None
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return root / "Scrubline" / "cases"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "Scrubline" / "cases"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scrubline" / "cases"


def migrate_legacy_cases(legacy: Path, target: Path) -> list[Path]:
    """Move every case (with its SQLite `-wal`/`-shm` companions and its scrub proxy) from
    `legacy` to `target`, and return where they went.

    Never overwrites: a case whose name is taken in `target` arrives as `<name>-earlier-N.scrub`.
    The case file itself moves last, so an interrupted move is finished by the next start (a
    case still in `legacy` is a case still to move). Safe to call again: it finds nothing.
    """
    if not legacy.is_dir() or _same_folder(legacy, target):
        return []
    moved: list[Path] = []
    for case in sorted(legacy.glob(f"*{CASE_SUFFIX}")):
        target.mkdir(parents=True, exist_ok=True)
        destination = target / case.name
        if destination.exists():
            destination = _free_name(target, case.stem)
        for suffix in ("-wal", "-shm"):
            companion = case.with_name(case.name + suffix)
            if companion.exists():
                shutil.move(str(companion), str(destination.with_name(destination.name + suffix)))
        shutil.move(str(case), str(destination))
        old_proxy = case.with_suffix(".proxy")  # proxies lived beside the case
        if old_proxy.is_dir():
            new_proxy = proxy_dir_for_case(destination)
            if new_proxy.exists():
                shutil.rmtree(old_proxy, ignore_errors=True)
            else:
                new_proxy.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(old_proxy), str(new_proxy))
        moved.append(destination)
    if moved:
        log.warning(
            "moved %d case(s) of an earlier version from the cache folder to %s", len(moved), target
        )
    for leftover in legacy.glob("*.proxy"):  # proxies of cases that no longer exist
        shutil.rmtree(leftover, ignore_errors=True)
    with contextlib.suppress(OSError):  # something else is in there: leave it
        legacy.rmdir()
    return moved


def _free_name(folder: Path, stem: str) -> Path:
    number = 1
    while (folder / f"{stem}-earlier-{number}{CASE_SUFFIX}").exists():
        number += 1
    return folder / f"{stem}-earlier-{number}{CASE_SUFFIX}"


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
