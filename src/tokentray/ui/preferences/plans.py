"""Preferences → Plans: subscription windows (Claude Pro/Max, ChatGPT Plus/Pro), where
their figures come from, and the Claude Code snippets that feed and guard them."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from tokentray.claude_usage import UsageState
from tokentray.settings import Settings
from tokentray.ui.preferences.page import SECONDARY_TEXT, Page

STATUSLINE_SNIPPET = """{
  "statusLine": {"type": "command", "command": "tokentray statusline"},
  "hooks": {
    "PreToolUse": [
      {"matcher": "*", "hooks": [{"type": "command", "command": "tokentray guard"}]}
    ]
  }
}"""


class PlansPage(Page):
    title = "Plans"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        intro = QLabel(
            "On a subscription the limit is not dollars but the 5-hour and weekly windows. "
            "Codex logs its windows as it works. Claude Code hands them to its status line: "
            "add the lines below to ~/.claude/settings.json (the guard hook makes an "
            "unattended agent stop itself when a budget or plan rule is over its limit)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.snippet = QPlainTextEdit(STATUSLINE_SNIPPET)
        self.snippet.setReadOnly(True)
        self.snippet.setFixedHeight(self.snippet.fontMetrics().lineSpacing() * 9)
        layout.addWidget(self.snippet)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(STATUSLINE_SNIPPET))
        row = QHBoxLayout()
        row.addWidget(copy)
        row.addStretch(1)
        layout.addLayout(row)
        self.claude_usage = QCheckBox(
            "Also ask Claude's usage service, with Claude Code's sign-in (every 3 minutes)"
        )
        layout.addWidget(self.claude_usage)
        note = QLabel(
            "Reads the sign-in Claude Code keeps (~/.claude/.credentials.json, or the macOS "
            "keychain) before each check; tokentray never refreshes, copies or changes it. "
            "This shows every window, Opus and Sonnet included, even while no session runs."
        )
        note.setWordWrap(True)
        note.setStyleSheet(SECONDARY_TEXT)
        layout.addWidget(note)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def load(self, settings: Settings) -> None:
        self.claude_usage.setChecked(settings.claude_usage_check)

    def store(self, settings: Settings) -> None:
        settings.claude_usage_check = self.claude_usage.isChecked()

    def show_state(self, state: UsageState | None) -> None:
        if state is None or state.status == "not checked":
            self.status.setText("")
            return
        when = (
            f", last answer {datetime.fromtimestamp(state.last_ok_ms / 1000):%H:%M}"
            if state.last_ok_ms
            else ""
        )
        text = f"Claude usage service: {state.status}{when}"
        if state.status != "ok":
            text += f" — {state.message}"
        self.status.setText(text)
        self.status.setStyleSheet("" if state.status == "ok" else "color: #b00020;")
