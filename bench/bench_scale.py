"""A heavy user's history, run by hand: `python bench/bench_scale.py [--gb 3] [--files 9000]`.

Writes a synthetic Claude Code history of compact transcripts (about 600 bytes a request,
so 3 GB holds over 5 million requests) in 9,000 files under `bench/out/`, then measures,
beside ccusage where it is installed (see bench/README.md):

- a cold scan (wall seconds, peak resident memory) and ccusage's `claude daily`;
- a `tokentray report daily --json` process after an append, and a ccusage re-run;
- the store's size per million requests;
- `doctor` and the Sources page's folder statistics, in process;
- the graph window's data for 30 days and for "all", prepared the first time;
- the tray's opening of its store (checked when due, a big one in the background), beside
  an opening that checks it (what the tray did at every start before).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import OUT, _ccusage, _env, _timed
from tokentray.dashboard.graph import GraphSpec, compute_graph
from tokentray.dashboard.live import snapshot
from tokentray.engine import local_zone, open_engine
from tokentray.paths import database_path
from tokentray.store import Store

MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5")
RESPONSE = (
    b'{"type":"assistant","timestamp":"%s","sessionId":"%s","cwd":"/home/dev/p%d",'
    b'"requestId":"req_%d","uuid":"u%d","message":{"id":"msg_%d","type":"message",'
    b'"role":"assistant","model":"%s","content":[{"type":"text","text":"Done."}],'
    b'"usage":{"input_tokens":%d,"output_tokens":%d,"cache_creation_input_tokens":%d,'
    b'"cache_read_input_tokens":%d}}}\n'
)
PROMPT = (
    b'{"type":"user","timestamp":"%s","sessionId":"%s","cwd":"/home/dev/p%d","uuid":"p%d",'
    b'"message":{"role":"user","content":"Please fix the failing test in module %d."}}\n'
)


def write_history(root: Path, target_bytes: int, files: int, seed: int = 5) -> int:
    """Transcripts of ``files`` sessions over the last year; returns the requests written."""
    rng = random.Random(seed)
    per_file = target_bytes // files
    # Sessions start over the 364 days that end a day ago: the last one (some 9 hours
    # long) ends in the past, so the tray's burn rate is idle as a real one at rest is.
    start = datetime.now(UTC) - timedelta(days=365)
    requests = 0
    for index in range(files):
        session = f"{index:08d}-0000-4000-8000-000000000000"
        project = index % 60
        folder = root / "projects" / f"-home-dev-p{project}"
        folder.mkdir(parents=True, exist_ok=True)
        moment = start + timedelta(seconds=index * 364 * 86400 // files)
        lines: list[bytes] = []
        written = 0
        while written < per_file:
            moment += timedelta(seconds=rng.randrange(5, 90))
            stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z").encode()
            if rng.random() < 0.15:
                line = PROMPT % (stamp, session.encode(), project, requests, requests)
            else:
                line = RESPONSE % (
                    stamp,
                    session.encode(),
                    project,
                    requests,
                    requests,
                    requests,
                    rng.choice(MODELS).encode(),
                    rng.randrange(1, 50),
                    rng.randrange(50, 3000),
                    rng.randrange(0, 4000),
                    rng.randrange(1000, 150_000),
                )
                requests += 1
            lines.append(line)
            written += len(line)
        (folder / f"{session}.jsonl").write_bytes(b"".join(lines))
    return requests


def _history(gigabytes: float, files: int) -> tuple[Path, int]:
    root = OUT / f"scale-{gigabytes:g}gb-{files}"
    marker = root / "written.json"
    if not marker.exists() or "version" not in json.loads(marker.read_text()):
        shutil.rmtree(root, ignore_errors=True)
        print(f"writing {gigabytes:g} GB in {files} transcripts into {root} …", flush=True)
        requests = write_history(root, int(gigabytes * 1e9), files)
        marker.write_text(json.dumps({"requests": requests, "version": 2}))
    return root, int(json.loads(marker.read_text())["requests"])


def _store_openings(data: Path, results: dict[str, object]) -> None:
    """Seconds to open the store as the tray does ("daily") and with a check ("always")."""
    database = database_path(data)
    for integrity in ("daily", "always"):
        started = time.perf_counter()
        Store(database, integrity=integrity).close()
        results[f"store_open_{integrity}_s"] = round(time.perf_counter() - started, 3)


def _in_process(data: Path, history: Path, results: dict[str, object]) -> None:
    _store_openings(data, results)
    engine = open_engine(data, env=_env(history, OUT / "empty"))
    with engine.store:
        for name, work in (("doctor", engine.doctor), ("sources_page", engine.folder_status)):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                work()
                times.append(time.perf_counter() - started)
            results[f"{name}_ms"] = statistics.median(times) * 1000
        tz = local_zone()
        now_ms = int(time.time() * 1000)
        for key in ("30d", "all"):
            started = time.perf_counter()
            snap = snapshot(engine.store, now_ms, tz, 20.0)
            compute_graph(engine.store, GraphSpec(key, "model"), tz, snap)
            results[f"graph_first_{key}_ms"] = (time.perf_counter() - started) * 1000


def _tray(data: Path, env: dict[str, str], seconds: int, results: dict[str, object]) -> None:
    """The tray on this history: resident memory before the graph window opens, and its
    CPU while nothing is written (offscreen; the watcher watches all 9,000 files)."""
    from bench_tray import _cpu_seconds, _rss_mb

    exe = Path(sys.executable).with_name("tokentray")
    tray_env = {**env, "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen(
        [str(exe), "--data-dir", str(data)],
        env=tray_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(90)  # start-up, the first passes and polls: idle is what follows
        results["tray_rss_mb_before_graph_window"] = round(_rss_mb(process.pid), 1)
        cpu_before, started = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu = _cpu_seconds(process.pid) - cpu_before
        results["tray_idle_cpu_percent"] = round(100 * cpu / (time.monotonic() - started), 3)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=3.0)
    parser.add_argument("--files", type=int, default=9000)
    parser.add_argument("--idle-seconds", type=int, default=300)
    parser.add_argument(
        "--store",
        type=Path,
        help="measure on this data folder, already scanned (keeps it; skips the cold scan)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    (OUT / "empty").mkdir(exist_ok=True)
    os.environ["TOKENTRAY_CACHE_DIR"] = str(OUT / "cache")  # the price memo, not yours
    history, requests = _history(args.gb, args.files)
    env = _env(history, OUT / "empty")
    results: dict[str, object] = {"history_gb": args.gb, "files": args.files}
    results["requests"] = requests
    data = args.store or Path(tempfile.mkdtemp(dir=OUT))
    ccusage = _ccusage()
    cmd = [ccusage, "claude", "daily", "--json", "--offline"] if ccusage else None
    if args.store is None:
        wall, peak = _timed(["tokentray", "--data-dir", str(data), "scan"], env)
        results["cold_scan_s"], results["cold_scan_peak_mb"] = wall, peak
        if cmd:
            results["ccusage_cold_s"] = _timed(cmd, env)[0]
    size = sum(p.stat().st_size for p in data.glob("usage.sqlite3*"))
    results["store_mb_per_million_requests"] = size / 1e6 / (requests / 1e6)
    target = next(iter(sorted((history / "projects").rglob("*.jsonl"))))
    reports = []
    for n in range(5):
        with open(target, "ab") as handle:
            handle.write(
                RESPONSE
                % (
                    datetime.now(UTC).isoformat(timespec="milliseconds").encode(),
                    b"append",
                    0,
                    10**9 + n,
                    10**9 + n,
                    10**9 + n,
                    MODELS[0].encode(),
                    1,
                    100,
                    0,
                    1000,
                )
            )
        reports.append(
            _timed(["tokentray", "--data-dir", str(data), "report", "daily", "--json"], env)[0]
        )
    results["report_after_append_s"] = statistics.median(reports[1:])
    if cmd:
        results["ccusage_rerun_s"] = _timed(cmd, env)[0]
    _in_process(data, history, results)
    _tray(data, env, args.idle_seconds, results)
    if args.store is None:
        shutil.rmtree(data)
    name = "scale-results.json" if args.store is None else "scale-results-on-store.json"
    (OUT / name).write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:36} {value:.3f}" if isinstance(value, float) else f"{key:36} {value}")


if __name__ == "__main__":
    main()
