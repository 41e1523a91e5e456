"""Tray benchmark, run by hand: `QT_QPA_PLATFORM=offscreen python bench/bench_tray.py`.

1. idle CPU over 60 s of a running `tokentray` with 500 watched files and no window open,
   and its resident memory before the graph window was ever opened;
2. latency from an agent appending a line to the tray's snapshot (tooltip) showing it;
3. one graph refresh with 30 days of minute data: the worker's queries and the window's drawing.

Results are printed and written to bench/out/tray.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

OUT = Path(__file__).resolve().parent / "out"
TICKS = os.sysconf("SC_CLK_TCK")


def _line(n: int, when: datetime | None = None) -> bytes:
    stamp = (when or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {
        "type": "assistant",
        "cwd": f"/home/dev/p{n % 7}",
        "timestamp": stamp,
        "message": {
            "id": f"msg_bench_{n}_{random.getrandbits(32)}",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 30000, "output_tokens": 400},
        },
    }
    return json.dumps(record).encode() + b"\n"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_idle(seconds: int, results: dict[str, object]) -> None:
    root = Path(tempfile.mkdtemp(dir=OUT))
    projects = root / "claude" / "projects"
    for n in range(500):
        folder = projects / f"-home-dev-p{n % 25}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"session-{n}.jsonl").write_bytes(b"".join(_line(n * 10 + i) for i in range(5)))
    env = dict(os.environ)
    env.update(CLAUDE_CONFIG_DIR=str(root / "claude"), CODEX_HOME=str(root / "none"))
    env["TOKENTRAY_CONFIG_DIR"] = str(root / "config")
    exe = Path(sys.executable).with_name("tokentray")
    process = subprocess.Popen(
        [str(exe), "--data-dir", str(root / "data")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(8)  # start-up and the first scan of the 500 files
        rss = _rss_mb(process.pid)
        cpu_before, started = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu = _cpu_seconds(process.pid) - cpu_before
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(root)
    results["idle_cpu_percent"] = round(100 * cpu / elapsed, 3)
    results["idle_seconds"] = round(elapsed, 1)
    results["rss_mb_before_graph_window"] = round(rss, 1)


def bench_latency(results: dict[str, object]) -> None:
    from PySide6.QtWidgets import QApplication

    from tokentray.ui.app import TrayApp

    app = QApplication.instance() or QApplication([])
    root = Path(tempfile.mkdtemp(dir=OUT))
    log = root / "claude" / "projects" / "-home-dev-p" / "s.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_line(0))
    env = {"CLAUDE_CONFIG_DIR": str(root / "claude"), "CODEX_HOME": str(root / "none")}
    tray_app = TrayApp(root / "data", root / "config.toml", env=env)
    seen: list[tuple[float, int]] = []
    tray_app.worker.snapshotReady.connect(
        lambda s: seen.append((time.perf_counter(), s.today_requests))
    )
    tray_app.start()

    def wait_for(requests: int, timeout: float = 5.0) -> float | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            app.processEvents()
            for moment, count in seen:
                if count >= requests:
                    return moment
            time.sleep(0.002)
        return None

    wait_for(1)
    latencies = []
    for n in range(1, 21):
        seen.clear()
        with open(log, "ab") as handle:
            started = time.perf_counter()
            handle.write(_line(n))
        shown = wait_for(n + 1)
        if shown is not None:
            latencies.append(shown - started)
    tray_app.stop()
    shutil.rmtree(root)
    results["append_to_tooltip_ms_median"] = round(statistics.median(latencies) * 1000, 1)
    results["append_to_tooltip_ms_max"] = round(max(latencies) * 1000, 1)
    results["append_to_tooltip_samples"] = len(latencies)


def bench_graph(results: dict[str, object]) -> None:
    from PySide6.QtWidgets import QApplication

    from tokentray.dashboard.graph import GraphSpec, compute_graph
    from tokentray.dashboard.live import snapshot
    from tokentray.dashboard.series_cache import SeriesCache
    from tokentray.engine import local_zone, open_engine
    from tokentray.events import PricedEvent, UsageEvent
    from tokentray.settings import Settings
    from tokentray.ui.graph_window import GraphWindow
    from tokentray.ui.signals import AppSignals

    app = QApplication.instance() or QApplication([])
    root = Path(tempfile.mkdtemp(dir=OUT))
    engine = open_engine(
        root / "data", root / "config.toml", env={"CLAUDE_CONFIG_DIR": str(root / "x")}
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rng = random.Random(1)
    events = []
    for minute in range(30 * 24 * 60):  # one request per minute and model for 30 days
        moment = now - timedelta(minutes=minute)
        for model in ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "gpt-5-codex"):
            event = UsageEvent(
                source="claude-code" if model.startswith("claude") else "codex",
                key=f"{model}-{minute}",
                session_id=f"s{minute // 90}",
                project=f"/home/dev/p{minute // 600 % 5}",
                model=model,
                timestamp_ms=int(moment.timestamp() * 1000),
                input_tokens=rng.randint(1, 50),
                output_tokens=rng.randint(50, 2000),
                cache_read_tokens=rng.randint(1000, 100_000),
            )
            events.append(PricedEvent(event, 0.01, "priced"))
    with engine.store.transaction():
        engine.store.upsert_events(events)
    tz = local_zone()
    window = GraphWindow(AppSignals(Settings()))
    window.resize(1100, 760)
    window.show()
    first_query, query, first_draw, refresh = [], [], [], []
    cache = SeriesCache()
    for split in ("source", "model", "project"):
        spec = GraphSpec("30d", split)
        window.select(spec)
        for attempt in range(6):  # the first draw of a split, then live refreshes
            changed = None
            if attempt:  # an agent wrote one more request since the last refresh
                stamp = int(time.time() * 1000)
                event = UsageEvent(
                    source="claude-code",
                    key=f"live-{split}-{attempt}",
                    session_id="live",
                    project="/home/dev/live",
                    model="claude-sonnet-4-5-20250929",
                    timestamp_ms=stamp,
                    output_tokens=500,
                )
                with engine.store.transaction():
                    engine.store.upsert_events([PricedEvent(event, 0.01, "priced")])
                changed = (stamp, stamp)
            started = time.perf_counter()
            snap = snapshot(engine.store, int(time.time() * 1000), tz, 20.0)
            data = compute_graph(engine.store, spec, tz, snap, cache, changed)
            (query if attempt else first_query).append(time.perf_counter() - started)
            started = time.perf_counter()
            window.show_data(data)
            window.repaint()  # paint now, synchronously
            app.processEvents()
            (refresh if attempt else first_draw).append(time.perf_counter() - started)
    window.close()
    engine.store.close()
    shutil.rmtree(root)
    results["graph_30d_minute_events"] = len(events)
    results["graph_open_worker_ms_median"] = round(statistics.median(first_query) * 1000, 1)
    results["graph_refresh_worker_ms_median"] = round(statistics.median(query) * 1000, 1)
    results["graph_first_draw_ms_median"] = round(statistics.median(first_draw) * 1000, 1)
    results["graph_refresh_draw_ms_median"] = round(statistics.median(refresh) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-seconds", type=int, default=60)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    results: dict[str, object] = {}
    bench_latency(results)
    bench_graph(results)
    bench_idle(args.idle_seconds, results)
    (OUT / "tray.json").write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
