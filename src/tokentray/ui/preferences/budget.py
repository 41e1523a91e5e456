"""Preferences → Budget and tray: the daily budget, what the icon shows, and starting
at login (whose only record is the desktop's own autostart entry)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
)

from tokentray.desktop.autostart import Autostart, AutostartError, for_this_platform
from tokentray.desktop.resources import launch_command
from tokentray.settings import Settings
from tokentray.ui.preferences.page import Page


class BudgetPage(Page):
    title = "Budget"

    def __init__(self, autostart: Autostart | None = None) -> None:
        super().__init__()
        self.autostart = autostart or for_this_platform()
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
        self.show_plan = QRadioButton(
            "Plan window used: the 5-hour or weekly window nearest its limit (subscriptions)"
        )
        group = QButtonGroup(self)
        column = QVBoxLayout()
        for button in (self.show_spend, self.show_burn, self.show_plan):
            group.addButton(button)
            column.addWidget(button)
        form.addRow("The icon shows", column)
        self.count_billed = QCheckBox(
            "Count what the providers billed today when it is more than the local logs show"
        )
        form.addRow("", self.count_billed)
        self.start_at_login = QCheckBox("Start tokentray when I log in")
        self.start_at_login.setToolTip(self.autostart.where)
        form.addRow("", self.start_at_login)

    def load(self, settings: Settings) -> None:
        self.start_at_login.setChecked(self.autostart.is_enabled())
        self.budget.setValue(settings.daily_budget_usd)
        chosen = {"burn": self.show_burn, "plan": self.show_plan}
        chosen.get(settings.icon_shows, self.show_spend).setChecked(True)
        self.count_billed.setChecked(settings.budget_counts_billed)

    def store(self, settings: Settings) -> None:
        settings.daily_budget_usd = self.budget.value()
        settings.icon_shows = (
            "burn"
            if self.show_burn.isChecked()
            else "plan"
            if self.show_plan.isChecked()
            else "spend"
        )
        settings.budget_counts_billed = self.count_billed.isChecked()

    def apply(self) -> str | None:
        """Add or remove the login entry when the box changed; the reason when it failed."""
        wanted = self.start_at_login.isChecked()
        if wanted == self.autostart.is_enabled():
            return None
        try:
            if wanted:
                self.autostart.enable(launch_command())
            else:
                self.autostart.disable()
        except AutostartError as exc:
            return f"Start at login was not changed: {exc}"
        return None
