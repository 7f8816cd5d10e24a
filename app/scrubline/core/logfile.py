"""The log file a user can send: warnings and errors, in the per-user log folder, rotated.

A window started from a desktop launcher has no terminal, so what went wrong is lost unless it is
written somewhere. `install_log_file` adds a rotating file handler (`scrubline.log`, 1 MB, three
old files kept) to the root logger at WARNING, so Scrubline's own warnings and those of the
libraries it uses land there.

A log is something people attach to e-mails, so it carries no patient data: every record is
formatted and then scrubbed (`scrubline.core.privacy.scrub_text`) — Scrubline's own folders are
written as `<cases>/...`, `<cache>/...` and so on, every other path becomes `[path]` and bare
video or case file names become `[file]`. Tracebacks are scrubbed the same way.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from scrubline.core.privacy import scrub_text

LOG_NAME = "scrubline.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrivateFormatter(logging.Formatter):
    """A formatter whose output names no path outside Scrubline's folders and no file name."""

    def __init__(self, keep: dict[str, Path]) -> None:
        super().__init__(FORMAT)
        # The Python installation and Scrubline's own code, for readable tracebacks.
        code = Path(__file__).resolve().parents[1]
        self.keep = {
            **keep,
            "scrubline": code,
            "python": Path(sys.prefix),
            "python-base": Path(sys.base_prefix),
        }

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record), keep=self.keep, file_names=True)


_handler: logging.handlers.RotatingFileHandler | None = None


def install_log_file(level: int = logging.WARNING) -> Path | None:
    """Send warnings and errors to the log file from now on, and return its path (None when the
    log folder cannot be made: the app works on without a log). Installing twice is harmless."""
    global _handler
    from scrubline.core.paths import app_folders, log_dir

    path = log_dir() / LOG_NAME
    if _handler is not None:
        if Path(_handler.baseFilename) == path.resolve():
            return path
        remove_log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
    except OSError as exc:
        logging.getLogger(__name__).debug("no log file: %s", exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(PrivateFormatter(app_folders()))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _handler = handler
    return path


def remove_log_file() -> None:
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def current_log_file() -> Path | None:
    """The log file warnings and errors go to, or None when none is installed."""
    return Path(_handler.baseFilename) if _handler is not None else None


def log_failure_to_file(message: str, exc: BaseException) -> Path | None:
    """Write `message` with the traceback of `exc` to the log file only (the terminal gets one
    line, not a traceback); return the log's path, or None when there is no log file."""
    if _handler is None:
        return None
    record = logging.getLogger("scrubline").makeRecord(
        "scrubline", logging.ERROR, __file__, 0, message, (), (type(exc), exc, exc.__traceback__)
    )
    _handler.handle(record)
    _handler.flush()
    return current_log_file()
