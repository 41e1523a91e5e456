"""Preferences: one module per page (sources, budget, alert rules, provider keys) and the
dialog that holds them."""

from tokentray.ui.preferences.budget import BudgetPage
from tokentray.ui.preferences.dialog import PreferencesDialog
from tokentray.ui.preferences.keys import KeysPage
from tokentray.ui.preferences.rules import RuleDialog, RulesPage
from tokentray.ui.preferences.sources import SourcesPage

__all__ = ["BudgetPage", "KeysPage", "PreferencesDialog", "RuleDialog", "RulesPage", "SourcesPage"]
