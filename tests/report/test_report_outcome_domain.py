"""The report and the outcome model's validated domain: a case whose procedure the model was not
validated on gets one sentence and no number; asked for explicitly, the number comes with an
"outside the validated domain" warning."""

from __future__ import annotations

from pathlib import Path

from scrubline.core.export import OUTSIDE_DOMAIN_KEY, case_summary
from scrubline.core.models import load_registry
from scrubline.core.store import CaseStore
from tests.report.synthetic import make_case
from tests.report.test_report import _report, _tiny_sequence_model


def _registry_with_domain(folder: Path):  # type: ignore[no-untyped-def]
    models = _tiny_sequence_model(folder)
    manifest = models / "tiny-outcome.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + '[domain]\nprocedures = ["socal-carotid"]\n'
        + 'description = "simulated carotid artery injury"\n',
        encoding="utf-8",
    )
    registry = load_registry([models], include_bundled=False)
    assert registry.by_task("sequence"), registry.problems
    return registry


def test_out_of_domain_report_has_no_number_but_the_reason(tmp_path: Path) -> None:
    registry = _registry_with_domain(tmp_path / "models")
    case = make_case(tmp_path / "case.scrub", seconds=120.0, thumbnails_every_s=5.0)
    text, _ = _report(case, tmp_path / "r.pdf", registry)
    assert "420 mL" not in text
    assert (
        "No prediction was made: the outcome model was validated only on simulated carotid "
        "artery injury (procedure 'socal-carotid') and this case's procedure is 'generic', so "
        "no prediction is shown." in text
    )
    with CaseStore(case, readonly=True) as store:
        outcome = case_summary(store, registry=registry)["outcome"]
    assert outcome["blood_loss_ml"] is None and outcome["outside_domain"] is True


def test_asked_for_outside_the_domain_the_report_warns(tmp_path: Path) -> None:
    registry = _registry_with_domain(tmp_path / "models")
    case = make_case(tmp_path / "case.scrub", seconds=120.0, thumbnails_every_s=5.0)
    with CaseStore(case) as store:
        store.set_meta(OUTSIDE_DOMAIN_KEY, True)
    text, _ = _report(case, tmp_path / "r.pdf", registry)
    assert "420 mL" in text and "80% interval 250–700 mL" in text
    assert (
        "Warning — Outside the validated domain: the model was validated only on simulated "
        "carotid artery injury (procedure 'socal-carotid'); on this case's procedure, "
        "'generic', its error is unknown." in text
    )
    # In the validated domain: the number and no warning.
    with CaseStore(case) as store:
        store.set_meta(OUTSIDE_DOMAIN_KEY, False)
        store.set_meta("procedure", "socal-carotid")
    text, _ = _report(case, tmp_path / "in.pdf", registry)
    assert "420 mL" in text and "Outside the validated domain" not in text
