"""The side panels (the bookmark list and the outcome panel) and the banner over the video.

Both are views: they show what the window hands them and emit what the user asked for (jump to
a bookmark, move the event start, reveal the prediction); the window does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from scrubline.ui.navigation import format_clock
from scrubline.ui.outcome_text import (
    NOT_A_DEVICE,
    OUTSIDE_DOMAIN_CHECKBOX,
    event_start_text,
    prediction_html,
    validation_text,
)


class BookmarksWidget(QWidget):
    jump_requested = Signal(float)
    add_requested = Signal()
    edit_requested = Signal(int)
    delete_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        # Long notes wrap onto more lines instead of running off the dock's edge.
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.itemActivated.connect(self._on_item_activated)
        self.list.itemClicked.connect(self._on_item_activated)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Bookmark the frame on screen (Ctrl+B)")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        for button in (self.add_button, self.edit_button, self.delete_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.add_button.clicked.connect(self.add_requested)
        self.edit_button.clicked.connect(lambda: self._emit_selected(self.edit_requested))
        self.delete_button.clicked.connect(lambda: self._emit_selected(self.delete_requested))
        self.set_bookmarks([])

    def set_bookmarks(self, bookmarks: Sequence[Any]) -> None:
        self.list.clear()
        for mark in bookmarks:
            text = f"{format_clock(mark.time_s)}   [{mark.category}]   {mark.note}".rstrip()
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, (int(mark.id), float(mark.time_s)))
            item.setToolTip(f"frame {mark.frame}\n{mark.note}")
            self.list.addItem(item)
        has = bool(bookmarks)
        self.edit_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    def _emit_selected(self, signal: Any) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole)[0])

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self.jump_requested.emit(item.data(Qt.ItemDataRole.UserRole)[1])


class OutcomeWidget(QWidget):
    """Event start (movable), the prediction beside the model's validation figures, and the
    teaching-mode curtain."""

    event_start_set = Signal(object)  # seconds, or None to detect automatically
    event_start_at_playhead = Signal()
    reveal_requested = Signal()
    outside_domain_requested = Signal(bool)  # the user asks for (or stops asking for) a number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        event_box = QGroupBox("Bleeding event")
        event_layout = QVBoxLayout(event_box)
        self.event_label = QLabel("")
        self.event_label.setWordWrap(True)
        event_layout.addWidget(self.event_label)
        row = QHBoxLayout()
        self.event_spin = QDoubleSpinBox()
        self.event_spin.setDecimals(1)
        self.event_spin.setSuffix(" s")
        self.event_spin.setKeyboardTracking(False)
        self.event_spin.setToolTip(
            "Start of the bleeding event the prediction reads from; "
            "you can also drag the orange line in the bleeding row"
        )
        self.event_spin.editingFinished.connect(
            lambda: self.event_start_set.emit(float(self.event_spin.value()))
        )
        row.addWidget(self.event_spin)
        self.playhead_button = QPushButton("At playhead")
        self.playhead_button.clicked.connect(self.event_start_at_playhead)
        row.addWidget(self.playhead_button)
        self.detect_button = QPushButton("Detect")
        self.detect_button.setToolTip("Forget the start set by hand; use the detected one")
        self.detect_button.clicked.connect(lambda: self.event_start_set.emit(None))
        row.addWidget(self.detect_button)
        event_layout.addLayout(row)
        layout.addWidget(event_box)

        prediction_box = QGroupBox("Predicted outcome")
        prediction_layout = QVBoxLayout(prediction_box)
        self.stack = QStackedWidget()
        shown = QWidget()
        shown_layout = QVBoxLayout(shown)
        shown_layout.setContentsMargins(0, 0, 0, 0)
        self.prediction_label = QLabel("")
        self.prediction_label.setWordWrap(True)
        self.prediction_label.setTextFormat(Qt.TextFormat.RichText)
        self.validation_label = QLabel("")
        self.validation_label.setWordWrap(True)
        self.validation_label.setTextFormat(Qt.TextFormat.RichText)
        self.validation_label.setStyleSheet("color: #b0b0b0;")
        shown_layout.addWidget(self.prediction_label)
        # Only offered when the case's procedure is outside the model's validated domain.
        self.outside_domain_box = QCheckBox(OUTSIDE_DOMAIN_CHECKBOX)
        self.outside_domain_box.setToolTip(
            "The model was validated on other procedures; its number here comes with a warning "
            "and an unknown error. Stored with the case; the report shows the same."
        )
        self.outside_domain_box.toggled.connect(self.outside_domain_requested)
        self.outside_domain_box.setVisible(False)
        shown_layout.addWidget(self.outside_domain_box)
        shown_layout.addWidget(self.validation_label)
        hidden = QWidget()
        hidden_layout = QVBoxLayout(hidden)
        hidden_layout.setContentsMargins(0, 0, 0, 0)
        curtain = QLabel("Teaching mode: the prediction is hidden until you reveal it.")
        curtain.setWordWrap(True)  # the side panel may be narrow (a small screen)
        hidden_layout.addWidget(curtain)
        self.reveal_button = QPushButton("Reveal prediction")
        self.reveal_button.clicked.connect(self.reveal_requested)
        hidden_layout.addWidget(self.reveal_button)
        self.stack.addWidget(shown)
        self.stack.addWidget(hidden)
        prediction_layout.addWidget(self.stack)
        disclaimer = QLabel(NOT_A_DEVICE)
        disclaimer.setWordWrap(True)
        disclaimer.setStyleSheet("color: #909090; font-size: small;")
        prediction_layout.addWidget(disclaimer)
        layout.addWidget(prediction_box)
        layout.addStretch(1)
        self.outcome: dict[str, Any] | None = None
        self.set_outcome(None, None, moved_by_user=False)

    def set_duration(self, duration_s: float) -> None:
        self.event_spin.setRange(0.0, max(duration_s, 0.0))

    def set_busy(self, text: str) -> None:
        self.prediction_label.setText(f"<i>{text}</i>")

    def set_outcome(
        self, outcome: dict[str, Any] | None, metrics: dict[str, Any] | None, *, moved_by_user: bool
    ) -> None:
        self.outcome = outcome
        self.event_label.setText(event_start_text(outcome, moved_by_user))
        start = outcome.get("event_start_s") if outcome else None
        self.event_spin.blockSignals(True)
        self.event_spin.setValue(float(start) if start is not None else 0.0)
        self.event_spin.blockSignals(False)
        self.prediction_label.setText(prediction_html(outcome))
        self.outside_domain_box.blockSignals(True)
        self.outside_domain_box.setChecked(
            bool(outcome and outcome.get("outside_domain_requested"))
        )
        self.outside_domain_box.blockSignals(False)
        self.outside_domain_box.setVisible(bool(outcome and outcome.get("outside_domain")))
        self.validation_label.setText(
            validation_text(outcome.get("model") if outcome else None, metrics)
            if outcome is not None
            else ""
        )

    def set_teaching(self, teaching: bool, revealed: bool) -> None:
        self.stack.setCurrentIndex(1 if teaching and not revealed else 0)

    @property
    def prediction_hidden(self) -> bool:
        return self.stack.currentIndex() == 1


class Banner(QFrame):
    """A message across the top of the video with an optional button that acts on it (Resume,
    Analyse…, Start afresh) and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("QFrame { background: #37474f; } QLabel { color: #eceff1; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.button = QPushButton("")
        layout.addWidget(self.button)
        close = QToolButton()
        close.setText("\u2715")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self._action: Callable[[], Any] | None = None
        self.button.clicked.connect(lambda: self._action and self._action())
        self.hide()

    def show_message(
        self, text: str, button: str = "", action: Callable[[], Any] | None = None
    ) -> None:
        """Show `text`, with a button labelled `button` that calls `action` (none if "")."""
        self.label.setText(text)
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self._action = action
        self.show()
