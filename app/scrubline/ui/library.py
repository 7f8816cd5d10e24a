"""The case library panel: the analysed cases in the per-user cases folder and in any batch
folder opened (`scrubline batch --out-dir DIR`), with label, procedure, duration, date analysed
and status; open, re-analyse or remove the selected one.

The rows come from `scrubline.core.library` on a worker thread (`LatestJob`). Opening goes
through the window's `open_case` (which finds the video by its content); re-analysing opens the
case and then asks for the analysis settings; removing asks first, refuses the case that is
open and a case an analysis is writing, and deletes the case file with its sidecars and proxy.
Batch folders' cases are listed but not removed here: their index belongs to the batch.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMargins, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from scrubline.core.library import LibraryEntry, read_batch_index, remove_case, scan_cases_folder
from scrubline.ui.navigation import format_clock
from scrubline.ui.settings import read_list
from scrubline.ui.tasks import LatestJob

COLUMNS = ("Case", "Procedure", "Duration", "Analysed", "Status", "Where")
BATCH_FOLDERS_KEY = "library/batch_folders"


def entry_cells(entry: LibraryEntry) -> list[str]:
    """The row's texts, in COLUMNS order."""
    name = entry.label or entry.video_name or entry.fingerprint[:12]
    when = (
        _dt.datetime.fromtimestamp(entry.analysed_at).strftime("%Y-%m-%d %H:%M")
        if entry.analysed_at
        else ""
    )
    duration = format_clock(entry.duration_s, millis=False) if entry.duration_s else ""
    where = "this computer" if not entry.from_batch else Path(entry.source).name
    return [name, entry.procedure, duration, when, entry.status_text, where]


def read_library(
    cases_folder: Path, batch_folders: list[Path]
) -> tuple[list[LibraryEntry], list[str]]:
    """Every entry, and a line per batch folder that could not be read (worker thread)."""
    entries = scan_cases_folder(cases_folder)
    problems = []
    for folder in batch_folders:
        try:
            entries.extend(read_batch_index(folder))
        except ValueError as exc:
            problems.append(str(exc))
    return entries, problems


class LibraryWidget(QWidget):
    open_requested = Signal(object)  # Path of a case file
    reanalyse_requested = Signal(object)
    removed = Signal(object)  # Path: a case was removed
    width_wanted = Signal(int)  # pixels the panel needs to show every column whole

    def __init__(
        self,
        settings: QSettings,
        cases_folder: Path,
        open_case: Callable[[], Path | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.cases_folder = cases_folder
        self.open_case = open_case  # the case the window has open (never removed under it)
        self.entries: list[LibraryEntry] = []
        self.problems: list[str] = []
        self._read_once = False  # the first time the panel shows, it reads the folders
        self.job = LatestJob("library", self)
        self.job.done.connect(self._on_library_read)
        self.job.failed.connect(
            lambda exc, details: self._show_note(f"The library could not be read: {exc}")
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(COLUMNS.index("Analysed"), Qt.SortOrder.DescendingOrder)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemActivated.connect(lambda item, _c: self._request(self.open_requested))
        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        layout.addWidget(self.tree, 1)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.hide()
        layout.addWidget(self.note)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip in (
            ("open", "Open", "Open the case with its video (double-click a row)"),
            ("reanalyse", "Re-analyse…", "Open the case and choose analysis settings"),
            ("remove", "Remove…", "Delete the case file, its results, bookmarks and proxy"),
            ("batch", "Add batch folder…", "List the cases of a `scrubline batch` folder"),
            ("refresh", "Refresh", "Read the folders again"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        layout.addLayout(row)
        self.buttons["open"].clicked.connect(lambda: self._request(self.open_requested))
        self.buttons["reanalyse"].clicked.connect(lambda: self._request(self.reanalyse_requested))
        self.buttons["remove"].clicked.connect(self.ask_remove)
        self.buttons["batch"].clicked.connect(self.ask_batch_folder)
        self.buttons["refresh"].clicked.connect(self.refresh)
        self._on_selection_changed()

    # ------------------------------------------------------------------ reading
    @property
    def batch_folders(self) -> list[Path]:
        return [Path(p) for p in read_list(self.settings, BATCH_FOLDERS_KEY)]

    def add_batch_folder(self, folder: Path) -> None:
        folders = [str(p) for p in self.batch_folders if Path(p) != folder] + [str(folder)]
        self.settings.setValue(BATCH_FOLDERS_KEY, folders)
        self.refresh()

    def ask_batch_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A batch folder (it holds index.sqlite)")
        if folder:
            self.add_batch_folder(Path(folder))

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """A panel the window restores as open at start is read then, not left empty."""
        super().showEvent(event)
        if not self._read_once:
            self.refresh()

    def refresh(self) -> None:
        self._read_once = True
        cases, batches = self.cases_folder, self.batch_folders
        self.job.submit(lambda: read_library(cases, batches))

    def _on_library_read(self, result: tuple[list[LibraryEntry], list[str]]) -> None:
        entries, problems = result
        self.entries, self.problems = entries, problems
        selected = self.selected()
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for entry in entries:
            item = QTreeWidgetItem(entry_cells(entry))
            item.setData(0, Qt.ItemDataRole.UserRole, entry)
            item.setToolTip(0, entry.video_name or "")
            item.setToolTip(4, entry.status_text)
            item.setToolTip(5, entry.source if entry.from_batch else str(entry.path.parent))
            self.tree.addTopLevelItem(item)
            if selected is not None and entry.path == selected.path:
                self.tree.setCurrentItem(item)
        self.tree.setSortingEnabled(True)
        if problems:
            self._show_note("; ".join(problems))
        elif not entries:
            self._show_note("No analysed cases yet: open a video and analyse it.")
        else:
            self.note.hide()
        self._on_selection_changed()
        self.width_wanted.emit(self.width_for_all_columns())

    def width_for_all_columns(self) -> int:
        """The panel's width with every column at its content's width and no horizontal scroll
        bar: the columns, the tree's frame and vertical scroll bar (if shown), and the layout's
        margins."""
        header = self.tree.header()
        columns = sum(header.sectionSize(i) for i in range(header.count()))
        vertical = self.tree.verticalScrollBar()
        scroll_bar = vertical.sizeHint().width() if vertical.isVisible() else 0
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else QMargins()
        frame = 2 * self.tree.frameWidth()
        return columns + scroll_bar + frame + margins.left() + margins.right()

    def _show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()

    # ------------------------------------------------------------------ acting
    def selected(self) -> LibraryEntry | None:
        item = self.tree.currentItem()
        entry = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return entry if isinstance(entry, LibraryEntry) else None

    def select(self, path: Path) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole).path == path:
                self.tree.setCurrentItem(item)
                return True
        return False

    def _on_selection_changed(self) -> None:
        entry = self.selected()
        readable = entry is not None and entry.path.is_file()
        self.buttons["open"].setEnabled(readable)
        self.buttons["reanalyse"].setEnabled(readable)
        self.buttons["remove"].setEnabled(entry is not None and not entry.from_batch)
        self.buttons["remove"].setToolTip(
            "Cases of a batch folder are managed by scrubline batch"
            if entry is not None and entry.from_batch
            else "Delete the case file, its results, bookmarks and proxy"
        )

    def _request(self, signal: Any) -> None:
        entry = self.selected()
        if entry is not None and entry.path.is_file():
            signal.emit(entry.path)

    def ask_remove(self) -> bool:
        entry = self.selected()
        if entry is None or entry.from_batch:
            return False
        name = entry.label or entry.video_name or entry.fingerprint[:12]
        answer = QMessageBox.question(
            self,
            "Remove case",
            f"Remove the case {name}? Its results, bookmarks, notes and drawings are deleted; "
            "the video itself is not touched.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        return self.remove(entry.path)

    def remove(self, path: Path) -> bool:
        """Remove a case (the one open in the window is refused); True if it was removed."""
        from scrubline.core.case import StoreError

        opened = self.open_case()
        if opened is not None and Path(opened).resolve() == path.resolve():
            self._show_note("This case is open in the window: open another video first.")
            return False
        try:
            remove_case(path)
        except (StoreError, OSError) as exc:
            self._show_note(f"The case was not removed: {exc}")
            return False
        self.removed.emit(path)
        self.refresh()
        return True

    def shutdown(self) -> None:
        self.job.shutdown()


def reanalyse(window: Any, path: Path) -> None:
    """Open a case in the window, then ask for the analysis settings once its video is open."""

    def on_ready() -> None:
        disconnect()
        window.ask_analysis()

    def disconnect() -> None:
        for signal, slot in (
            (window.video_ready, on_ready),
            (window.loader.open_failed, on_failed),
        ):
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                signal.disconnect(slot)

    def on_failed(*_: Any) -> None:
        disconnect()

    window.video_ready.connect(on_ready)
    window.loader.open_failed.connect(on_failed)
    if not window.open_case(path):
        disconnect()
