"""kill -9 at any moment, then a restart, gives exactly the totals of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tokentray.synthetic import generate_corpus, write_big_file


def _env(corpus: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CLAUDE_CONFIG_DIR"] = str(corpus / "claude")
    env["CODEX_HOME"] = str(corpus / "codex")
    env["TOKENTRAY_CONFIG_DIR"] = str(corpus / "no-config")
    return env


def _tokentray(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data), *args]


def _schema(data: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(data / "usage.sqlite3")) as db:
        return sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))


def _daily(data: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        _tokentray(data, "report", "daily", "--json", "--tz", "UTC", "--breakdown", "--no-scan"),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill9")
    generate_corpus(root, 25_000_000, seed=5)
    # One big transcript, so that kills also land between batches inside a file.
    write_big_file(root / "claude" / "projects" / "-big" / "big-session.jsonl", 40_000_000)
    return root


@pytest.mark.parametrize("workers", ["1", "2"], ids=["serial", "worker-processes"])
def test_kill9_mid_scan_then_restart_gives_the_same_totals(
    corpus: Path, tmp_path: Path, workers: str
) -> None:
    env = _env(corpus)
    env["TOKENTRAY_WORKERS"] = workers
    clean = tmp_path / "clean"
    started = time.perf_counter()
    subprocess.run(_tokentray(clean, "scan"), env=env, check=True, capture_output=True)
    whole_scan_s = time.perf_counter() - started  # kills land inside it, however fast it is
    reference = _daily(clean, env)

    killed = tmp_path / "killed"
    rng = random.Random(1)
    interrupted = 0
    for _ in range(10):
        process = subprocess.Popen(
            _tokentray(killed, "scan"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.1, 0.5) * whole_scan_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        interrupted += process.returncode == -signal.SIGKILL
    subprocess.run(_tokentray(killed, "scan"), env=env, check=True, capture_output=True)

    assert interrupted >= 3, "the scans finished before they could be killed"
    assert _daily(killed, env) == reference
    # A first scan defers its indexes to its end: a killed one has them built later.
    assert _schema(killed) == _schema(clean)
    assert reference["totals"]["requests"] > 1000  # type: ignore[index]


def test_workers_end_when_their_parent_is_killed(corpus: Path, tmp_path: Path) -> None:
    """kill -9 of a scan that uses worker processes: the workers and the resource tracker
    end too, so the caller's pipes close (communicate returns) instead of staying open."""
    env = _env(corpus)
    env["TOKENTRAY_WORKERS"] = "2"
    process = subprocess.Popen(
        _tokentray(tmp_path / "data", "scan"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.2)  # past start-up: the workers are parsing
    process.send_signal(signal.SIGKILL)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("worker processes outlived their parent and kept its pipes open")
