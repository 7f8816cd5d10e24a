"""The cohort report names phases as the case report and the window do: the template's display
name ("Calot triangle dissection"), not Cholec80's label ("CalotTriangleDissection")."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader

from scrubline.core.archive import DONE, ArchiveIndex, CaseRow
from scrubline.report.cohort import build_cohort


def _case(fingerprint: str, label: str, calot_s: float) -> CaseRow:
    return CaseRow(
        values={
            "fingerprint": fingerprint,
            "case": label,
            "duration_s": 600.0,
            "procedure": "cholecystectomy",
            "status": DONE,
        },
        phases=[
            {"phase": "Preparation", "duration_s": 600.0 - calot_s, "colour": "#8d6e63"},
            {"phase": "CalotTriangleDissection", "duration_s": calot_s, "colour": "#1565c0"},
        ],
        episodes=[
            {
                "kind": "phase",
                "label": "Preparation",
                "start_s": 0.0,
                "end_s": 600.0 - calot_s,
                "peak": None,
            },
            {
                "kind": "phase",
                "label": "CalotTriangleDissection",
                "start_s": 600.0 - calot_s,
                "end_s": 600.0,
                "peak": None,
            },
        ],
    )


def test_cohort_phase_durations_use_the_templates_phase_names(tmp_path: Path) -> None:
    with ArchiveIndex(tmp_path, create=True) as index:
        index.put(_case("a" * 24, "Trainee A", 240.0))
        index.put(_case("b" * 24, "Trainee B", 420.0))
    pdf = build_cohort(tmp_path, tmp_path / "cohort.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Calot triangle dissection" in text
    assert "CalotTriangleDissection" not in text
