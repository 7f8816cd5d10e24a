"""One analysis per case at a time: a lock file beside the case, held for the whole analysis.

Two analyses of one case (two terminals, or the window and a script) would both redo the same
frames and write the scrub proxy over each other, leaving gaps. `analyse_video` therefore holds
`CaseLock` from before it opens the case until it has closed it, in the command line and in the
window alike. The lock is an OS file lock (`filelock`: `flock` on Unix, `LockFileEx` on
Windows), so it disappears with its process, even after `kill -9`; no stale lock is ever left to
clear by hand. Beside it, a small JSON file says who holds it (process id, host, since when) so
the second analysis can say so; it is informative only, and removed when the lock is released.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from scrubline.core.store import StoreError, storage_problem

POLL_S = 0.2  # how often a waiting analysis looks again (and checks for cancel)


class CaseLocked(StoreError):
    """Another analysis holds the case; the message says which process."""


def lock_path_for(case_path: Path) -> Path:
    return case_path.with_name(case_path.name + ".lock")


def info_path_for(case_path: Path) -> Path:
    return case_path.with_name(case_path.name + ".lock-info")


def read_holder(case_path: Path) -> dict[str, Any] | None:
    """Who holds the lock, as its info file says (None when unknown)."""
    try:
        holder = json.loads(info_path_for(case_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process"
    since = holder.get("since")
    when = (
        time.strftime(" since %H:%M:%S", time.localtime(since))
        if isinstance(since, int | float)
        else ""
    )
    return f"process {holder.get('pid', '?')} on {holder.get('host', '?')}{when}"


class CaseLock:
    """The lock of one case file. `acquire()` raises `CaseLocked` naming the holder, or with
    `wait=True` waits for it (giving up with `CaseLocked` when `cancelled()` turns true)."""

    def __init__(self, case_path: str | os.PathLike[str]) -> None:
        self.case_path = Path(case_path)
        self._lock = FileLock(str(lock_path_for(self.case_path)), thread_local=False)
        self.held = False

    def acquire(
        self,
        *,
        wait: bool = False,
        cancelled: Callable[[], bool] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> CaseLock:
        try:
            self.case_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of {self.case_path}: "
                f"{storage_problem(self.case_path, exc)}"
            ) from exc
        told = False
        while True:
            try:
                self._lock.acquire(timeout=POLL_S if wait else 0)
                break
            except Timeout:
                holder = describe_holder(read_holder(self.case_path))
                if not wait:
                    raise CaseLocked(
                        f"{self.case_path} is being analysed by {holder}; wait for it to finish "
                        "(or add --wait to start when it has)"
                    ) from None
                if cancelled is not None and cancelled():
                    raise CaseLocked(
                        f"stopped waiting for {holder} to finish analysing {self.case_path}"
                    ) from None
                if on_wait is not None and not told:
                    on_wait(f"waiting for {holder} to finish analysing {self.case_path.name}")
                    told = True
            except OSError as exc:
                raise StoreError(
                    f"cannot lock {self.case_path}: {storage_problem(self.case_path, exc)}"
                ) from exc
        self.held = True
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        try:
            temporary = info_path_for(self.case_path).with_name(
                info_path_for(self.case_path).name + ".tmp"
            )
            temporary.write_text(json.dumps(info), encoding="utf-8")
            os.replace(temporary, info_path_for(self.case_path))
        except OSError:
            pass  # who holds it is a courtesy for the next process; the lock itself is held
        return self

    def release(self) -> None:
        if not self.held:
            return
        if (read_holder(self.case_path) or {}).get("pid") == os.getpid():
            info_path_for(self.case_path).unlink(missing_ok=True)
        self.held = False
        self._lock.release()

    def __enter__(self) -> CaseLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
