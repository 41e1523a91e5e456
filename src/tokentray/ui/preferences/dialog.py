"""The Preferences dialog: one page per section, each its own module."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
)

from tokentray.settings import SettingsError, save_settings
from tokentray.ui.preferences.budget import BudgetPage
from tokentray.ui.preferences.keys import KeysPage
from tokentray.ui.preferences.page import Page
from tokentray.ui.preferences.plans import PlansPage
from tokentray.ui.preferences.rules import RulesPage
from tokentray.ui.preferences.sources import SourcesPage
from tokentray.ui.preferences.team import TeamPage
from tokentray.ui.signals import AppSignals


class PreferencesDialog(QDialog):
    """Edits a copy of the hub's settings; OK saves the file and publishes the new settings
    on the hub. The pages follow the hub's folder and provider news while open."""

    settingsSaved = Signal(object)  # Settings

    def __init__(self, signals: AppSignals) -> None:
        super().__init__()
        self.setWindowTitle("tokentray preferences")
        self.resize(1040, 640)
        self.signals = signals
        self.settings = settings = signals.settings
        self.sources_page = SourcesPage()
        self.budget_page = BudgetPage()
        self.rules_page = RulesPage()
        self.keys_page = KeysPage()
        self.plans_page = PlansPage()
        self.team_page = TeamPage()
        self.pages: tuple[Page, ...] = (
            self.sources_page,
            self.budget_page,
            self.rules_page,
            self.plans_page,
            self.keys_page,
            self.team_page,
        )
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
        self._subscribe(signals)

    def _subscribe(self, signals: AppSignals) -> None:
        """Start from what the hub knows, then follow it."""
        self.sources_page.show_status(signals.folders)
        self.keys_page.show_keys(signals.provider_keys)
        self.keys_page.show_keyring_problem(signals.keyring_problem)
        signals.keyringChanged.connect(self.keys_page.show_keyring_problem)
        for state in signals.providers:
            self.keys_page.show_state(state)
        signals.foldersChanged.connect(self.sources_page.show_status)
        signals.providerKeysChanged.connect(self.keys_page.show_keys)
        signals.providersChanged.connect(self.keys_page.show_states)
        signals.keyTested.connect(lambda _name, state: self.keys_page.show_state(state))
        self.plans_page.show_state(signals.claude_usage)
        signals.claudeUsageChanged.connect(self.plans_page.show_state)
        self.team_page.show_state(signals.exporter_state)
        signals.exporterChanged.connect(self.team_page.show_state)
        self.settingsSaved.connect(signals.publish_settings)

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
        failures = [problem for page in self.pages if (problem := page.apply())]
        if failures:
            QMessageBox.warning(self, "tokentray", "\n".join(failures))
        super().accept()
