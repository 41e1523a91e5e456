"""A cost that is the agent's own figure (a model with no list price) is never shown as a
list-price fact: reports, the tray tooltip and the graph window mark it like an estimate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tokentray import aggregate
from tokentray.cli import output as reporting
from tokentray.dashboard import live
from tokentray.engine import open_engine

FIXTURE = Path(__file__).parent / "fixtures" / "pi"
NOW_MS = int(datetime(2026, 10, 11, 10, 5, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    opened = open_engine(tmp_path / "data", tmp_path / "c.toml", env=env, home=FIXTURE)
    opened.ingestor.scan()
    yield opened
    opened.store.close()


def test_reports_count_and_mark_reported_costs(engine) -> None:  # type: ignore[no-untyped-def]
    want = json.loads((FIXTURE / "expected.json").read_text())["days"]["2026-10-11"]
    report = aggregate.period_report(engine.store, "daily", ZoneInfo("UTC"), aggregate.Filters())
    (row,) = json.loads(reporting.report_json(report))["rows"]
    for field in ("requests", "estimated_requests", "reported_requests", "unpriced_requests"):
        assert row[field] == want[field], field
    assert row["cost_usd"] == pytest.approx(want["cost_usd"])
    table = reporting.report_table(report, breakdown=True)
    assert "~$0.04" in table
    assert "1 request of models with no list price carries the agent's own cost" in " ".join(
        table.split()
    )
    assert "reported_requests" in reporting.report_csv(report, breakdown=False).splitlines()[0]


def test_tray_and_graph_mark_reported_costs(engine) -> None:  # type: ignore[no-untyped-def]
    from tokentray.ui.graph_window import _session_cells
    from tokentray.ui.tray import tooltip

    snap = live.snapshot(engine.store, NOW_MS, ZoneInfo("UTC"))
    assert snap.reported_requests == 1
    assert "the agents' own cost figures" in tooltip(snap)
    (session,) = live.recent_sessions(engine.store, NOW_MS - 3_600_000, NOW_MS)
    assert session.reported
    assert _session_cells(session)[6].startswith("~")
