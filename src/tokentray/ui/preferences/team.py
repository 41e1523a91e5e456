"""Preferences → Team: the opt-in Prometheus endpoint a team's dashboard scrapes, and the
cheaper model the Insight tab compares with."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from tokentray.exporter import exposure_warning, user_label
from tokentray.settings import ExporterSettings, InsightSettings, Settings
from tokentray.ui.preferences.page import SECONDARY_TEXT, Page

WARNING_STYLE = "color: #b00020;"


class TeamPage(Page):
    title = "Team"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Each member's tokentray can serve its figures to the team's Prometheus; the "
            "Grafana dashboard shipped in packaging/grafana ranks the team by spend and by "
            "commits per dollar. Nothing is served until you turn it on."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.enabled = QCheckBox("Serve a Prometheus endpoint (/metrics)")
        layout.addWidget(self.enabled)
        form = QFormLayout()
        self.address = QLineEdit()
        self.address.setPlaceholderText("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.user = QLineEdit()
        self.user.setPlaceholderText(user_label(ExporterSettings()))
        self.project_labels = QCheckBox("Label figures with project folder names")
        form.addRow("Address", self.address)
        form.addRow("Port", self.port)
        form.addRow("User label", self.user)
        form.addRow("", self.project_labels)
        layout.addLayout(form)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        layout.addWidget(self.warning)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        note = QLabel(
            "Only counts leave the machine: tokens, dollars, commits and, if on, project "
            "folder names (never paths, prompts or keys). 127.0.0.1 serves this machine "
            "only; a teammate's Prometheus reaches it through an SSH tunnel, or give "
            "0.0.0.0 behind a firewall."
        )
        note.setWordWrap(True)
        note.setStyleSheet(SECONDARY_TEXT)
        layout.addWidget(note)
        heading = QLabel(
            "<b>Insight</b>: the cheaper model the Insight tab prices the same requests as"
        )
        heading.setWordWrap(True)
        layout.addSpacing(8)
        layout.addWidget(heading)
        insight = QFormLayout()
        self.compare_model = QLineEdit()
        self.compare_model.setPlaceholderText("claude-sonnet-4-5")
        insight.addRow("Compare spend with", self.compare_model)
        layout.addLayout(insight)
        layout.addStretch(1)
        for signal in (self.enabled.toggled, self.project_labels.toggled):
            signal.connect(self._warn)
        self.address.textChanged.connect(self._warn)
        self.port.valueChanged.connect(self._warn)

    def _edited(self) -> ExporterSettings:
        return ExporterSettings(
            enabled=self.enabled.isChecked(),
            address=self.address.text().strip() or "127.0.0.1",
            port=self.port.value(),
            project_labels=self.project_labels.isChecked(),
            user=self.user.text().strip(),
        )

    def _warn(self) -> None:
        edited = self._edited()
        for field in (self.address, self.port, self.user, self.project_labels):
            field.setEnabled(edited.enabled)
        warning = exposure_warning(edited) if edited.enabled else None
        self.warning.setText(warning or "")
        self.warning.setVisible(bool(warning))

    def load(self, settings: Settings) -> None:
        exporter = settings.exporter
        self.enabled.setChecked(exporter.enabled)
        self.address.setText(exporter.address)
        self.port.setValue(exporter.port)
        self.user.setText(exporter.user)
        self.project_labels.setChecked(exporter.project_labels)
        self.compare_model.setText(settings.insight.compare_model)
        self._warn()

    def store(self, settings: Settings) -> None:
        settings.exporter = self._edited()  # new objects: the settings being edited are shared
        settings.insight = InsightSettings(
            compare_model=self.compare_model.text().strip() or settings.insight.compare_model,
            moved=dict(settings.insight.moved),
        )

    def show_state(self, state: str) -> None:
        self.status.setText(f"Endpoint: {state}" if state else "")
