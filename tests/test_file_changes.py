"""Files that change under the engine: appends, truncation, rewrites, moves, deletion."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import EngineFactory
from tokentray import ingest
from tokentray.engine import Engine
from tokentray.synthetic import generate_corpus


def _line(message_id: str, output: int, ts: str = "2026-10-05T10:00:00Z") -> bytes:
    return (
        b'{"type":"assistant","cwd":"/p","timestamp":"' + ts.encode() + b'",'
        b'"message":{"id":"' + message_id.encode() + b'","model":"claude-sonnet-4-5-20250929",'
        b'"usage":{"input_tokens":10,"output_tokens":' + str(output).encode() + b"}}}\n"
    )


def _totals(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    (row,) = engine.store.query("SELECT COUNT(*), COALESCE(SUM(output_tokens), 0) FROM events")
    return row


def _log(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    return home, log


def _scanned(make_engine: EngineFactory, tmp_path: Path, *lines: bytes):  # type: ignore[no-untyped-def]
    """An engine that has read one log holding ``lines``, and that log."""
    home, log = _log(tmp_path)
    log.write_bytes(b"".join(lines))
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    return engine, log


def test_truncated_file_is_reread_without_double_counting(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine, log = _scanned(
        make_engine, tmp_path, _line("m1", 100) + _line("m2", 200) + _line("m3", 300)
    )
    assert _totals(engine) == (3, 600)

    log.write_bytes(_line("m4", 40))  # truncated and restarted: shorter than the offset
    scan = engine.ingestor.scan()
    assert scan.files_reset == 1
    assert _totals(engine) == (4, 640)  # m1..m3 are kept


def test_rewritten_in_place_with_same_size(make_engine: EngineFactory, tmp_path: Path) -> None:
    """A rewrite that keeps the size is caught by the fingerprints, not by size or mtime."""
    engine, log = _scanned(make_engine, tmp_path, _line("m1", 100), _line("m2", 200))
    stat = log.stat()

    log.write_bytes(_line("m1", 100) + _line("m9", 200) + _line("m3", 300))
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    scan = engine.ingestor.scan()
    assert scan.files_reset == 1
    assert _totals(engine) == (4, 800)


def test_replaced_file_with_new_inode(make_engine: EngineFactory, tmp_path: Path) -> None:
    engine, log = _scanned(make_engine, tmp_path, _line("m1", 100))
    replacement = log.with_suffix(".tmp")
    replacement.write_bytes(_line("m1", 100) + _line("m2", 50))
    replacement.replace(log)  # an atomic rewrite, as editors and some agents do
    scan = engine.ingestor.scan()
    assert scan.files_reset == 1
    assert _totals(engine) == (2, 150)


def test_moved_file_counts_once(make_engine: EngineFactory, tmp_path: Path) -> None:
    engine, log = _scanned(make_engine, tmp_path, _line("m1", 100), _line("m2", 200))
    moved = log.parent / "archive" / "s1.jsonl"
    moved.parent.mkdir()
    log.rename(moved)
    scan = engine.ingestor.scan()
    assert scan.files_missing == 1
    assert _totals(engine) == (2, 300)


def test_deleted_logs_keep_their_usage(make_engine: EngineFactory, tmp_path: Path) -> None:
    engine, log = _scanned(make_engine, tmp_path, _line("m1", 100))
    shutil.rmtree(log.parent.parent)
    scan = engine.ingestor.scan()
    assert scan.files_missing == 1
    assert _totals(engine) == (1, 100)
    status = engine.store.query("SELECT status FROM files")
    assert status == [("missing",)]


def test_unreadable_file_is_reported_and_the_rest_ingested(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    home, log = _log(tmp_path)
    log.write_bytes(_line("m1", 100))
    broken = log.parent / "broken.jsonl"
    broken.symlink_to(broken)  # a link to itself: no one, not even root, can open it
    engine = make_engine(claude=home)
    scan = engine.ingestor.scan()
    assert [p.path for p in scan.unreadable] == [str(broken)]
    assert "cannot" in scan.unreadable[0].reason
    assert _totals(engine) == (1, 100)


def test_only_given_paths_are_read(make_engine: EngineFactory, tmp_path: Path) -> None:
    """The watcher hands over the paths that changed; other files are not touched."""
    home, log = _log(tmp_path)
    other = log.parent / "s2.jsonl"
    log.write_bytes(_line("m1", 100))
    other.write_bytes(_line("m2", 200))
    engine = make_engine(claude=home)
    scan = engine.ingestor.scan([log])
    assert scan.files_read == 1
    assert _totals(engine) == (1, 100)


@pytest.mark.parametrize("workers", ["1", "2"], ids=["serial", "worker-processes"])
def test_generated_corpus_totals(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """Streaming duplicates, subagents, resumed sessions and re-emitted counters, at scale."""
    monkeypatch.setenv("TOKENTRAY_WORKERS", workers)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 1)
    parallel_runs: list[int] = []
    run_parallel = ingest.Ingestor._ingest_parallel

    def spy(self, work, batch, report):  # type: ignore[no-untyped-def]
        parallel_runs.append(len(work))
        run_parallel(self, work, batch, report)

    monkeypatch.setattr(ingest.Ingestor, "_ingest_parallel", spy)
    expected = generate_corpus(tmp_path / "corpus", 3_000_000, seed=3)
    engine = make_engine(claude=tmp_path / "corpus" / "claude", codex=tmp_path / "corpus" / "codex")
    engine.ingestor.scan()
    (row,) = engine.store.query(
        "SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
        "SUM(cache_write_5m_tokens + cache_write_1h_tokens) FROM events"
    )
    assert row == (
        expected.requests,
        expected.input_tokens,
        expected.output_tokens,
        expected.cache_read_tokens,
        expected.cache_write_tokens,
    )
    assert bool(parallel_runs) == (workers == "2")


def test_parallel_results_never_pile_up(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers parse faster than the store takes their results: only a bounded window of
    log bytes is ever in flight (a 3 GB history once held 3 GB of results in memory)."""
    import concurrent.futures

    window, job_bytes = 64 << 10, 16 << 10
    monkeypatch.setenv("TOKENTRAY_WORKERS", "2")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(ingest, "IN_FLIGHT_BYTES_PER_WORKER", window)
    monkeypatch.setattr(ingest, "JOB_BYTES", job_bytes)
    in_flight: list[int] = []  # bytes of each job submitted (+) and taken back (-)
    largest_file = 0

    class CountedFuture(concurrent.futures.Future):  # type: ignore[type-arg]
        size = 0

        def result(self, timeout: float | None = None) -> object:
            in_flight.append(-self.size)
            return super().result(timeout)

    class InProcessPool:
        """Stands in for the process pool: runs each job here, as soon as it is queued."""

        def __init__(self, **_: object) -> None:
            pass

        def __enter__(self) -> InProcessPool:
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def submit(self, function, files):  # type: ignore[no-untyped-def]
            future = CountedFuture()
            future.set_result(function(files))
            future.size = sum(path.stat().st_size for _name, _root, path, _cp in files)
            in_flight.append(future.size)
            # The window is checked before a job is queued: it is passed by one job at most.
            assert sum(in_flight) < 2 * window + job_bytes + largest_file, "piled up"
            return future

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", InProcessPool)
    expected = generate_corpus(tmp_path / "corpus", 2_000_000, seed=5)
    largest_file = max(p.stat().st_size for p in (tmp_path / "corpus").rglob("*.jsonl"))
    engine = make_engine(claude=tmp_path / "corpus" / "claude", codex=tmp_path / "corpus" / "codex")
    engine.ingestor.scan()
    submitted = [size for size in in_flight if size > 0]
    assert sum(submitted) > 4 * window  # far more bytes than the window went through it
    assert engine.store.count_events() == expected.requests


_SCAN_IN_A_FRESH_PROCESS = """
import sys
from tokentray import ingest
from tokentray.cli import main
ingest.PARALLEL_MIN_BYTES = 1
chosen = []
start_method = ingest._start_method
ingest._start_method = lambda: chosen.append(start_method()) or chosen[-1]
try:
    main(["--data-dir", sys.argv[1], "--config", sys.argv[2], "scan"])
finally:
    print("START", chosen, file=sys.stderr)
"""


def _stored(engine: Engine) -> dict[str, list[Any]]:
    return {
        "events": engine.store.query(
            "SELECT key, ts_ms, total_tokens, replayed, cost_usd, cost_status FROM events "
            "ORDER BY key"
        ),
        "prices": engine.store.query("SELECT * FROM price_cache ORDER BY model, day, tier"),
        "activity": engine.store.query("SELECT * FROM activity ORDER BY key"),
    }


def test_workers_price_and_store_what_one_process_does(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers price what they parse (forked from the command line, or started afresh
    beside other threads): costs, the store's price cache and activity are the same as
    a scan in one process."""
    generate_corpus(tmp_path / "corpus", 3_000_000, seed=9)
    claude, codex = tmp_path / "corpus" / "claude", tmp_path / "corpus" / "codex"
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(codex)}
    env.update(HOME=str(tmp_path / "home"), TOKENTRAY_WORKERS="2")  # no other agent's logs
    config = str(tmp_path / "none.toml")
    forked = subprocess.run(
        [sys.executable, "-c", _SCAN_IN_A_FRESH_PROCESS, str(tmp_path / "fork"), config],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "START ['fork']" in forked.stderr

    monkeypatch.setenv("TOKENTRAY_WORKERS", "2")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(ingest, "_start_method", lambda: "spawn")
    spawned = make_engine(claude=claude, codex=codex, data_dir=tmp_path / "spawn")
    spawned.ingestor.scan()
    monkeypatch.setenv("TOKENTRAY_WORKERS", "1")
    serial = make_engine(claude=claude, codex=codex, data_dir=tmp_path / "serial")
    serial.ingestor.scan()

    one_process = _stored(serial)
    assert one_process["events"] and one_process["prices"]
    assert all(status == "priced" for *_, status in one_process["events"])
    assert _stored(make_engine(data_dir=tmp_path / "fork")) == one_process
    assert _stored(spawned) == one_process


def test_workers_are_not_forked_beside_another_thread() -> None:
    """A fork copies a process with its locks held by threads it does not copy: beside the
    tray's threads (Python's or Qt's), workers start a fresh interpreter."""
    import threading

    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert ingest._start_method() == "spawn"
    finally:
        release.set()
        thread.join()


@pytest.mark.parametrize("seed", range(60))
def test_counting_lines_agrees_with_bytes_count(seed: int) -> None:
    """Line numbers come from ``count_lines``: whatever the lines' lengths (long, short, long
    then short, none), and wherever the block ends, it counts what ``bytes.count`` does."""
    rng = random.Random(seed)
    shapes = [(0, 3), (0, 300), (200, 9000), (0, 20000)]
    parts = []
    for _ in range(rng.randint(0, 3)):
        low, high = rng.choice(shapes)
        parts += [b"x" * rng.randint(low, high) for _ in range(rng.randint(0, 600))]
    data = b"\n".join(parts) + rng.choice([b"", b"\n", b"\r\n", b"tail"])
    for end in (len(data), rng.randint(0, len(data)), 0):
        assert ingest.count_lines(data, end) == data.count(b"\n", 0, end)


def test_a_folder_given_relative_or_absolute_is_read_once(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's path is its key: ``CLAUDE_CONFIG_DIR=claude`` and the same folder given in
    full name the same files (the second spelling once had a 3 GB history read again)."""
    home, log = _log(tmp_path)
    log.write_bytes(_line("m1", 100) + _line("m2", 200))
    monkeypatch.chdir(tmp_path)
    relative = make_engine(claude=Path("claude"))
    assert relative.ingestor.scan().files_read == 1
    relative.store.close()

    absolute = make_engine(claude=home)
    again = absolute.ingestor.scan()
    assert (again.files_read, again.files_missing) == (0, 0)
    assert absolute.store.query("SELECT path FROM files") == [(str(log),)]
    with open(log, "ab") as handle:  # the watcher's paths, relative or not, are that file
        handle.write(_line("m3", 300))
    assert absolute.ingestor.scan([Path("claude/projects/-p/s1.jsonl")]).files_read == 1
    assert _totals(absolute) == (3, 600)


def test_paths_recorded_relative_by_older_builds_are_let_go_once(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store where older builds recorded files under a relative folder: the files are
    known by their full paths now, and the old rows are let go (their usage stays), not
    reported as deleted files nor looked for again."""
    home, log = _log(tmp_path)
    log.write_bytes(_line("m1", 100))
    monkeypatch.chdir(tmp_path)
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    with engine.store.transaction() as db:
        db.execute("UPDATE files SET path = ?", ("claude/projects/-p/s1.jsonl",))
    first = engine.ingestor.scan()
    assert (first.files_read, first.files_missing) == (1, 0)
    assert engine.store.query("SELECT path, status FROM files") == [(str(log), "ok")]
    assert _totals(engine) == (1, 100)


def test_a_pass_over_untouched_logs_asks_no_agent_about_them(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs exactly as the last pass left them are known by their path and a stat: no
    agent is asked whether it wants them, and each is seen once, even below a folder that
    another agent reads too (that agent is asked about it, and does not want it)."""
    from tokentray.sources.claude_code import ClaudeCodeSource
    from tokentray.sources.codex import CodexSource

    home, log = _log(tmp_path)
    for index in range(5):
        log.with_name(f"s{index}.jsonl").write_bytes(_line(f"m{index}", 10 + index))
    log.with_name("s0.jsonl").write_bytes(_line("m0", 10) + b'{"type":"assist')  # unfinished
    config = tmp_path / "config.toml"
    config.write_text(f'[[sources.folders]]\nsource = "codex"\npath = "{log.parent}"\n')
    engine = make_engine(claude=home, config=config)
    first = engine.ingestor.scan()
    assert (first.files_seen, first.events_stored, first.pending_partial_lines) == (5, 5, 1)

    asked: list[tuple[str, str]] = []
    for source_class in (ClaudeCodeSource, CodexSource):
        wants = source_class.wants

        def counting(self: Any, path: Path, wants: Any = wants) -> bool:
            asked.append((self.name, path.name))
            return bool(wants(self, path))

        monkeypatch.setattr(source_class, "wants", counting)
    again = engine.ingestor.scan()
    assert (again.files_seen, again.events_stored, again.pending_partial_lines) == (5, 0, 1)
    assert sorted(asked) == [("codex", f"s{index}.jsonl") for index in range(5)]

    asked.clear()
    with log.with_name("s3.jsonl").open("ab") as handle:
        handle.write(_line("m9", 99))
    log.with_name("s4.jsonl").unlink()
    third = engine.ingestor.scan()
    assert (third.files_seen, third.events_stored, third.files_missing) == (4, 1, 1)
    assert ("claude-code", "s3.jsonl") in asked and _totals(engine) == (6, 99 + 60)
