"""Insight in the tray: the tier beside today's commits in the tooltip, the graph window's
Insight tab fed by the real worker, and Preferences → Team opening the endpoint."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot
from tests.helpers.transcripts import Repo, request, write_session
from tests.test_ui import _distinct_colours

from tokentray.dashboard.live import LiveSnapshot
from tokentray.insight.summary import OutcomeBadge
from tokentray.ui.tray import tooltip

S = "7" * 36


def test_the_tier_is_never_shown_without_the_outcome() -> None:
    badge = OutcomeBadge("Expert", 6_000_000, 3, 120, 4.1, 2.0, True)
    lines = tooltip(LiveSnapshot(now_ms=0, today_tokens=6_000_000, badge=badge)).splitlines()
    assert lines[2] == "Expert tier · 3 commits today · $4.10 a commit"
    none = OutcomeBadge("Beginner", 10, 0, 0, None, 1.5, True)
    assert none.text() == "Beginner tier · no commit yet today ($1.50 spent)"
    unknown = OutcomeBadge("Beginner", 10, 0, 0, None, 0.0, False)
    assert unknown.text() == "Beginner tier · commits unknown (no git repository)"


def _today_at_most_ago(seconds: float) -> float:
    """A moment ``seconds`` ago, or local midnight if that was yesterday: "today" holds
    it whatever the hour the tests run at (just after midnight included)."""
    now = time.time()
    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    return max(now - seconds, midnight)


@pytest.fixture
def app_with_commits(qtbot: QtBot, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tokentray.ui.app import TrayApp

    repo = Repo(tmp_path / "work" / "app")
    earlier = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(_today_at_most_ago(120)))
    claude = tmp_path / "claude"
    write_session(
        claude,
        S,
        [request(S, str(repo.folder), earlier, write_5m=2000, n=1, model="claude-opus-4-1")],
    )
    repo.commit(earlier, 12)
    env = {"CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(tmp_path / "no-codex")}
    app = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    app.start()
    yield app
    app.stop()


def test_tooltip_and_insight_tab(qtbot: QtBot, app_with_commits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = app_with_commits
    qtbot.waitUntil(
        lambda: app.last_snapshot is not None and app.last_snapshot.badge is not None,
        timeout=10_000,
    )
    badge = app.last_snapshot.badge
    assert (badge.tier, badge.commits, badge.lines_changed) == ("Beginner", 1, 12)
    shown = app.tray.window.text.text() if app.tray.window else app.tray.tray.toolTip()
    assert "Beginner tier · 1 commit today · $" in shown
    app.show_graphs()
    window = app.graph_window
    window.tabs.setCurrentWidget(window.insight)
    qtbot.waitUntil(lambda: window.insight.table.rowCount() == 1, timeout=10_000)
    view = window.insight
    assert "1 commit · 12 lines changed" in view.outcome_text.text()
    assert "Hit ratio 0%" in view.cache_text.text()
    assert "on writes never read" in view.cache_text.text()
    assert "As claude-sonnet-4-5: $" in view.model_text.text()
    assert view.badge.text().startswith("Beginner tier · 1 commit today")
    window.resize(1100, 700)
    image = window.grab().toImage()
    image.save(str(tmp_path / "insight.png"))
    assert _distinct_colours(image) > 20
    view.model.setCurrentText("no-such-model")
    view.ask()
    qtbot.waitUntil(lambda: "no price is known" in view.model_text.text(), timeout=10_000)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_team_page_opens_and_closes_the_endpoint(qtbot: QtBot, app_with_commits) -> None:  # type: ignore[no-untyped-def]
    app = app_with_commits
    assert app.exporter is None  # opt-in
    app.show_preferences()
    page = app.preferences.team_page
    page.enabled.setChecked(True)
    page.address.setText("0.0.0.0")
    assert page.warning.isVisibleTo(page) and "0.0.0.0" in page.warning.text()
    page.address.setText("127.0.0.1")
    assert not page.warning.isVisibleTo(page)
    port = _free_port()
    page.port.setValue(port)
    page.user.setText("carol")
    page.compare_model.setText("claude-haiku-4-5")
    app.preferences.accept()
    qtbot.waitUntil(lambda: app.exporter is not None, timeout=5000)
    url = f"http://127.0.0.1:{port}/metrics"
    # The history is summed in the background: the counters come once it is.
    qtbot.waitUntil(lambda: "tokentray_counters_ready{" in httpx.get(url, timeout=10).text)
    qtbot.waitUntil(lambda: 'tokentray_counters_ready{user="carol"} 1.0' in httpx.get(url).text)
    text = httpx.get(url, timeout=10).text
    labels = 'model="claude-opus-4-1",project="app",source="claude-code",user="carol"'
    assert f"tokentray_requests_total{{{labels}}} 1.0" in text
    assert page.status.text() == f"Endpoint: Serving http://127.0.0.1:{port}/metrics."
    assert app.settings.insight.compare_model == "claude-haiku-4-5"
    app.show_preferences()
    app.preferences.team_page.enabled.setChecked(False)
    app.preferences.accept()
    qtbot.waitUntil(lambda: app.exporter is None, timeout=5000)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_busy_port_is_said_and_the_tray_carries_on(qtbot: QtBot, app_with_commits) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    app = app_with_commits
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = replace(app.settings)
        settings.exporter = replace(settings.exporter, enabled=True, port=port)
        app.signals.publish_settings(settings)
        qtbot.waitUntil(lambda: app.signals.exporter_state.startswith("Not serving"))
    assert app.exporter is None
    assert any(f"127.0.0.1:{port}" in p for p in app.problems)
