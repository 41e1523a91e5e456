"""Token burn per bucket as dense arrays, kept up to date without re-reading history.

Opening the graph (or switching range or split) reads the window once; after
that, each ingest re-reads only the buckets from its earliest changed event
on, and the window slides forward with the clock. Copies are handed to the
GUI thread, so the worker can keep updating its own arrays.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tokentray.dashboard import live
from tokentray.store import Store

MINUTE_MS = 60_000
QUARTER_MS = 15 * MINUTE_MS
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FULL_RELOAD_S = 10 * 60  # re-read the whole window now and then, whatever happened


@dataclass(slots=True)
class BurnSeries:
    start_ms: int
    bucket_ms: int
    count: int
    tokens: dict[str, np.ndarray] = field(default_factory=dict)
    unpriced: set[str] = field(default_factory=set)
    cost: dict[str, np.ndarray] = field(default_factory=dict)  # USD per bucket, same labels

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.count * self.bucket_ms

    @property
    def labels(self) -> list[str]:
        """Largest first."""
        return sorted(self.tokens, key=lambda label: -float(self.tokens[label].sum()))

    def copy(self) -> BurnSeries:
        tokens = {label: values.copy() for label, values in self.tokens.items()}
        cost = {label: values.copy() for label, values in self.cost.items()}
        return BurnSeries(
            self.start_ms, self.bucket_ms, self.count, tokens, set(self.unpriced), cost
        )


def window(store: Store, span_ms: int, now_ms: int) -> tuple[int, int, int]:
    """(start, bucket, count): minutes for up to two days, quarter-hours for up to 30 days,
    hours beyond; ``span_ms`` 0 is all. Quarter-hours and hours are read from the store's
    running totals, so a month or a year costs the same at any number of requests."""
    if span_ms:
        start = now_ms - span_ms
    else:
        first = store.first_event_ms()
        start = first if first is not None else now_ms - 86_400_000
    span = now_ms - start
    bucket = MINUTE_MS if span <= 2 * DAY_MS else QUARTER_MS if span <= 30 * DAY_MS else HOUR_MS
    start -= start % bucket
    count = (now_ms - start) // bucket + 1
    return start, bucket, count


class SeriesCache:
    def __init__(self) -> None:
        self.key: tuple[int, str] | None = None
        self.series: BurnSeries | None = None
        self.loaded_at = 0.0

    def get(
        self,
        store: Store,
        span_ms: int,
        split: str,
        now_ms: int,
        changed: tuple[int, int] | None,
    ) -> BurnSeries:
        start, bucket, count = window(store, span_ms, now_ms)
        cached = self.series
        if (
            cached is None
            or self.key != (span_ms, split)
            or cached.bucket_ms != bucket
            or start < cached.start_ms
            or time.monotonic() - self.loaded_at > FULL_RELOAD_S
        ):
            self.series = self._load(store, start, bucket, count, split)
            self.key, self.loaded_at = (span_ms, split), time.monotonic()
            return self.series.copy()
        _slide(cached, start, count)
        if changed is not None and changed[1] >= cached.start_ms:
            first = max(cached.start_ms, changed[0] - changed[0] % bucket)
            self._splice(store, cached, first, split)
        return cached.copy()

    def _load(self, store: Store, start: int, bucket: int, count: int, split: str) -> BurnSeries:
        series = BurnSeries(start, bucket, count)
        self._splice(store, series, start, split)
        return series

    @staticmethod
    def _splice(store: Store, series: BurnSeries, first_ms: int, split: str) -> None:
        """Replace every bucket from ``first_ms`` on with what the store holds now."""
        fresh = live.series(store, first_ms, series.end_ms, series.bucket_ms, split)
        offset = (first_ms - series.start_ms) // series.bucket_ms
        for arrays, points_by_label in ((series.tokens, fresh.tokens), (series.cost, fresh.cost)):
            for values in arrays.values():
                values[offset:] = 0
            for label, points in points_by_label.items():
                _add(series, arrays, label, points)
        series.unpriced |= fresh.unpriced


def _add(
    series: BurnSeries, arrays: dict[str, np.ndarray], label: str, points: Mapping[int, float]
) -> None:
    """Add ``points`` (bucket start ms -> amount) into the label's dense array."""
    if label not in arrays:
        arrays[label] = np.zeros(series.count, dtype=np.float64)
    times = np.fromiter(points.keys(), dtype=np.int64, count=len(points))
    amounts = np.fromiter(points.values(), dtype=np.float64, count=len(points))
    index = (times - series.start_ms) // series.bucket_ms
    inside = (index >= 0) & (index < series.count)
    np.add.at(arrays[label], index[inside], amounts[inside])


def _slide(series: BurnSeries, start: int, count: int) -> None:
    """Move the window to ``start`` and ``count`` buckets: drop the oldest, add empty ones."""
    drop = (start - series.start_ms) // series.bucket_ms
    for arrays in (series.tokens, series.cost):
        for label, values in arrays.items():
            kept = values[drop:] if drop > 0 else values
            grown = np.zeros(count, dtype=np.float64)
            grown[: min(count, len(kept))] = kept[:count]
            arrays[label] = grown
    series.start_ms += max(drop, 0) * series.bucket_ms
    series.count = count
