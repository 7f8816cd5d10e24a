"""The entry point that writes a debrief: checks the target, then lays out the document.

Kept apart from `report.options` so that the document (which reads the options) and the entry
point (which calls the document) do not import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scrubline.core.case import Case
from scrubline.report.options import ReportOptions

if TYPE_CHECKING:
    from scrubline.core.models import Registry


def write_report(
    case: Case,
    path: Path,
    options: ReportOptions | None = None,
    registry: Registry | None = None,
) -> Path:
    """Write the debrief of `case` to `path` (PDF) and return the path (an open `CaseStore`
    is taken too, wrapped in a `Case`).

    Works from the case file alone (thumbnails stand in for frames); `options.video_path` adds
    exact frames at full resolution. The file appears complete or not at all, the case is read in
    one snapshot, and `path` may not be the case, its video, or any existing file that is not a
    PDF (`OutputError`).
    """
    from scrubline.core.output import OutputError, case_files, is_pdf, refuse_protected
    from scrubline.report.document import build_report

    case = Case.wrap(case)
    path = Path(path)
    options = options or ReportOptions()
    refuse_protected(path, [*case_files(case.path), options.video_path], "report")
    if path.is_dir():
        raise OutputError(f"cannot write the report to {path}: it is a folder")
    if path.exists() and not is_pdf(path):
        raise OutputError(f"refusing to overwrite {path}: it exists and is not a PDF")
    with case.snapshot():
        return build_report(case, path, options, registry)
