"""The post-op PDF debrief (reportlab), generated from a `core.case.Case`; Qt-free.

    from scrubline.report import ReportOptions, write_report
    write_report(case, Path("debrief.pdf"), ReportOptions(label="Case 12"))

The same call serves `scrubline report CASE -o FILE.pdf` and the window's export. reportlab is
imported only when a report is written, so importing this package costs nothing at start-up.
"""

from __future__ import annotations

from scrubline.report.options import ReportOptions
from scrubline.report.writer import write_report

__all__ = ["ReportOptions", "write_report"]
