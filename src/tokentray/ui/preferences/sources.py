"""Preferences → Sources: which agents are read, extra folders, and what each folder gave."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from tokentray.engine import FolderStatus
from tokentray.settings import Settings
from tokentray.sources import ALL_SOURCES
from tokentray.ui.preferences.page import SECONDARY_TEXT, Page

log = logging.getLogger(__name__)


FOLDER_COLUMNS = (
    "Agent",
    "Folder",
    "Status",
    "Files",
    "Requests",
    "Last request",
    "Last parse",
    "Skipped",
)


class SourcesPage(Page):
    title = "Sources"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Read usage from:"))
        grid = QGridLayout()
        self.enabled: dict[str, QCheckBox] = {}
        for index, cls in enumerate(ALL_SOURCES):
            box = QCheckBox(cls.display_name)
            self.enabled[cls.name] = box
            grid.addWidget(box, index // 4, index % 4)
        layout.addLayout(grid)
        self.table = QTableWidget(0, len(FOLDER_COLUMNS))
        self.table.setHorizontalHeaderLabels(FOLDER_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        layout.addWidget(self.table, 3)
        missing_row = QHBoxLayout()
        self.missing = QLabel("")
        self.missing.setWordWrap(True)
        self.missing.setStyleSheet(SECONDARY_TEXT)
        self.show_missing = QCheckBox("Show them")
        self.show_missing.toggled.connect(lambda _on: self.show_status(self._status))
        missing_row.addWidget(self.missing, 1)
        missing_row.addWidget(self.show_missing)
        layout.addLayout(missing_row)
        self._status: list[FolderStatus] = []
        layout.addWidget(QLabel("Your own folders (for logs kept somewhere else):"))
        self.custom = QListWidget()
        self.custom.setMaximumHeight(64)
        layout.addWidget(self.custom)
        buttons = QHBoxLayout()
        self.agent = QComboBox()
        for cls in ALL_SOURCES:
            self.agent.addItem(cls.display_name, cls.name)
        add = QPushButton("Add folder…")
        add.clicked.connect(self.choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_folder)
        buttons.addWidget(self.agent)
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._folders: list[tuple[str, str]] = []

    def load(self, settings: Settings) -> None:
        for name, box in self.enabled.items():
            box.setChecked(name not in settings.disabled_sources)
        self._folders = list(settings.custom_folders)
        self._show_folders()

    def store(self, settings: Settings) -> None:
        settings.disabled_sources = [n for n, box in self.enabled.items() if not box.isChecked()]
        settings.custom_folders = list(self._folders)

    def add_folder(self, source: str, folder: str) -> None:
        if (source, folder) not in self._folders:
            self._folders.append((source, folder))
            self._show_folders()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with agent logs", str(Path.home()))
        if folder:
            self.add_folder(str(self.agent.currentData()), folder)

    def _remove_folder(self) -> None:
        row = self.custom.currentRow()
        if 0 <= row < len(self._folders):
            del self._folders[row]
            self._show_folders()

    def _show_folders(self) -> None:
        names = {cls.name: cls.display_name for cls in ALL_SOURCES}
        self.custom.clear()
        for source, folder in self._folders:
            self.custom.addItem(f"{names.get(source, source)}: {folder}")

    def show_status(self, folders: list[FolderStatus]) -> None:
        """The folders found, one row each; those not on this machine in one line, listed
        on demand."""
        self._status = folders
        missing = [f for f in folders if not f.found]
        agents = {f.display_name for f in missing}
        self.missing.setText(
            f"Not on this machine: {len(missing)} folders of {len(agents)} agents."
            if missing
            else ""
        )
        self.show_missing.setVisible(bool(missing))
        shown = folders if self.show_missing.isChecked() else [f for f in folders if f.found]
        found_first = sorted(shown, key=lambda f: (not f.found, f.display_name))
        self.table.setRowCount(len(found_first))
        for index, status in enumerate(found_first):
            cells = (
                status.display_name,
                str(status.root),
                "found" if status.found else "not found",
                str(status.files),
                str(status.events),
                _when(status.last_event_ms),
                _when(status.last_parse_ms),
                str(status.skipped),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setToolTip(text)
                if column == 7 and status.problems:
                    item.setToolTip("First skipped lines:\n" + "\n".join(status.problems))
                self.table.setItem(index, column, item)
        self.table.setColumnWidth(1, 300)


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M") if ms else "—"
