"""The store's quarter-hour running totals always equal what the requests add up to:
after inserts, after a copy replaces a request with larger usage or another model, after
re-pricing, and after an upgrade from a store that had no totals yet. Reports read them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tokentray.events import PricedEvent, UsageEvent
from tokentray.store import EventFilter, Store
from tokentray.store import core as store_module

QUARTER = 15 * 60 * 1000
DAY = 86_400_000
BASE = 1_790_000_000_000 - 1_790_000_000_000 % DAY

EVENTS_SQL = (
    "SELECT ts_ms / 900000, model, SUM(input_tokens), SUM(output_tokens), "
    "SUM(reasoning_tokens), SUM(cache_write_5m_tokens + cache_write_1h_tokens), "
    "SUM(cache_read_tokens), SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), "
    "SUM(cost_status = 'unpriced'), SUM(cost_status = 'estimated'), COUNT(*), "
    "SUM(cost_status = 'reported') FROM events GROUP BY 1, 2 ORDER BY 1, 2"
)


def _events(rng: random.Random, count: int, keys: int) -> list[PricedEvent]:
    """Requests on few keys, so that many are copies that replace an earlier one."""
    found = []
    for _ in range(count):
        usage = UsageEvent(
            source=rng.choice(("claude-code", "codex")),
            key=f"k{rng.randrange(keys)}",
            session_id="s",
            project="/p",
            model=rng.choice(("m-a", "m-b", "m-c")),
            timestamp_ms=BASE + rng.randrange(3 * DAY),
            input_tokens=rng.randrange(1000),
            output_tokens=rng.randrange(1000),
            cache_write_1h_tokens=rng.randrange(50),
            cache_read_tokens=rng.randrange(5000),
        )
        status = rng.choice(("priced", "priced", "unpriced", "estimated", "reported"))
        cost = None if status == "unpriced" else rng.random()
        found.append(PricedEvent(usage, cost, status))
    return found


QUARTERS_SQL = (
    "SELECT q, model, SUM(input_tokens), SUM(output_tokens), SUM(reasoning_tokens), "
    "SUM(cache_write_tokens), SUM(cache_read_tokens), SUM(total_tokens), SUM(cost_usd), "
    "SUM(unpriced), SUM(estimated), SUM(requests), SUM(reported) FROM quarters "
    "WHERE requests > 0 GROUP BY q, model ORDER BY q, model"
)


_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cache_write_tokens), "
    "SUM(cache_read_tokens), SUM(total_tokens), SUM(cost_usd), SUM(unpriced), SUM(estimated), "
    "SUM(requests), SUM(reported)"
)
HOURS_SQL = (
    f"SELECT h, model, {_SUMS} FROM hours WHERE requests > 0 GROUP BY h, model ORDER BY h, model"
)
QUARTERS_BY_HOUR_SQL = (
    f"SELECT q / 4, model, {_SUMS} FROM quarters WHERE requests > 0 "
    "GROUP BY q / 4, model ORDER BY q / 4, model"
)


def _rows_agree(got_rows: list[tuple[object, ...]], want_rows: list[tuple[object, ...]]) -> None:
    assert len(got_rows) == len(want_rows)
    for got, want in zip(got_rows, want_rows, strict=True):
        assert got[:8] == want[:8] and got[9:] == want[9:]
        assert got[8] == pytest.approx(want[8], abs=1e-9)


def _totals_agree(store: Store) -> None:
    """The quarter-hours agree with the requests, and the hours with the quarter-hours."""
    _rows_agree(store.query(QUARTERS_SQL), store.query(EVENTS_SQL))
    _rows_agree(store.query(HOURS_SQL), store.query(QUARTERS_BY_HOUR_SQL))


def test_running_totals_follow_inserts_replacements_and_repricing(tmp_path: Path) -> None:
    rng = random.Random(7)
    with Store(tmp_path / "usage.sqlite3") as store:
        for _ in range(5):
            with store.transaction():
                store.upsert_events(_events(rng, 400, keys=300))
        _totals_agree(store)
        rows = store.query("SELECT id FROM events")
        updates = [(rng.random(), "priced", row_id) for (row_id,) in rows]
        store.set_costs(updates, "reprice-test")
        _totals_agree(store)
        # A day of one agent, from the totals (whole quarter-hours) and from the requests
        # (a period a minute off the quarters): the same figures.
        codex = EventFilter(source="codex")
        day = [("day", BASE + DAY, BASE + 2 * DAY)]
        by_quarter = sorted(store.sums_by_period_and_model(day, codex), key=lambda r: r[1])
        assert by_quarter
        minute = 60_000
        shifted = [("day", BASE + DAY + minute, BASE + 2 * DAY + minute)]
        from_requests = store.sums_by_period_and_model(shifted, codex)
        expected = store.query(
            "SELECT model, COUNT(*) FROM events WHERE source = 'codex' AND ts_ms >= ? "
            "AND ts_ms < ? GROUP BY model",
            (BASE + DAY + minute, BASE + 2 * DAY + minute),
        )
        assert sorted((r[1], r[11]) for r in from_requests) == sorted(expected)
        (quarter_requests,) = store.query(
            "SELECT SUM(requests) FROM quarters WHERE source = 'codex' AND q >= ? AND q < ?",
            ((BASE + DAY) // QUARTER, (BASE + 2 * DAY) // QUARTER),
        )[0]
        assert sum(r[11] for r in by_quarter) == quarter_requests


def test_a_big_scan_sets_the_hourly_triggers_aside_and_rebuilds_the_totals(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.upsert_events(_events(rng, 300, keys=250))
        with store.bulk_writes():
            assert not store.query(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'hours_%'"
            )
            with store.transaction():
                store.upsert_events(_events(rng, 600, keys=500))
            # Meanwhile reports read the quarter-hours, which are whole.
            day = [("day", BASE, BASE + DAY)]
            during = store.sums_by_period_and_model(day, EventFilter())
        _totals_agree(store)
        after = sorted(store.sums_by_period_and_model(day, EventFilter()))
        assert [r[:8] + r[9:] for r in sorted(during)] == [r[:8] + r[9:] for r in after]
        assert [r[8] for r in sorted(during)] == pytest.approx([r[8] for r in after])
        assert len(store.query("SELECT name FROM sqlite_master WHERE name LIKE 'hours_%'")) == 2


def test_a_big_scan_killed_half_way_is_made_whole_on_the_next_open(tmp_path: Path) -> None:
    rng = random.Random(6)
    path = tmp_path / "usage.sqlite3"
    store = Store(path)
    store._suspend_hourly_totals()  # as bulk_writes does, and then the process dies
    with store.transaction():
        store.upsert_events(_events(rng, 500, keys=400))
    store._db.close()
    with Store(path) as reopened:
        _totals_agree(reopened)
        assert reopened.get_meta("suspended_triggers") is None
        with reopened.transaction():
            reopened.upsert_events(_events(rng, 100, keys=10**6))
        _totals_agree(reopened)  # the triggers are back


def test_an_older_store_gets_its_totals_on_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.sqlite3"
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:-1])
    with Store(path) as old:
        with old.transaction():
            old.upsert_events(_events(random.Random(3), 300, keys=200))
        assert old.schema_version == len(store_module.MIGRATIONS)
    monkeypatch.undo()
    with Store(path) as upgraded:
        assert upgraded.schema_version == len(store_module.MIGRATIONS)
        _totals_agree(upgraded)


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kathmandu", "America/St_Johns"])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_period_reports_from_the_totals_equal_the_requests(
    tmp_path: Path, zone: str, kind: str
) -> None:
    """Local days, weeks and months (quarter-hour and DST offsets too) summed from the
    running totals equal the requests grouped one by one."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tokentray.aggregate import Filters, period_label, period_report

    tz = ZoneInfo(zone)
    rng = random.Random(11)
    events = []
    for index in range(600):  # across the end of October (DST) and a month's end
        event = _events(rng, 1, keys=10**9)[0]
        event.event.key = f"e{index}"
        event.event.timestamp_ms = 1_792_000_000_000 + rng.randrange(40 * DAY)
        events.append(event)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.upsert_events(events)
        report = period_report(store, kind, tz, Filters())
    expected: dict[str, tuple[int, int]] = {}
    for priced in events:
        moment = datetime.fromtimestamp(priced.event.timestamp_ms / 1000, tz)
        label = period_label(moment, kind)
        requests, tokens = expected.get(label, (0, 0))
        expected[label] = (requests + 1, tokens + priced.event.total_tokens)
    got = {row.period: (row.totals.requests, row.totals.total_tokens) for row in report.rows}
    assert got == expected


def _schema(store: Store) -> list[tuple[str, str]]:
    return sorted(store.query("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))


def test_a_first_big_scan_builds_the_secondary_indexes_at_its_end(tmp_path: Path) -> None:
    rng = random.Random(7)
    with Store(tmp_path / "plain.sqlite3") as plain:
        schema = _schema(plain)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.bulk_writes():
            deferred = {name for name, _sql in _schema(store)} ^ {name for name, _ in schema}
            assert deferred == {*store_module.DEFERRED_INDEXES, *store_module.HOURLY_TRIGGERS}
            with store.transaction():
                store.upsert_events(_events(rng, 600, keys=500))
        assert _schema(store) == schema
        assert store.get_meta(store_module.DEFERRED_INDEXES_KEY) is None
        plan = store.query("EXPLAIN QUERY PLAN SELECT * FROM events WHERE ts_ms > 5")
        assert "events_ts" in str(plan)
        # A later big scan, into a store that has requests, keeps its indexes.
        with store.bulk_writes():
            assert _schema(store) == [
                (name, sql) for name, sql in schema if not name.startswith("hours_")
            ]


def test_a_first_scan_killed_half_way_has_its_indexes_on_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    with Store(tmp_path / "plain.sqlite3") as plain:
        schema = _schema(plain)
    store = Store(path)
    store._defer_indexes_of_a_first_scan()  # as bulk_writes does, and then the process dies
    with store.transaction():
        store.upsert_events(_events(random.Random(8), 300, keys=200))
    store._db.close()
    with Store(path) as reopened:
        assert _schema(reopened) == schema
        assert reopened.get_meta(store_module.DEFERRED_INDEXES_KEY) is None


def _daily_from_requests(store: Store) -> list[tuple[str, int, float]]:
    rows = store.query(
        "SELECT date(ts_ms / 1000, 'unixepoch'), SUM(total_tokens), SUM(COALESCE(cost_usd, 0)) "
        "FROM events WHERE source = 'codex' GROUP BY 1 ORDER BY 1"
    )
    return [(str(day), int(tokens), float(cost)) for day, tokens, cost in rows]


def test_reconciles_local_days_from_the_hours_and_during_a_big_scan(tmp_path: Path) -> None:
    """The provider thread's reconcile reads the UTC days every minute while agents work:
    from the hours (a fourth of the quarter-hours' rows), and from the quarter-hours
    while a big scan has the hours set aside; both equal the requests themselves."""
    rng = random.Random(9)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.upsert_events(_events(rng, 600, keys=500))
        with store.bulk_writes():
            with store.transaction():
                store.upsert_events(_events(rng, 300, keys=10**6))
            with store.transaction():  # the hours are stale now: only quarters are right
                store._db.execute("UPDATE hours SET total_tokens = total_tokens + 1")
            during = store.local_daily_utc(["codex"])
            assert [d[:2] for d in during] == [d[:2] for d in _daily_from_requests(store)]
        after = store.local_daily_utc(["codex"])
        want = _daily_from_requests(store)
        assert [d[:2] for d in after] == [d[:2] for d in want] and len(want) >= 3
        assert [d[2] for d in after] == pytest.approx([d[2] for d in want])
        store._db.execute("UPDATE hours SET total_tokens = total_tokens + 1")
        assert store.local_daily_utc(["codex"]) != after  # the hours are what it reads


def test_the_span_of_matching_requests_skips_emptied_quarters(tmp_path: Path) -> None:
    """``event_span`` reads the first and last quarter-hours that hold requests: for all of
    them, one agent, and a time window; quarters emptied by a deletion do not count."""
    rng = random.Random(5)
    events = _events(rng, 300, keys=10**9)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.upsert_events(events)
        # The earliest and latest requests go: their quarter rows stay, with no requests.
        ends = store.query("SELECT MIN(ts_ms), MAX(ts_ms) FROM events")[0]
        with store.transaction():
            store.query("DELETE FROM events WHERE ts_ms IN (?, ?)", ends)
        window = EventFilter(BASE + DAY, BASE + 2 * DAY)
        for where in (EventFilter(), EventFilter(source="codex"), window):
            clause, params = where.where()
            sql = f"SELECT MIN(ts_ms), MAX(ts_ms) FROM events{clause}"
            ((first, last),) = store.query(sql, params)
            assert store.event_span(where) == (first - first % QUARTER, last - last % QUARTER)
        assert store.event_span(EventFilter(source="no-such-agent")) is None
