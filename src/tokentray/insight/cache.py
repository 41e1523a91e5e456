"""How well prompt caching worked: the hit ratio, writes nobody read, misses after idle.

Followed request by request within each session and model (a cache belongs to one
model):

- **hit ratio**: cache reads over all prompt tokens (uncached input + cache reads + cache
  writes).
- **unread writes**: a cache write is wasted when no later request of the session and
  model reads the cache within the write's lifetime (5 minutes, or 1 hour for 1-hour
  writes); its cost is what the write was billed.
- **idle misses**: a request that writes the cache again after a gap longer than the
  cache's lifetime since the previous request (1 hour when the session had written
  1-hour entries, else 5 minutes). Its cost is the extra paid to write again what the
  previous request had cached (at most that request's prompt) over reading it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.events import UsageEvent, event_from_row
from tokentray.insight import add_fields
from tokentray.pricing import Rates
from tokentray.store import EventFilter, Store

LIFETIME_5M_MS = 5 * 60 * 1000
LIFETIME_1H_MS = 60 * 60 * 1000

RatesOf = Callable[[UsageEvent], Rates | None]


@dataclass(slots=True)
class CacheFigures:
    requests: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unread_write_tokens: int = 0
    unread_write_usd: float = 0.0
    idle_misses: int = 0
    idle_miss_tokens: int = 0
    idle_miss_usd: float = 0.0
    unpriced_requests: int = 0  # no rates: their tokens count, their cost cannot

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def hit_ratio(self) -> float | None:
        prompt = self.prompt_tokens
        return self.cache_read_tokens / prompt if prompt else None

    @property
    def wasted_usd(self) -> float:
        return self.unread_write_usd + self.idle_miss_usd

    def merge(self, other: CacheFigures) -> None:
        add_fields(self, other, self.__slots__)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.hit_ratio
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "hit_ratio": None if ratio is None else round(ratio, 6),
            "unread_write_tokens": self.unread_write_tokens,
            "unread_write_usd": round(self.unread_write_usd, 6),
            "idle_misses": self.idle_misses,
            "idle_miss_tokens": self.idle_miss_tokens,
            "idle_miss_usd": round(self.idle_miss_usd, 6),
            "wasted_usd": round(self.wasted_usd, 6),
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(slots=True)
class CacheReport:
    total: CacheFigures
    days: dict[str, CacheFigures]
    sessions: dict[tuple[str, str, str], CacheFigures]  # (source, session, project)

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": "cache",
            "total": self.total.as_dict(),
            "days": [{"day": day, **f.as_dict()} for day, f in sorted(self.days.items())],
            "sessions": [
                {"source": source, "session": session, "project": project, **f.as_dict()}
                for (source, session, project), f in sorted(
                    self.sessions.items(), key=lambda item: -item[1].wasted_usd
                )
            ],
        }


def cache_report(store: Store, where: EventFilter, tz: ZoneInfo, rates_of: RatesOf) -> CacheReport:
    report = CacheReport(CacheFigures(), {}, {})
    for requests in _runs(store.requests(where)):
        for event, figures in _follow(requests, rates_of):
            day = datetime.fromtimestamp(event.timestamp_ms / 1000, tz).date().isoformat()
            report.days.setdefault(day, CacheFigures()).merge(figures)
            key = (event.source, event.session_id, event.project)
            report.sessions.setdefault(key, CacheFigures()).merge(figures)
            report.total.merge(figures)
    return report


def _runs(rows: Iterable[Sequence[Any]]) -> Iterable[list[UsageEvent]]:
    """The requests of each session and model in time order (rows come by session, time)."""
    runs: dict[tuple[str, str, str], list[UsageEvent]] = {}
    current: tuple[str, str] | None = None
    for row in rows:
        if (row[0], row[1]) != current:
            yield from runs.values()
            runs, current = {}, (row[0], row[1])
        runs.setdefault((row[0], row[1], row[3]), []).append(event_from_row(row))
    yield from runs.values()


def _follow(
    requests: list[UsageEvent], rates_of: RatesOf
) -> Iterable[tuple[UsageEvent, CacheFigures]]:
    """Each request of one session and model with its own share of the figures."""
    next_read = _next_read_times(requests)
    long_lived = False
    previous: UsageEvent | None = None
    for index, event in enumerate(requests):
        rates = rates_of(event)
        band = rates.band_for(event.prompt_tokens) if rates else None
        figures = CacheFigures(
            requests=1,
            input_tokens=event.input_tokens,
            cache_read_tokens=event.cache_read_tokens,
            cache_write_tokens=event.cache_write_tokens,
            unpriced_requests=0 if band else 1,
        )
        read_at = next_read[index]
        for tokens, lifetime, rate in (
            (event.cache_write_5m_tokens, LIFETIME_5M_MS, band[3] if band else 0.0),
            (event.cache_write_1h_tokens, LIFETIME_1H_MS, band[4] if band else 0.0),
        ):
            if tokens and (read_at is None or read_at - event.timestamp_ms > lifetime):
                figures.unread_write_tokens += tokens
                figures.unread_write_usd += tokens * rate / 1e6
        long_lived = long_lived or event.cache_write_1h_tokens > 0
        if previous is not None and event.cache_write_tokens:
            gap = event.timestamp_ms - previous.timestamp_ms
            if gap > (LIFETIME_1H_MS if long_lived else LIFETIME_5M_MS):
                missed = min(event.cache_write_tokens, previous.prompt_tokens)
                figures.idle_misses += 1
                figures.idle_miss_tokens += missed
                if band:
                    write_rate = _write_rate(event, band)
                    figures.idle_miss_usd += missed * max(write_rate - band[2], 0.0) / 1e6
        previous = event
        yield event, figures


def _next_read_times(requests: list[UsageEvent]) -> list[int | None]:
    """For each request, when a later request first read the cache (None: never)."""
    found: list[int | None] = [None] * len(requests)
    upcoming: int | None = None
    for index in range(len(requests) - 1, -1, -1):
        found[index] = upcoming
        if requests[index].cache_read_tokens:
            upcoming = requests[index].timestamp_ms
    return found


def _write_rate(event: UsageEvent, band: tuple[float, ...]) -> float:
    """The request's average write price per million (5-minute and 1-hour writes mixed)."""
    written = event.cache_write_tokens
    return (event.cache_write_5m_tokens * band[3] + event.cache_write_1h_tokens * band[4]) / written
