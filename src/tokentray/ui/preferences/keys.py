"""Preferences → Provider keys: kept in the OS keyring by the provider worker, never shown."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from tokentray.events import ProviderState
from tokentray.providers import ALL_PROVIDERS
from tokentray.settings import Settings
from tokentray.ui.preferences.page import SECONDARY_TEXT, Page


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
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setStyleSheet("color: #b00020;")
        self.keyring_note.setVisible(False)
        layout.addWidget(self.keyring_note)
        self.status: dict[str, QLabel] = {}
        self.fields: dict[str, QLineEdit] = {}
        for cls in ALL_PROVIDERS:
            provider = cls()
            box = QGroupBox(provider.display_name)
            form = QVBoxLayout(box)
            help_text = QLabel(provider.key_help)
            help_text.setWordWrap(True)
            help_text.setStyleSheet(SECONDARY_TEXT)
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

    def show_keyring_problem(self, problem: str) -> None:
        """Said once, here, where keys are wanted (not in a balloon at every launch)."""
        self.keyring_note.setText(problem)
        self.keyring_note.setVisible(bool(problem))

    def show_states(self, states: list[ProviderState]) -> None:
        for state in states:
            self.show_state(state)

    def show_state(self, state: ProviderState) -> None:
        label = self.status.get(state.provider)
        if label is None:
            return
        when = ""
        if state.last_ok_ms:
            when = f" · as of {datetime.fromtimestamp(state.last_ok_ms / 1000):%Y-%m-%d %H:%M}"
        colour = "#1f8a5b" if state.status == "ok" else "#b00020"
        if state.status == "no key":
            colour = "palette(placeholder-text)"
        label.setText(f"{state.shown_status}{when} — {state.message}")
        label.setStyleSheet(f"color: {colour};")
