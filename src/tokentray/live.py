"""What the tray and the graph window show, computed from the store (no Qt).

The GUI never queries SQLite while painting: a background worker calls these
functions after each ingest and hands the results over.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.store import Store

BURN_WINDOW_MS = 15 * 60 * 1000
WARNING_SHARE = 0.8
SPLITS = {"source": "source", "model": "model", "project": "project"}


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Today at a glance; ``budget_state`` is normal, warning (>= 80%) or over."""

    now_ms: int
    today_cost_usd: float = 0.0
    today_tokens: int = 0
    today_requests: int = 0
    unpriced_models: tuple[str, ...] = ()
    estimated_requests: int = 0
    reported_requests: int = 0  # priced at the agent's own figure: no list price
    burn_usd_per_hour: float = 0.0
    burn_tokens_per_minute: float = 0.0
    active_sessions: int = 0
    top_project: str = ""
    top_model: str = ""
    last_event_ms: int | None = None
    daily_budget_usd: float | None = None
    budget_state: str = "normal"
    sources_found: bool = True
    stale: bool = False
    local_cost_usd: float = 0.0  # today's spend from local logs alone
    billed_today_usd: float | None = None  # providers' own figure for today (UTC), if fetched


def local_day_start_ms(now_ms: int, tz: ZoneInfo) -> int:
    now = datetime.fromtimestamp(now_ms / 1000, tz)
    midnight = datetime(now.year, now.month, now.day, tzinfo=tz)
    return int(midnight.timestamp() * 1000)


def local_day_end_ms(now_ms: int, tz: ZoneInfo) -> int:
    now = datetime.fromtimestamp(now_ms / 1000, tz)
    tomorrow = (now + timedelta(days=1)).date()
    return int(datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz).timestamp() * 1000)


def budget_state(cost: float, budget: float | None) -> str:
    if not budget or budget <= 0:
        return "normal"
    if cost >= budget:
        return "over"
    return "warning" if cost >= WARNING_SHARE * budget else "normal"


def snapshot(
    store: Store,
    now_ms: int,
    tz: ZoneInfo,
    daily_budget_usd: float | None = None,
    sources_found: bool = True,
    stale: bool = False,
    count_billed: bool = False,
) -> LiveSnapshot:
    """Today at a glance; with ``count_billed`` today's spend is the higher of the local
    logs and what the providers billed today (they see other machines and keys too)."""
    start = local_day_start_ms(now_ms, tz)
    (today,) = store.query(
        "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(total_tokens), 0), COUNT(*), "
        "COALESCE(SUM(cost_status = 'estimated'), 0), "
        "COALESCE(SUM(cost_status = 'reported'), 0) FROM events WHERE ts_ms >= ?",
        (start,),
    )
    unpriced = store.query(
        "SELECT DISTINCT model FROM events WHERE ts_ms >= ? AND cost_status = 'unpriced' "
        "ORDER BY model",
        (start,),
    )
    # No upper bound: an agent's clock a little ahead of ours still counts as now.
    (burn,) = store.query(
        "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(total_tokens), 0), "
        "COUNT(DISTINCT source || ':' || session_id) FROM events WHERE ts_ms > ?",
        (now_ms - BURN_WINDOW_MS,),
    )
    (last,) = store.query("SELECT MAX(ts_ms) FROM events")
    billed = billed_today(store, now_ms)
    spent = max(today[0], billed) if count_billed and billed is not None else today[0]
    minutes = BURN_WINDOW_MS / 60_000
    return LiveSnapshot(
        now_ms=now_ms,
        today_cost_usd=spent,
        local_cost_usd=today[0],
        billed_today_usd=billed,
        today_tokens=today[1],
        today_requests=today[2],
        estimated_requests=today[3],
        reported_requests=today[4],
        unpriced_models=tuple(m for (m,) in unpriced),
        burn_usd_per_hour=burn[0] / minutes * 60,
        burn_tokens_per_minute=burn[1] / minutes,
        active_sessions=burn[2],
        top_project=_top(store, "project", start),
        top_model=_top(store, "model", start),
        last_event_ms=last[0],
        daily_budget_usd=daily_budget_usd,
        budget_state=budget_state(spent, daily_budget_usd),
        sources_found=sources_found,
        stale=stale,
    )


def billed_today(store: Store, now_ms: int) -> float | None:
    """What the providers report as spent on the current UTC day, or None if nothing fetched."""
    day = datetime.fromtimestamp(now_ms / 1000, UTC).date().isoformat()
    (row,) = store.query(
        "SELECT SUM(cost_usd), COUNT(*) FROM provider_rows WHERE kind = 'cost' AND day = ?", (day,)
    )
    return float(row[0] or 0.0) if row[1] else None


def _top(store: Store, column: str, start: int) -> str:
    rows = store.query(
        f"SELECT {column} FROM events WHERE ts_ms >= ? "
        f"GROUP BY {column} ORDER BY SUM(COALESCE(cost_usd, 0)) DESC, SUM(total_tokens) DESC "
        "LIMIT 1",
        (start,),
    )
    return str(rows[0][0]) if rows else ""


@dataclass(slots=True)
class Series:
    """Tokens and cost per bucket, split by a column; buckets with no usage are left out."""

    bucket_ms: int
    start_ms: int
    end_ms: int
    tokens: dict[str, dict[int, int]] = field(default_factory=dict)
    cost: dict[str, dict[int, float]] = field(default_factory=dict)
    unpriced: set[str] = field(default_factory=set)

    @property
    def labels(self) -> list[str]:
        totals = Counter({label: sum(v.values()) for label, v in self.tokens.items()})
        return [label for label, _ in totals.most_common()]


def series(store: Store, start_ms: int, end_ms: int, bucket_ms: int, split: str) -> Series:
    """Usage between ``start_ms`` and ``end_ms`` in buckets of ``bucket_ms``."""
    column = SPLITS[split]
    result = Series(bucket_ms, start_ms, end_ms)
    rows = store.query(
        f"SELECT ts_ms / ? AS b, {column}, SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), "
        "SUM(cost_status = 'unpriced') FROM events WHERE ts_ms >= ? AND ts_ms < ? "
        f"GROUP BY b, {column}",
        (bucket_ms, start_ms, end_ms),
    )
    for bucket, label, tokens, cost, unpriced in rows:
        name = str(label) or "(unknown)"
        result.tokens.setdefault(name, {})[bucket * bucket_ms] = tokens
        result.cost.setdefault(name, {})[bucket * bucket_ms] = cost
        if unpriced:
            result.unpriced.add(name)
    return result


def cumulative_cost(store: Store, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """(time, spend so far) at each request in the window, for the spend chart."""
    rows = store.query(
        "SELECT ts_ms, SUM(COALESCE(cost_usd, 0)) FROM events WHERE ts_ms >= ? AND ts_ms < ? "
        "GROUP BY ts_ms ORDER BY ts_ms",
        (start_ms, end_ms),
    )
    total = 0.0
    points = []
    for ts, cost in rows:
        total += cost
        points.append((ts, total))
    return points


@dataclass(frozen=True, slots=True)
class SessionRow:
    source: str
    session_id: str
    project: str
    model: str
    first_ms: int
    last_ms: int
    tokens: int
    cost_usd: float
    unpriced: bool
    usd_per_hour_now: float
    estimated: bool = False
    reported: bool = False  # some of its cost is the agent's own figure


def recent_sessions(store: Store, since_ms: int, now_ms: int, limit: int = 200) -> list[SessionRow]:
    """Sessions active since ``since_ms``, most recently active first."""
    rows = store.query(
        "SELECT source, session_id, model, MAX(project), MIN(ts_ms), MAX(ts_ms), "
        "SUM(total_tokens), SUM(COALESCE(cost_usd, 0)), SUM(cost_status = 'unpriced'), "
        "SUM(CASE WHEN ts_ms > ? THEN COALESCE(cost_usd, 0) ELSE 0 END), "
        "SUM(estimated OR cost_status = 'estimated'), SUM(cost_status = 'reported') "
        # Without the hint SQLite walks the session index over all history to group.
        "FROM events INDEXED BY events_ts WHERE ts_ms >= ? GROUP BY source, session_id, model",
        (now_ms - BURN_WINDOW_MS, since_ms),
    )
    sessions: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        sessions.setdefault((row[0], row[1]), []).append(row)
    result = []
    for (source, session), parts in sessions.items():
        main = max(parts, key=lambda p: p[6])  # the model that did most of the work
        result.append(
            SessionRow(
                source=source,
                session_id=session,
                project=str(main[3]),
                model=str(main[2]),
                first_ms=min(p[4] for p in parts),
                last_ms=max(p[5] for p in parts),
                tokens=sum(p[6] for p in parts),
                cost_usd=sum(p[7] for p in parts),
                unpriced=any(p[8] for p in parts),
                usd_per_hour_now=sum(p[9] for p in parts) / (BURN_WINDOW_MS / 3_600_000),
                estimated=any(p[10] for p in parts),
                reported=any(p[11] for p in parts),
            )
        )
    result.sort(key=lambda r: r.last_ms, reverse=True)
    return result[:limit]


def session_timeline(store: Store, source: str, session_id: str) -> list[tuple[int, int, float]]:
    """(time, tokens so far, spend so far) at each request of one session."""
    rows = store.query(
        "SELECT ts_ms, total_tokens, COALESCE(cost_usd, 0) FROM events "
        "WHERE source = ? AND session_id = ? ORDER BY ts_ms",
        (source, session_id),
    )
    tokens, cost = 0, 0.0
    points = []
    for ts, t, c in rows:
        tokens += t
        cost += c
        points.append((ts, tokens, cost))
    return points
