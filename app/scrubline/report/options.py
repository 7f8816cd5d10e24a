"""What the person writing a report chooses, and the entry point that writes it.

Only what the user typed identifies the case in a report: label, procedure, date, surgeon,
reviewer. A video's own file name may carry a patient's name or record number, so it is never
printed, and neither is any path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrubline.core.models import Registry
    from scrubline.core.store import CaseStore

PAGE_SIZES = ("A4", "letter")
UNTITLED = "Untitled case"


@dataclass(frozen=True)
class ReportOptions:
    page_size: str = "A4"  # "A4" or "letter"
    label: str | None = None  # each of these falls back to what the case file holds (case_info)
    procedure: str | None = None
    surgeon: str | None = None
    reviewer: str | None = None
    date: str | None = None
    # The video, for exact key frames at full resolution; without it the stored thumbnails serve.
    video_path: Path | None = None

    def __post_init__(self) -> None:
        if self.page_size.lower() not in {p.lower() for p in PAGE_SIZES}:
            raise ValueError(f"page size '{self.page_size}' is not one of {', '.join(PAGE_SIZES)}")

    def typed(self, case_info: dict[str, Any]) -> dict[str, str]:
        """label, procedure, date, surgeon, reviewer: typed here, else stored with the case; blank
        fields are left out. The label falls back to "Untitled case", never to a file name."""
        out: dict[str, str] = {}
        for key in ("label", "procedure", "date", "surgeon", "reviewer"):
            value = getattr(self, key)
            if value is None:
                value = case_info.get(key)
            if value is not None and str(value).strip():
                out[key] = str(value).strip()
        out.setdefault("label", UNTITLED)
        return out


def write_report(
    store: CaseStore,
    path: Path,
    options: ReportOptions | None = None,
    registry: Registry | None = None,
) -> Path:
    """Write the debrief of `store` to `path` (PDF) and return the path.

    Works from the case file alone (thumbnails stand in for frames); `options.video_path` adds
    exact frames at full resolution. The file appears complete or not at all, the case is read in
    one snapshot, and `path` may not be the case, its video, or any existing file that is not a
    PDF (`OutputError`).
    """
    from scrubline.core.output import OutputError, case_files, is_pdf, refuse_protected
    from scrubline.report.document import build_report

    path = Path(path)
    options = options or ReportOptions()
    refuse_protected(path, [*case_files(store.path), options.video_path], "report")
    if path.is_dir():
        raise OutputError(f"cannot write the report to {path}: it is a folder")
    if path.exists() and not is_pdf(path):
        raise OutputError(f"refusing to overwrite {path}: it exists and is not a PDF")
    with store.snapshot():
        return build_report(store, path, options, registry)
