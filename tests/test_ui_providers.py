"""Provider keys in Preferences, the tooltip's provider line and the Billed vs local view,
against the local fake provider server and an in-memory keyring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from conftest import MemoryKeyring
from provider_server import FakeProviders, Reply
from test_providers import ADMIN_KEY, _usage_page


def test_key_saved_and_tested_from_preferences(
    qtbot: QtBot,
    tmp_path: Path,
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
) -> None:
    from tokentray.ui.app import TrayApp

    today = datetime.now(UTC).date().isoformat()
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page(today, "claude-sonnet-4-5", 700, None)),
    )
    fake.route(
        "/v1/organizations/cost_report",
        Reply(
            body={
                "data": [
                    {
                        "starting_at": f"{today}T00:00:00Z",
                        "results": [
                            {"amount": "250", "currency": "USD", "model": "claude-sonnet-4-5"}
                        ],
                    }
                ],
                "has_more": False,
            }
        ),
    )
    env = {
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "CODEX_HOME": str(tmp_path / "codex"),
        "TOKENTRAY_ANTHROPIC_BASE_URL": fake.url,
    }
    app = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.last_snapshot is not None)
        app.show_preferences()
        keys = app.preferences.keys_page
        keys.fields["anthropic"].setText("sk-ant-api03-ordinary")
        keys._save("anthropic")
        qtbot.waitUntil(lambda: "wrong key type" in keys.status["anthropic"].text())
        assert "Admin" in keys.status["anthropic"].text()
        keys.fields["anthropic"].setText(ADMIN_KEY)
        keys._save("anthropic")
        qtbot.waitUntil(lambda: keys.status["anthropic"].text().startswith("ok"), timeout=10_000)
        assert keys.fields["anthropic"].text() == ""  # never shown again
        assert memory_keyring.items[("tokentray", "anthropic")] == ADMIN_KEY
        assert (
            ADMIN_KEY not in (tmp_path / "config.toml").read_text()
            if (tmp_path / "config.toml").exists()
            else True
        )
        qtbot.waitUntil(
            lambda: (
                "Billed: Anthropic ok" in app.tray.window.text.text()
                if app.tray.window
                else "Billed: Anthropic ok" in app.tray.tray.toolTip()
            )
        )
        app.show_graphs()
        view = app.graph_window.billed
        qtbot.waitUntil(lambda: view.table.rowCount() >= 1, timeout=10_000)
        assert view.table.item(0, 1).text() == "anthropic"
        assert view.table.item(0, 5).text() == "$2.50"
        assert not view.note.isVisible()
        app.graph_window.tabs.setCurrentIndex(1)
        image = app.graph_window.grab()
        assert image.width() > 500
        image.save(str(tmp_path / "billed.png"))
    finally:
        app.stop()
