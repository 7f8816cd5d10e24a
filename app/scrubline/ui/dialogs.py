"""The "ask" half of the window's actions: small dialogs, and readable error messages.

Each dialog has a static `ask(...)` that returns plain values (or None when cancelled); the
window passes them to a function in `scrubline.ui.choices`. Tests replace `ask` to drive the
real window without a modal loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QFontDatabase, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from scrubline.core.analysis import AnalysisSettings
from scrubline.core.case import BOOKMARK_CATEGORIES
from scrubline.core.video import VIDEO_SUFFIXES
from scrubline.ui.choices import DEVICES, analysis_settings


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """A non-blocking error box: the message in plain words, where the log file is (to send
    with a question), the technical detail (traceback, decoder output) behind "Show Details…"."""
    from scrubline.core.logfile import current_log_file

    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    log_file = current_log_file()
    if log_file is not None:
        box.setInformativeText(
            f"This is recorded in the log file {log_file} (Help → Open log folder). "
            "The log holds no file names or patient details."
        )
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box


def ask_case_video(
    parent: QWidget | None, case_name: str, video_name: str, start_dir: Path
) -> Path | None:
    """Ask where the video of a case is (it was not beside the case); None when cancelled."""
    patterns = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
    title = f"Where is the video of {case_name}?" + (
        f" (it was {video_name})" if video_name else ""
    )
    path, _ = QFileDialog.getOpenFileName(
        parent, title, str(start_dir), f"Videos ({patterns});;All files (*)"
    )
    return Path(path) if path else None


class AnalysisDialog(QDialog):
    """Models, sampling rate, range and device for an analysis."""

    def __init__(
        self,
        models: Sequence[Any],
        duration_s: float,
        defaults: AnalysisSettings,
        resumable: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Analyse video")
        self.duration_s = duration_s
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.models = QListWidget()
        self.models.setMaximumHeight(120)
        chosen = set(defaults.model_ids or [m.id for m in models])
        for manifest in models:
            item = QListWidgetItem(
                f"{manifest.id} {manifest.version} — {manifest.name or manifest.task}"
            )
            item.setData(Qt.ItemDataRole.UserRole, manifest.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if manifest.id in chosen else Qt.CheckState.Unchecked
            )
            self.models.addItem(item)
        form.addRow("Models", self.models)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.2, 60.0)
        self.fps.setDecimals(1)
        self.fps.setSuffix(" frames/s")
        self.fps.setValue(defaults.fps)
        form.addRow("Sampling", self.fps)
        self.whole = QCheckBox("Whole video")
        self.whole.setChecked(defaults.start_s is None and defaults.end_s is None)
        range_row = QHBoxLayout()
        self.start = QDoubleSpinBox()
        self.end = QDoubleSpinBox()
        for spin, value in (
            (self.start, defaults.start_s or 0.0),
            (self.end, defaults.end_s or duration_s),
        ):
            spin.setRange(0.0, max(duration_s, 0.0))
            spin.setDecimals(1)
            spin.setSuffix(" s")
            spin.setValue(value)
            range_row.addWidget(spin)
        range_row.insertWidget(0, self.whole)
        self.whole.toggled.connect(self._on_whole_changed)
        self._on_whole_changed(self.whole.isChecked())
        form.addRow("Range", range_row)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(defaults.device)
        self.device.setToolTip(
            "Falls back to the CPU with a notice when the accelerator is not available"
        )
        form.addRow("Device", self.device)
        self.fresh = QCheckBox("Discard earlier results and start again")
        form.addRow("", self.fresh)
        layout.addLayout(form)
        if resumable:
            note = QLabel(resumable)
            note.setWordWrap(True)
            layout.addWidget(note)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff8080;")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Analyse")
        buttons.accepted.connect(self._on_accept_changed)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.result_settings: AnalysisSettings | None = None

    def _on_whole_changed(self, whole: bool) -> None:
        self.start.setEnabled(not whole)
        self.end.setEnabled(not whole)

    def _on_accept_changed(self) -> None:
        ids = [
            self.models.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.models.count())
            if self.models.item(i).checkState() == Qt.CheckState.Checked
        ]
        try:
            self.result_settings = analysis_settings(
                model_ids=ids,
                fps=self.fps.value(),
                whole=self.whole.isChecked(),
                start_s=self.start.value(),
                end_s=self.end.value(),
                device=self.device.currentText(),
                duration_s=self.duration_s,
            )
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()

    @staticmethod
    def ask(
        parent: QWidget | None,
        models: Sequence[Any],
        duration_s: float,
        defaults: AnalysisSettings,
        resumable: str = "",
    ) -> tuple[AnalysisSettings, bool] | None:
        dialog = AnalysisDialog(models, duration_s, defaults, resumable, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.result_settings is None:
            return None
        return dialog.result_settings, dialog.fresh.isChecked()


class BookmarkDialog(QDialog):
    def __init__(
        self,
        when: str,
        note: str = "",
        category: str = "teaching point",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Bookmark at {when}")
        layout = QFormLayout(self)
        self.category = QComboBox()
        self.category.addItems(BOOKMARK_CATEGORIES)
        self.category.setCurrentText(category)
        layout.addRow("Category", self.category)
        self.note = QPlainTextEdit(note)
        self.note.setPlaceholderText("What should a trainee notice here?")
        self.note.setMaximumHeight(100)
        layout.addRow("Note", self.note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("Save (Ctrl+Enter)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)
        # The note is what is typed: it has the focus, and Ctrl+Enter saves from inside it
        # (Enter makes a new line there).
        self.note.installEventFilter(self)
        self.note.setFocus(Qt.FocusReason.OtherFocusReason)
        self.note.moveCursor(QTextCursor.MoveOperation.End)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.note
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.accept()
            return True
        return super().eventFilter(watched, event)

    @staticmethod
    def ask(
        parent: QWidget | None, when: str, note: str = "", category: str = "teaching point"
    ) -> tuple[str, str] | None:
        dialog = BookmarkDialog(when, note, category, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.note.toPlainText(), dialog.category.currentText()


class TextDialog(QDialog):
    """A read-only text (keyboard shortcuts, notices)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        view = QPlainTextEdit(text)
        view.setReadOnly(True)
        # Fixed width: the help's key column lines up.
        view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        metrics = view.fontMetrics()
        longest = max((metrics.horizontalAdvance(line) for line in text.splitlines()), default=0)
        lines = len(text.splitlines())
        view.setMinimumSize(min(longest + 40, 1000), min(metrics.lineSpacing() * (lines + 2), 760))
        self.view = view
        layout.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


CASE_FIELDS = (
    ("label", "Case label"),
    ("date", "Date"),
    ("surgeon", "Surgeon"),
    ("reviewer", "Reviewer"),
)


class CaseDetailsDialog(QDialog):
    """What identifies the case in the report: only what the user types (never a file name)."""

    def __init__(self, info: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Case details")
        layout = QFormLayout(self)
        note = QLabel(
            "The report prints only these; the video's file name may identify a patient and is "
            "never printed."
        )
        note.setWordWrap(True)
        layout.addRow(note)
        self.edits: dict[str, QLineEdit] = {}
        for key, label in CASE_FIELDS:
            edit = QLineEdit(info.get(key, ""))
            layout.addRow(label, edit)
            self.edits[key] = edit
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addRow(buttons)

    @staticmethod
    def ask(parent: QWidget | None, info: dict[str, str]) -> dict[str, str] | None:
        dialog = CaseDetailsDialog(info, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return {key: edit.text().strip() for key, edit in dialog.edits.items()}
