"""What the README promises and a person notices: the budget rule follows the budget,
alerts that read right, a rule editor that shows what a kind uses and keeps names
honest, pause and resume in the menu, a minimised window that comes back, no keyring
balloon at launch, a demo that cleans up after SIGTERM, and a clear word when Qt cannot
open the display."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import keyring
import pytest
from keyring.backends import fail
from pytestqt.qtbot import QtBot

from test_ui_alerts import _app
from tokentray.alerts.engine import Alert, AlertEngine, Window
from tokentray.alerts.rules import Rule, RuleError, default_rules
from tokentray.dashboard.live import LiveSnapshot
from tokentray.engine import open_engine
from tokentray.events import PricedEvent, ProviderState, UsageEvent
from tokentray.settings import Settings

UTC_ZONE = ZoneInfo("UTC")


def _spend(tmp_path: Path, dollars: float, at: datetime):  # type: ignore[no-untyped-def]
    engine = open_engine(tmp_path / "data", env={"CLAUDE_CONFIG_DIR": "-"}, home=tmp_path)
    event = UsageEvent(
        source="claude-code",
        key="k1",
        session_id="s1",
        project="/home/dev/shop",
        model="claude-opus-4-1",
        timestamp_ms=int(at.timestamp() * 1000),
        output_tokens=1000,
    )
    with engine.store.transaction():
        engine.store.upsert_events([PricedEvent(event, dollars, "priced")])
    return engine


def test_the_budget_rule_follows_the_budget(tmp_path: Path) -> None:
    saved = default_rules(20.0)  # saved while the budget was $20
    settings = Settings(daily_budget_usd=1.0, alert_rules=saved)
    (budget,) = [r for r in settings.rules() if r.id == "daily-budget"]
    assert budget.threshold == 1.0
    now = datetime(2026, 10, 1, 15, tzinfo=UTC)
    engine = _spend(tmp_path, 4.0, now - timedelta(hours=1))
    with engine.store:
        alerts = AlertEngine(engine.store, settings.rules(), UTC_ZONE).evaluate(now)
    fired = [a for a in alerts if a.rule.id == "daily-budget"]
    assert [(a.level, a.threshold) for a in fired] == [("critical", 1.0)]
    no_budget = Settings(daily_budget_usd=0.0, alert_rules=saved)
    assert "daily-budget" not in {r.id for r in no_budget.rules()}


def _alert(rule: Rule, level: str, value: float, **culprit: str) -> Alert:
    now = datetime(2026, 10, 1, 15, tzinfo=UTC)
    alert = Alert(rule, level, value, rule.threshold, Window(now, now + timedelta(hours=1)), "k")
    alert.culprit = dict(culprit)
    return alert


def test_a_warning_reads_as_a_share_of_the_limit_and_names_who() -> None:
    rule = Rule("burn-rate", "Burn rate", "burn", "usd", 25.0, window="rolling", minutes=15)
    text = _alert(
        rule,
        "warning",
        21.36,
        source="claude-code",
        session="0f3e9a51-7b2c-4d8e-9a1f-2b3c4d5e6f70",
        project="/home/dev/webshop",
        model="claude-sonnet-4-5",
    ).message()
    assert text.startswith("$21.36/h: 85% of the $25.00/h limit")
    assert "burning over" not in text and "0f3e9a51" not in text  # no raw session id
    assert "in webshop, Claude Code, claude-sonnet-4-5" in text
    assert "stop any that loop" in text  # what to do


def test_a_runaway_says_why_without_mostly() -> None:
    rule = default_rules(20.0)[-1]
    text = _alert(
        rule, "critical", 14.0, source="codex", project="/p/api", why="no prompt for 30 min"
    ).message()
    assert "Why: no prompt for 30 min" in text and "Mostly" not in text
    assert "$14.00/h: at or over the $10.00/h limit" in text


def test_nonsense_rules_are_refused() -> None:
    runaway = Rule("r", "Runaway session", "runaway", "usd", 10.0, scope="all", window="rolling")
    with pytest.raises(RuleError, match="watch each session"):
        runaway.validate()
    daily = Rule("r", "Runaway", "runaway", "usd", 10.0, scope="session", window="day")
    with pytest.raises(RuleError, match="rolling"):
        daily.validate()


def test_the_rule_editor_shows_what_a_kind_uses_and_keeps_names_honest(qtbot: QtBot) -> None:
    from tokentray.ui.preferences import RuleDialog

    overnight = default_rules(20.0)[0]
    editor = RuleDialog(overnight)
    qtbot.addWidget(editor)
    form = editor.form
    assert form.isRowVisible(editor.start) and not form.isRowVisible(editor.repeat)
    editor.kind.setCurrentIndex(editor.kind.findData("runaway"))
    assert editor.name.text() == "Overnight runaway session"  # not "Overnight spend"
    assert not form.isRowVisible(editor.scope) and not form.isRowVisible(editor.measure)
    assert form.isRowVisible(editor.repeat) and editor.scope.currentData() == "session"
    assert editor.labels[editor.minutes].text() == "With no prompt for (minutes)"
    editor.kind.setCurrentIndex(editor.kind.findData("total"))
    assert editor.name.text() == "Overnight spend"  # back to what it was
    editor.name.setText("Night watch")
    editor.name.textEdited.emit("Night watch")
    editor.window_kind.setCurrentIndex(editor.window_kind.findData("day"))
    assert editor.name.text() == "Night watch"  # the person's own name is kept
    assert not form.isRowVisible(editor.start)

    budget = RuleDialog(default_rules(20.0)[1])
    qtbot.addWidget(budget)
    assert not budget.threshold.isEnabled()  # the Budget page sets it


def test_the_menu_says_alerts_are_paused_and_resumes_them(qtbot: QtBot, tmp_path: Path) -> None:
    app, _ = _app(tmp_path, "")
    app.start()
    try:
        qtbot.waitUntil(lambda: app.last_snapshot is not None)
        assert not app.tray.actions["resume"].isVisible()
        app.tray.actions["pause-1h"].trigger()
        qtbot.waitUntil(lambda: app.tray.paused_until is not None)
        assert app.tray.pause_menu.title().startswith("Alerts paused until ")
        assert app.tray.actions["resume"].isVisible()
        app.tray.actions["resume"].trigger()
        qtbot.waitUntil(lambda: app.tray.paused_until is None)
        assert app.tray.pause_menu.title() == "Pause alerts"
        assert not app.tray.actions["resume"].isVisible()
    finally:
        app.stop()


def test_a_minimised_graph_window_comes_back(qtbot: QtBot, tmp_path: Path) -> None:
    app, _ = _app(tmp_path, "")
    app.start()
    try:
        app.show_graphs()
        window = app.graph_window
        assert window is not None
        window.showMinimized()
        qtbot.waitUntil(window.isMinimized)
        app.show_graphs()  # a tray click, the menu or a second launch
        qtbot.waitUntil(lambda: not window.isMinimized())
        assert window.isVisible()
    finally:
        app.stop()


def test_no_keyring_is_said_on_the_keys_page_not_at_launch(qtbot: QtBot, tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    app, _ = _app(tmp_path, "")
    try:
        app.start()
        qtbot.waitUntil(lambda: bool(app.signals.keyring_problem), timeout=10_000)
        qtbot.waitUntil(lambda: len(app.signals.providers) == 3, timeout=10_000)
        assert not any("keyring" in problem for problem in app.problems)  # no balloon
        assert {p.shown_status for p in app.signals.providers} == {"not set up"}
        app.show_preferences()
        keys = app.preferences.keys_page
        assert keys.keyring_note.isVisibleTo(keys) and "keyring" in keys.keyring_note.text()
        assert keys.status["anthropic"].text().startswith("not set up")
    finally:
        app.stop()
        keyring.set_keyring(previous)


def test_the_tooltip_has_no_billed_line_for_providers_not_set_up() -> None:
    from tokentray.ui.tray import tooltip

    state = ProviderState("anthropic", "no key", "No keyring here")
    text = tooltip(LiveSnapshot(now_ms=1_790_000_000_000, providers=(state,)))
    assert "Billed" not in text and "error" not in text
    broken = ProviderState("anthropic", "key rejected", "401")
    assert "Billed: Anthropic key rejected" in tooltip(
        LiveSnapshot(now_ms=1_790_000_000_000, providers=(broken,))
    )


def test_the_demo_removes_its_folder_when_terminated(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "QT_QPA_PLATFORM": "offscreen"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    demo = subprocess.Popen(
        [sys.executable, "-m", "tokentray.cli", "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(temp.glob("tokentray-demo-*/data")):
            time.sleep(0.2)
        assert list(temp.glob("tokentray-demo-*")), "the demo did not start"
        time.sleep(1.0)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    assert list(temp.glob("tokentray-demo-*")) == []


def test_a_display_qt_cannot_open_is_explained() -> None:
    from tokentray.ui.display import display_problem

    def missing_cursor(name: str) -> str | None:
        return None if name == "xcb-cursor" else f"lib{name}.so"

    problem = display_problem({"DISPLAY": ":0"}, missing_cursor, "linux")
    assert problem is not None and "sudo apt-get install libxcb-cursor0" in problem
    assert display_problem({"DISPLAY": ":0"}, lambda name: "x.so", "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, missing_cursor, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, missing_cursor, "linux") is None
    headless = display_problem({}, missing_cursor, "linux")
    assert headless is not None and "tokentray watch" in headless
    assert display_problem({}, missing_cursor, "darwin") is None


def test_the_icon_shows_a_dash_until_the_first_request() -> None:
    from tokentray.ui.icon import icon_text

    assert icon_text(LiveSnapshot(now_ms=1), "spend") == "–"
    spent = LiveSnapshot(now_ms=1, today_cost_usd=5.0, today_tokens=10, last_event_ms=1)
    assert icon_text(spent, "spend") == "$5"
