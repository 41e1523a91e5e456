"""Codex: every trap of ../shared/formats/codex, plus forks and counter resets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import EngineFactory, assert_expected_days, load_expected
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


def _billed(lines: list[str]) -> list[tuple[int, int]]:
    parser = CodexLineParser(Path("rollout-x.jsonl"), None)
    events = []
    for n, line in enumerate(lines):
        try:
            events += parser.parse(line.encode(), n)
        except ValueError:
            continue  # the engine skips such a line
    return [(e.input_tokens + e.cache_read_tokens, e.output_tokens) for e in events]


SESSION = [
    _meta("2026-10-03T09:00:00Z", "s"),
    _context("2026-10-03T09:00:01Z"),
    _token_count("2026-10-03T09:00:10Z", (50_000, 0, 5000), (50_000, 0, 5000)),
    _token_count("2026-10-03T09:01:00Z", (110_000, 0, 11_000), (60_000, 0, 6000)),
    _token_count("2026-10-03T09:02:00Z", (180_000, 0, 18_000), (70_000, 0, 7000)),
    _token_count("2026-10-03T09:03:00Z", (260_000, 0, 26_000), (80_000, 0, 8000)),
]


def _sums(billed: list[tuple[int, int]]) -> tuple[int, int]:
    return sum(i for i, _ in billed), sum(o for _, o in billed)


@pytest.mark.parametrize(
    "corrupt",
    [
        (1_100, 0, 110),  # digits lost from the cumulative counter
        (0, 0, 0),  # zeroed
        (11_000, 0, 11_000),  # one field garbled
    ],
)
def test_one_corrupted_cumulative_line_does_not_count_the_history_again(
    corrupt: tuple[int, int, int],
) -> None:
    clean = _sums(_billed(SESSION))
    assert clean == (260_000, 26_000)
    lines = list(SESSION)
    lines[3] = _token_count("2026-10-03T09:01:00Z", corrupt, (60_000, 0, 6000))
    assert _sums(_billed(lines)) == clean


def test_an_out_of_range_cumulative_line_is_skipped_not_made_the_baseline() -> None:
    lines = list(SESSION)
    lines[3] = _token_count("2026-10-03T09:01:00Z", (10**15, 0, 11_000), (60_000, 0, 6000))
    assert _sums(_billed(lines)) == (260_000, 26_000)


def test_a_reset_confirmed_by_the_next_line_bills_the_held_turn_and_the_growth() -> None:
    """After compaction the counter may restart from a figure other than the last turn:
    one line is not enough, two that agree are."""
    lines = [
        *SESSION[:4],
        # The counter restarts at 9000 (not equal to the last turn, 7000): held...
        _token_count("2026-10-03T09:05:00Z", (9_000, 0, 900), (7_000, 0, 700)),
        # ...and confirmed by the next snapshot growing from it.
        _token_count("2026-10-03T09:06:00Z", (12_000, 0, 1200), (3_000, 0, 300)),
    ]
    assert _billed(lines) == [(50_000, 5000), (60_000, 6000), (7_000, 700), (3_000, 300)]


def test_a_held_drop_survives_a_restart_of_the_reader() -> None:
    lines = [
        *SESSION[:4],
        _token_count("2026-10-03T09:05:00Z", (9_000, 0, 900), (7_000, 0, 700)),
        _token_count("2026-10-03T09:06:00Z", (12_000, 0, 1200), (3_000, 0, 300)),
    ]
    first = CodexLineParser(Path("rollout-x.jsonl"), None)
    events = [e for n, line in enumerate(lines[:5]) for e in first.parse(line.encode(), n)]
    resumed = CodexLineParser(Path("rollout-x.jsonl"), json.loads(json.dumps(first.state())))
    events += [e for n, line in enumerate(lines[5:], 5) for e in resumed.parse(line.encode(), n)]
    assert [e.output_tokens for e in events] == [5000, 6000, 700, 300]


FORKS = Path(__file__).parent / "fixtures" / "codex-forks"
FIELDS = ("input_tokens", "cache_read_tokens", "output_tokens")


def _assert_fork_answer(engine) -> None:  # type: ignore[no-untyped-def]
    assert_expected_days(engine, "codex-forks")
    expected = json.loads((FORKS / "expected.json").read_text())
    by_session = aggregate.session_report(engine.store, UTC, aggregate.Filters())
    sessions = {row.period: {f: getattr(row.totals, f) for f in FIELDS} for row in by_session.rows}
    assert sessions == expected["sessions"]


def test_fork_copies_are_recognised_by_content_not_time(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Copies stamped minutes after the fork, a grandchild, and two orphans of one
    missing parent (one a spawned sub-agent thread): each turn counts exactly once."""
    home = tmp_path / "codex"
    shutil.copytree(FORKS, home)
    engine = make_engine(codex=home)
    engine.ingestor.scan()
    _assert_fork_answer(engine)


def test_fork_answer_does_not_depend_on_the_order_files_arrive(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Descendants first, the parent restored last (and the siblings in reverse)."""
    home = tmp_path / "codex"
    shutil.copytree(FORKS, home)
    held = tmp_path / "held"
    held.mkdir()
    rollouts = sorted((home / "sessions").rglob("rollout-*.jsonl"), reverse=True)
    for rollout in rollouts:
        rollout.rename(held / rollout.name)
    engine = make_engine(codex=home)
    for rollout in rollouts:
        (held / rollout.name).rename(rollout)
        engine.ingestor.scan()
    _assert_fork_answer(engine)


def test_a_fork_of_a_missing_parent_counts_its_copy_once_per_lineage() -> None:
    """Two children of one missing parent key their copies of its turns alike."""
    first = CodexLineParser(Path("rollout-a.jsonl"), None)
    second = CodexLineParser(Path("rollout-b.jsonl"), None)
    line = _token_count("2026-10-04T12:00:00Z", (1000, 400, 100), (1000, 400, 100))
    first.parse(_meta("2026-10-04T12:00:00Z", "a", parent="gone").encode(), 1)
    second.parse(_meta("2026-10-05T12:00:00Z", "b", parent="gone").encode(), 1)
    (one,) = first.parse(line.encode(), 2)
    (two,) = second.parse(line.encode(), 2)
    assert one.key == two.key  # type: ignore[union-attr]
    assert one.replayed == two.replayed == 1  # type: ignore[union-attr]


def test_an_ancestor_cycle_does_not_hang_the_reader() -> None:
    parser = CodexLineParser(Path("rollout-c.jsonl"), None)
    parser.parse(_meta("2026-10-04T12:00:00Z", "c", parent="b").encode(), 1)
    parser.parse(_meta("2026-10-04T12:00:00Z", "b", parent="a").encode(), 2)
    parser.parse(_meta("2026-10-04T12:00:00Z", "a", parent="b").encode(), 3)  # a cycle
    line = _token_count("2026-10-04T12:00:01Z", (10, 0, 1), (10, 0, 1))
    (event,) = parser.parse(line.encode(), 4)
    assert event.replayed <= 3  # type: ignore[union-attr]
