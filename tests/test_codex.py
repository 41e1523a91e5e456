"""Codex: every trap of ../shared/formats/codex, plus forks and counter resets."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import EngineFactory, load_expected
from tokentray import aggregate
from tokentray.sources.codex import CodexLineParser

UTC = ZoneInfo("UTC")


def test_daily_totals_match_expected(
    make_engine: EngineFactory, codex_home: Path, shared: Path
) -> None:
    expected = load_expected(shared, "codex")
    engine = make_engine(codex=codex_home)
    scan = engine.ingestor.scan()
    assert scan.skipped_lines == expected["skipped_lines"]

    report = aggregate.period_report(engine.store, "daily", UTC, aggregate.Filters())
    rows = {row.period: row for row in report.rows}
    assert sorted(rows) == sorted(expected["days"])
    for day, want in expected["days"].items():
        got = rows[day].totals
        for field in (
            "input_tokens",
            "output_tokens",
            "reasoning_tokens",
            "cache_write_tokens",
            "cache_read_tokens",
        ):
            assert getattr(got, field) == want[field], (day, field)
        assert got.cost_usd == pytest.approx(want["cost_usd"], abs=1e-9), day
        for model, tokens in want["by_model"].items():
            for field, value in tokens.items():
                assert getattr(rows[day].models[model], field) == value, (day, model, field)

    sessions = aggregate.session_report(engine.store, UTC, aggregate.Filters())
    assert len(sessions.rows) == expected["sessions"]


def test_archived_copy_alone_still_counts(make_engine: EngineFactory, codex_home: Path) -> None:
    """History outlives the agent moving or deleting its rollouts."""
    engine = make_engine(codex=codex_home)
    engine.ingestor.scan()
    before = engine.store.query("SELECT COUNT(*), SUM(total_tokens) FROM events")
    for rollout in (codex_home / "sessions").rglob("rollout-*.jsonl"):
        rollout.unlink()
    scan = engine.ingestor.scan()
    assert scan.files_missing == 2
    assert engine.store.query("SELECT COUNT(*), SUM(total_tokens) FROM events") == before


def _token_count(ts: str, total: tuple[int, int, int], last: tuple[int, int, int]) -> str:
    def usage(v: tuple[int, int, int]) -> dict[str, int]:
        return {
            "input_tokens": v[0],
            "cached_input_tokens": v[1],
            "output_tokens": v[2],
            "reasoning_output_tokens": 0,
            "total_tokens": v[0] + v[2],
        }

    info = {"total_token_usage": usage(total), "last_token_usage": usage(last)}
    return json.dumps(
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": info}}
    )


def _meta(ts: str, session: str, parent: str | None = None) -> str:
    payload = {"id": session, "timestamp": ts, "cwd": "/w"}
    if parent:
        payload["forked_from_id"] = parent
    return json.dumps({"timestamp": ts, "type": "session_meta", "payload": payload})


def _context(ts: str) -> str:
    payload = {"cwd": "/w", "model": "gpt-5-codex"}
    return json.dumps({"timestamp": ts, "type": "turn_context", "payload": payload})


PARENT = [
    _meta("2026-10-03T09:00:00Z", "parent-0001"),
    _context("2026-10-03T09:00:01Z"),
    _token_count("2026-10-03T09:00:10Z", (1000, 400, 100), (1000, 400, 100)),
    _token_count("2026-10-03T09:01:10Z", (3000, 1200, 300), (2000, 800, 200)),
]
CHILD = [
    _meta("2026-10-04T12:00:00Z", "child-0002", parent="parent-0001"),
    _meta("2026-10-03T09:00:00Z", "parent-0001"),  # an embedded ancestor
    _context("2026-10-04T12:00:00Z"),
    # The parent's rows replayed under rewritten timestamps: a sub-second burst.
    _token_count("2026-10-04T12:00:00.100Z", (1000, 400, 100), (1000, 400, 100)),
    _token_count("2026-10-04T12:00:00.200Z", (3000, 1200, 300), (2000, 800, 200)),
    _context("2026-10-04T12:03:00Z"),
    _token_count("2026-10-04T12:03:30Z", (7000, 2000, 700), (4000, 800, 400)),
]


def _write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n")


def _tokens(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    (row,) = engine.store.query(
        "SELECT SUM(input_tokens + cache_read_tokens), SUM(output_tokens) FROM events"
    )
    return row


def test_fork_bills_only_the_childs_growth(make_engine: EngineFactory, tmp_path: Path) -> None:
    home = tmp_path / "codex-fork"
    day = home / "sessions" / "2026" / "10" / "03"
    _write(day, "rollout-2026-10-03T09-00-00-parent-0001.jsonl", PARENT)
    _write(day, "rollout-2026-10-04T12-00-00-child-0002.jsonl", CHILD)
    engine = make_engine(codex=home)
    engine.ingestor.scan()
    # Parent 3000/300 plus the child's own 4000/400 (ccusage 20.0.24 agrees).
    assert _tokens(engine) == (7000, 700)
    # The parent's requests keep the parent's own timestamps.
    rows = engine.store.query("SELECT session_id, MIN(ts_ms) FROM events GROUP BY session_id")
    assert dict(rows)["parent-0001"] < dict(rows)["child-0002"]


def test_fork_without_parent_file_counts_the_parent_once(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    home = tmp_path / "codex-orphan"
    _write(home / "sessions", "rollout-2026-10-04T12-00-00-child-0002.jsonl", CHILD)
    engine = make_engine(codex=home)
    engine.ingestor.scan()
    assert _tokens(engine) == (7000, 700)


def test_counter_reset_bills_the_last_turn() -> None:
    parser = CodexLineParser(Path("rollout-x.jsonl"), None)
    lines = [
        _meta("2026-10-03T09:00:00Z", "s"),
        _context("2026-10-03T09:00:01Z"),
        _token_count("2026-10-03T09:00:10Z", (50_000, 0, 5000), (50_000, 0, 5000)),
        # A slightly older snapshot arrives late: stale, ignored.
        _token_count("2026-10-03T09:00:11Z", (49_800, 0, 4990), (49_800, 0, 4990)),
        # The counter restarts (compaction): bill the last turn.
        _token_count("2026-10-03T09:05:00Z", (8000, 1000, 300), (8000, 1000, 300)),
        _token_count("2026-10-03T09:06:00Z", (9000, 1000, 400), (1000, 0, 100)),
    ]
    events = [e for n, line in enumerate(lines) for e in parser.parse(line.encode(), n)]
    assert [(e.input_tokens + e.cache_read_tokens, e.output_tokens) for e in events] == [
        (50_000, 5000),
        (8000, 300),
        (1000, 100),
    ]
    assert len({e.key for e in events}) == 3


def test_parser_state_survives_a_restart() -> None:
    """Resuming from the stored state continues the deltas where they stopped."""
    lines = [line.encode() for line in PARENT]
    whole = CodexLineParser(Path("rollout-a.jsonl"), None)
    expected = [e for n, line in enumerate(lines) for e in whole.parse(line, n)]

    first = CodexLineParser(Path("rollout-a.jsonl"), None)
    events = [e for n, line in enumerate(lines[:3]) for e in first.parse(line, n)]
    resumed = CodexLineParser(Path("rollout-a.jsonl"), json.loads(json.dumps(first.state())))
    events += [e for n, line in enumerate(lines[3:], 3) for e in resumed.parse(line, n)]
    assert events == expected
