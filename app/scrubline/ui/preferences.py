"""Preferences (Edit → Preferences, Ctrl+,): what a new analysis proposes (sampling rate,
procedure, device), how results are drawn over the video (which layers, the bleeding mask's
opacity), the models' thresholds as their manifests give them (shown, not changed: a threshold
is part of a model's validation), where Scrubline keeps its files, and a dark or light theme.

Values live in the same per-user `settings.ini` as the rest of the window's settings
(`scrubline.ui.settings`), under the keys the window already reads (`analysis/fps`,
`analysis/device`, `overlays/*`) plus `analysis/procedure`, `overlays/mask_opacity` and
`ui/theme`. `Preferences` is the plain record; `PreferencesDialog.ask` returns one or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scrubline.core.overlay import OVERLAY_KEYS, OverlayFlags
from scrubline.ui.choices import DEVICES
from scrubline.ui.overlays import OVERLAY_NAMES
from scrubline.ui.settings import read_float, read_overlays, write_overlays
from scrubline.ui.theme import THEMES

DEFAULT_MASK_OPACITY = 0.47  # the mask's most opaque alpha (120 of 255), as before preferences


@dataclass(frozen=True)
class Preferences:
    fps: float = 5.0
    procedure: str = "generic"
    device: str = "cpu"
    overlays: OverlayFlags = OverlayFlags()
    mask_opacity: float = DEFAULT_MASK_OPACITY  # 0.1 .. 1.0
    theme: str = "dark"


def read_preferences(settings: QSettings) -> Preferences:
    theme = str(settings.value("ui/theme", "dark"))
    device = str(settings.value("analysis/device", "cpu"))
    return Preferences(
        fps=min(max(read_float(settings, "analysis/fps", 5.0), 0.2), 60.0),
        procedure=str(settings.value("analysis/procedure", "generic") or "generic"),
        device=device if device in DEVICES else "cpu",
        overlays=read_overlays(settings),
        mask_opacity=min(
            max(read_float(settings, "overlays/mask_opacity", DEFAULT_MASK_OPACITY), 0.1), 1.0
        ),
        theme=theme if theme in THEMES else "dark",
    )


def write_preferences(settings: QSettings, prefs: Preferences) -> None:
    settings.setValue("analysis/fps", prefs.fps)
    settings.setValue("analysis/procedure", prefs.procedure)
    settings.setValue("analysis/device", prefs.device)
    write_overlays(settings, prefs.overlays)
    settings.setValue("overlays/mask_opacity", prefs.mask_opacity)
    settings.setValue("ui/theme", prefs.theme)
    settings.sync()


def model_thresholds(models: Sequence[Any]) -> list[tuple[str, str, str]]:
    """(model, threshold, value) rows from the models' manifests."""
    rows = []
    for manifest in models:
        name = f"{manifest.id} {manifest.version}"
        for key, value in sorted((manifest.thresholds or {}).items()):
            rows.append((name, str(key), f"{value:g}" if isinstance(value, float) else str(value)))
        if not manifest.thresholds:
            rows.append((name, "(none)", ""))
    return rows


def folders() -> list[tuple[str, Path]]:
    from scrubline.core import paths

    return [
        ("Cases", paths.cases_dir(migrate=False)),
        ("Scrub proxies and demo clips", paths.cache_dir()),
        ("Settings", paths.config_dir()),
        ("Log", paths.log_dir()),
    ]


class PreferencesDialog(QDialog):
    def __init__(
        self,
        prefs: Preferences,
        procedures: Sequence[str],
        models: Sequence[Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._prefs = prefs
        layout = QVBoxLayout(self)

        analysis = QGroupBox("New analyses")
        form = QFormLayout(analysis)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.2, 60.0)
        self.fps.setDecimals(1)
        self.fps.setSuffix(" frames/s")
        self.fps.setValue(prefs.fps)
        self.fps.setToolTip("How many frames per second of video the models look at")
        form.addRow("Sampling rate", self.fps)
        self.procedure = QComboBox()
        self.procedure.addItems(list(procedures))
        self.procedure.setCurrentText(prefs.procedure)
        self.procedure.setToolTip("The phase template a new case starts with")
        form.addRow("Procedure", self.procedure)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(prefs.device)
        self.device.setToolTip("Falls back to the CPU with a notice when it is not available")
        form.addRow("Device", self.device)
        layout.addWidget(analysis)

        overlays = QGroupBox("Over the video")
        form = QFormLayout(overlays)
        self.overlay_boxes: dict[str, QCheckBox] = {}
        row = QHBoxLayout()
        for key in OVERLAY_KEYS:
            box = QCheckBox(OVERLAY_NAMES[key])
            box.setChecked(getattr(prefs.overlays, key))
            row.addWidget(box)
            self.overlay_boxes[key] = box
        form.addRow("Shown", row)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(round(prefs.mask_opacity * 100))
        self.opacity_label = QLabel("")
        self.opacity.valueChanged.connect(lambda v: self.opacity_label.setText(f"{v}%"))
        self.opacity_label.setText(f"{self.opacity.value()}%")
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_label)
        form.addRow("Bleeding mask opacity", opacity_row)
        self.thresholds = QTreeWidget()
        self.thresholds.setHeaderLabels(["Model", "Threshold", "Value"])
        self.thresholds.setRootIsDecorated(False)
        for cells in model_thresholds(models):
            self.thresholds.addTopLevelItem(QTreeWidgetItem(list(cells)))
        for column in range(3):
            self.thresholds.resizeColumnToContents(column)
        self.thresholds.setMaximumHeight(140)
        self.thresholds.setToolTip(
            "From each model's manifest: part of how it was validated, so not changed here"
        )
        form.addRow("Model thresholds", self.thresholds)
        layout.addWidget(overlays)

        places = QGroupBox("Folders")
        form = QFormLayout(places)
        for name, path in folders():
            line = QHBoxLayout()
            label = QLabel(str(path))
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            line.addWidget(label, 1)
            button = QPushButton("Open")
            button.clicked.connect(lambda _=False, p=path: _open_folder(p))
            line.addWidget(button)
            form.addRow(name, line)
        note = QLabel("SCRUBLINE_HOME=DIR puts all four under one folder.")
        note.setWordWrap(True)
        form.addRow("", note)
        layout.addWidget(places)

        look = QGroupBox("Appearance")
        form = QFormLayout(look)
        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(prefs.theme)
        form.addRow("Theme", self.theme)
        layout.addWidget(look)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )
        layout.addWidget(buttons)

    def chosen(self) -> Preferences:
        flags = OverlayFlags(**{k: b.isChecked() for k, b in self.overlay_boxes.items()})
        return replace(
            self._prefs,
            fps=round(self.fps.value(), 1),
            procedure=self.procedure.currentText() or self._prefs.procedure,
            device=self.device.currentText(),
            overlays=flags,
            mask_opacity=self.opacity.value() / 100.0,
            theme=self.theme.currentText(),
        )

    def restore_defaults(self) -> None:
        defaults = Preferences()
        self.fps.setValue(defaults.fps)
        self.procedure.setCurrentText(defaults.procedure)
        self.device.setCurrentText(defaults.device)
        for key, box in self.overlay_boxes.items():
            box.setChecked(getattr(defaults.overlays, key))
        self.opacity.setValue(round(defaults.mask_opacity * 100))
        self.theme.setCurrentText(defaults.theme)

    @staticmethod
    def ask(
        parent: QWidget | None,
        prefs: Preferences,
        procedures: Sequence[str],
        models: Sequence[Any],
    ) -> Preferences | None:
        dialog = PreferencesDialog(prefs, procedures, models, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.chosen()


def _open_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def set_default_procedure(case_path: Path, procedure: str) -> None:
    """Give a case its first procedure (a case that already has one keeps it)."""
    from scrubline.core.case import Case
    from scrubline.core.edits import SetProcedure

    with Case.open(case_path, readonly=False) as case:
        if case.get_meta("procedure") is None:
            case.apply(SetProcedure(procedure))
