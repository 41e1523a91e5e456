"""The tray's snapshot: today, burn rate, budget state, and the providers' figure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tokentray.dashboard import live
from tokentray.events import PricedEvent, UsageEvent
from tokentray.store import Store

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def _store(tmp_path: Path, *costs_minutes_ago: tuple[float, int]) -> Store:
    store = Store(tmp_path / "usage.sqlite3")
    events = []
    for n, (cost, minutes) in enumerate(costs_minutes_ago):
        event = UsageEvent(
            "claude-code",
            f"k{n}",
            f"s{n % 2}",
            "/p",
            "m",
            NOW_MS - minutes * 60_000,
            output_tokens=1000,
        )
        events.append(PricedEvent(event, cost, "priced"))
    with store.transaction():
        store.upsert_events(events)
    return store


def test_burn_rate_and_budget_state(tmp_path: Path) -> None:
    store = _store(tmp_path, (3.0, 5), (1.0, 10), (10.0, 120))
    snap = live.snapshot(store, NOW_MS, ZoneInfo("UTC"), daily_budget_usd=16.0)
    assert snap.today_cost_usd == pytest.approx(14.0)
    assert snap.burn_usd_per_hour == pytest.approx(4.0 * 4)  # $4 in the last 15 minutes
    assert snap.active_sessions == 2
    assert snap.budget_state == "warning"  # 14 of 16 is over 80%
    assert live.budget_state(16.0, 16.0) == "over"
    assert live.budget_state(5.0, None) == "normal"


def test_budget_can_count_the_providers_figure(tmp_path: Path) -> None:
    store = _store(tmp_path, (2.0, 5))
    store._db.execute(
        "INSERT INTO provider_rows VALUES ('anthropic', '2026-11-20', 'm', 'cost', "
        "0, 0, 0, 0, 0, 9.5, 0)"
    )
    local = live.snapshot(store, NOW_MS, ZoneInfo("UTC"), 10.0)
    counted = live.snapshot(store, NOW_MS, ZoneInfo("UTC"), 10.0, count_billed=True)
    assert (local.today_cost_usd, local.billed_today_usd) == (pytest.approx(2.0), 9.5)
    assert counted.today_cost_usd == pytest.approx(9.5)
    assert counted.local_cost_usd == pytest.approx(2.0)
    assert counted.budget_state == "warning"
