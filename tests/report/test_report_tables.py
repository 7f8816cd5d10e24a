"""The numbers in the report's tables, checked against what the generated case holds (see
`tests/report/synthetic.py`: a grasper in view 3–50 s with its tip hidden 30–36 s, a hook 10–25 s
and 40–55 s, a clipper 52–53 s with its tip hidden, a bleed peaking at 12 % at 26 s and one
growing from 45 s to 20 % at the end). The expected values are worked out here from that
description, not from the code that prints them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.synthetic import make_case
from tests.report.test_report import _report


@pytest.fixture(scope="module")
def full_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tables")
    text, _ = _report(make_case(folder / "case.scrub"), folder / "case.pdf")
    return text[text.index("Tool usage") :]


def test_tool_table_gives_time_in_view_share_and_entries(full_text: str) -> None:
    # 60 s analysed: grasper 47 s (78 %), once; hook 15 + 15 s (50 %), twice; clipper 1 s (2 %).
    assert "grasper 47.0 s 78% 1 hook 30.0 s 50% 2 clipper 1.0 s 2% 1" in full_text


def test_tip_hidden_table_lists_each_episode(full_text: str) -> None:
    assert (
        "2 episodes with an instrument in view and its tip hidden, 7.0 s in all; the longest 6.0 "
        "s from 0:30" in full_text
    )
    assert "1 0:30.0 0:36.0 6.0 s" in full_text and "2 0:52.0 0:53.0 1.0 s" in full_text


def test_bleeding_table_gives_onset_duration_peak_and_time_to_control(full_text: str) -> None:
    # 0.12·exp(-((t-26)/4)²) is at or above 3 % for |t - 26| <= 4.71 s: samples 21.4–30.6 s, so the
    # episode runs 21.4–30.8 s (9.4 s) and peaks at 12 %. The second reaches 3 % at 46.5 s (first
    # sample above: 46.6 s) and is still open when the minute ends.
    assert "1 0:21.4 9.4 s 12.0% 9.4 s" in full_text
    assert "2 0:46.6 13.4 s 20.0% not controlled by the end of the analysed video" in full_text


def test_tables_of_a_partly_analysed_case_count_only_what_was_analysed(tmp_path: Path) -> None:
    text, _ = _report(
        make_case(tmp_path / "part.scrub", analysed_until=40.0), tmp_path / "part.pdf"
    )
    tables = text[text.index("Tool usage") :]
    # 40 s analysed: grasper 3–40 s = 37 s (92.5 %, printed 93 %), hook 10–25 s = 15 s (37.5 %,
    # printed 38 %), no clipper.
    assert "grasper 37.0 s 93% 1 hook 15.0 s 38% 1" in tables
    assert "clipper" not in tables.split("Tip-hidden episodes")[0]
    assert "1 episode with an instrument in view and its tip hidden, 6.0 s in all" in tables
