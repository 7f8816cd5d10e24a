"""The outcome from the command line, as in the window: `--event-start` on `analyze` and
`report` sets the bleeding-event start in the case, `--procedure` names the procedure, and
`--outcome-outside-domain` asks for a prediction outside the model's validated domain. `analyze`
ends with one line saying the predicted outcome or why there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from scrubline.cli import main
from scrubline.core.export import OUTSIDE_DOMAIN_KEY
from scrubline.core.store import CaseStore


def _meta(case: Path, key: str) -> object:
    with CaseStore(case, readonly=True) as store:
        return store.get_meta(key)


@pytest.fixture
def case(tmp_path: Path) -> Path:
    return tmp_path / "case.scrub"


def test_analyze_sets_the_event_start_and_says_why_there_is_no_number(
    clips: dict[str, Path], case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = str(clips["long_gop"])
    assert main(["analyze", video, "-o", str(case), "--fps", "2", "-q", "--event-start", "3"]) == 0
    out = capsys.readouterr().out
    assert _meta(case, "event_start_s") == 3.0
    # The default procedure (generic) is outside the bundled model's domain: one sentence.
    line = next(row for row in out.splitlines() if row.startswith("outcome: "))
    assert line.startswith(
        "outcome: no prediction: the outcome model was validated only on simulated internal "
        "carotid artery injury"
    )
    assert "'generic'" in line and " mL" not in line
    # In the domain, the reason is the next one that holds: the clip is 11 s, not a minute.
    assert main(["analyze", video, "-o", str(case), "-q", "--procedure", "socal-carotid"]) == 0
    line = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("outcome: "))
    assert "the model reads the 60 s after the bleeding starts (at 3.0 s)" in line
    # 'detect' goes back to the detected start.
    assert main(["analyze", video, "-o", str(case), "-q", "--event-start", "detect"]) == 0
    assert _meta(case, "event_start_s") is None


def test_event_start_outside_the_video_is_refused_and_loses_nothing(
    clips: dict[str, Path], case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = str(clips["long_gop"])
    assert main(["analyze", video, "-o", str(case), "--fps", "2", "-q"]) == 0
    with CaseStore(case, readonly=True) as store:
        frames = store.frame_count()
    capsys.readouterr()
    assert main(["analyze", video, "-o", str(case), "-q", "--event-start", "99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --event-start 99 s is not in the video (it lasts 10.7 s)"]
    with CaseStore(case, readonly=True) as store:
        assert store.frame_count() == frames
    with pytest.raises(SystemExit) as stopped:  # argparse: usage line and exit 2
        main(["analyze", video, "-o", str(case), "-q", "--event-start", "-1"])
    assert stopped.value.code == 2
    assert "argument --event-start: must be a time in seconds" in capsys.readouterr().err


def test_report_sets_the_event_start_and_the_outside_domain_request(
    clips: dict[str, Path], case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = str(clips["long_gop"])
    assert main(["analyze", video, "-o", str(case), "--fps", "2", "-q"]) == 0
    pdf = tmp_path / "r.pdf"
    assert main(["report", str(case), "-o", str(pdf), "--event-start", "4.5"]) == 0
    assert _meta(case, "event_start_s") == 4.5
    text = " ".join(page.extract_text() or "" for page in PdfReader(str(pdf)).pages)
    text = " ".join(text.split())
    assert "Bleeding event from 0:04.5" in text
    assert "validated only on simulated internal carotid artery injury" in text
    assert (
        main(["report", str(case), "-o", str(pdf), "--outcome-outside-domain"]) == 0
        and _meta(case, OUTSIDE_DOMAIN_KEY) is True
    )
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(str(pdf)).pages).split())
    # Asked for, the domain no longer stops it; the clip's length still does.
    assert "validated only on" not in text
    assert "the model reads the 60 s after the bleeding starts (at 4.5 s)" in text
    assert main(["report", str(case), "-o", str(pdf), "--no-outcome-outside-domain"]) == 0
    assert _meta(case, OUTSIDE_DOMAIN_KEY) is False
    capsys.readouterr()
    assert main(["report", str(case), "-o", str(pdf), "--event-start", "11"]) == 2
    assert capsys.readouterr().err.startswith("error: --event-start 11 s is not in the video")


def test_a_cholecystectomy_case_exports_the_sentence_not_a_number(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The learned cholecystectomy phases need tool names a class-agnostic detector does not
    give; the export still writes its tables (no phases) and the outcome's one sentence."""
    case = tmp_path / "chole.scrub"
    video = str(clips["long_gop"])
    args = ["analyze", video, "-o", str(case), "--fps", "2", "-q", "--event-start", "1"]
    assert main([*args, "--procedure", "cholecystectomy"]) == 0
    assert main(["export", str(case), "-o", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    outcome = summary["outcome"]
    assert outcome["blood_loss_ml"] is None and outcome["outside_domain"] is True
    assert outcome["reason"] == (
        "the outcome model was validated only on simulated internal carotid artery injury in "
        "endoscopic endonasal surgery on perfused cadaver heads (SOCAL; procedure "
        "'socal-carotid') and this case's procedure is 'cholecystectomy', so no prediction is "
        "shown"
    )
