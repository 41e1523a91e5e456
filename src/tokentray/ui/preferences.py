"""Preferences: one page per section, so later sections (alerts, keys) slot in."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from tokentray.alerts.rules import Rule, RuleError
from tokentray.engine import FolderStatus
from tokentray.providers import ALL_PROVIDERS
from tokentray.providers.poll import ProviderState
from tokentray.settings import Settings, SettingsError, save_settings
from tokentray.sources import ALL_SOURCES

log = logging.getLogger(__name__)
FOLDER_COLUMNS = (
    "Agent",
    "Folder",
    "Status",
    "Files",
    "Usage lines",
    "Last event",
    "Last parse",
    "Skipped",
)


class Page(QWidget):
    title = ""

    def load(self, settings: Settings) -> None:
        raise NotImplementedError

    def store(self, settings: Settings) -> None:
        raise NotImplementedError


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
        layout.addWidget(QLabel("Your own folders (for logs kept somewhere else):"))
        self.custom = QListWidget()
        self.custom.setMaximumHeight(64)
        layout.addWidget(self.custom)
        buttons = QHBoxLayout()
        self.agent = QComboBox()
        for cls in ALL_SOURCES:
            self.agent.addItem(cls.display_name, cls.name)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._choose_folder)
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

    def _choose_folder(self) -> None:
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
        found_first = sorted(folders, key=lambda f: (not f.found, f.display_name))
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


class BudgetPage(Page):
    title = "Budget"

    def __init__(self) -> None:
        super().__init__()
        form = QFormLayout(self)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0, 1_000_000)
        self.budget.setDecimals(2)
        self.budget.setPrefix("$ ")
        self.budget.setSpecialValueText("no budget")
        form.addRow("Daily budget", self.budget)
        form.addRow(
            "",
            QLabel("The tray icon turns amber at 80% of it and red when it is spent."),
        )
        self.show_spend = QRadioButton("Today's spend")
        self.show_burn = QRadioButton("Spend per hour now (last 15 minutes)")
        group = QButtonGroup(self)
        group.addButton(self.show_spend)
        group.addButton(self.show_burn)
        column = QVBoxLayout()
        column.addWidget(self.show_spend)
        column.addWidget(self.show_burn)
        form.addRow("The icon shows", column)
        self.count_billed = QCheckBox(
            "Count what the providers billed today when it is more than the local logs show"
        )
        form.addRow("", self.count_billed)

    def load(self, settings: Settings) -> None:
        self.budget.setValue(settings.daily_budget_usd)
        (self.show_burn if settings.icon_shows == "burn" else self.show_spend).setChecked(True)
        self.count_billed.setChecked(settings.budget_counts_billed)

    def store(self, settings: Settings) -> None:
        settings.daily_budget_usd = self.budget.value()
        settings.icon_shows = "burn" if self.show_burn.isChecked() else "spend"
        settings.budget_counts_billed = self.count_billed.isChecked()


class KeysPage(Page):
    """Provider keys: kept in the OS keyring, never shown again once saved."""

    title = "Provider keys"
    saveKey = Signal(str, str)  # provider, key ("" removes it)
    testKey = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        intro = QLabel(
            "With a provider's admin key, tokentray also shows what the provider billed, "
            "across every machine and key, beside what this machine's agents logged. Keys "
            "are kept in your system keyring, never in a file."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.status: dict[str, QLabel] = {}
        self.fields: dict[str, QLineEdit] = {}
        for cls in ALL_PROVIDERS:
            provider = cls()
            box = QGroupBox(provider.display_name)
            form = QVBoxLayout(box)
            help_text = QLabel(provider.key_help)
            help_text.setWordWrap(True)
            help_text.setStyleSheet("color: #555555;")
            field = QLineEdit()
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.setPlaceholderText("paste a key")
            row = QHBoxLayout()
            row.addWidget(field, 1)
            for text, handler in (
                ("Save key", lambda _=False, n=provider.name: self._save(n)),
                ("Remove", lambda _=False, n=provider.name: self.saveKey.emit(n, "")),
                ("Test connection", lambda _=False, n=provider.name: self._test(n)),
            ):
                button = QPushButton(text)
                button.clicked.connect(handler)
                row.addWidget(button)
            status = QLabel("…")
            status.setWordWrap(True)
            status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addWidget(help_text)
            form.addLayout(row)
            form.addWidget(status)
            layout.addWidget(box)
            self.status[provider.name] = status
            self.fields[provider.name] = field
        layout.addStretch(1)

    def load(self, settings: Settings) -> None:
        pass  # keys live in the keyring, not in the settings file

    def store(self, settings: Settings) -> None:
        pass

    def _save(self, name: str) -> None:
        key = self.fields[name].text().strip()
        self.fields[name].clear()
        if key:
            self.status[name].setText("Saving and testing…")
            self.saveKey.emit(name, key)

    def _test(self, name: str) -> None:
        self.status[name].setText("Testing…")
        self.testKey.emit(name)

    def show_keys(self, where: dict[str, str]) -> None:
        for name, field in self.fields.items():
            source = where.get(name, "")
            field.setPlaceholderText(
                f"a key is set ({source}); paste another to replace it" if source else "paste a key"
            )

    def show_state(self, state: ProviderState) -> None:
        label = self.status.get(state.provider)
        if label is None:
            return
        when = ""
        if state.last_ok_ms:
            when = f" · as of {datetime.fromtimestamp(state.last_ok_ms / 1000):%Y-%m-%d %H:%M}"
        colour = "#1f8a5b" if state.status == "ok" else "#b00020"
        if state.status == "no key":
            colour = "#555555"
        label.setText(f"{state.status}{when} — {state.message}")
        label.setStyleSheet(f"color: {colour};")


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KIND_NAMES = {
    "total": "Total over the window",
    "burn": "Burn rate (per hour)",
    "projection": "Projected total at the window's end",
    "runaway": "Runaway session",
}
WINDOW_NAMES = {"day": "Calendar day", "rolling": "Rolling minutes", "daily": "Daily time window"}


class RuleDialog(QDialog):
    """Add or edit one alert rule; it closes only on a valid rule."""

    def __init__(self, rule: Rule, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Alert rule")
        self.rule = rule
        form = QFormLayout()
        self.name = QLineEdit(rule.name)
        self.kind = self._combo(KIND_NAMES, rule.kind)
        self.measure = self._combo(
            {"usd": "Spend (USD)", "tokens": "Tokens", "billed_usd": "Spend billed by providers"},
            rule.metric,
        )
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0, 1e12)
        self.threshold.setDecimals(2)
        self.threshold.setValue(rule.threshold)
        self.warning = QSpinBox()
        self.warning.setRange(1, 100)
        self.warning.setSuffix(" %")
        self.warning.setValue(round(rule.warning_share * 100))
        self.scope = self._combo(
            {
                "all": "Everything",
                "source": "One agent",
                "project": "One project",
                "model": "One model",
                "session": "Each session on its own",
            },
            rule.scope,
        )
        self.scope_value = QLineEdit(rule.scope_value)
        self.scope_value.setPlaceholderText("agent, project path or model name")
        self.window_kind = self._combo(WINDOW_NAMES, rule.window)
        self.minutes = QSpinBox()
        self.minutes.setRange(1, 7 * 24 * 60)
        self.minutes.setValue(rule.minutes)
        self.start = QTimeEdit(QTime.fromString(rule.start, "HH:mm"))
        self.end = QTimeEdit(QTime.fromString(rule.end, "HH:mm"))
        self.start.setDisplayFormat("HH:mm")
        self.end.setDisplayFormat("HH:mm")
        days = QHBoxLayout()
        self.days = []
        for index, name in enumerate(WEEKDAYS):
            box = QCheckBox(name)
            box.setChecked(index in rule.weekdays)
            self.days.append(box)
            days.addWidget(box)
        self.repeat = QSpinBox()
        self.repeat.setRange(0, 1000)
        self.repeat.setValue(rule.repeat_count)
        for label, widget in (
            ("Name", self.name),
            ("Kind", self.kind),
            ("Measure", self.measure),
            ("Critical at", self.threshold),
            ("Warn at", self.warning),
            ("Watch", self.scope),
            ("Which", self.scope_value),
            ("Window", self.window_kind),
            ("Minutes (rolling, look-back, idle)", self.minutes),
            ("From", self.start),
            ("Until", self.end),
        ):
            form.addRow(label, widget)
        form.addRow("On", days)
        form.addRow("Runaway: same tool call repeated", self.repeat)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    @staticmethod
    def _combo(choices: dict[str, str], current: str) -> QComboBox:
        combo = QComboBox()
        for key, text in choices.items():
            combo.addItem(text, key)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        return combo

    def edited(self) -> Rule:
        return Rule(
            id=self.rule.id,
            name=self.name.text().strip(),
            kind=self.kind.currentData(),
            metric=self.measure.currentData(),
            threshold=self.threshold.value(),
            warning_share=self.warning.value() / 100,
            scope=self.scope.currentData(),
            scope_value=self.scope_value.text().strip(),
            window=self.window_kind.currentData(),
            minutes=self.minutes.value(),
            start=self.start.time().toString("HH:mm"),
            end=self.end.time().toString("HH:mm"),
            weekdays=[i for i, box in enumerate(self.days) if box.isChecked()],
            repeat_count=self.repeat.value(),
            enabled=self.rule.enabled,
        )

    def accept(self) -> None:
        rule = self.edited()
        try:
            rule.validate()
        except RuleError as exc:
            self.error.setText(str(exc))
            return
        self.rule = rule
        super().accept()


class RulesPage(Page):
    title = "Alerts"
    testNotification = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Each rule warns at its warning level and again when it reaches its critical "
            "level, at most once per window; overnight windows end with a summary."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(("On", "Rule", "Fires when"))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _c: self.edit(row))
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        for text, handler in (
            ("Add…", self.add),
            ("Edit…", lambda: self.edit(self.table.currentRow())),
            ("Delete", self.delete),
            ("Send a test notification", self.testNotification.emit),
        ):
            button = QPushButton(text)
            button.clicked.connect(handler)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.rules: list[Rule] = []

    def load(self, settings: Settings) -> None:
        self.rules = [replace(rule, weekdays=list(rule.weekdays)) for rule in settings.rules()]
        self._show()

    def store(self, settings: Settings) -> None:
        for row, rule in enumerate(self.rules):
            item = self.table.item(row, 0)
            rule.enabled = item is not None and item.checkState() == Qt.CheckState.Checked
        settings.alert_rules = list(self.rules)

    def _show(self) -> None:
        self.table.setRowCount(len(self.rules))
        for row, rule in enumerate(self.rules):
            on = QTableWidgetItem()
            on.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            on.setCheckState(Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, on)
            self.table.setItem(row, 1, QTableWidgetItem(rule.name))
            self.table.setItem(row, 2, QTableWidgetItem(rule.describe()))
        self.table.resizeColumnsToContents()

    def _keep_enabled(self) -> None:
        for row, rule in enumerate(self.rules):
            item = self.table.item(row, 0)
            if item is not None:
                rule.enabled = item.checkState() == Qt.CheckState.Checked

    def add(self) -> None:
        dialog = RuleDialog(Rule(f"rule-{uuid.uuid4().hex[:8]}", "New rule"), self)
        if dialog.exec():
            self._keep_enabled()
            self.rules.append(dialog.rule)
            self._show()

    def edit(self, row: int) -> None:
        if not 0 <= row < len(self.rules):
            return
        self._keep_enabled()
        dialog = RuleDialog(self.rules[row], self)
        if dialog.exec():
            self.rules[row] = dialog.rule
            self._show()

    def delete(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.rules):
            self._keep_enabled()
            del self.rules[row]
            self._show()


class PreferencesDialog(QDialog):
    settingsSaved = Signal(object)  # Settings

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.setWindowTitle("tokentray preferences")
        self.resize(1040, 640)
        self.settings = settings
        self.pages: list[Page] = [SourcesPage(), BudgetPage(), RulesPage(), KeysPage()]
        self.sections = QListWidget()
        self.sections.setMaximumWidth(150)
        self.stack = QStackedWidget()
        for page in self.pages:
            self.sections.addItem(page.title)
            self.stack.addWidget(page)
            page.load(settings)
        self.sections.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sections.setCurrentRow(0)
        body = QHBoxLayout()
        body.addWidget(self.sections)
        body.addWidget(self.stack, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if settings.error:
            warning = QLabel(settings.error)
            warning.setWordWrap(True)
            warning.setStyleSheet("color: #b00020;")
            layout.addWidget(warning)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        self.sections.setFocus(Qt.FocusReason.OtherFocusReason)

    @property
    def sources_page(self) -> SourcesPage:
        page = self.pages[0]
        assert isinstance(page, SourcesPage)
        return page

    @property
    def rules_page(self) -> RulesPage:
        page = self.pages[2]
        assert isinstance(page, RulesPage)
        return page

    @property
    def keys_page(self) -> KeysPage:
        page = self.pages[3]
        assert isinstance(page, KeysPage)
        return page

    @property
    def budget_page(self) -> BudgetPage:
        page = self.pages[1]
        assert isinstance(page, BudgetPage)
        return page

    def show_folders(self, folders: list[FolderStatus]) -> None:
        self.sources_page.show_status(folders)

    def accept(self) -> None:
        edited = replace(self.settings)
        for page in self.pages:
            page.store(edited)
        try:
            save_settings(edited)
        except (SettingsError, OSError) as exc:
            QMessageBox.warning(self, "tokentray", f"The settings were not saved: {exc}")
            return
        self.settings = edited
        self.settingsSaved.emit(edited)
        super().accept()
