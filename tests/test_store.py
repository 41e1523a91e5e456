"""The store: schema versions and migrations, idempotent upserts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentray.events import PricedEvent, UsageEvent
from tokentray.store import Store
from tokentray.store import core as store_module


def _event(key: str, output: int, replayed: bool = False, session: str = "s") -> PricedEvent:
    event = UsageEvent(
        source="test",
        key=key,
        session_id=session,
        project="/p",
        model="m",
        timestamp_ms=1_790_000_000_000,
        output_tokens=output,
        replayed=replayed,
    )
    return PricedEvent(event, output / 1e6, "priced")


def test_new_store_is_at_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "usage.sqlite3") as store:
        assert store.schema_version == len(store_module.MIGRATIONS)
        assert store.query("PRAGMA journal_mode") == [("wal",)]


def test_the_quick_store_knows_the_current_schema(tmp_path: Path) -> None:
    """The status line's store module reads the schema without importing core."""
    from tokentray.store import quick

    assert len(store_module.MIGRATIONS) == quick.SCHEMA_VERSION


def test_migrations_upgrade_an_existing_store_and_keep_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.sqlite3"
    with Store(path) as store, store.transaction():
        store.upsert_events([_event("a", 10)])
    upgraded = (*store_module.MIGRATIONS, "ALTER TABLE events ADD COLUMN note TEXT")
    monkeypatch.setattr(store_module, "MIGRATIONS", upgraded)
    with Store(path) as store:
        assert store.schema_version == len(upgraded)
        assert store.query("SELECT output_tokens, note FROM events") == [(10, None)]


def test_upsert_keeps_the_largest_copy_and_prefers_an_original(tmp_path: Path) -> None:
    with Store(tmp_path / "usage.sqlite3") as store, store.transaction():
        store.upsert_events([_event("k", 5)])
        store.upsert_events([_event("k", 400)])
        store.upsert_events([_event("k", 250)])
        store.upsert_events([_event("r", 7, replayed=True, session="child")])
        store.upsert_events([_event("r", 7, session="parent")])
        store.upsert_events([_event("r", 7, replayed=True, session="child")])
    with Store(tmp_path / "usage.sqlite3") as store:
        rows = store.query("SELECT output_tokens, session_id FROM events ORDER BY id")
    assert rows == [(400, "s"), (7, "parent")]


def test_a_new_store_opened_by_two_threads_at_once(tmp_path: Path) -> None:
    """The tray's engine and provider threads open the same new store together."""
    import threading

    for attempt in range(5):
        path = tmp_path / f"usage-{attempt}.sqlite3"
        errors: list[BaseException] = []
        barrier = threading.Barrier(3)

        def open_store(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                Store(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with Store(path) as store:
            assert store.schema_version == len(store_module.MIGRATIONS)


def test_when_a_session_began_costs_the_same_however_long_it_ran(tmp_path: Path) -> None:
    """The graph window asks when each of 200 sessions began: one index lookup each, not
    a read of every request (a 3 GB history has sessions of thousands of requests)."""
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.upsert_events([_event(f"short-{i}", 1, session="short") for i in range(5)])
            store.upsert_events([_event(f"long-{i}", 1, session="long") for i in range(5000)])

        def steps(session: str) -> int:
            counted = [0]

            def count() -> int:
                counted[0] += 1
                return 0

            store._db.set_progress_handler(count, 50)
            try:
                assert store.session_starts([("test", session)]) == {
                    ("test", session): 1_790_000_000_000
                }
            finally:
                store._db.set_progress_handler(None, 0)
            return counted[0]

        assert steps("long") <= steps("short") + 2
