"""The questions the engine asks of the usage database, one method each.

Callers describe *which* events they mean with an :class:`EventFilter` and get
plain rows or numbers back; the SQL stays here. ``Store`` inherits these.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from tokentray.events import PlanSample, ProviderState
from tokentray.store.quick import LATEST_PLANS, PLAN_COLUMNS, SUSPENDED_TRIGGERS

Column = Literal["source", "model", "project"]
Metric = Literal["usd", "tokens"]
Row = tuple[Any, ...]

_VALUE = {"usd": "COALESCE(cost_usd, 0)", "tokens": "total_tokens"}
_COLUMNS: frozenset[str] = frozenset({"source", "model", "project"})

# Per group: input, output, reasoning, cache write, cache read, total tokens, cost,
# unpriced, estimated, requests, reported (the order ``aggregate.Totals.add_sums`` reads).
_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(reasoning_tokens), "
    "SUM(cache_write_5m_tokens + cache_write_1h_tokens), SUM(cache_read_tokens), "
    "SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), "
    "SUM(cost_status = 'unpriced'), SUM(cost_status = 'estimated'), COUNT(*), "
    "SUM(cost_status = 'reported')"
)


QUARTER_MS = 15 * 60 * 1000  # the store's running totals are per quarter-hour
HOUR_MS = 4 * QUARTER_MS  # ... and per hour
_QUARTER_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cache_write_tokens), "
    "SUM(cache_read_tokens), SUM(total_tokens), SUM(cost_usd), SUM(unpriced), SUM(estimated), "
    "SUM(requests), SUM(reported)"
)


# One request's own figures, in the order ``events.event_from_row`` reads them.
_REQUEST_COLUMNS = (
    "source, session_id, project, model, ts_ms, input_tokens, output_tokens, "
    "reasoning_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "service_tier, estimated, reported_cost_usd"
)


def _whole_quarters(where: EventFilter) -> bool:
    """Whether the filter selects whole quarter-hours by time and agent only (every time
    zone's midnight is a quarter-hour)."""
    return (
        where.session_id is None
        and where.project is None
        and where.model is None
        and all(ms is None or ms % QUARTER_MS == 0 for ms in (where.start_ms, where.end_ms))
    )


def _quarter_clause(
    where: EventFilter, column: str = "q", unit_ms: int = QUARTER_MS
) -> tuple[str, list[Any]]:
    """The running totals' WHERE clause for a filter by time and agent (quarter-hours, or
    hours with ``column="h"``)."""
    clauses: list[str] = ["requests > 0"]
    params: list[Any] = []
    if where.start_ms is not None:
        clauses.append(f"{column} >= ?")
        params.append(where.start_ms // unit_ms)
    if where.end_ms is not None:
        clauses.append(f"{column} < ?")
        params.append(where.end_ms // unit_ms)
    if where.source is not None:
        clauses.append("source = ?")
        params.append(where.source)
    return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events: ``start_ms`` inclusive, ``end_ms`` exclusive, and exact matches."""

    start_ms: int | None = None
    end_ms: int | None = None
    source: str | None = None
    session_id: str | None = None
    project: str | None = None
    model: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.start_ms is not None:
            clauses.append("ts_ms >= ?")
            params.append(self.start_ms)
        if self.end_ms is not None:
            clauses.append("ts_ms < ?")
            params.append(self.end_ms)
        for column in ("source", "session_id", "project", "model"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _provider_state(row: Row) -> ProviderState:
    provider, status, message, last_ok, next_poll, failures, key_fp, info = row
    return ProviderState(
        provider, status, message, last_ok, next_poll, failures, key_fp, orjson.loads(info)
    )


def _column(name: str) -> str:
    if name not in _COLUMNS:
        raise ValueError(f"cannot group events by {name!r}")
    return name


class StoreReads:
    """Read-only questions; mixed into ``Store``, which owns the connection."""

    _db: sqlite3.Connection

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Ad-hoc read-only SQL for tests and benchmarks; the engine uses the methods below
        (tests/test_architecture.py keeps it that way)."""
        return self._rows(sql, params)

    # -- events: totals -------------------------------------------------------------

    def count_events(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM events")[0][0])

    def first_event_ms(self) -> int | None:
        value = self._rows("SELECT MIN(ts_ms) FROM events")[0][0]
        return None if value is None else int(value)

    def last_event_ms(self) -> int | None:
        value = self._rows("SELECT MAX(ts_ms) FROM events")[0][0]
        return None if value is None else int(value)

    def day_totals(self, start_ms: int) -> tuple[float, int, int, int, int]:
        """(cost, tokens, requests, estimated requests, reported requests) since ``start_ms``."""
        (row,) = self._rows(
            "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(total_tokens), 0), COUNT(*), "
            "COALESCE(SUM(cost_status = 'estimated'), 0), "
            "COALESCE(SUM(cost_status = 'reported'), 0) FROM events WHERE ts_ms >= ?",
            (start_ms,),
        )
        return float(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])

    def unpriced_models(self, start_ms: int) -> list[str]:
        rows = self._rows(
            "SELECT DISTINCT model FROM events WHERE ts_ms >= ? AND cost_status = 'unpriced' "
            "ORDER BY model",
            (start_ms,),
        )
        return [str(model) for (model,) in rows]

    def burn_since(self, after_ms: int) -> tuple[float, int, int]:
        """(cost, tokens, sessions) of events after ``after_ms``, with no upper bound: an
        agent's clock a little ahead of ours still counts as now."""
        (row,) = self._rows(
            "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(total_tokens), 0), "
            "COUNT(DISTINCT source || ':' || session_id) FROM events WHERE ts_ms > ?",
            (after_ms,),
        )
        return float(row[0]), int(row[1]), int(row[2])

    def window_totals(self, start_ms: int, end_ms: int) -> tuple[float, int, int]:
        """(cost, tokens, sessions) between the two times."""
        (row,) = self._rows(
            "SELECT COALESCE(SUM(COALESCE(cost_usd, 0)), 0), COALESCE(SUM(total_tokens), 0), "
            "COUNT(DISTINCT source || ':' || session_id) FROM events "
            "WHERE ts_ms >= ? AND ts_ms < ?",
            (start_ms, end_ms),
        )
        return float(row[0]), int(row[1]), int(row[2])

    def sum_value(self, metric: Metric, where: EventFilter) -> float:
        clause, params = where.where()
        (row,) = self._rows(
            f"SELECT COALESCE(SUM({_VALUE[metric]}), 0) FROM events{clause}", params
        )
        return float(row[0])

    def top_by_cost(self, column: Column, start_ms: int, end_ms: int | None = None) -> str:
        """The source, model or project with the most spend (then tokens) in the window."""
        name = _column(column)
        clause, params = EventFilter(start_ms, end_ms).where()
        rows = self._rows(
            f"SELECT {name} FROM events{clause} GROUP BY {name} "
            "ORDER BY SUM(COALESCE(cost_usd, 0)) DESC, SUM(total_tokens) DESC LIMIT 1",
            params,
        )
        return str(rows[0][0]) if rows else ""

    def heaviest(self, metric: Metric, where: EventFilter) -> tuple[str, str, str, str] | None:
        """(source, session, project, model) that weighs most by ``metric``."""
        clause, params = where.where()
        rows = self._rows(
            f"SELECT source, session_id, project, model FROM events{clause} "
            f"GROUP BY source, session_id, project, model ORDER BY SUM({_VALUE[metric]}) DESC "
            "LIMIT 1",
            params,
        )
        return (
            (str(rows[0][0]), str(rows[0][1]), str(rows[0][2]), str(rows[0][3])) if rows else None
        )

    def sessions_in(self, where: EventFilter) -> list[tuple[str, str]]:
        """(source, session) of every session with events that match."""
        clause, params = where.where()
        rows = self._rows(f"SELECT DISTINCT source, session_id FROM events{clause}", params)
        return [(str(source), str(session)) for source, session in rows]

    # -- events: groups for reports and charts ------------------------------------------

    def sums_by_time_and_model(self, bucket_ms: int, where: EventFilter) -> list[Row]:
        """(bucket number, model, *sums) ordered by bucket; ``bucket_ms`` divides ts_ms.
        (Periods of whole quarter-hours come from ``sums_by_period_and_model``.)"""
        clause, params = where.where()
        return self._rows(
            f"SELECT ts_ms / {int(bucket_ms)} AS b, model, {_SUMS} FROM events{clause} "
            "GROUP BY b, model ORDER BY b",
            params,
        )

    def event_span(self, where: EventFilter) -> tuple[int, int] | None:
        """(first, last) ms of the events that match, from the quarter-hour totals where
        the filter allows (a quarter's start is a bound to the nearest quarter-hour)."""
        if _whole_quarters(where):
            clause, params = _quarter_clause(where)
            # Each end read along the key from its side (MIN and MAX with a WHERE clause
            # would read every quarter-hour: 20 ms on a year of heavy use).
            first, last = (
                f"(SELECT q FROM quarters WHERE {clause} ORDER BY q {order} LIMIT 1)"
                for order in ("ASC", "DESC")
            )
            (row,) = self._rows(f"SELECT {first}, {last}", [*params, *params])
            return None if row[0] is None else (row[0] * QUARTER_MS, row[1] * QUARTER_MS)
        clause, params = where.where()
        (row,) = self._rows(f"SELECT MIN(ts_ms), MAX(ts_ms) FROM events{clause}", params)
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def sums_by_period_and_model(
        self, periods: Sequence[tuple[str, int, int]], where: EventFilter
    ) -> list[Row]:
        """(period label, model, *sums) for each (label, start ms, end ms) period."""
        if not periods:
            return []
        if not _whole_quarters(where) or any(
            start % QUARTER_MS or end % QUARTER_MS for _label, start, end in periods
        ):
            return self._period_sums_from_events(periods, where)
        table, column, unit = self._running_totals(
            all(
                ms is None or ms % HOUR_MS == 0
                for ms in (where.start_ms, where.end_ms, *(b for p in periods for b in p[1:]))
            )
        )
        clause, params = _quarter_clause(where, column, unit)
        bounds = [[label, start // unit, end // unit] for label, start, end in periods]
        return self._rows(  # the periods as one JSON parameter: no table, works read-only
            "WITH periods AS (SELECT json_extract(value, '$[0]') AS label, "
            "json_extract(value, '$[1]') AS first, json_extract(value, '$[2]') AS stop "
            "FROM json_each(?)) "
            f"SELECT p.label, model, {_QUARTER_SUMS} FROM periods p JOIN {table} "
            f"ON {column} >= p.first AND {column} < p.stop WHERE {clause} "
            "GROUP BY p.label, model",
            [orjson.dumps(bounds).decode(), *params],
        )

    def _period_sums_from_events(
        self, periods: Sequence[tuple[str, int, int]], where: EventFilter
    ) -> list[Row]:
        found: list[Row] = []
        for label, start, end in periods:
            within = EventFilter(
                max(start, where.start_ms or start),
                min(end, where.end_ms or end),
                where.source,
                where.session_id,
                where.project,
                where.model,
            )
            clause, params = within.where()
            rows = self._rows(f"SELECT model, {_SUMS} FROM events{clause} GROUP BY model", params)
            found += [(label, *row) for row in rows]
        return found

    def sums_by_label(self, where: EventFilter) -> list[Row]:
        """(source, model, project, input, output, cache read, cache write, cost, requests)
        per agent, model and project: the exporter's counters."""
        clause, params = where.where()
        return self._rows(
            "SELECT source, model, project, SUM(input_tokens), SUM(output_tokens), "
            "SUM(cache_read_tokens), SUM(cache_write_5m_tokens + cache_write_1h_tokens), "
            f"SUM(COALESCE(cost_usd, 0)), COUNT(*) FROM events{clause} "
            "GROUP BY source, model, project",
            params,
        )

    def sums_by_session_and_model(self, where: EventFilter) -> list[Row]:
        """(source, session, model, project, first ms, last ms, *sums)."""
        clause, params = where.where()
        return self._rows(
            f"SELECT source, session_id, model, MAX(project), MIN(ts_ms), MAX(ts_ms), {_SUMS} "
            f"FROM events{clause} GROUP BY source, session_id, model",
            params,
        )

    def buckets(self, bucket_ms: int, start_ms: int, end_ms: int, split: Column) -> list[Row]:
        """(bucket number, label, tokens, cost, unpriced requests) per bucket and label.
        Buckets of whole quarter-hours by agent or model come from the running totals."""
        name = _column(split)
        if split != "project" and not (bucket_ms % QUARTER_MS or start_ms % QUARTER_MS):
            return self._rows(
                f"SELECT q * {QUARTER_MS} / ? AS b, {name}, SUM(total_tokens), SUM(cost_usd), "
                "SUM(unpriced) FROM quarters WHERE q >= ? AND q < ? AND requests > 0 "
                f"GROUP BY b, {name}",
                (bucket_ms, start_ms // QUARTER_MS, -(-end_ms // QUARTER_MS)),
            )
        return self._rows(
            f"SELECT ts_ms / ? AS b, {name}, SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), "
            "SUM(cost_status = 'unpriced') FROM events WHERE ts_ms >= ? AND ts_ms < ? "
            f"GROUP BY b, {name}",
            (bucket_ms, start_ms, end_ms),
        )

    def cost_by_time(self, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        rows = self._rows(
            "SELECT ts_ms, SUM(COALESCE(cost_usd, 0)) FROM events WHERE ts_ms >= ? AND ts_ms < ? "
            "GROUP BY ts_ms ORDER BY ts_ms",
            (start_ms, end_ms),
        )
        return [(int(ts), float(cost)) for ts, cost in rows]

    def recent_session_rows(self, since_ms: int, burn_after_ms: int) -> list[Row]:
        """(source, session, model, project, first, last, tokens, cost, unpriced, cost after
        ``burn_after_ms``, estimated, reported) per session and model active since ``since_ms``."""
        return self._rows(
            "SELECT source, session_id, model, MAX(project), MIN(ts_ms), MAX(ts_ms), "
            "SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), SUM(cost_status = 'unpriced'), "
            "SUM(CASE WHEN ts_ms > ? THEN COALESCE(cost_usd, 0) ELSE 0 END), "
            "SUM(estimated OR cost_status = 'estimated'), SUM(cost_status = 'reported') "
            # Without the hint SQLite walks the session index over all history to group.
            "FROM events INDEXED BY events_ts WHERE ts_ms >= ? GROUP BY source, session_id, model",
            (burn_after_ms, since_ms),
        )

    def session_starts(self, sessions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """When each (source, session) made its first request, over all history."""
        starts: dict[tuple[str, str], int] = {}
        for offset in range(0, len(sessions), 400):  # SQLite's bound on parameters
            chunk = sessions[offset : offset + 400]
            marks = ",".join("(?, ?)" for _ in chunk)
            # One seek per session on (source, session_id, ts_ms); a GROUP BY would read
            # every request of every session.
            rows = self._rows(
                "SELECT v.column1, v.column2, (SELECT MIN(ts_ms) FROM events "
                "WHERE source = v.column1 AND session_id = v.column2) "
                f"FROM (VALUES {marks}) AS v",
                [value for pair in chunk for value in pair],
            )
            starts.update(
                {(str(s), str(i)): int(first) for s, i, first in rows if first is not None}
            )
        return starts

    def session_requests(self, source: str, session_id: str) -> list[tuple[int, int, float]]:
        """(time, tokens, cost) of each request of one session, in order."""
        rows = self._rows(
            "SELECT ts_ms, total_tokens, COALESCE(cost_usd, 0) FROM events "
            "WHERE source = ? AND session_id = ? ORDER BY ts_ms",
            (source, session_id),
        )
        return [(int(ts), int(tokens), float(cost)) for ts, tokens, cost in rows]

    def _running_totals(self, whole_hours: bool = True) -> tuple[str, str, int]:
        """(table, key column, ms per key) of the running totals to read: the hours when
        the bounds asked for are ``whole_hours`` and the hourly totals are up to date (a
        big scan sets their triggers aside and rebuilds them at its end), else the
        quarter-hours."""
        if whole_hours and not self._rows(
            "SELECT 1 FROM meta WHERE key = ?", (SUSPENDED_TRIGGERS,)
        ):
            return "hours", "h", HOUR_MS
        return "quarters", "q", QUARTER_MS

    def local_daily_utc(self, sources: Sequence[str]) -> list[tuple[str, int, float]]:
        """(UTC day, tokens, cost) of the given agents' events, from the hourly totals (a
        UTC day is whole hours; a fourth of the quarter-hours' rows, read every minute
        while agents work), or the quarter-hours while a big scan has the hours set
        aside: the cost follows days, not requests."""
        if not sources:
            return []
        table, column, unit = self._running_totals()
        marks = ",".join("?" * len(sources))
        rows = self._rows(
            f"SELECT date({column} * {unit // 1000}, 'unixepoch'), SUM(total_tokens), "
            f"SUM(cost_usd) FROM {table} WHERE source IN ({marks}) AND requests > 0 GROUP BY 1",
            list(sources),
        )
        return [(str(day), int(tokens), float(cost)) for day, tokens, cost in rows]

    def events_for_repricing(self) -> list[Row]:
        """(id, source, session, project, model, ts, input, output, reasoning, cache read,
        cache write 5m, cache write 1h, service tier, estimated, reported cost) of every event."""
        return self._rows(f"SELECT id, {_REQUEST_COLUMNS} FROM events")

    def requests(self, where: EventFilter) -> list[Row]:
        """(source, session, project, model, ts, input, output, reasoning, cache read, cache
        write 5m, cache write 1h, service tier, estimated, reported cost, cost) of each
        request, by session and time: for figures that follow a session request by request."""
        clause, params = where.where()
        return self._rows(
            f"SELECT {_REQUEST_COLUMNS}, cost_usd FROM events{clause} "
            "ORDER BY source, session_id, ts_ms, id",
            params,
        )

    def models_used(self) -> list[Row]:
        """(source, model, service tier, first ms, last ms, requests, requests priced at the
        agent's own figure) for every model in the store."""
        return self._rows(
            "SELECT source, model, service_tier, MIN(ts_ms), MAX(ts_ms), COUNT(*), "
            "SUM(cost_status = 'reported') FROM events "
            "GROUP BY source, model, service_tier ORDER BY source, model, service_tier"
        )

    # -- activity (prompts and tool calls) -------------------------------------------------

    def human_activity(self, source: str, session_id: str) -> tuple[int | None, int, int]:
        """(last prompt ms, prompts, activity rows recorded) for one session."""
        (row,) = self._rows(
            "SELECT MAX(CASE WHEN kind = 'human' THEN ts_ms END), SUM(kind = 'human'), "
            "SUM(kind IN ('human', 'tool')) FROM activity WHERE source = ? AND session_id = ?",
            (source, session_id),
        )
        return row[0], int(row[1] or 0), int(row[2] or 0)

    def session_branches(self) -> dict[tuple[str, str], list[str]]:
        """The git branches each session's agent reported working on, first seen first."""
        found: dict[tuple[str, str], list[str]] = {}
        for source, session, branch in self._rows(
            "SELECT source, session_id, fingerprint FROM activity WHERE kind = 'branch' "
            "ORDER BY ts_ms"
        ):
            found.setdefault((str(source), str(session)), []).append(str(branch))
        return found

    def last_tool_calls(
        self, source: str, session_id: str, before_ms: int, limit: int
    ) -> list[str]:
        """Fingerprints of the session's last ``limit`` tool calls before ``before_ms``."""
        rows = self._rows(
            "SELECT fingerprint FROM activity WHERE source = ? AND session_id = ? "
            "AND kind = 'tool' AND ts_ms < ? ORDER BY ts_ms DESC LIMIT ?",
            (source, session_id, before_ms, limit),
        )
        return [str(fingerprint) for (fingerprint,) in rows]

    # -- files --------------------------------------------------------------------------

    def file_update_times(self) -> dict[str, int]:
        """When each read file last gave usage (ms)."""
        return {str(path): int(ms) for path, ms in self._rows("SELECT path, updated_ms FROM files")}

    # -- plan windows ---------------------------------------------------------------------

    def plan_latest(self) -> list[PlanSample]:
        """The latest reading of each plan window (per agent, account and window)."""
        return [PlanSample(*row) for row in self._rows(LATEST_PLANS)]

    def plan_history(self, since_ms: int, until_ms: int) -> list[PlanSample]:
        """Every stored reading between two times, oldest first."""
        rows = self._rows(
            f"SELECT {PLAN_COLUMNS} FROM plan_samples WHERE minute >= ? AND minute <= ? "
            "ORDER BY observed_ms",
            (since_ms // 60_000, until_ms // 60_000),
        )
        return [PlanSample(*row) for row in rows]

    # -- agents' processes ----------------------------------------------------------------

    def last_agent_actions(self) -> list[tuple[str, str, str, list[int], str, int]]:
        """Per session acted on: (source, session, action, pids, summary, when ms) of the
        latest action."""
        rows = self._rows(
            "SELECT source, session_id, action, pids, summary, acted_ms FROM agent_actions "
            "WHERE id IN (SELECT MAX(id) FROM agent_actions GROUP BY source, session_id) "
            "ORDER BY id"
        )
        return [(s, i, a, list(orjson.loads(p)), m, int(t)) for s, i, a, p, m, t in rows]

    def session_project(self, source: str, session_id: str) -> str:
        """The project (working folder) of a session's latest request."""
        rows = self._rows(
            "SELECT project FROM events WHERE source = ? AND session_id = ? "
            "ORDER BY ts_ms DESC LIMIT 1",
            (source, session_id),
        )
        return str(rows[0][0]) if rows else ""

    def session_files(self, source: str, session_id: str) -> list[str]:
        """The log files named after a session (Claude Code's and Codex's transcripts)."""
        if not session_id:
            return []
        rows = self._rows(
            "SELECT path FROM files WHERE source = ? AND instr(path, ?) > 0",
            (source, session_id),
        )
        return [str(path) for (path,) in rows]

    # -- providers ------------------------------------------------------------------------

    def billed_today(self, now_ms: int) -> float | None:
        """What the providers report as spent on the UTC day of ``now_ms`` (their days are
        UTC days), or None when nothing was fetched for it."""
        day = datetime.fromtimestamp(now_ms / 1000, UTC).date().isoformat()
        (row,) = self._rows(
            "SELECT SUM(cost_usd), COUNT(*) FROM provider_rows WHERE kind = 'cost' AND day = ?",
            (day,),
        )
        return float(row[0] or 0.0) if row[1] else None

    def provider_daily(self) -> list[tuple[str, str, str, int, float | None]]:
        """(provider, day, kind, tokens, cost) summed over models."""
        rows = self._rows(
            "SELECT provider, day, kind, SUM(input_tokens + output_tokens + cache_read_tokens + "
            "cache_write_5m_tokens + cache_write_1h_tokens), SUM(cost_usd) FROM provider_rows "
            "GROUP BY provider, day, kind"
        )
        return [(str(p), str(d), str(k), int(t or 0), c) for p, d, k, t, c in rows]

    def provider_states(self) -> list[ProviderState]:
        """Every provider that has been polled (or tried), by name."""
        rows = self._rows(
            "SELECT provider, status, message, last_ok_ms, next_poll_ms, failures, "
            "key_fingerprint, info FROM provider_state ORDER BY provider"
        )
        return [_provider_state(row) for row in rows]

    def provider_state(self, provider: str) -> ProviderState | None:
        rows = self._rows(
            "SELECT provider, status, message, last_ok_ms, next_poll_ms, failures, "
            "key_fingerprint, info FROM provider_state WHERE provider = ?",
            (provider,),
        )
        return _provider_state(rows[0]) if rows else None

    # -- alerts ---------------------------------------------------------------------------

    def alert_fired(self, key: str, window_start_ms: int, level: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM alert_state WHERE rule_id = ? AND window_start_ms = ? AND level = ?",
                (key, window_start_ms, level),
            )
        )

    def alerts_fired_between(self, start_ms: int, end_ms: int) -> int:
        """Alerts (digests aside) fired in the window."""
        (row,) = self._rows(
            "SELECT COUNT(*) FROM alert_state WHERE fired_ms >= ? AND fired_ms < ? "
            "AND level != 'digest'",
            (start_ms, end_ms),
        )
        return int(row[0])

    # -- price cache ------------------------------------------------------------------------

    def cached_rates(
        self, model: str, day: str, tier: str, fingerprint: str
    ) -> tuple[bool, str | None]:
        """(found, rates as JSON) from the price cache; found with None: known unpriced."""
        rows = self._rows(
            "SELECT rates FROM price_cache WHERE model = ? AND day = ? AND tier = ? "
            "AND fingerprint = ?",
            (model, day, tier, fingerprint),
        )
        return (True, rows[0][0]) if rows else (False, None)
