"""`scrubline export-all`: the tables of an archive (a `scrubline batch` folder) across its cases.

A statistician loads the archive with one `pandas.read_csv` per table:

- `cases.csv` (or `.parquet`): `case`, then the index's per-case columns: fingerprint,
  duration, procedure, models, status, error, frames, and the `totals` and `outcome` of each
  case's `summary.json`;
- `tools.csv`: `case`, `label`, `time_in_view_s`, `entries` (summary.json `totals.tools`);
- `phases.csv`: `case`, `phase`, `duration_s` (summary.json `totals.phases`);
- `episodes.csv`: `case`, then `kind`, `label`, `start_s`, `end_s`, `peak`, as in a case's
  `episodes.csv`.

`case` is the label the user typed (a list's `case_label`), else `case N` by the case's place in
the index. Nothing names a video's file or a path: the index's `video_name`, `video_path` and
`case_file` are left out (a file name often identifies the patient); the content fingerprint
links the rows to the case files. Errors were scrubbed of names when recorded.

CSV by default. Parquet (`--format parquet`) only where pyarrow is installed: it is not a
dependency, being a large download for a format that CSV already serves for these small tables.
The files are written into a temporary folder and swapped in together (`core.output`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scrubline.core.archive import CASE_COLUMNS, ArchiveError, ArchiveIndex, display_label
from scrubline.core.output import atomic_folder

PRIVATE_COLUMNS = ("video_name", "video_path", "case_file")


def export_archive(
    folder: str | Path, out_dir: str | Path, *, table_format: str = "csv"
) -> list[Path]:
    import pandas as pd

    if table_format == "parquet":
        try:
            import pyarrow  # noqa: F401 (only whether it is there)
        except ImportError:
            raise ArchiveError(
                "--format parquet needs pyarrow, which is not installed (pip install pyarrow); "
                "CSV needs nothing"
            ) from None
    elif table_format != "csv":
        raise ArchiveError(f"unknown table format '{table_format}' (csv or parquet)")
    with ArchiveIndex(folder) as index:
        rows = index.rows()
        children = {name: index.table(name) for name in ("tools", "phases", "episodes")}
    labels = {row["fingerprint"]: display_label(row, n) for n, row in enumerate(rows, start=1)}
    cases = pd.DataFrame(
        [
            {"case": labels[row["fingerprint"]]}
            | {k: _cell(v) for k, v in row.items() if k not in PRIVATE_COLUMNS and k != "case"}
            for row in rows
        ]
    )
    for column, kind in CASE_COLUMNS:
        if kind == "INTEGER" and column in cases:
            cases[column] = cases[column].astype("Int64")  # blank for a failed case, not 16.0
    tables: dict[str, Any] = {}
    for name, columns in (
        ("tools", ["label", "time_in_view_s", "entries"]),
        ("phases", ["phase", "duration_s"]),
        ("episodes", ["kind", "label", "start_s", "end_s", "peak"]),
    ):
        records = [
            {"case": labels[r["fingerprint"]], **{c: r[c] for c in columns}}
            for r in children[name]
            if r["fingerprint"] in labels
        ]
        tables[name] = pd.DataFrame(records, columns=["case", *columns])
    suffix = ".parquet" if table_format == "parquet" else ".csv"
    names = (f"cases{suffix}", f"tools{suffix}", f"phases{suffix}", f"episodes{suffix}")
    out = Path(out_dir)
    with atomic_folder(out, names) as staging:
        for table, name in zip(
            (cases, tables["tools"], tables["phases"], tables["episodes"]), names, strict=True
        ):
            if suffix == ".parquet":
                table.to_parquet(staging / name, index=False)
            else:
                table.to_csv(staging / name, index=False)
    return [out / n for n in names]


def _cell(value: Any) -> Any:
    """Models and plan as JSON text in a table cell."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value
