"""Alerts in the tray app: a real append fires a rule, pause, the Rules page, the test
notification and a click that opens the culprit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from tokentray.settings import load_settings


def _line(message_id: str, output: int) -> bytes:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {
        "type": "assistant",
        "cwd": "/home/dev/hot",
        "timestamp": stamp,
        "message": {
            "id": message_id,
            "model": "claude-opus-4-1-20250805",
            "usage": {"input_tokens": 10, "output_tokens": output},
        },
    }
    return json.dumps(record).encode() + b"\n"


def _app(tmp_path: Path, config: str):  # type: ignore[no-untyped-def]
    from tokentray.ui.app import TrayApp

    (tmp_path / "config.toml").write_text(config)
    log = tmp_path / "claude" / "projects" / "-home-dev-hot" / "hot-session.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_line("m0", 10))
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "CODEX_HOME": str(tmp_path / "none")}
    return TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env), log


RULE = """
[[alerts.rules]]
id = "today"
name = "Today over a dollar"
kind = "total"
threshold = 1.0
"""


def test_an_appended_line_fires_a_rule_once(qtbot: QtBot, tmp_path: Path) -> None:
    app, log = _app(tmp_path, RULE)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.last_snapshot is not None)
        assert app.alerts_sent == []
        with open(log, "ab") as handle:  # $75 per million output tokens: 20k = $1.50
            handle.write(_line("m1", 20_000))
        qtbot.waitUntil(lambda: len(app.alerts_sent) == 1, timeout=5000)
        alert, where = app.alerts_sent[0]
        assert (alert.rule.id, alert.level) == ("today", "critical")
        assert where in ("desktop", "balloon", "log")
        assert alert.culprit["session"] == "hot-session"
        with open(log, "ab") as handle:
            handle.write(_line("m2", 20_000))
        qtbot.waitUntil(lambda: app.last_snapshot.today_requests == 3, timeout=5000)
        qtbot.wait(300)
        assert len(app.alerts_sent) == 1  # once per window and level

        app.open_culprit(alert)  # what a click on the notification does
        qtbot.waitUntil(lambda: getattr(app, "_session_dialog", None) is not None)
        assert app.graph_window is not None and app.graph_window.isVisible()
        assert "hot-sess" in app._session_dialog.windowTitle()
    finally:
        app.stop()


def test_pause_shows_in_the_tooltip_and_survives_a_restart(qtbot: QtBot, tmp_path: Path) -> None:
    app, _ = _app(tmp_path, RULE)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.last_snapshot is not None)
        app.tray.actions["pause-1h"].trigger()
        qtbot.waitUntil(lambda: app.tray.paused_until is not None)
    finally:
        app.stop()
    # A new instance on the same store: the pause is kept in it.
    from tokentray.ui.app import TrayApp

    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "CODEX_HOME": str(tmp_path / "none")}
    restarted = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    restarted.start()
    try:
        qtbot.waitUntil(lambda: restarted.tray.paused_until is not None)
        qtbot.waitUntil(lambda: restarted.last_snapshot is not None)
        shown = (
            restarted.tray.window.text.text()
            if restarted.tray.window
            else restarted.tray.tray.toolTip()
        )
        assert "alerts paused until" in shown
    finally:
        restarted.stop()


def test_rules_page_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    from tokentray.ui.preferences import PreferencesDialog, RuleDialog
    from tokentray.ui.signals import AppSignals

    config = tmp_path / "config.toml"
    dialog = PreferencesDialog(AppSignals(load_settings(config)))
    qtbot.addWidget(dialog)
    page = dialog.rules_page
    defaults = [rule.id for rule in page.rules]
    assert "overnight" in defaults

    editor = RuleDialog(page.rules[0], dialog)
    editor.start.setTime(editor.end.time())  # a window of zero length
    editor.accept()
    assert "empty" in editor.error.text() and editor.result() == 0
    editor.threshold.setValue(42.0)
    editor.start.setTime(editor.start.time().addSecs(-3600))
    editor.accept()
    assert editor.result() == 1 and editor.rule.threshold == 42.0
    page.rules[0] = editor.rule
    page._show()
    from PySide6.QtCore import Qt

    page.table.item(1, 0).setCheckState(Qt.CheckState.Unchecked)
    page.table.selectRow(len(page.rules) - 1)
    page.delete()
    with qtbot.waitSignal(dialog.settingsSaved, timeout=1000):
        dialog.accept()

    saved = load_settings(config)
    assert saved.error is None
    assert [r.id for r in saved.rules()] == defaults[:-1]
    assert saved.rules()[0].threshold == 42.0
    assert saved.rules()[1].enabled is False
    assert "[[alerts.rules]]" in config.read_text()


def test_test_notification_goes_out(qtbot: QtBot, tmp_path: Path) -> None:
    app, _ = _app(tmp_path, "")
    try:
        app.send_test_notification()
        qtbot.waitUntil(lambda: bool(app.alerts_sent), timeout=5000)
        assert app.alerts_sent[-1][1] in ("desktop", "balloon", "log")
        assert app.alerts_sent[-1][0].rule.name == "Test notification"
    finally:
        app.stop()


def _sample_alert():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tokentray.alerts.engine import Alert, Window
    from tokentray.alerts.rules import Rule

    now = datetime.now(UTC)
    rule = Rule("overnight", "Overnight spend", window="daily")
    alert = Alert(rule, "critical", 23.5, 20.0, Window(now, now + timedelta(hours=5)), "overnight")
    alert.culprit = {"source": "claude-code", "session": "s-1", "project": "/home/dev/api"}
    return alert


def test_desktop_notification_over_dbus_and_its_click(qtbot: QtBot, tmp_path: Path) -> None:
    """A real (private) session bus and a stand-in notification daemon."""
    from dbus_notifications import NotificationDaemon
    from tokentray.alerts.notify import desktop_notify
    from tokentray.settings import Settings
    from tokentray.ui.notifications import Notifier
    from tokentray.ui.signals import AppSignals
    from tokentray.ui.tray import TrayController

    daemon = NotificationDaemon()
    try:
        alert = _sample_alert()
        assert desktop_notify(alert) == 42
        signature, body = daemon.calls[-1]
        assert signature == "susssasa{sv}i"  # the exact types the spec asks for
        app_name, replaces, _icon, summary, text, actions, hints, timeout = body
        assert (app_name, replaces, timeout) == ("tokentray", 0, 0)
        assert summary == "tokentray: Overnight spend — critical"
        assert "$23.50: at or over the $20.00 limit" in text and "in api, Claude Code" in text
        # It names a session: its agent can be paused or stopped from the notification.
        assert actions == [
            "default",
            "Open graphs",
            "pause",
            "Pause agent",
            "stop",
            "Stop agent",
        ]
        assert hints["urgency"] == ("y", 2)

        notifier = Notifier(TrayController(AppSignals(Settings()), tmp_path))
        with qtbot.waitSignal(notifier.delivered, timeout=5000) as sent:
            notifier.show(alert)
        assert sent.args[1] == "desktop"
        opened: list[object] = []
        notifier.activated.connect(opened.append)

        def click_until_heard() -> bool:  # the listener subscribes on its own thread
            daemon.click(43)
            qtbot.wait(50)
            return bool(opened)

        qtbot.waitUntil(click_until_heard, timeout=5000)
        assert opened[0] is alert
        # The "Pause agent" button asks for the culprit session's agent to be paused.
        asked: list[tuple[object, str]] = []
        notifier.agentAction.connect(lambda a, action: asked.append((a, action)))
        daemon.click(43, "pause")
        qtbot.waitUntil(lambda: bool(asked), timeout=5000)
        assert asked == [(alert, "pause")] and len(opened) == 1
    finally:
        if "notifier" in locals():
            notifier.stop()  # its D-Bus thread must not outlive the test, pass or fail
        daemon.close()


def test_an_alert_that_paused_its_agent_offers_to_resume_it() -> None:
    from tokentray.alerts.notify import notification_actions

    alert = _sample_alert()
    alert.details["action"] = "pause"
    alert.details["acted"] = "Paused claude (pid 4242) and 2 child processes"
    assert notification_actions(alert) == ["default", "Open graphs", "resume", "Resume agent"]
    assert alert.message().splitlines()[-1] == alert.details["acted"]
    alert.culprit.pop("session")
    assert notification_actions(alert) == ["default", "Open graphs"]


def test_critical_alerts_stay_and_warnings_expire() -> None:
    from dataclasses import replace

    from tokentray.alerts.notify import EXPIRE_AS_USUAL, NEVER_EXPIRE, notify_message

    critical = _sample_alert()
    warning = replace(critical, level="warning")
    assert notify_message(critical).body[-1] == NEVER_EXPIRE == 0
    assert notify_message(warning).body[-1] == EXPIRE_AS_USUAL == -1
