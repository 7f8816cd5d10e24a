"""The archive index: `DIR/index.sqlite`, one row per case that `scrubline batch` analysed into DIR.

Why SQLite and not Parquet: the index is updated one case at a time while a batch runs (and a
re-run changes a few rows of thousands), must survive Ctrl+C or a crash between two cases, and
is read by `scrubline cases`, `export-all` and `report --cohort` while it may be written. SQLite
gives row updates in transactions, one self-contained file and readers from the standard
library; Parquet files are immutable (every update rewrites the file) and need pyarrow.
`export-all` writes the flat tables (CSV, or Parquet when pyarrow is installed) from it.

Only the batch's client process writes the index (workers return their rows to it), so the
rollback journal (`DELETE`) is used: one writer, and safe on the network filesystems a
department's archive often lives on, where WAL is not (`core.journal`).

Tables: `cases` (one row per case: where its case file is, relative to DIR; the video's file
name — its path only when the user asked for it —; fingerprint, duration, procedure, models and
plan; status and error; and the per-case totals of the export schema's summary: bleeding and
tip-hidden episodes, the outcome or its refusal reason), `tools` (time in view and entries per
tool), `phases` (duration per phase) and `episodes` (every bleeding, tip-hidden and phase
episode and bookmark, as in the case's `episodes.csv`), each keyed by the case's fingerprint.

`case_row` computes a case's row from its case file (run by the worker that analysed it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX_NAME = "index.sqlite"
CASES_FOLDER = "cases"
INDEX_SCHEMA = 1

# Statuses of a case in the index.
DONE, FAILED, INTERRUPTED, PENDING = "done", "failed", "interrupted", "pending"

# (column, SQL type) of `cases`, in the order `scrubline cases --json` and export-all give them.
CASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("fingerprint", "TEXT PRIMARY KEY"),
    ("case", "TEXT"),  # the label the user typed (case_label in a list), else empty
    ("case_file", "TEXT"),  # relative to the archive folder
    ("video_name", "TEXT"),
    ("video_path", "TEXT"),  # only with `batch --record-paths`
    ("duration_s", "REAL"),
    ("procedure", "TEXT"),
    ("phase_reason", "TEXT"),  # why the case has no phases (its template did not apply)
    ("models", "TEXT"),  # JSON {id: version}
    ("plan", "TEXT"),  # JSON {fps, start_s, end_s, models, procedure}
    ("status", "TEXT"),
    ("error", "TEXT"),
    ("planned_frames", "INTEGER"),
    ("analysed_frames", "INTEGER"),
    ("skipped_frames", "INTEGER"),
    ("bleeding_episodes", "INTEGER"),
    ("bleeding_total_s", "REAL"),
    ("bleeding_peak_fraction", "REAL"),
    ("tip_hidden_episodes", "INTEGER"),
    ("tip_hidden_total_s", "REAL"),
    ("tip_hidden_longest_s", "REAL"),
    ("event_start_s", "REAL"),
    ("blood_loss_ml", "REAL"),
    ("blood_loss_low_ml", "REAL"),
    ("blood_loss_high_ml", "REAL"),
    ("success_probability", "REAL"),
    ("outcome_reason", "TEXT"),
    ("elapsed_s", "REAL"),
    ("updated", "TEXT"),
)
CASE_FIELDS = tuple(name for name, _ in CASE_COLUMNS)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases ({", ".join(f'"{n}" {t}' for n, t in CASE_COLUMNS)});
CREATE TABLE IF NOT EXISTS tools (
    fingerprint TEXT NOT NULL, label TEXT NOT NULL, time_in_view_s REAL, entries INTEGER
);
CREATE TABLE IF NOT EXISTS phases (
    fingerprint TEXT NOT NULL, phase TEXT NOT NULL, duration_s REAL, colour TEXT
);
CREATE TABLE IF NOT EXISTS episodes (
    fingerprint TEXT NOT NULL, kind TEXT NOT NULL, label TEXT, start_s REAL, end_s REAL, peak REAL
);
CREATE INDEX IF NOT EXISTS tools_case ON tools(fingerprint);
CREATE INDEX IF NOT EXISTS phases_case ON phases(fingerprint);
CREATE INDEX IF NOT EXISTS episodes_case ON episodes(fingerprint);
"""


class ArchiveError(Exception):
    """An archive folder without an index, or an index that cannot be read; the message says why."""


@dataclass
class CaseRow:
    """One case's row and its child rows, as a worker computes it and the index stores it."""

    values: dict[str, Any]
    tools: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)


def index_path(folder: str | Path) -> Path:
    return Path(folder) / INDEX_NAME


def case_file_for(folder: str | Path, fingerprint: str) -> Path:
    """Where a video's case lives in an archive: named by content, like the per-user cases."""
    return Path(folder) / CASES_FOLDER / f"{fingerprint}.scrub"


class ArchiveIndex:
    """The index of an archive folder. `create=True` makes it (and the folder); otherwise a
    folder without an index is an `ArchiveError` naming what to run."""

    def __init__(self, folder: str | Path, *, create: bool = False) -> None:
        self.folder = Path(folder)
        self.path = index_path(self.folder)
        if not create and not self.path.is_file():
            if not self.folder.is_dir():
                raise ArchiveError(f"{self.folder}: no such folder")
            raise ArchiveError(
                f"{self.folder} holds no {INDEX_NAME}: it is not a batch folder "
                f"(run: scrubline batch VIDEOS --out-dir {self.folder})"
            )
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0)
            if create:
                self._db.execute("PRAGMA journal_mode=DELETE")
                self._db.executescript(_SCHEMA)
                with self._db:
                    self._db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                        (str(INDEX_SCHEMA),),
                    )
            self._db.execute("SELECT COUNT(*) FROM cases").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: not a readable batch index ({exc})") from exc

    # ------------------------------------------------------------------ writing
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"cannot write {self.path}: {exc}") from exc

    def put(self, row: CaseRow) -> None:
        """Insert or replace a case's row and its child rows, in one transaction."""
        values = {name: row.values.get(name) for name in CASE_FIELDS}
        values["updated"] = values["updated"] or time.strftime("%Y-%m-%dT%H:%M:%S")
        for key in ("models", "plan"):
            if values[key] is not None and not isinstance(values[key], str):
                values[key] = json.dumps(values[key], sort_keys=True)
        fingerprint = values["fingerprint"]
        columns = ", ".join(f'"{n}"' for n in CASE_FIELDS)
        marks = ", ".join("?" for _ in CASE_FIELDS)
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO cases ({columns}) VALUES ({marks})",  # noqa: S608
                [values[n] for n in CASE_FIELDS],
            )
            for table in ("tools", "phases", "episodes"):
                db.execute(f"DELETE FROM {table} WHERE fingerprint = ?", (fingerprint,))  # noqa: S608
            db.executemany(
                "INSERT INTO tools VALUES (?, ?, ?, ?)",
                [(fingerprint, t["label"], t["time_in_view_s"], t["entries"]) for t in row.tools],
            )
            db.executemany(
                "INSERT INTO phases VALUES (?, ?, ?, ?)",
                [(fingerprint, p["phase"], p["duration_s"], p.get("colour")) for p in row.phases],
            )
            db.executemany(
                "INSERT INTO episodes VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (fingerprint, e["kind"], e["label"], e["start_s"], e["end_s"], e["peak"])
                    for e in row.episodes
                ],
            )

    def set_status(self, fingerprint: str, status: str, error: str | None = None) -> None:
        """Change a case's status only (its totals stay as they were)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE cases SET status = ?, error = ?, updated = ? WHERE fingerprint = ?",
                (status, error, time.strftime("%Y-%m-%dT%H:%M:%S"), fingerprint),
            )

    # ------------------------------------------------------------------ reading
    def rows(self) -> list[dict[str, Any]]:
        """Every case, ordered by label then fingerprint, with models and plan decoded."""
        return self._rows('ORDER BY "case" = \'\', "case", fingerprint', ())

    def _rows(self, clause: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        columns = ", ".join(f'"{n}"' for n in CASE_FIELDS)
        cursor = self._db.execute(f"SELECT {columns} FROM cases {clause}", parameters)  # noqa: S608
        out = []
        for record in cursor:
            row = dict(zip(CASE_FIELDS, record, strict=True))
            for key in ("models", "plan"):
                row[key] = json.loads(row[key]) if row[key] else None
            out.append(row)
        return out

    def row(self, fingerprint: str) -> dict[str, Any] | None:
        found = self._rows("WHERE fingerprint = ?", (fingerprint,))
        return found[0] if found else None

    def table(self, name: str) -> list[dict[str, Any]]:
        """The child table `tools`, `phases` or `episodes`, in case order."""
        if name not in ("tools", "phases", "episodes"):
            raise ValueError(name)
        cursor = self._db.execute(f"SELECT * FROM {name} ORDER BY rowid")  # noqa: S608
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArchiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def display_label(row: dict[str, Any], ordinal: int) -> str:
    """How a case is named where others read it (exports, the cohort report): the label the
    user typed, else its position in the archive — never the video's file name."""
    return str(row.get("case") or "").strip() or f"case {ordinal}"


def case_row(
    case_path: Path,
    *,
    video_name: str,
    video_path: str | None,
    plan: dict[str, Any],
    relative_to: Path,
    elapsed_s: float,
    registry: Any = None,
    case: Any = None,
) -> CaseRow:
    """The index row of an analysed case, read through `core.case.Case` in one snapshot (`case`
    when the caller has it open, so that no second connection is made)."""
    from scrubline.core.case import Case

    if case is not None:
        with case.snapshot():
            return _case_row(
                case, case_path, video_name, video_path, plan, relative_to, elapsed_s, registry
            )
    with Case.open(case_path) as opened, opened.snapshot():
        return _case_row(
            opened, case_path, video_name, video_path, plan, relative_to, elapsed_s, registry
        )


def _case_row(
    case: Any,
    case_path: Path,
    video_name: str,
    video_path: str | None,
    plan: dict[str, Any],
    relative_to: Path,
    elapsed_s: float,
    registry: Any,
) -> CaseRow:
    from scrubline.core.export import episodes_dataframe

    # Phases where the procedure's template applies; otherwise none, and the reason recorded.
    timeline, phase_reason = case.timeline_and_reason()
    summary = case.summary(timeline, registry)
    episodes = episodes_dataframe(timeline).to_dict("records")
    totals, outcome, analysis = summary["totals"], summary["outcome"] or {}, summary["analysis"]
    interval = outcome.get("blood_loss_interval_ml") or [None, None]
    complete = bool(analysis.get("complete"))
    try:
        relative = str(case_path.relative_to(relative_to))
    except ValueError:
        relative = str(case_path)
    values = {
        "fingerprint": summary["video"]["fingerprint"],
        "case": str((summary.get("case") or {}).get("label") or ""),
        "case_file": relative,
        "video_name": video_name,
        "video_path": video_path,
        "duration_s": _rounded(summary["video"].get("duration_s"), 3),
        "procedure": summary["procedure"],
        "phase_reason": phase_reason,
        "models": {m["id"]: m["version"] for m in summary["models"]},
        "plan": plan,
        "status": DONE if complete else INTERRUPTED,
        "error": None if complete else "the analysis did not finish; run the batch again",
        "planned_frames": analysis.get("planned_frames"),
        "analysed_frames": analysis.get("analysed_frames"),
        "skipped_frames": sum((analysis.get("skipped_frames") or {}).values()),
        "bleeding_episodes": totals.get("bleeding_episodes"),
        "bleeding_total_s": totals.get("bleeding_total_s"),
        "bleeding_peak_fraction": totals.get("bleeding_peak_fraction"),
        "tip_hidden_episodes": totals.get("tip_hidden_episodes"),
        "tip_hidden_total_s": totals.get("tip_hidden_total_s"),
        "tip_hidden_longest_s": totals.get("tip_hidden_longest_s"),
        "event_start_s": outcome.get("event_start_s"),
        "blood_loss_ml": outcome.get("blood_loss_ml"),
        "blood_loss_low_ml": interval[0],
        "blood_loss_high_ml": interval[1],
        "success_probability": outcome.get("success_probability"),
        "outcome_reason": outcome.get("reason"),
        "elapsed_s": round(elapsed_s, 2),
        "updated": None,
    }
    tools = [
        {"label": label, "time_in_view_s": t["time_in_view_s"], "entries": t["entries"]}
        for label, t in (totals.get("tools") or {}).items()
    ]
    phases = [
        {
            "phase": label,
            "duration_s": seconds,
            "colour": timeline.phase_colour(label),  # as the window and the case report
        }
        for label, seconds in (totals.get("phases") or {}).items()
    ]
    return CaseRow(values, tools, phases, [_plain(e) for e in episodes])


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A pandas record with numpy scalars and NaN turned into plain values and None."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value != value:  # NaN
            value = None
        out[key] = value
    return out


def _rounded(value: Any, digits: int) -> Any:
    return round(float(value), digits) if isinstance(value, int | float) else value
