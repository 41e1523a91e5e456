"""The Prometheus endpoint on a large store: how long the background sum of the history
takes, and how long each scrape takes after it (medians of several scrapes, min and max).

    .venv/bin/python bench/bench_exporter.py --store bench/out/<folder holding usage.sqlite3>

Run by hand; figures go into the closing note. Git is not asked (commits are read on a
thread of their own and never on a scrape).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from tokentray.exporter import UsageCollector
from tokentray.paths import database_path
from tokentray.settings import ExporterSettings
from tokentray.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True, help="a data folder")
    parser.add_argument("--scrapes", type=int, default=7)
    args = parser.parse_args()
    store = Store(database_path(args.store), integrity="never")
    requests = store.count_events()
    collector = UsageCollector(
        store, ExporterSettings(), lambda: 20.0, ZoneInfo("UTC"), background=False
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    started = time.perf_counter()
    collector.settle()
    settle_s = time.perf_counter() - started
    times, size = [], 0
    for _ in range(args.scrapes):
        started = time.perf_counter()
        size = len(generate_latest(registry))
        times.append(time.perf_counter() - started)
    results = {
        "requests": requests,
        "settle_s": round(settle_s, 2),
        "scrape_ms": round(statistics.median(times) * 1000, 1),
        "scrape_ms_min": round(min(times) * 1000, 1),
        "scrape_ms_max": round(max(times) * 1000, 1),
        "scrape_bytes": size,
    }
    store.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
