"""The outcome panel and the model's validated domain: outside it the panel shows one sentence
and offers "Predict outside the validated domain"; ticked, the request is stored with the case
and a shown number carries the warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from scrubline.core.export import OUTSIDE_DOMAIN_KEY
from scrubline.core.models import load_registry
from scrubline.core.store import CaseStore
from scrubline.ui.outcome_text import OUTSIDE_DOMAIN_CHECKBOX, prediction_html
from scrubline.ui.panels import OutcomeWidget
from tests import tiny_models

TIMEOUT = 60_000
REFUSED = {
    "event_start_s": 8.0,
    "blood_loss_ml": None,
    "blood_loss_interval_ml": None,
    "success_probability": None,
    "model": {"id": "outcome-socal", "version": "1.1.0"},
    "reason": "the outcome model was validated only on simulated carotid injury (procedure "
    "'socal-carotid') and this case's procedure is 'generic', so no prediction is shown",
    "procedure": "generic",
    "outside_domain": True,
    "outside_domain_requested": False,
    "warning": None,
}
SHOWN = dict(
    REFUSED,
    blood_loss_ml=420.0,
    blood_loss_interval_ml=[150.0, 900.0],
    success_probability=0.7,
    reason=None,
    outside_domain_requested=True,
    warning="outside the validated domain: the model was validated only on simulated carotid "
    "injury (procedure 'socal-carotid'); on this case's procedure, 'generic', its error is unknown",
)


def test_panel_words_outside_the_domain() -> None:
    refused = prediction_html(REFUSED)
    assert refused.startswith("<b>No prediction:</b> the outcome model was validated only on")
    assert "mL" not in refused and OUTSIDE_DOMAIN_CHECKBOX in refused
    shown = prediction_html(SHOWN)
    assert "⚠ Outside the validated domain" in shown and "420 mL" in shown
    inside = prediction_html(dict(SHOWN, outside_domain=False, warning=None))
    assert "Outside" not in inside and "420 mL" in inside


def test_panel_offers_the_request_only_outside_the_domain(qtbot: Any) -> None:
    panel = OutcomeWidget()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_outcome(dict(REFUSED, outside_domain=False), None, moved_by_user=False)
    assert not panel.outside_domain_box.isVisible()
    panel.set_outcome(REFUSED, None, moved_by_user=False)
    assert panel.outside_domain_box.isVisible() and not panel.outside_domain_box.isChecked()
    with qtbot.waitSignal(panel.outside_domain_requested) as asked:
        qtbot.mouseClick(panel.outside_domain_box, Qt.MouseButton.LeftButton)
    assert asked.args == [True]
    panel.set_outcome(SHOWN, None, moved_by_user=False)
    assert panel.outside_domain_box.isChecked()
    assert "Outside the validated domain" in panel.prediction_label.text()


def test_window_stores_the_request_with_the_case(
    qtbot: Any, with_case: Path, case_dir: Path, demo_clip: Path, tmp_path: Path
) -> None:
    from scrubline.ui.main_window import MainWindow

    registry = load_registry([tiny_models.segmenter_folder(tmp_path / "models")])
    assert registry.by_task("sequence")  # the bundled outcome model
    window = MainWindow(registry=registry, case_dir=case_dir)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    try:
        with qtbot.waitSignal(window.outcome_refreshed, timeout=TIMEOUT):
            window.open_video(demo_clip)
        panel = window.outcome_panel
        assert "validated only on simulated internal carotid" in panel.prediction_label.text()
        assert "mL" not in panel.prediction_label.text()
        assert panel.outside_domain_box.isVisible()
        with qtbot.waitSignal(window.outcome_refreshed, timeout=TIMEOUT):
            qtbot.mouseClick(panel.outside_domain_box, Qt.MouseButton.LeftButton)
        assert window.outcome is not None and window.outcome["outside_domain_requested"]
        assert "validated only on" not in panel.prediction_label.text()
        assert panel.outside_domain_box.isChecked()
    finally:
        window.close()
    with CaseStore(with_case, readonly=True) as store:
        assert store.get_meta(OUTSIDE_DOMAIN_KEY) is True
