"""What the tray and the graph window show, computed from the store (no Qt).

The GUI never queries SQLite while painting: a background worker calls these
functions after each ingest and hands the results over.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.events import ProviderState
from tokentray.guardrails import PausedAgent, paused
from tokentray.insight.summary import OutcomeBadge
from tokentray.plans import PlanWindow
from tokentray.plans import windows as plan_windows
from tokentray.store import Store
from tokentray.store.reads import Column

BURN_WINDOW_MS = 15 * 60 * 1000
WARNING_SHARE = 0.8
SPLITS: dict[str, Column] = {"source": "source", "model": "model", "project": "project"}


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
    providers: tuple[ProviderState, ...] = ()  # every provider polled so far, as it stands
    plans: tuple[PlanWindow, ...] = ()  # subscription windows, the nearest its limit first
    paused_agents: tuple[PausedAgent, ...] = ()  # sessions a guardrail paused, still stopped
    badge: OutcomeBadge | None = None  # today's tier with what the day's spend bought

    @property
    def nearest_plan(self) -> PlanWindow | None:
        return self.plans[0] if self.plans and not self.plans[0].has_reset else None


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
    today = store.day_totals(start)
    burn = store.burn_since(now_ms - BURN_WINDOW_MS)
    billed = store.billed_today(now_ms)
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
        unpriced_models=tuple(store.unpriced_models(start)),
        burn_usd_per_hour=burn[0] / minutes * 60,
        burn_tokens_per_minute=burn[1] / minutes,
        active_sessions=burn[2],
        top_project=store.top_by_cost("project", start),
        top_model=store.top_by_cost("model", start),
        last_event_ms=store.last_event_ms(),
        daily_budget_usd=daily_budget_usd,
        budget_state=budget_state(spent, daily_budget_usd),
        sources_found=sources_found,
        stale=stale,
        providers=tuple(store.provider_states()),
        plans=tuple(plan_windows(store.plan_latest(), now_ms)),
        paused_agents=tuple(paused(store)),
    )


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
    result = Series(bucket_ms, start_ms, end_ms)
    for bucket, label, tokens, cost, unpriced in store.buckets(
        bucket_ms, start_ms, end_ms, SPLITS[split]
    ):
        name = str(label) or "(unknown)"
        result.tokens.setdefault(name, {})[bucket * bucket_ms] = tokens
        result.cost.setdefault(name, {})[bucket * bucket_ms] = cost
        if unpriced:
            result.unpriced.add(name)
    return result


def cumulative_cost(store: Store, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """(time, spend so far) at each request in the window, for the spend chart."""
    total = 0.0
    points = []
    for ts, cost in store.cost_by_time(start_ms, end_ms):
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
    rows = store.recent_session_rows(since_ms, now_ms - BURN_WINDOW_MS)
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
    result = result[:limit]
    # "Started" is when the session began, not its first request inside the range.
    starts = store.session_starts([(r.source, r.session_id) for r in result])
    return [
        replace(r, first_ms=min(r.first_ms, starts.get((r.source, r.session_id), r.first_ms)))
        for r in result
    ]


def session_timeline(store: Store, source: str, session_id: str) -> list[tuple[int, int, float]]:
    """(time, tokens so far, spend so far) at each request of one session."""
    tokens, cost = 0, 0.0
    points = []
    for ts, t, c in store.session_requests(source, session_id):
        tokens += t
        cost += c
        points.append((ts, tokens, cost))
    return points
