"""The tray application, offscreen: icon, tray menu, live updates through the watcher,
the graph window, preferences, single instance and the snapshot command."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from tokentray.dashboard.live import LiveSnapshot
from tokentray.settings import Settings, load_settings
from tokentray.ui.icon import STATE_COLOURS, render, short_money
from tokentray.ui.signals import AppSignals
from tokentray.ui.tray import NO_TRAY_HELP, TrayController, tooltip


def _line(message_id: str, output: int, model: str = "claude-sonnet-4-5-20250929") -> bytes:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {
        "type": "assistant",
        "cwd": "/home/dev/live",
        "timestamp": stamp,
        "message": {
            "id": message_id,
            "model": model,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 5000, "output_tokens": output},
        },
    }
    return json.dumps(record).encode() + b"\n"


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (0.0, "0¢"),
        (0.42, "42¢"),
        (7.2, "$7"),
        (12.4, "$12"),
        (999.4, "$999"),
        (1234, "$1.2k"),
        (45_000, "$45k"),
        (2_500_000, "$2.5M"),
    ],
)
def test_short_money(usd: float, text: str) -> None:
    assert short_money(usd) == text


@pytest.mark.parametrize("state", ["normal", "warning", "over"])
def test_icon_is_coloured_by_budget_state(qtbot: QtBot, state: str) -> None:
    for size in (16, 22, 24, 32):
        image = render("$12", state, size).toImage()
        assert image.width() == size
        colours = {image.pixelColor(x, y).name() for x in range(size) for y in range(size)}
        assert STATE_COLOURS[state].name() in colours
        assert "#ffffff" in colours, f"no text drawn at {size}px"


def _snapshot(**values: object) -> LiveSnapshot:
    base: dict[str, object] = {
        "now_ms": int(datetime(2026, 11, 22, 14, 2, 11).timestamp() * 1000),
        "today_cost_usd": 12.34,
        "today_tokens": 1_234_000,
        "burn_usd_per_hour": 3.2,
        "burn_tokens_per_minute": 45_000,
        "active_sessions": 2,
        "top_project": "/home/dev/app",
        "top_model": "claude-sonnet-4-5",
        "daily_budget_usd": 20.0,
    }
    base.update(values)
    return LiveSnapshot(**base)  # type: ignore[arg-type]


def test_tooltip_is_short_and_complete() -> None:
    text = tooltip(_snapshot(unpriced_models=("glm-4.7",)))
    lines = text.splitlines()
    assert len(lines) <= 5 and max(len(line) for line in lines) <= 70
    assert "Today $12.34 · 1.23M tokens · 62% of $20" in text
    assert "Now $3.20/h · 45k tok/min · 2 active" in text
    assert "Top: app · claude-sonnet-4-5" in text
    assert "Updated 14:02:11" in text and "unpriced: glm-4.7" in text
    assert "~ partly estimated" in tooltip(_snapshot(estimated_requests=3))
    assert "estimated" not in text


def test_tray_menu_actions(qtbot: QtBot, tmp_path: Path) -> None:
    tray = TrayController(AppSignals(Settings()), tmp_path)
    expected = {
        "graphs": tray.openGraphs,
        "refresh": tray.refreshNow,
        "preferences": tray.openPreferences,
        "about": tray.showAbout,
        "quit": tray.quitRequested,
    }
    for key, signal in expected.items():
        with qtbot.waitSignal(signal, timeout=1000):
            tray.actions[key].trigger()
    with qtbot.waitSignal(tray.pauseAlerts, timeout=1000) as pause:
        tray.actions["pause-tomorrow"].trigger()
    assert pause.args == ["tomorrow"]
    tray.hide()


def test_without_a_tray_a_summary_window_shows_instead(
    qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    if QSystemTrayIcon.isSystemTrayAvailable():
        pytest.skip("this platform has a system tray")
    with caplog.at_level(logging.WARNING):
        tray = TrayController(AppSignals(Settings()), tmp_path)
    assert tray.window is not None and tray.window.isVisible()
    assert NO_TRAY_HELP in caplog.text
    tray.show_snapshot(_snapshot())
    assert "Today $12.34" in tray.window.text.text()
    image = tray.window.grab().toImage()
    assert image.width() > 150 and image.height() > 50
    tray.hide()


@pytest.fixture
def live_app(qtbot: QtBot, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tokentray.ui.app import TrayApp

    home = tmp_path / "claude"
    log = home / "projects" / "-home-dev-live" / "session-1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_line("m0", 100))
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "no-codex")}
    app = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    app.start()
    qtbot.waitUntil(lambda: app.last_snapshot is not None and app.last_snapshot.today_requests == 1)
    yield app, log
    app.stop()


def test_appended_line_reaches_tooltip_and_graph_through_the_watcher(
    qtbot: QtBot, live_app
) -> None:  # type: ignore[no-untyped-def]
    app, log = live_app
    app.show_graphs()
    qtbot.waitUntil(lambda: app.graph_window.data is not None)

    def plotted() -> float:
        return sum(float(v.sum()) for v in app.graph_window.data.series.tokens.values())

    before = plotted()
    with open(log, "ab") as handle:  # the agent writes while the watcher runs
        handle.write(_line("m1", 700))
    qtbot.waitUntil(lambda: app.last_snapshot.today_requests == 2, timeout=5000)
    qtbot.waitUntil(lambda: plotted() == before + 10 + 5000 + 700, timeout=5000)
    shown = app.tray.window.text.text() if app.tray.window else app.tray.tray.toolTip()
    assert "Today" in shown
    image = app.graph_window.grab().toImage()
    assert _distinct_colours(image) > 20, "the graph window looks empty"


def test_second_launch_wakes_the_first(qtbot: QtBot, live_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tokentray.instance import socket_path
    from tokentray.ui.app import hand_over_to_running_instance

    app, _ = live_app
    name = socket_path(app.data_dir, {"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    assert name is not None and name.startswith(str(tmp_path / "run" / "tokentray"))
    app.listen(name)
    assert hand_over_to_running_instance(name)
    qtbot.waitUntil(lambda: app.graph_window is not None and app.graph_window.isVisible())
    assert not hand_over_to_running_instance(name + "-nobody")


def test_preferences_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    from tokentray.ui.preferences import PreferencesDialog

    config = tmp_path / "config.toml"
    config.write_text('[pricing.aliases]\n"gw-sonnet" = "claude-sonnet-4-5"  # my gateway\n')
    dialog = PreferencesDialog(AppSignals(load_settings(config)))
    qtbot.addWidget(dialog)
    dialog.budget_page.budget.setValue(35.5)
    dialog.budget_page.show_burn.setChecked(True)
    dialog.sources_page.enabled["codex"].setChecked(False)
    dialog.sources_page.add_folder("claude-code", str(tmp_path / "elsewhere"))
    with qtbot.waitSignal(dialog.settingsSaved, timeout=1000) as saved:
        dialog.accept()
    reloaded = load_settings(config)
    assert (reloaded.daily_budget_usd, reloaded.icon_shows) == (35.5, "burn")
    assert reloaded.disabled_sources == ["codex"]
    assert reloaded.custom_folders == [("claude-code", str(tmp_path / "elsewhere"))]
    assert saved.args[0].daily_budget_usd == 35.5
    # The rest of the file, comments included, is kept as the user wrote it.
    assert '"gw-sonnet" = "claude-sonnet-4-5"  # my gateway' in config.read_text()


def test_broken_settings_are_kept_aside(tmp_path: Path) -> None:
    from tokentray.settings import save_settings

    config = tmp_path / "config.toml"
    config.write_text("[budget]\ndaily_usd = 'lots'\n")
    settings = load_settings(config)
    assert settings.error is not None and "budget.daily_usd" in settings.error
    assert settings.daily_budget_usd == Settings().daily_budget_usd
    save_settings(settings)
    aside = list(tmp_path.glob("config.toml.broken-*"))
    assert len(aside) == 1 and aside[0].read_text() == "[budget]\ndaily_usd = 'lots'\n"
    assert load_settings(config).error is None


def test_snapshot_command_renders_every_view(tmp_path: Path, qtbot: QtBot) -> None:
    from tokentray.ui.snapshot import render_all

    paths = render_all(tmp_path / "out", str(tmp_path / "data"), tmp_path / "config.toml")
    names = {p.name for p in paths}
    assert names == {
        "tray-icons.png",
        "graph-window.png",
        "preferences.png",
        "summary-window.png",
        "graph-window-welcome.png",  # a new user's first look
        "graph-window-empty-range.png",
        *(f"alert-editor-{kind}.png" for kind in ("total", "burn", "projection", "runaway")),
        "notification.png",
        "graph-window-plan.png",  # a week of plan windows, resets marked
        "preferences-plans.png",
        "graph-window-insight.png",  # outcomes, cache, a cheaper model
        "preferences-team.png",
        "summary-window-plan.png",
        "tray-icons-plan.png",
        "alert-editor-plan.png",
        "alert-editor-action.png",
    }
    for path in paths:
        image = QImage(str(path))
        assert not image.isNull() and image.width() >= 100, path
        assert _distinct_colours(image) > 8, f"{path.name} looks empty"
    assert len(list((tmp_path / "out").glob("tray-icon-*-16.png"))) == 4


def _distinct_colours(image: QImage) -> int:
    step = max(1, image.width() // 200)
    colours: set[int] = set()
    for x in range(0, image.width(), step):
        for y in range(0, image.height(), step):
            colours.add(QColor(image.pixel(x, y)).rgb())
    return len(colours)
