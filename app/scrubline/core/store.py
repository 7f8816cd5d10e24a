"""The case file: one SQLite database (`.scrub`) per analysed video.

It holds the video's fingerprint (so a case is never applied to the wrong video), its metadata,
the analysis settings and the models that produced the results, every analysed frame's results
(instruments with tips, bleeding mask and area, classifier scores), small thumbnails for reports
and scrubbing, bookmarks with notes, and what the user typed about the case.

Each frame row also holds the in-body gate's decision (`in_body`: 1 inside the body, 0 out of
body, NULL where no in-body model ran). Columns added after the first release (`models`,
`in_body`) are added to older cases when they are opened for writing (NULL: unknown), and read
as NULL from an older case opened read-only, so cases from before still open unchanged.

The analysis plan (sampling rate, range, models and their versions) is in `meta`; `planned_frames`
lists the frames it covers, and every reader here (tables, counts) counts only those frames, so
results of an earlier plan can never be mixed into a timeline, export or report. Each frame row
names the models that produced it (`models`, a JSON list of "id@version").

Results are written in small transactions in WAL mode (the rollback journal instead on a network
filesystem, where WAL is unsafe, or when asked: `core.journal`): a crash or `kill -9` loses at
most the batch in flight, and the next analysis resumes from what is on disk. Each thread opens
its own `CaseStore` (SQLite connections are not shared across threads).

While a case is open for writing, recent transactions live in `<case>-wal` beside it; closing a
store opened for writing (the end or cancel of every analysis, the window closing its case)
checkpoints the WAL back into the `.scrub`, so a closed case is one self-contained file. Readers
(`readonly=True`: exports, reports, the window's background reads) open the file read-only
(`mode=ro`, no journal switch), so a case on a read-only disk or share can still be exported.
`snapshot()` gives a reader one consistent view across several queries while an analysis writes.

Consumers use it through `scrubline.core.case.Case`, which applies the reviewer's corrections
(the `corrections` table, beside the model's results) and turns edits into transactions here.

Every failure is named: read-only storage, a full disk, a lock held elsewhere, a damaged file
(found by `PRAGMA quick_check` when a case is opened for writing, or with `check=True`), or a file
that is not a case at all — never "not a case file" for a good case that merely cannot be written.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scrubline.core import nearest as nearest_rule
from scrubline.core.paths import cases_dir
from scrubline.core.results import BleedingMask, FrameResult, Instrument

SCHEMA_VERSION = 1
SUFFIX = ".scrub"
BOOKMARK_CATEGORIES = ("teaching point", "complication", "good technique", "note")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    frame INTEGER PRIMARY KEY,
    time_s REAL NOT NULL,
    n_instruments INTEGER NOT NULL,
    tips_visible INTEGER NOT NULL,
    tips_hidden INTEGER NOT NULL,
    bleeding_fraction REAL,
    bleeding_mask BLOB,
    scores TEXT,
    models TEXT,
    in_body INTEGER
);
CREATE TABLE IF NOT EXISTS instruments (
    frame INTEGER NOT NULL,
    label TEXT NOT NULL,
    score REAL NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    tip_x REAL, tip_y REAL,
    tip_score REAL NOT NULL,
    tip_visible INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS instruments_frame ON instruments(frame);
CREATE TABLE IF NOT EXISTS thumbnails (
    frame INTEGER PRIMARY KEY, time_s REAL NOT NULL, jpeg BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_s REAL NOT NULL,
    frame INTEGER NOT NULL,
    category TEXT NOT NULL,
    note TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL
);
"""


CASE_TABLES = ("meta", "blobs", "frames", "instruments", "thumbnails", "bookmarks")


class StoreError(Exception):
    """A case file that cannot be used; the message says why."""


class CaseDamaged(StoreError):
    """The case file is damaged; the message says what can still be recovered."""


def storage_problem(path: Path, exc: BaseException) -> str:
    """What is wrong with the storage under `path`, in words (without the path), for an SQLite
    or OS error: read-only, disk full, locked, missing folder, or the error's own words."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    number = getattr(exc, "errno", None)
    text = str(exc)
    if name.startswith("SQLITE_READONLY") or number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the file or its folder is read-only"
    if name == "SQLITE_FULL" or number in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return "the disk is full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (
            "it is locked by another program (another Scrubline writing to it?); "
            "try again when that is done"
        )
    if name.startswith("SQLITE_CANTOPEN") or number == errno.ENOENT:
        if not path.parent.exists():
            return "its folder does not exist"
        if not os.access(path.parent, os.W_OK):
            return "its folder is read-only"
        return f"it cannot be opened ({text})"
    if name.startswith("SQLITE_IOERR") or number == errno.EIO:
        return f"the disk reported a read or write error ({text})"
    return getattr(exc, "strerror", None) or text


def _is_damage(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_CORRUPT") or "malformed" in str(exc)


# Rows of the current plan: those listed in meta `planned_frames` (all rows of a case written
# before plans were recorded). One SQL condition, so each reader stays one consistent query.
_IN_PLAN = (
    "(NOT EXISTS (SELECT 1 FROM meta WHERE key = 'planned_frames') OR {column} IN "
    "(SELECT value FROM json_each((SELECT value FROM meta WHERE key = 'planned_frames'))))"
)
_FRAME_COLUMNS = (
    "frame, time_s, n_instruments, tips_visible, tips_hidden, bleeding_fraction, bleeding_mask, "
    "scores, models, in_body"
)
# Columns added to `frames` after the first release, with their type: older cases get them (NULL)
# when opened for writing.
_ADDED_FRAME_COLUMNS = {"models": "TEXT", "in_body": "INTEGER"}


def default_case_path(fingerprint: str) -> Path:
    """Where the case of a video lives unless the user names one: the per-user data folder."""
    return cases_dir() / f"{fingerprint}{SUFFIX}"


@dataclass
class Bookmark:
    id: int
    time_s: float
    frame: int
    category: str
    note: str


def encode_mask(mask: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", mask)
    if not ok:
        raise StoreError("could not encode a bleeding mask")
    return bytes(data)


def decode_mask(blob: bytes) -> np.ndarray:
    import cv2

    mask = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise StoreError("a stored bleeding mask is damaged")
    return np.asarray(mask)


class CaseStore:
    """One connection to a case file.

    `create=True` makes the file (and its folder) when missing. `readonly=True` opens it for
    reading only: nothing is written, not even the journal mode, so it works on read-only storage.
    `check=True` runs `PRAGMA quick_check` first; opening for writing always does, so an analysis
    never adds to a damaged file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = False,
        readonly: bool = False,
        check: bool | None = None,
        journal: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._journal = journal  # "wal", "delete" or None: see core.journal
        self._wrote = False
        if not create and not self.path.exists():
            raise StoreError(f"case file {self.path} does not exist")
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a case file")
        empty = self.path.exists() and self.path.stat().st_size == 0
        if empty and not create:
            # SQLite would take it for a new, empty database and an export would be empty.
            raise CaseDamaged(
                f"case {self.path} is empty (0 bytes): nothing in it can be recovered; "
                "analyse the video again into a new case"
            )
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for {self.path}: {exc.strerror}"
                ) from exc
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot open") from exc
        try:
            self._check_is_case(create)
            if check if check is not None else not readonly:
                self.verify()
            if not readonly:
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._add_frame_columns()
            version = self.get_meta("schema_version")
            if version is None and not readonly:
                self.set_meta("schema_version", SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise self._error(exc, "cannot open") from exc
        except StoreError:
            self._db.close()
            raise
        if version is not None and int(version) > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(
                f"{self.path.name} was written by a newer Scrubline (case schema {version}); "
                "update Scrubline to open it"
            )

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            from scrubline.core.journal import JournalError, journal_mode

            try:
                mode = journal_mode(self.path, self._journal)
            except JournalError as exc:
                raise StoreError(f"cannot open {self.path}: {exc}") from exc
            db = sqlite3.connect(str(self.path), timeout=30.0)
            try:
                db.execute(f"PRAGMA journal_mode={mode.upper()}")
            except sqlite3.DatabaseError:
                db.close()
                raise
            return db
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as exc:
            if not (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_CANTOPEN"):
                raise
            # A WAL-mode file in a read-only folder: SQLite cannot create the `-shm` index it
            # reads through. With no unsaved transactions beside it, the file alone is the whole
            # case and can be read as immutable.
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"{self.path}: its latest results are in {wal.name}, which cannot be read in "
                    "this read-only folder; copy the case together with its -wal file to a "
                    "writable folder"
                ) from exc
            db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db

    def _check_is_case(self, create: bool) -> None:
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "meta" in tables:
            return
        if create and not tables:
            return  # a new case (or one that crashed before its first table)
        if tables:
            raise StoreError(f"{self.path} is an SQLite database but not a Scrubline case file")
        wal = self.path.with_name(self.path.name + "-wal")
        hint = (
            ""
            if wal.exists()
            else ("; a case copied while it was open needs its -wal file copied with it")
        )
        raise StoreError(f"{self.path} holds no case tables: it is not a Scrubline case file{hint}")

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """The StoreError that says what is wrong, for an SQLite error on this case."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name == "SQLITE_NOTADB" or "not a database" in str(exc):
            return StoreError(f"{self.path} is not a Scrubline case file (not an SQLite database)")
        if _is_damage(exc):
            return self._damaged(str(exc))
        return StoreError(f"{doing} {self.path}: {storage_problem(self.path, exc)}")

    def verify(self) -> None:
        """Raise `CaseDamaged` (naming what is still readable) if `PRAGMA quick_check` finds
        damage."""
        try:
            rows = [r[0] for r in self._db.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise self._damaged(str(exc)) from exc
            raise
        if rows != ["ok"]:
            # One line: quick_check's rows hold several lines each ("*** in database main ***").
            found = [
                line.strip()
                for row in rows
                for line in str(row).splitlines()
                if line.strip() and not line.strip().startswith("***")
            ]
            raise self._damaged("; ".join(found[:2]) + ("; …" if len(found) > 2 else ""))

    def _damaged(self, detail: str) -> CaseDamaged:
        readable, unreadable = [], []
        db = getattr(self, "_db", None)
        try:
            if db is None:  # damaged before the connection was made: look with a read-only one
                db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True
                )
            for table in CASE_TABLES:
                try:
                    count = sum(1 for _ in db.execute(f"SELECT * FROM {table}"))  # noqa: S608
                    readable.append(f"{table} ({count} rows)")
                except sqlite3.Error:
                    unreadable.append(table)
        except sqlite3.Error:
            unreadable = list(CASE_TABLES)
        finally:
            if db is not None and db is not getattr(self, "_db", None):
                db.close()
        found = f"still readable: {', '.join(readable) or 'nothing'}"
        if unreadable:
            found += f"; damaged: {', '.join(unreadable)}"
        return CaseDamaged(
            f"case {self.path} is damaged ({detail}); {found}. Keep a copy; sqlite3's .recover "
            "command can salvage the readable rows, or analyse the video again into a new case"
        )

    @contextmanager
    def snapshot(self) -> Iterator[CaseStore]:
        """Reads inside see one consistent state of the case (one read transaction), even while
        another connection (an analysis) commits batches. Nested calls share the outer one."""
        if self._db.in_transaction:
            yield self
            return
        self._db.execute("BEGIN")
        try:
            yield self
        finally:
            if self._db.in_transaction:
                self._db.commit()

    def _frame_columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(frames)")}

    def _add_frame_columns(self) -> None:
        """Cases written before frames named their models, or before the in-body gate, get the
        columns (NULL: unknown)."""
        columns = self._frame_columns()
        for name, kind in _ADDED_FRAME_COLUMNS.items():
            if name not in columns:
                try:
                    with self._db:
                        self._db.execute(f"ALTER TABLE frames ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError:
                    pass  # opened read-only: readers do not need the column

    def _in_body_column(self) -> str:
        """What to select for the in-body decision: the column, or NULL in an older case opened
        read-only (it has no such column)."""
        return "in_body" if "in_body" in self._frame_columns() else "NULL AS in_body"

    # ------------------------------------------------------------------ opening for a video
    @classmethod
    def for_video(
        cls,
        video_info: Any,
        path: str | os.PathLike[str] | None = None,
        journal: str | None = None,
    ) -> CaseStore:
        """Open (or create) the case for a video; refuse a case made from another video."""
        target = Path(path) if path else default_case_path(video_info.fingerprint)
        store = cls(target, create=True, journal=journal)
        known = store.get_meta("video")
        if known is None:
            store.set_meta("video", video_info.to_dict())
            store.set_meta("created", time.time())
        elif known.get("fingerprint") != video_info.fingerprint:
            store.close()
            raise StoreError(
                f"case {target.name} belongs to another video ({known.get('name')}, "
                f"fingerprint {known.get('fingerprint')}), not {video_info.name}"
            )
        return store

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(f"{self.path.name} is open for reading only")
        try:
            with self._db:
                yield self._db
            self._wrote = True
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc) or (getattr(exc, "sqlite_errorname", "") or "") == "SQLITE_NOTADB":
                raise self._error(exc, "cannot write to") from exc
            problem = storage_problem(self.path, exc)
            raise StoreError(
                f"cannot write to {self.path}: {problem}; results saved so far are kept"
            ) from exc

    # ------------------------------------------------------------------ metadata
    def get_meta(self, key: str, default: Any = None) -> Any:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot read") from exc
        if not row:
            return default
        try:
            return json.loads(row[0])
        except (TypeError, ValueError) as exc:
            raise CaseDamaged(
                f"case {self.path} is damaged: its '{key}' record is not valid JSON; results and "
                "bookmarks are in other tables and may still be readable with sqlite3"
            ) from exc

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_blob(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def set_blob(self, key: str, value: bytes) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO blobs (key, value) VALUES (?, ?)", (key, value))

    @property
    def video(self) -> dict[str, Any]:
        return self.get_meta("video", {})

    @property
    def settings(self) -> dict[str, Any]:
        return self.get_meta("settings", {})

    @property
    def models(self) -> list[dict[str, Any]]:
        return self.get_meta("models", [])

    @property
    def case_info(self) -> dict[str, str]:
        """What the user typed: label, procedure, date, surgeon, reviewer."""
        return self.get_meta("case_info", {})

    def set_case_info(self, **fields: str) -> None:
        info = self.case_info
        info.update({k: v for k, v in fields.items() if v is not None})
        self.set_meta("case_info", info)

    # ------------------------------------------------------------------ results
    def write_results(
        self,
        results: Iterable[FrameResult],
        thumbnails: Iterable[tuple[int, float, bytes]] = (),
        models: Iterable[str] = (),
    ) -> None:
        """One transaction: all of these frames are stored, or none. `models` names the models
        ("id@version") that ran on every one of these frames."""
        attribution = json.dumps(sorted(models))
        frame_rows = []
        instrument_rows = []
        for r in results:
            visible = sum(1 for i in r.instruments if i.tip_visible)
            frame_rows.append(
                (
                    r.frame,
                    r.time_s,
                    len(r.instruments),
                    visible,
                    len(r.instruments) - visible,
                    r.bleeding.fraction if r.bleeding else None,
                    encode_mask(r.bleeding.mask) if r.bleeding is not None else None,
                    json.dumps(r.scores) if r.scores else None,
                    attribution,
                    None if r.in_body is None else int(r.in_body),
                )
            )
            for inst in r.instruments:
                tip = inst.tip or (None, None)
                instrument_rows.append(
                    (
                        r.frame,
                        inst.label,
                        inst.score,
                        *inst.box,
                        tip[0],
                        tip[1],
                        inst.tip_score,
                        int(inst.tip_visible),
                    )
                )
        frames = [row[0] for row in frame_rows]
        with self._transaction() as db:
            if frames:  # re-analysed frames replace their instruments
                db.execute(
                    f"DELETE FROM instruments WHERE frame IN ({','.join('?' * len(frames))})",
                    frames,
                )
            db.executemany(
                f"INSERT OR REPLACE INTO frames ({_FRAME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?)",
                frame_rows,
            )
            db.executemany(
                "INSERT INTO instruments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", instrument_rows
            )
            db.executemany("INSERT OR REPLACE INTO thumbnails VALUES (?, ?, ?)", list(thumbnails))

    def clear_results(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM frames")
            db.execute("DELETE FROM instruments")
            db.execute("DELETE FROM thumbnails")

    def discard_frames(self, frames: Iterable[int]) -> None:
        """Forget these frames' results (they are to be analysed again); thumbnails stay."""
        chosen = [(int(f),) for f in frames]
        with self._transaction() as db:
            db.executemany("DELETE FROM instruments WHERE frame = ?", chosen)
            db.executemany("DELETE FROM frames WHERE frame = ?", chosen)

    def planned_frames(self) -> np.ndarray | None:
        """The frames the case's analysis plan covers; None for a case without a recorded plan."""
        planned = self.get_meta("planned_frames")
        return None if planned is None else np.asarray(planned, dtype=np.int64)

    def analysed_frames(self) -> np.ndarray:
        """Frames of the current plan that have results."""
        rows = self._db.execute(
            f"SELECT frame FROM frames WHERE {_IN_PLAN.format(column='frame')} ORDER BY frame"
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def frame_attribution(self) -> dict[int, list[str] | None]:
        """Every stored frame, of any plan, with the models that produced it (None: unknown,
        written before frames named their models)."""
        return {
            int(frame): (json.loads(models) if models else None)
            for frame, models in self._db.execute("SELECT frame, models FROM frames")
        }

    def frame_count(self) -> int:
        """How many frames of the current plan have results."""
        return int(
            self._db.execute(
                f"SELECT COUNT(*) FROM frames WHERE {_IN_PLAN.format(column='frame')}"
            ).fetchone()[0]
        )

    def frames_table(self) -> Any:
        """One row per analysed frame (pandas): frame, time_s, n_instruments, tips_visible,
        tips_hidden, bleeding_fraction, scores (dict or None), in_body (1, 0, or <NA> where no
        in-body model ran)."""
        import pandas as pd

        table = pd.read_sql_query(
            "SELECT frame, time_s, n_instruments, tips_visible, tips_hidden, bleeding_fraction, "
            f"scores, {self._in_body_column()} "
            f"FROM frames WHERE {_IN_PLAN.format(column='frame')} ORDER BY frame",
            self._db,
        )
        table["in_body"] = table["in_body"].astype("Int8")
        # NULL scores read back as NaN when other rows hold JSON text
        table["scores"] = [json.loads(s) if isinstance(s, str) else None for s in table["scores"]]
        return table

    def detections_table(self) -> Any:
        import pandas as pd

        table = pd.read_sql_query(
            "SELECT i.frame, f.time_s, i.label, i.score, i.x1, i.y1, i.x2, i.y2, i.tip_x, i.tip_y, "
            "i.tip_score, i.tip_visible FROM instruments i JOIN frames f ON f.frame = i.frame "
            f"WHERE {_IN_PLAN.format(column='f.frame')} ORDER BY i.frame, i.score DESC",
            self._db,
        )
        table["tip_visible"] = table["tip_visible"].astype(bool)
        return table

    def result_at(self, frame: int) -> FrameResult | None:
        row = self._db.execute(
            "SELECT frame, time_s, bleeding_fraction, bleeding_mask, scores, "
            f"{self._in_body_column()} FROM frames WHERE frame = ?",
            (frame,),
        ).fetchone()
        if row is None:
            return None
        instruments = [
            Instrument(
                label=r[0],
                score=r[1],
                box=(r[2], r[3], r[4], r[5]),
                tip=(r[6], r[7]) if r[6] is not None else None,
                tip_score=r[8],
                tip_visible=bool(r[9]),
            )
            for r in self._db.execute(
                "SELECT label, score, x1, y1, x2, y2, tip_x, tip_y, tip_score, tip_visible "
                "FROM instruments WHERE frame = ? ORDER BY score DESC",
                (frame,),
            )
        ]
        bleeding = BleedingMask(decode_mask(row[3]), row[2]) if row[3] is not None else None
        return FrameResult(
            row[0],
            row[1],
            instruments,
            bleeding,
            json.loads(row[4]) if row[4] else {},
            None if row[5] is None else bool(row[5]),
        )

    def analysed_around(self, frame: int) -> tuple[int | None, int | None]:
        """The analysed frames at or before `frame` and after it (None where there is none)."""
        before = self._db.execute(
            "SELECT MAX(frame) FROM frames WHERE frame <= ?", (frame,)
        ).fetchone()[0]
        after = self._db.execute(
            "SELECT MIN(frame) FROM frames WHERE frame > ?", (frame,)
        ).fetchone()[0]
        return before, after

    def nearest_analysed(self, frame: int) -> int | None:
        """The analysed frame closest to `frame` (ties go to the earlier one): the rule of
        `scrubline.core.nearest`, which also says how far away it may still be used."""
        return nearest_rule.pick(frame, *self.analysed_around(frame))

    # ------------------------------------------------------------------ thumbnails
    def thumbnail_frames(self) -> np.ndarray:
        rows = self._db.execute("SELECT frame FROM thumbnails ORDER BY frame").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def thumbnail(self, frame: int) -> tuple[int, np.ndarray] | None:
        """The stored thumbnail nearest to `frame` (RGB), with the frame it shows."""
        # Two primary-key lookups; ordering by distance would read every stored image.
        before = self._db.execute(
            "SELECT MAX(frame) FROM thumbnails WHERE frame <= ?", (frame,)
        ).fetchone()[0]
        after = self._db.execute(
            "SELECT MIN(frame) FROM thumbnails WHERE frame > ?", (frame,)
        ).fetchone()[0]
        candidates = [f for f in (before, after) if f is not None]
        if not candidates:
            return None
        nearest = min(candidates, key=lambda f: (abs(f - frame), f))
        row = self._db.execute(
            "SELECT frame, jpeg FROM thumbnails WHERE frame = ?", (nearest,)
        ).fetchone()
        import cv2

        image = cv2.imdecode(np.frombuffer(row[1], np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        return int(row[0]), cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    # ------------------------------------------------------------------ bookmarks
    def add_bookmark(
        self,
        time_s: float,
        frame: int,
        note: str = "",
        category: str = "note",
        bookmark_id: int | None = None,
    ) -> int:
        """Add a bookmark; `bookmark_id` puts a deleted one back under its old id (undo)."""
        if category not in BOOKMARK_CATEGORIES:
            raise StoreError(
                f"unknown bookmark category '{category}' (use one of "
                f"{', '.join(BOOKMARK_CATEGORIES)})"
            )
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO bookmarks (id, time_s, frame, category, note, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (bookmark_id, time_s, frame, category, note, time.time()),
            )
        return int(cursor.lastrowid or 0)

    def update_bookmark(
        self, bookmark_id: int, *, note: str | None = None, category: str | None = None
    ) -> None:
        if category is not None and category not in BOOKMARK_CATEGORIES:
            raise StoreError(f"unknown bookmark category '{category}'")
        with self._transaction() as db:
            if note is not None:
                db.execute("UPDATE bookmarks SET note = ? WHERE id = ?", (note, bookmark_id))
            if category is not None:
                db.execute(
                    "UPDATE bookmarks SET category = ? WHERE id = ?", (category, bookmark_id)
                )

    def delete_bookmark(self, bookmark_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM bookmarks WHERE id = ?", (bookmark_id,))

    def bookmarks(self) -> list[Bookmark]:
        return [
            Bookmark(*row)
            for row in self._db.execute(
                "SELECT id, time_s, frame, category, note FROM bookmarks ORDER BY time_s, id"
            )
        ]

    # ------------------------------------------------------------------ corrections
    def add_correction(
        self, kind: str, data: dict[str, Any], correction_id: int | None = None
    ) -> int:
        """Store a reviewer's correction (beside the model's results, which stay as they are);
        `correction_id` puts a removed one back under its old id (undo)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO corrections (id, kind, data, created) VALUES (?, ?, ?, ?)",
                (correction_id, kind, json.dumps(data), time.time()),
            )
        return int(cursor.lastrowid or 0)

    def delete_correction(self, correction_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM corrections WHERE id = ?", (correction_id,))

    def models_of_frame(self, frame: int) -> list[str] | None:
        """The models ("id@version") that produced this frame's stored results; None when the
        frame has no results, [] when they were written before frames named their models."""
        row = self._db.execute(
            "SELECT models FROM frames WHERE frame = ?", (int(frame),)
        ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]) if row[0] else []

    def data_version(self) -> int:
        """Changes whenever another connection commits to the case (SQLite's data_version)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def corrections(self) -> list[tuple[int, str, dict[str, Any]]]:
        """(id, kind, data) of every stored correction, oldest first (none in a case written
        before corrections existed and opened read-only)."""
        try:
            rows = self._db.execute("SELECT id, kind, data FROM corrections ORDER BY id").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise self._error(exc, "cannot read") from exc
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    # ------------------------------------------------------------------ lifetime
    def checkpoint(self) -> bool:
        """Move every committed transaction from `<case>-wal` into the case file and empty the
        WAL, so that the `.scrub` alone is the whole case. False when a reader kept part of it."""
        if self.readonly:
            return False
        try:
            self._db.execute(
                "PRAGMA busy_timeout = 2000"
            )  # never hang a closing window on a reader
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return busy == 0

    def close(self) -> None:
        if not self.readonly:
            self.checkpoint()
        self._db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
