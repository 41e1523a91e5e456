"""Preferences → Alerts: the rule list and the editor of one rule."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from tokentray.alerts.rules import BUDGET_RULE_ID, Rule, RuleError
from tokentray.settings import Settings
from tokentray.ui.preferences.page import Page

log = logging.getLogger(__name__)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KIND_NAMES = {
    "total": "Total over the window",
    "burn": "Burn rate (per hour)",
    "projection": "Projected total at the window's end",
    "runaway": "Runaway session",
}
PLAN_KIND_NAMES = {
    "total": "Used now",
    "projection": "Used by its reset, at this pace",
}
WINDOW_NAMES = {"day": "Calendar day", "rolling": "Rolling minutes", "daily": "Daily time window"}
PLAN_WINDOWS = {
    "": "Any window",
    "five_hour": "Claude 5-hour",
    "seven_day": "Claude weekly",
    "seven_day_opus": "Claude weekly Opus",
    "seven_day_sonnet": "Claude weekly Sonnet",
    "primary": "Codex 5-hour (primary)",
    "secondary": "Codex weekly (secondary)",
}
ACTION_NAMES = {
    "notify": "Notify only",
    "pause": "Notify and pause the session's agent (SIGSTOP)",
    "stop": "Notify and stop the session's agent (SIGTERM, then SIGKILL)",
}
SCOPED = ("source", "project", "model")


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
            {
                "usd": "Spend (USD)",
                "tokens": "Tokens",
                "billed_usd": "Spend billed by providers",
                "plan_pct": "Plan window used (%)",
            },
            rule.metric,
        )
        self.plan_window = self._combo(PLAN_WINDOWS, rule.plan_window)
        self.action = self._combo(ACTION_NAMES, rule.action)
        self.grace = QSpinBox()
        self.grace.setRange(0, 3600)
        self.grace.setSuffix(" s")
        self.grace.setValue(rule.grace_seconds)
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
        self.days_row = QWidget()
        days.setContentsMargins(0, 0, 0, 0)
        self.days_row.setLayout(days)
        self.form = form
        self.labels: dict[QWidget, QLabel] = {}
        for label, widget in (
            ("Name", self.name),
            ("Kind", self.kind),
            ("Measure", self.measure),
            ("Critical at", self.threshold),
            ("Warn at", self.warning),
            ("Watch", self.scope),
            ("Which", self.scope_value),
            ("Window", self.window_kind),
            ("Minutes", self.minutes),
            ("From", self.start),
            ("Until", self.end),
            ("On", self.days_row),
            ("Same tool call repeated", self.repeat),
            ("Plan window", self.plan_window),
            ("Then", self.action),
            ("SIGKILL after", self.grace),
        ):
            self.labels[widget] = QLabel(label)
            form.addRow(self.labels[widget], widget)
        self.repeat.setSpecialValueText("off")
        self.budget_bound = rule.id == BUDGET_RULE_ID
        if self.budget_bound:  # one source of truth: the Budget page
            self.threshold.setEnabled(False)
            self.threshold.setToolTip("The daily budget (Budget page) sets this level.")
        self.name_edited = False
        self.name.textEdited.connect(self._name_edited)
        for combo in (self.kind, self.measure, self.scope, self.window_kind, self.action):
            combo.currentIndexChanged.connect(self._refresh)
        for changed in (self.minutes.valueChanged, self.start.timeChanged):
            changed.connect(self._refresh)
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
        self._original_name = rule.name
        self._refresh()

    def _name_edited(self, _text: str) -> None:
        self.name_edited = True

    def _show(self, widget: QWidget, visible: bool, label: str | None = None) -> None:
        self.form.setRowVisible(widget, visible)
        if label is not None:
            self.labels[widget].setText(label)

    def _refresh(self, *_: object) -> None:
        """Only the fields this kind of rule uses, labelled for it; a name that no longer
        says what the rule does follows the rule (until the person types their own)."""
        kind, window = self.kind.currentData(), self.window_kind.currentData()
        runaway = kind == "runaway"
        if runaway:  # a runaway is one session burning dollars
            self.scope.setCurrentIndex(self.scope.findData("session"))
            self.measure.setCurrentIndex(self.measure.findData("usd"))
        plan = self.measure.currentData() == "plan_pct"
        for key, text in KIND_NAMES.items():  # a plan window is used now, or by its reset
            label = PLAN_KIND_NAMES.get(key, text) if plan else text
            self.kind.setItemText(self.kind.findData(key), label)
        if plan and kind not in ("total", "projection"):
            self.kind.setCurrentIndex(self.kind.findData("total"))
            kind = "total"
        if plan and self.scope.currentData() not in ("all", "source"):
            self.scope.setCurrentIndex(self.scope.findData("all"))
        unit = "$" if self.measure.currentData() in ("usd", "billed_usd") else ""
        per_hour = kind in ("burn", "runaway")
        self.threshold.setPrefix(unit)
        self.threshold.setSuffix(
            " %" if plan else (" tokens" if not unit else "") + (" per hour" if per_hour else "")
        )
        self._show(self.plan_window, plan)
        acts = not plan and self.measure.currentData() != "billed_usd"
        self._show(self.action, acts)
        self._show(self.grace, acts and self.action.currentData() == "stop")
        self._show(self.measure, not runaway)
        self._show(self.warning, not runaway)
        self._show(self.scope, not runaway)
        self._show(self.scope_value, not runaway and self.scope.currentData() in SCOPED)
        minutes_label = {
            "burn": "Rate over the last (minutes)",
            "projection": "Rate over the last (minutes)",
            "runaway": "With no prompt for (minutes)",
        }.get(kind, "Window length (minutes)")
        uses_minutes = not plan and (
            kind in ("burn", "projection", "runaway") or window == "rolling"
        )
        self._show(self.minutes, uses_minutes, minutes_label)
        self._show(self.window_kind, not plan)
        daily = window == "daily" and not plan
        for widget in (self.start, self.end, self.days_row):
            self._show(widget, daily)
        self._show(self.repeat, runaway)
        if not self.name_edited:  # a name typed by the person is theirs to keep
            changed = self._changed()
            self.name.setText(self.edited().suggested_name() if changed else self._original_name)
        self.adjustSize()

    def _changed(self) -> bool:
        """Whether the rule now does something else than when the dialog opened."""
        before, now = self.rule, self.edited()
        return (before.kind, before.metric, before.window, before.plan_window) != (
            now.kind,
            now.metric,
            now.window,
            now.plan_window,
        )

    @staticmethod
    def _combo(choices: dict[str, str], current: str) -> QComboBox:
        combo = QComboBox()
        for key, text in choices.items():
            combo.addItem(text, key)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        return combo

    def edited(self) -> Rule:
        plan = self.measure.currentData() == "plan_pct"
        acts = not plan and self.measure.currentData() != "billed_usd"
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
            plan_window=self.plan_window.currentData() if plan else "",
            action=self.action.currentData() if acts else "notify",
            grace_seconds=self.grace.value(),
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
