"""Ingest benchmark, run by hand: `python bench/bench_engine.py [--size-mb 200] [--big-gb 1]`.

Measures, on a generated corpus (2-10 KB lines, streaming duplicates, subagents,
resumed sessions, Codex re-emits):

1. cold scan of the corpus (a `tokentray scan` process), beside `ccusage claude daily
   --json --offline` on the same Claude logs when ccusage is on PATH;
2. in-process refresh after appending one line (the tray's path), beside a ccusage re-run;
3. a `tokentray report daily --json` process after an append, on the full history and on an
   almost empty one;
4. peak memory of a scan of one single big file.

Results are printed as a table and written to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokentray.engine import open_engine
from tokentray.synthetic import generate_corpus, write_big_file

OUT = Path(__file__).resolve().parent / "out"
APPEND_LINE = (
    b'{"type":"assistant","cwd":"/home/dev/bench","timestamp":"2026-11-01T10:00:00Z",'
    b'"requestId":"req_bench_%d","message":{"id":"msg_bench_%d",'
    b'"model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":12,'
    b'"cache_read_input_tokens":40000,"output_tokens":321}}}\n'
)


def _env(claude: Path, codex: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CLAUDE_CONFIG_DIR=str(claude), CODEX_HOME=str(codex))
    env["TOKENTRAY_CONFIG_DIR"] = str(OUT / "config")
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds, and the peak RSS (MB) of the largest of the process and its workers."""
    wrapper = (
        "import resource, runpy, sys, time; sys.argv = sys.argv[1:]; "
        "t = time.perf_counter()\n"
        "try: runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print('BENCH', time.perf_counter() - t, max(resource.getrusage(who).ru_maxrss "
        "for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)), file=sys.stderr)"
    )
    if cmd[0] == "tokentray":
        script = shutil.which("tokentray") or str(Path(sys.executable).with_name("tokentray"))
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", wrapper, script, *cmd[1:]],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        line = [x for x in proc.stderr.splitlines() if x.startswith("BENCH")][-1]
        return wall, int(line.split()[2]) // 1024
    started = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=False)
    return time.perf_counter() - started, 0


def _spread(results: dict[str, object], key: str, times: list[float]) -> None:
    """The median under ``key``, and the fastest and slowest run beside it."""
    results[key] = statistics.median(times)
    results[f"{key}_min"] = min(times)
    results[f"{key}_max"] = max(times)


def _ratios(results: dict[str, object]) -> dict[str, float]:
    """tokentray's figures as multiples of ccusage's, measured in the same run."""
    pairs = {
        "cold_scan_vs_ccusage": ("cold_scan_claude_s", "ccusage_cold_s"),
        "cold_scan_first_run_vs_ccusage": ("cold_scan_first_run_s", "ccusage_cold_s"),
        "report_after_append_vs_ccusage_rerun": (
            "report_after_append_full_history_s",
            "ccusage_rerun_s",
        ),
    }
    ratios = {}
    for name, (ours, theirs) in pairs.items():
        mine, other = results.get(ours), results.get(theirs)
        if isinstance(mine, float) and isinstance(other, float) and other:
            ratios[name] = mine / other
    return ratios


def _ccusage() -> str | None:
    return shutil.which("ccusage") or (
        str(OUT / "node" / "node_modules" / ".bin" / "ccusage")
        if (OUT / "node" / "node_modules" / ".bin" / "ccusage").exists()
        else None
    )


def _corpus(size_mb: int) -> Path:
    root = OUT / f"corpus-{size_mb}mb"
    marker = root / "expected.json"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"generating a {size_mb} MB corpus in {root} …", flush=True)
        expected = generate_corpus(root, size_mb * 1_000_000)
        marker.write_text(json.dumps({"requests": expected.requests}))
    return root


def bench_cold(corpus: Path, results: dict[str, object]) -> None:
    """Cold scans into an empty store, each beside a ccusage run (the machine's speed
    drifts: taken in turn, the two see the same machine). The price memo in the cache
    folder is there, as on any machine that ran tokentray before; the first run on a
    machine, with no memo either, is measured apart."""
    empty = OUT / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    env_all = _env(corpus / "claude", corpus / "codex")
    env_claude = _env(corpus / "claude", empty)
    ccusage = _ccusage()
    runs, first_runs, theirs = [], [], []
    _scan_once(env_claude)  # fills the price memo
    for index in range(5):
        runs.append(_scan_once(env_claude))
        if index < 3:
            no_memo = Path(tempfile.mkdtemp(dir=OUT))
            first_runs.append(_scan_once({**env_claude, "TOKENTRAY_CACHE_DIR": str(no_memo)}))
            shutil.rmtree(no_memo)
        if ccusage:
            cmd = [ccusage, "claude", "daily", "--json", "--offline"]
            theirs.append(_timed(cmd, env_claude)[0])
    _spread(results, "cold_scan_claude_s", [r[0] for r in runs])
    results["cold_scan_claude_peak_mb"] = max(r[1] for r in runs)
    _spread(results, "cold_scan_first_run_s", [r[0] for r in first_runs])
    results["cold_scan_all_sources_s"] = _scan_once(env_all)[0]
    if theirs:
        _spread(results, "ccusage_cold_s", theirs)


def _scan_once(env: dict[str, str]) -> tuple[float, int]:
    """A ``tokentray scan`` process into a new, empty store."""
    data = Path(tempfile.mkdtemp(dir=OUT))
    try:
        return _timed(["tokentray", "--data-dir", str(data), "scan"], env)
    finally:
        shutil.rmtree(data)


def bench_refresh(corpus: Path, results: dict[str, object]) -> None:
    data = Path(tempfile.mkdtemp(dir=OUT))
    work = Path(tempfile.mkdtemp(dir=OUT)) / "claude"
    shutil.copytree(corpus / "claude", work)
    engine = open_engine(data, OUT / "config" / "config.toml", env=_env(work, OUT / "empty"))
    engine.ingestor.scan()
    target = next(iter(sorted((work / "projects").rglob("*.jsonl"))))
    watched, full = [], []
    for n in range(20):
        with open(target, "ab") as handle:
            handle.write(APPEND_LINE % (n, n))
        started = time.perf_counter()
        engine.ingestor.scan([target])
        watched.append(time.perf_counter() - started)
        with open(target, "ab") as handle:
            handle.write(APPEND_LINE % (n + 1000, n + 1000))
        started = time.perf_counter()
        engine.ingestor.scan()
        full.append(time.perf_counter() - started)
    engine.store.close()
    results["refresh_watched_path_ms"] = statistics.median(watched) * 1000
    results["refresh_full_discovery_ms"] = statistics.median(full) * 1000
    ccusage = _ccusage()
    if ccusage:
        cmd = [ccusage, "claude", "daily", "--json", "--offline"]
        env = _env(work, OUT / "empty")
        _spread(results, "ccusage_rerun_s", [_timed(cmd, env)[0] for _ in range(5)])
    _report_after_append(work, data, results)
    _hooks(work, data, results)
    shutil.rmtree(work.parent)
    shutil.rmtree(data)


def _report_after_append(work: Path, data: Path, results: dict[str, object]) -> None:
    env = _env(work, OUT / "empty")
    target = next(iter(sorted((work / "projects").rglob("*.jsonl"))))
    big = []
    for n in range(5):
        with open(target, "ab") as handle:
            handle.write(APPEND_LINE % (n + 2000, n + 2000))
        big.append(_timed(["tokentray", "--data-dir", str(data), "report", "daily", "--json"], env))
    small_root = Path(tempfile.mkdtemp(dir=OUT))
    small_log = small_root / "projects" / "-p" / "s.jsonl"
    small_log.parent.mkdir(parents=True)
    small_data = small_root / "data"
    small_env = _env(small_root, OUT / "empty")
    small = []
    for n in range(5):
        with open(small_log, "ab") as handle:
            handle.write(APPEND_LINE % (n, n))
        cmd = ["tokentray", "--data-dir", str(small_data), "report", "daily", "--json"]
        small.append(_timed(cmd, small_env))
    shutil.rmtree(small_root)
    _spread(results, "report_after_append_full_history_s", [t for t, _ in big[1:]])
    _spread(results, "report_after_append_empty_history_s", [t for t, _ in small[1:]])


def _hooks(work: Path, data: Path, results: dict[str, object]) -> None:
    """The commands Claude Code runs on every prompt refresh (the status line) and before
    every tool call (the guard hook), as it runs them: a process, JSON on stdin."""
    env = _env(work, OUT / "empty")
    script = shutil.which("tokentray") or str(Path(sys.executable).with_name("tokentray"))
    target = next(iter(sorted((work / "projects").rglob("*.jsonl"))))
    resets = int(time.time()) + 7200
    status = json.dumps(
        {
            "session_id": target.stem,
            "transcript_path": str(target),
            "cwd": "/home/dev/app",
            "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet 4.5"},
            "cost": {"total_cost_usd": 1.25},
            "rate_limits": {
                "five_hour": {"used_percentage": 42.0, "resets_at": resets},
                "seven_day": {"used_percentage": 12.0, "resets_at": resets + 400_000},
            },
        }
    )
    hook = json.dumps(
        {
            "session_id": target.stem,
            "transcript_path": str(target),
            "cwd": "/home/dev/app",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "make test"},
        }
    )
    for name, command, payload, runs in (
        ("statusline", "statusline", status, 21),
        ("guard", "guard", hook, 11),
    ):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [script, "--data-dir", str(data), command],
                input=payload,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
        _spread(results, f"{name}_ms", [t * 1000 for t in times[1:]])


def bench_big_file(gigabytes: float, results: dict[str, object]) -> None:
    root = OUT / "big"
    log = root / "projects" / "-big" / "big.jsonl"
    size = int(gigabytes * 1_000_000_000)
    if not log.exists() or log.stat().st_size < size:
        print(f"writing a {gigabytes} GB transcript …", flush=True)
        write_big_file(log, size)
    data = Path(tempfile.mkdtemp(dir=OUT))
    wall, peak = _timed(["tokentray", "--data-dir", str(data), "scan"], _env(root, OUT / "empty"))
    shutil.rmtree(data)
    results["big_file_gb"] = round(log.stat().st_size / 1e9, 2)
    results["big_file_scan_s"] = wall
    results["big_file_peak_mb"] = peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--big-gb", type=float, default=1.0)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    # The price memo of every process this bench starts (and of its in-process engines).
    os.environ["TOKENTRAY_CACHE_DIR"] = str(OUT / "cache")
    # Measure what an installed tokentray costs: with bytecode compiled (pip compiles it on
    # install; where PYTHONDONTWRITEBYTECODE is set every run would compile the sources).
    package = Path(__file__).resolve().parents[1] / "src" / "tokentray"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    corpus = _corpus(args.size_mb)
    results: dict[str, object] = {"corpus_mb": args.size_mb, "ccusage": _ccusage()}
    bench_cold(corpus, results)
    bench_refresh(corpus, results)
    if not args.skip_big:
        bench_big_file(args.big_gb, results)
    results.update(_ratios(results))
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:40} {shown}")


if __name__ == "__main__":
    main()
