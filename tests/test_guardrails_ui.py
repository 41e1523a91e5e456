"""Guardrails through the tray: a rule that pauses a runaway session on its own, the paused
agent shown in the tooltip, icon and sessions table, and resumed from the menu; plan
windows in the tooltip and the icon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psutil
from pytestqt.qtbot import QtBot

from tokentray.dashboard.live import LiveSnapshot
from tokentray.events import PlanSample
from tokentray.guardrails import PausedAgent
from tokentray.plans import PlanWindow
from tokentray.ui.icon import icon_state, icon_text
from tokentray.ui.tray import tooltip

HELPER = Path(__file__).parent / "helpers" / "fake_agent.py"
SESSION = "cccccccc-3333-4333-8333-333333333333"
PAUSE_RULE = """
[budget]
daily_usd = 0

[[alerts.rules]]
id = "session-cap"
name = "Session cap"
kind = "total"
metric = "usd"
threshold = 0.000001
scope = "session"
window = "day"
action = "pause"
"""


def _stopped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def test_a_rule_pauses_the_runaway_and_the_menu_resumes_it(qtbot: QtBot, tmp_path: Path) -> None:
    from tokentray.ui.app import TrayApp

    (tmp_path / "config.toml").write_text(PAUSE_RULE)
    projects = tmp_path / "claude" / "projects" / "-work"
    projects.mkdir(parents=True)
    (tmp_path / "work").mkdir()
    agent = subprocess.Popen(
        [sys.executable, str(HELPER), str(projects / f"{SESSION}.jsonl"), SESSION, "--hold"],
        cwd=tmp_path / "work",
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None and agent.stdout.readline().startswith("ready")
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "CODEX_HOME": str(tmp_path / "none")}
    app = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    app.start()
    try:
        qtbot.waitUntil(lambda: bool(app.alerts_sent), timeout=20_000)
        alert = app.alerts_sent[0][0]
        assert alert.details["action"] == "pause", alert.details
        assert _stopped(agent.pid)
        assert f"pid {agent.pid}) and 1 child process" in alert.message()
        assert app.agent_actions == []  # the notification says it; no second balloon

        snapshot = app.last_snapshot
        qtbot.waitUntil(lambda: bool(app.last_snapshot and app.last_snapshot.paused_agents))
        snapshot = app.last_snapshot
        assert snapshot is not None
        assert "Paused: Claude Code cccccccc" in tooltip(snapshot)
        resume = app.tray.actions["resume-agents"]
        assert resume.isVisible() and resume.text() == "Resume paused agent"

        resume.trigger()
        qtbot.waitUntil(lambda: not _stopped(agent.pid), timeout=10_000)
        qtbot.waitUntil(lambda: bool(app.agent_actions))
        assert app.agent_actions[0].summary().startswith("Resumed fake_agent.py")
        qtbot.waitUntil(lambda: not app.last_snapshot or not app.last_snapshot.paused_agents)
        assert not app.tray.actions["resume-agents"].isVisible()
    finally:
        app.stop()
        os.kill(agent.pid, signal.SIGCONT)
        agent.kill()
        agent.wait(5)


def test_the_sessions_table_offers_what_fits_the_session(qtbot: QtBot, tmp_path: Path) -> None:
    from tokentray.dashboard.live import SessionRow
    from tokentray.settings import Settings
    from tokentray.ui.graph_window import GraphWindow
    from tokentray.ui.signals import AppSignals

    window = GraphWindow(AppSignals(Settings()))
    qtbot.addWidget(window)
    row = SessionRow("claude-code", SESSION, "/work", "sonnet", 0, 1, 10, 0.1, False, 0.0)
    window.sessions_model.set_rows([row], paused=set())
    menu = window.session_menu(row)
    enabled = {a.text(): a.isEnabled() for a in menu.actions() if a.text()}
    assert enabled == {
        "Open session": True,
        "Resume agent": False,
        "Pause agent": True,
        "Stop agent…": True,
    }
    asked: list[tuple[str, str, str]] = []
    window.agentAction.connect(lambda *args: asked.append(args))
    next(a for a in menu.actions() if a.text() == "Pause agent").trigger()
    assert asked == [("pause", "claude-code", SESSION)]
    window.sessions_model.set_rows([row], paused={("claude-code", SESSION)})
    assert window.sessions_model.data(window.sessions_model.index(0, 0)).endswith("(paused)")
    enabled = {a.text(): a.isEnabled() for a in window.session_menu(row).actions() if a.text()}
    assert enabled["Resume agent"] and not enabled["Pause agent"]


def test_the_tooltip_and_icon_show_the_nearest_plan_window() -> None:
    now = 1_790_000_000_000
    hour = 3_600_000
    racing = PlanSample("claude-code", "five_hour", now, 60.0, now + 3 * hour, 300, "statusline")
    calm = PlanSample("codex", "secondary", now, 20.0, now + 100 * hour, 10080, "log")
    snap = LiveSnapshot(
        now_ms=now,
        last_event_ms=now,
        plans=(PlanWindow(racing, now), PlanWindow(calm, now)),
    )
    text = tooltip(snap)
    assert "Plan: Claude 5-hour 60% · pace 1.5× · resets in 3 h · runs out in 1 h 20 min" in text
    assert icon_text(snap, "plan") == "60%" and icon_state(snap, "plan") == "over"
    assert icon_text(snap, "spend") == "0¢"  # the other modes are unchanged
    easy = replace(racing, used_pct=10.0)
    snap = replace(snap, plans=(PlanWindow(easy, now),))
    assert icon_state(snap, "plan") == "normal"
    paused = PausedAgent("claude-code", SESSION, (1,), "Paused claude", now)
    assert "Paused: Claude Code cccccccc" in tooltip(replace(snap, paused_agents=(paused,)))
