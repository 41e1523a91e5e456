"""Everything the graph window draws, prepared off the GUI thread (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from tokentray.dashboard import live
from tokentray.dashboard.series_cache import BurnSeries, SeriesCache
from tokentray.events import PlanSample
from tokentray.store import Store

RANGES_MS = {
    "1h": 3_600_000,
    "24h": 86_400_000,
    "7d": 7 * 86_400_000,
    "30d": 30 * 86_400_000,
    "all": 0,
}


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """Which range (a key of ``RANGES_MS``) and which split (a key of ``live.SPLITS``)."""

    range_key: str = "24h"
    split: str = "source"


@dataclass(slots=True)
class GraphData:
    spec: GraphSpec
    snapshot: live.LiveSnapshot
    series: BurnSeries
    cumulative: list[tuple[int, float]]
    day_start_ms: int
    day_end_ms: int
    sessions: list[live.SessionRow] = field(default_factory=list)
    plan_history: list[PlanSample] = field(default_factory=list)  # the last PLAN_VIEW_MS


PLAN_VIEW_MS = 7 * 86_400_000  # the Plan view spans a weekly window

RECENT_SESSIONS_MS = 24 * 3_600_000


def compute_graph(
    store: Store,
    spec: GraphSpec,
    tz: ZoneInfo,
    snap: live.LiveSnapshot,
    cache: SeriesCache | None = None,
    changed: tuple[int, int] | None = None,
) -> GraphData:
    """Everything the graph window draws; with a cache, only what changed is re-read."""
    now = snap.now_ms
    cache = cache or SeriesCache()
    series = cache.get(store, RANGES_MS[spec.range_key], spec.split, now, changed)
    day_start = live.local_day_start_ms(now, tz)
    return GraphData(
        spec=spec,
        snapshot=snap,
        series=series,
        cumulative=live.cumulative_cost(store, day_start, now + 60_000),
        day_start_ms=day_start,
        day_end_ms=live.local_day_end_ms(now, tz),
        sessions=live.recent_sessions(store, now - RECENT_SESSIONS_MS, now),
        plan_history=store.plan_history(now - PLAN_VIEW_MS, now),
    )
