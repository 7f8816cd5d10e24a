"""Persistent window settings (QSettings): recent files, overlay toggles, speed, teaching mode,
event kinds, analysis defaults, window layout.

`SCRUBLINE_SETTINGS` names an .ini file to use instead of the per-user store (the tests and the
UI probe use it so they never touch a person's settings). Values are read through small typed
helpers because QSettings hands back strings from .ini files.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QSettings

from scrubline.ui.overlays import OVERLAY_KEYS, OverlayFlags

SETTINGS_ENV = "SCRUBLINE_SETTINGS"


def app_settings() -> QSettings:
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Scrubline", "Scrubline")


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
