"""Persistent window settings (QSettings): recent files, overlay toggles, speed, teaching mode,
event kinds, analysis defaults, window layout.

They live in `settings.ini` in the per-user config folder (`scrubline.core.paths.config_dir`);
settings of earlier versions (Qt's own per-user .ini) are copied there once.
`SCRUBLINE_SETTINGS` names an .ini file to use instead (the tests and the UI probe use it so they
never touch a person's settings). Values are read through small typed helpers because QSettings
hands back strings from .ini files.

The recent-files list holds full paths of videos, which may name patients: it stays in the
settings (nothing copies it into a report or export) and `clear_recent` empties it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from scrubline.core.overlay import OVERLAY_KEYS, OverlayFlags

SETTINGS_ENV = "SCRUBLINE_SETTINGS"
SETTINGS_FILE = "settings.ini"
# Keys that hold paths the user opened or saved to: the recent videos and cases, the last folders,
# and case_videos/<fingerprint> (where a case's video was found).
RECENT_PREFIXES = ("recent", "paths/", "case_videos/")


def settings_path() -> Path:
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return Path(override)
    from scrubline.core.paths import config_dir

    return config_dir() / SETTINGS_FILE


def app_settings() -> QSettings:
    path = settings_path()
    if not os.environ.get(SETTINGS_ENV) and not path.exists():
        _copy_earlier_settings(path)
    return QSettings(str(path), QSettings.Format.IniFormat)


def earlier_settings_file() -> Path:
    """Where versions up to 0.1 kept settings: Qt's per-user .ini (`Scrubline/Scrubline.ini`)."""
    return Path(
        QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Scrubline", "Scrubline"
        ).fileName()
    )


def _copy_earlier_settings(path: Path) -> None:
    earlier = earlier_settings_file()
    if earlier.is_file() and earlier.resolve() != path.resolve():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(earlier, path)
        except OSError:
            pass  # defaults serve; the earlier file is untouched


def clear_recent(settings: QSettings) -> None:
    """Forget the recently opened videos and cases and the folders last used (full paths)."""
    for key in settings.allKeys():
        if key.startswith(RECENT_PREFIXES):
            settings.remove(key)
    settings.sync()


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def read_float(settings: QSettings, key: str, default: float) -> float:
    try:
        return float(settings.value(key, default))  # type: ignore[arg-type]  # QSettings returns object
    except (TypeError, ValueError):
        return default


def read_list(settings: QSettings, key: str) -> list[str]:
    value: Any = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def read_overlays(settings: QSettings) -> OverlayFlags:
    return OverlayFlags(**{k: read_bool(settings, f"overlays/{k}", True) for k in OVERLAY_KEYS})


def write_overlays(settings: QSettings, flags: OverlayFlags) -> None:
    for key, value in flags.as_dict().items():
        settings.setValue(f"overlays/{key}", value)
