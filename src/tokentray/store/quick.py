"""The store for commands an agent runs on every prompt or tool call (Claude Code's status
line, the guard hook): plain ``sqlite3``, one short connection, and never a wait. A store
that is busy being written is read without writing; one not yet created or not yet
migrated to this version is left alone (the caller prints what it has without it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokentray.events import PlanSample

# The schema this module reads and writes: core's number of migrations (a test holds
# them equal). A store at another version is left alone.
SCHEMA_VERSION = 10
QUARTER_MS = 15 * 60 * 1000
# meta key: the hourly totals' triggers while a big scan has set them aside (core.py)
SUSPENDED_TRIGGERS = "suspended_triggers"

PLAN_COLUMNS = "source, window, observed_ms, used_pct, resets_ms, window_minutes, origin, account"
RECORD_PLAN = (
    "INSERT INTO plan_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (source, account, window, minute) DO UPDATE SET "
    "observed_ms = excluded.observed_ms, used_pct = excluded.used_pct, "
    "resets_ms = excluded.resets_ms, window_minutes = excluded.window_minutes, "
    "origin = excluded.origin WHERE excluded.observed_ms >= plan_samples.observed_ms"
)
LATEST_PLANS = (
    f"SELECT {PLAN_COLUMNS} FROM plan_samples AS p WHERE minute = (SELECT MAX(minute) "
    "FROM plan_samples WHERE source = p.source AND account = p.account "
    "AND window = p.window) ORDER BY source, account, window"
)


def plan_row(sample: PlanSample) -> tuple[Any, ...]:
    return (
        sample.source,
        sample.account,
        sample.window,
        sample.observed_ms // 60_000,
        sample.observed_ms,
        sample.used_pct,
        sample.resets_ms,
        sample.window_minutes,
        sample.origin,
    )


class QuickStoreError(Exception):
    """No store to use: not created yet, another version, or unreadable."""


class QuickStore:
    """One short look at the store: write a few plan readings if nobody else is writing,
    then read today's figures."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise QuickStoreError(f"no usage store at {path} yet")
        try:
            # timeout=0: a busy store is skipped, never waited on.
            self._db = sqlite3.connect(
                path.absolute().as_uri() + "?mode=rw", uri=True, timeout=0, isolation_level=None
            )
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise QuickStoreError(f"the usage store cannot be read: {exc}") from exc
        if version != SCHEMA_VERSION:
            self._db.close()
            raise QuickStoreError(
                f"the usage store is at schema {version}, not {SCHEMA_VERSION}: "
                "run tokentray once to bring it up to date"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> QuickStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def record_plans(self, samples: Sequence[PlanSample]) -> bool:
        """Store the readings; False when the store was busy (they are dropped: the
        next prompt brings fresh ones)."""
        if not samples:
            return True
        try:
            self._db.executemany(RECORD_PLAN, [plan_row(s) for s in samples])
        except sqlite3.OperationalError:
            return False
        return True

    def cost_since(self, start_ms: int, now_ms: int) -> float:
        """USD from ``start_ms`` (a whole quarter-hour) to now: the running totals for whole
        quarter-hours, the requests themselves for the one under way."""
        current = now_ms // QUARTER_MS
        (whole,) = self._db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM quarters WHERE q >= ? AND q < ?",
            (start_ms // QUARTER_MS, current),
        ).fetchone()
        return float(whole) + self.cost_between(current * QUARTER_MS, now_ms + 1)

    def cost_between(self, start_ms: int, end_ms: int) -> float:
        (cost,) = self._db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM events WHERE ts_ms >= ? AND ts_ms < ?",
            (start_ms, end_ms),
        ).fetchone()
        return float(cost)

    def session(self, source: str, session_id: str) -> tuple[float, int]:
        """(USD, requests) of one session so far."""
        cost, requests = self._db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0), COUNT(*) FROM events "
            "WHERE source = ? AND session_id = ?",
            (source, session_id),
        ).fetchone()
        return float(cost), int(requests)

    def latest_plans(self) -> list[PlanSample]:
        return [PlanSample(*row) for row in self._db.execute(LATEST_PLANS)]

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
