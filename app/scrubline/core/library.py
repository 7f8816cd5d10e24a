"""The case library: every analysed case a person has (the per-user cases folder) and those of
any batch folder they open (`DIR/index.sqlite`, written by `scrubline batch`), as plain rows for
the window's library panel, plus removing a case with everything that belongs to it.

Qt-free so the listing is tested without a window and runs on a worker thread (a folder of a
few hundred cases takes a moment to read). A case file that cannot be read is listed with the
reason, never skipped silently; a batch index is only read, never written (the batch owns it).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from scrubline.core.case import SUFFIX, Case, StoreError

log = logging.getLogger("scrubline.library")

COMPLETE, PARTIAL, NOT_ANALYSED, UNREADABLE = "complete", "partial", "not analysed", "unreadable"


@dataclass(frozen=True)
class LibraryEntry:
    path: Path  # the case file
    fingerprint: str
    label: str  # what the user typed as the case label ("" if nothing)
    video_name: str  # the video's file name when analysed (shown locally only)
    procedure: str
    duration_s: float | None
    analysed_at: float | None  # seconds since the epoch: the last analysis run, else creation
    status: str  # COMPLETE, PARTIAL, NOT_ANALYSED, UNREADABLE, or a batch status
    analysed: int = 0
    planned: int = 0
    source: str = "cases folder"  # or the batch folder it came from
    detail: str = ""  # why unreadable, a batch error

    @property
    def from_batch(self) -> bool:
        return self.source != "cases folder"

    @property
    def status_text(self) -> str:
        if self.status == PARTIAL and self.planned:
            return f"partial: {self.analysed} of {self.planned} frames"
        if self.detail:
            return f"{self.status}: {self.detail}"
        return self.status


def read_case_entry(path: Path, source: str = "cases folder") -> LibraryEntry:
    """One case file's row; an unreadable file gives a row that says why."""
    try:
        with Case.open(path) as case:
            video = case.video
            info = case.case_info
            analysed, planned = case.progress()
            when = case.get_meta("analysed_at") or case.get_meta("created")
            procedure = case.procedure
    except (StoreError, OSError, ValueError) as exc:
        detail = str(exc).replace(str(path), path.name)  # the row already says where
        return LibraryEntry(
            path, path.stem, "", "", "", None, None, UNREADABLE, source=source, detail=detail
        )
    if planned and analysed >= planned:
        status = COMPLETE
    elif analysed:
        status = PARTIAL
    else:
        status = NOT_ANALYSED
    duration = video.get("duration_s")
    return LibraryEntry(
        path=path,
        fingerprint=str(video.get("fingerprint") or path.stem),
        label=str(info.get("label") or ""),
        video_name=str(video.get("name") or ""),
        procedure=procedure,
        duration_s=float(duration) if duration is not None else None,
        analysed_at=float(when) if isinstance(when, int | float) else None,
        status=status,
        analysed=analysed,
        planned=planned,
        source=source,
    )


def scan_cases_folder(folder: Path) -> list[LibraryEntry]:
    """Every case file in `folder` (not its subfolders), newest analysis first."""
    if not folder.is_dir():
        return []
    entries = [read_case_entry(p) for p in sorted(folder.glob(f"*{SUFFIX}")) if p.is_file()]
    return sorted(entries, key=lambda e: -(e.analysed_at or 0.0))


def read_batch_index(folder: Path) -> list[LibraryEntry]:
    """The cases a batch analysed into `folder`, from its `index.sqlite` (read only); the case
    file of each is read too where it exists, for what the index does not hold. ValueError when
    the folder has no readable index."""
    index = folder / "index.sqlite"
    if not index.is_file():
        raise ValueError(f"{folder} holds no index.sqlite: it is not a batch folder")
    try:
        db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=10.0)
        try:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM cases")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ValueError(f"{index} cannot be read as a batch index ({exc})") from exc
    entries = []
    for row in rows:
        case_file = folder / str(row.get("case_file") or f"cases/{row.get('fingerprint')}{SUFFIX}")
        status = str(row.get("status") or "")
        if case_file.is_file():
            entry = read_case_entry(case_file, source=str(folder))
        else:
            entry = LibraryEntry(
                case_file,
                str(row.get("fingerprint") or ""),
                "",
                str(row.get("video_name") or ""),
                str(row.get("procedure") or ""),
                row.get("duration_s"),
                None,
                UNREADABLE,
                source=str(folder),
                detail="its case file is missing",
            )
        # The batch's own word on failures (the case file cannot say why a run failed).
        if status and status != "done":
            entry = LibraryEntry(
                **{
                    **entry.__dict__,
                    "status": status,
                    "detail": str(row.get("error") or entry.detail),
                }
            )
        if not entry.label and row.get("case"):
            entry = LibraryEntry(**{**entry.__dict__, "label": str(row["case"])})
        entries.append(entry)
    return sorted(entries, key=lambda e: (e.label or e.video_name).lower())


def case_files(path: Path) -> list[Path]:
    """The files of a case that exist: the case, its SQLite sidecars, lock files and proxy."""
    from scrubline.core.caselock import info_path_for, lock_path_for
    from scrubline.core.proxy import proxy_dir_for

    sidecars = [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]
    found = [p for p in (path, *sidecars, lock_path_for(path), info_path_for(path)) if p.exists()]
    proxy = proxy_dir_for(path)
    return found + ([proxy] if proxy.exists() else [])


def remove_case(path: Path) -> list[Path]:
    """Delete a case file, its sidecars and its scrub proxy; the paths removed. StoreError when
    an analysis holds it (nothing is removed then)."""
    from scrubline.core.caselock import CaseLock

    lock = CaseLock(path)
    lock.acquire()  # CaseLocked (a StoreError) names who is analysing it
    try:
        removed = []
        for item in case_files(path):
            if item.name.endswith(".lock") or item.name.endswith(".lock-info"):
                continue  # released below, then removed
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
            removed.append(item)
    finally:
        lock.release()
    from scrubline.core.caselock import info_path_for, lock_path_for

    for item in (lock_path_for(path), info_path_for(path)):
        if item.exists():
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed
