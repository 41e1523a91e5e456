"""Reports over stored events: periods (day, week, month), sessions and 5-hour blocks.

SQLite sums events into quarter-hour buckets (every real time zone offset is
a multiple of 15 minutes), and Python assigns each bucket to its local
period, so a report over years of history reads a few thousand rows, not
every event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.store import EventFilter, Store

QUARTER_HOUR_MS = 15 * 60 * 1000
BLOCK_HOURS = 5
PERIOD_KINDS = ("daily", "weekly", "monthly")


@dataclass(slots=True)
class Totals:
    """Token buckets are disjoint; ``reasoning_tokens`` is a part of ``output_tokens``.

    ``estimated_requests`` are priced from estimated counts or list prices of another
    tier; ``reported_requests`` carry the agent's own cost figure (a model with no list
    price). Neither is a list-price fact, and reports mark both.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0
    unpriced_requests: int = 0
    estimated_requests: int = 0
    reported_requests: int = 0
    unpriced_models: set[str] = field(default_factory=set)

    def add_sums(self, model: str, sums: tuple[Any, ...]) -> None:
        self.input_tokens += sums[0] or 0
        self.output_tokens += sums[1] or 0
        self.reasoning_tokens += sums[2] or 0
        self.cache_write_tokens += sums[3] or 0
        self.cache_read_tokens += sums[4] or 0
        self.total_tokens += sums[5] or 0
        self.cost_usd += sums[6] or 0.0
        self.unpriced_requests += sums[7] or 0
        self.estimated_requests += sums[8] or 0
        self.requests += sums[9] or 0
        self.reported_requests += sums[10] or 0
        if sums[7]:
            self.unpriced_models.add(model)

    def add(self, other: Totals) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.total_tokens += other.total_tokens
        self.cost_usd += other.cost_usd
        self.requests += other.requests
        self.unpriced_requests += other.unpriced_requests
        self.estimated_requests += other.estimated_requests
        self.reported_requests += other.reported_requests
        self.unpriced_models |= other.unpriced_models

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "requests": self.requests,
            "unpriced_requests": self.unpriced_requests,
            "estimated_requests": self.estimated_requests,
            "reported_requests": self.reported_requests,
            "unpriced_models": sorted(self.unpriced_models),
        }


@dataclass(slots=True)
class Row:
    """One line of a report, with its per-model breakdown."""

    period: str
    totals: Totals = field(default_factory=Totals)
    models: dict[str, Totals] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_sums(self, model: str, sums: tuple[Any, ...]) -> None:
        self.totals.add_sums(model, sums)
        self.models.setdefault(model, Totals()).add_sums(model, sums)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            **self.extra,
            **self.totals.as_dict(),
            "models": {m: t.as_dict() for m, t in sorted(self.models.items())},
        }


@dataclass(slots=True)
class Report:
    kind: str
    timezone: str
    rows: list[Row]

    @property
    def totals(self) -> Totals:
        total = Totals()
        for row in self.rows:
            total.add(row.totals)
        return total

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals
        models: dict[str, Totals] = {}
        for row in self.rows:
            for model, t in row.models.items():
                models.setdefault(model, Totals()).add(t)
        return {
            "report": self.kind,
            "timezone": self.timezone,
            "rows": [row.as_dict() for row in self.rows],
            "totals": {
                **totals.as_dict(),
                "models": {m: t.as_dict() for m, t in sorted(models.items())},
            },
        }


@dataclass(frozen=True, slots=True)
class Filters:
    since: date | None = None
    until: date | None = None
    source: str | None = None

    def events(self, tz: ZoneInfo) -> EventFilter:
        """The events these local dates (``until`` inclusive) and this agent cover."""
        return EventFilter(
            start_ms=None if self.since is None else _local_midnight_ms(self.since, tz),
            end_ms=None
            if self.until is None
            else _local_midnight_ms(self.until + timedelta(days=1), tz),
            source=self.source or None,
        )


def _local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def period_label(moment: datetime, kind: str) -> str:
    if kind == "daily":
        return moment.date().isoformat()
    if kind == "weekly":
        return (moment.date() - timedelta(days=moment.weekday())).isoformat()
    if kind == "monthly":
        return f"{moment.year:04d}-{moment.month:02d}"
    raise ValueError(f"unknown period {kind!r}")


def period_report(store: Store, kind: str, tz: ZoneInfo, filters: Filters) -> Report:
    """Daily, weekly (weeks start on Monday) or monthly totals in time zone ``tz``.

    The store sums its quarter-hour running totals into the periods' local bounds, so the
    cost follows the number of periods, not the number of requests ever made."""
    where = filters.events(tz)
    span = store.event_span(where)
    by_period: dict[str, Row] = {}
    if span is not None:
        periods = period_bounds(kind, tz, *span)
        for label, model, *sums in store.sums_by_period_and_model(periods, where):
            by_period.setdefault(label, Row(label)).add_sums(model, tuple(sums))
    return Report(kind, str(tz), [by_period[k] for k in sorted(by_period)])


def period_bounds(
    kind: str, tz: ZoneInfo, first_ms: int, last_ms: int
) -> list[tuple[str, int, int]]:
    """(label, start ms, end ms) of each local day, week or month from ``first_ms`` to
    ``last_ms`` (each bound a local midnight: a whole quarter-hour in every time zone)."""
    day = datetime.fromtimestamp(first_ms / 1000, tz).date()
    last = datetime.fromtimestamp(last_ms / 1000, tz).date()
    if kind == "weekly":
        day -= timedelta(days=day.weekday())
    elif kind == "monthly":
        day = day.replace(day=1)
    elif kind != "daily":
        raise ValueError(f"unknown period {kind!r}")
    bounds = []
    while day <= last:
        if kind == "daily":
            following = day + timedelta(days=1)
        elif kind == "weekly":
            following = day + timedelta(days=7)
        else:
            following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        label = f"{day.year:04d}-{day.month:02d}" if kind == "monthly" else day.isoformat()
        bounds.append((label, _local_midnight_ms(day, tz), _local_midnight_ms(following, tz)))
        day = following
    return bounds


def session_report(store: Store, tz: ZoneInfo, filters: Filters) -> Report:
    """One row per session, oldest first activity first."""
    rows = store.sums_by_session_and_model(filters.events(tz))
    sessions: dict[tuple[str, str], Row] = {}
    for source, session_id, model, project, first, last, *sums in rows:
        row = sessions.get((source, session_id))
        if row is None:
            row = sessions[(source, session_id)] = Row(
                session_id,
                extra={"source": source, "project": project, "first": first, "last": last},
            )
        row.extra["first"] = min(row.extra["first"], first)
        row.extra["last"] = max(row.extra["last"], last)
        row.add_sums(model, tuple(sums))
    ordered = sorted(sessions.values(), key=lambda r: (r.extra["first"], r.period))
    for row in ordered:
        row.extra["first"] = _iso(row.extra["first"], tz)
        row.extra["last"] = _iso(row.extra["last"], tz)
    return Report("session", str(tz), ordered)


def _iso(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")


def block_report(
    store: Store, tz: ZoneInfo, filters: Filters, now: datetime | None = None
) -> Report:
    """Five-hour windows: a window opens at the first request after the previous one closed.

    Like Claude's plan windows, a window starts at its first message and lasts
    five hours. Rows carry the window's start and end, whether it is still
    active, its burn rate and, while active, the projected total at its end.
    """
    rows = store.sums_by_time_and_model(1000, filters.events(tz))
    now_s = (now or datetime.now(UTC)).timestamp()
    blocks: list[Row] = []
    current: Row | None = None
    block_start = last_seen = 0
    length = BLOCK_HOURS * 3600
    for second, model, *sums in rows:
        if current is None or second >= block_start + length:
            current = Row(_iso(second * 1000, tz))
            blocks.append(current)
            block_start = second
            current.extra = {"start": second, "end": second + length}
        current.add_sums(model, tuple(sums))
        last_seen = second
        current.extra["last"] = last_seen
    for row in blocks:
        _describe_block(row, tz, now_s)
    return Report("blocks", str(tz), blocks)


def _describe_block(row: Row, tz: ZoneInfo, now_s: float) -> None:
    start, end, last = row.extra["start"], row.extra["end"], row.extra["last"]
    active = start <= now_s < end
    minutes = (last - start) / 60
    burn_tokens = row.totals.total_tokens / minutes if minutes > 0 else None
    burn_cost = row.totals.cost_usd / minutes * 60 if minutes > 0 else None
    projected: dict[str, Any] | None = None
    if active and burn_tokens is not None and burn_cost is not None:
        remaining = (end - now_s) / 60
        projected = {
            "total_tokens": round(row.totals.total_tokens + burn_tokens * remaining),
            "cost_usd": round(row.totals.cost_usd + burn_cost / 60 * remaining, 6),
        }
    row.extra = {
        "start": _iso(start * 1000, tz),
        "end": _iso(end * 1000, tz),
        "last": _iso(last * 1000, tz),
        "active": active,
        "tokens_per_minute": None if burn_tokens is None else round(burn_tokens, 1),
        "cost_per_hour_usd": None if burn_cost is None else round(burn_cost, 6),
        "projected": projected,
    }


def known_models(rows: Iterable[Row]) -> set[str]:
    return {m for row in rows for m in row.models}
