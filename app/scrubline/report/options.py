"""What the person writing a report chooses (`ReportOptions`); `report.writer.write_report`
writes it.

Only what the user typed identifies the case in a report: label, procedure, date, surgeon,
reviewer. A video's own file name may carry a patient's name or record number, so it is never
printed, and neither is any path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    # Key frames the in-body gate put out of body (an operating-room view may show staff or the
    # patient) are blurred unless this is turned off (`scrubline report --no-blur-out-of-body`).
    blur_out_of_body: bool = True

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
