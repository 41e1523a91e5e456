"""The Qt-free dashboard: burn series kept up to date incrementally equal a fresh read
(tokens and dollars), and a session's "Started" is when it began, not the range's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from tokentray.dashboard.graph import GraphSpec, compute_graph
from tokentray.dashboard.live import snapshot
from tokentray.dashboard.series_cache import SeriesCache
from tokentray.engine import open_engine
from tokentray.events import PricedEvent, UsageEvent

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _event(key: str, at: datetime, session: str = "s1", model: str = "m-a") -> PricedEvent:
    usage = UsageEvent(
        source="claude-code",
        key=key,
        session_id=session,
        project="/home/dev/app",
        model=model,
        timestamp_ms=int(at.timestamp() * 1000),
        output_tokens=1000,
    )
    return PricedEvent(usage, 0.25, "priced")


def _engine(tmp_path: Path, events: list[PricedEvent]):  # type: ignore[no-untyped-def]
    engine = open_engine(tmp_path / "data", env={"CLAUDE_CONFIG_DIR": "-"}, home=tmp_path)
    with engine.store.transaction():
        engine.store.upsert_events(events)
    return engine


def test_incremental_series_equal_a_fresh_read(tmp_path: Path) -> None:
    engine = _engine(
        tmp_path, [_event(f"e{i}", NOW - timedelta(minutes=7 * i)) for i in range(1, 40)]
    )
    now_ms = int(NOW.timestamp() * 1000)
    cache = SeriesCache()
    with engine.store:
        cache.get(engine.store, 86_400_000, "model", now_ms, None)
        late = [_event("late", NOW - timedelta(minutes=3), model="m-b")]
        with engine.store.transaction():
            engine.store.upsert_events(late)
        stamp = int((NOW - timedelta(minutes=3)).timestamp() * 1000)
        updated = cache.get(engine.store, 86_400_000, "model", now_ms + 60_000, (stamp, stamp))
        fresh = SeriesCache().get(engine.store, 86_400_000, "model", now_ms + 60_000, None)
    assert updated.start_ms == fresh.start_ms and updated.count == fresh.count
    for label in ("m-a", "m-b"):
        assert np.array_equal(updated.tokens[label], fresh.tokens[label])
        assert np.allclose(updated.cost[label], fresh.cost[label])
    assert float(fresh.cost["m-a"].sum()) == 0.25 * 39
    assert float(fresh.tokens["m-b"].sum()) == 1000


def test_a_session_started_before_the_range_says_when_it_started(tmp_path: Path) -> None:
    began = NOW - timedelta(days=12)  # an October-style session still going today
    engine = _engine(
        tmp_path, [_event("old", began, "long"), _event("new", NOW - timedelta(minutes=5), "long")]
    )
    now_ms = int(NOW.timestamp() * 1000)
    with engine.store:
        snap = snapshot(engine.store, now_ms, ZoneInfo("UTC"))
        data = compute_graph(engine.store, GraphSpec("24h", "source"), ZoneInfo("UTC"), snap)
    (session,) = data.sessions
    assert session.first_ms == int(began.timestamp() * 1000)
    assert session.last_ms == int((NOW - timedelta(minutes=5)).timestamp() * 1000)


def test_a_file_counts_in_every_folder_that_holds_it(tmp_path: Path) -> None:
    """Folder statistics match each file to its folders by walking up its path: nested
    folders both count it, a sibling with a common prefix does not."""
    from tokentray.engine import _folders_holding, _FolderStats
    from tokentray.sources.claude_code import ClaudeCodeSource

    source = ClaudeCodeSource()
    outer = _FolderStats(source, tmp_path / "logs")
    inner = _FolderStats(source, tmp_path / "logs" / "projects")
    sibling = _FolderStats(source, tmp_path / "logs-old")
    by_root = {str(f.root): [f] for f in (outer, inner, sibling)}
    held = _folders_holding(str(tmp_path / "logs" / "projects" / "-p" / "s.jsonl"), by_root)
    assert held == [inner, outer]
    assert _folders_holding(str(tmp_path / "logs-old"), by_root) == [sibling]
    assert _folders_holding(str(tmp_path / "elsewhere" / "x.jsonl"), by_root) == []


def test_month_and_year_series_from_the_totals_equal_the_requests(tmp_path: Path) -> None:
    """30 days come in quarter-hours and longer ranges in hours, from the running totals:
    the same figures as summing the requests themselves."""
    rng = __import__("random").Random(9)
    events = [
        _event(f"e{i}", NOW - timedelta(minutes=rng.randrange(60 * 24 * 90)), model=f"m{i % 3}")
        for i in range(500)
    ]
    engine = _engine(tmp_path, events)
    now_ms = int(NOW.timestamp() * 1000)
    with engine.store:
        for span in (30 * 86_400_000, 0):
            series = SeriesCache().get(engine.store, span, "model", now_ms, None)
            assert series.bucket_ms == (900_000 if span else 3_600_000)
            for label, values in series.tokens.items():
                inside = [
                    e
                    for e in events
                    if e.event.model == label
                    and series.start_ms <= e.event.timestamp_ms < series.end_ms
                ]
                assert float(values.sum()) == sum(e.event.total_tokens for e in inside)
                assert float(series.cost[label].sum()) == __import__("pytest").approx(
                    0.25 * len(inside)
                )
