"""Claude Code: every trap of ../shared/formats/claude-code, against its expected.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import EngineFactory, assert_expected_days, load_expected
from tokentray import aggregate

UTC = ZoneInfo("UTC")
MAIN = "projects/-home-dev-app/11111111-1111-4111-8111-111111111111.jsonl"
PARTIAL = "projects/-home-dev-app/33333333-3333-4333-8333-333333333333.jsonl"


def daily(engine, breakdown_tz=UTC):  # type: ignore[no-untyped-def]
    report = aggregate.period_report(engine.store, "daily", breakdown_tz, aggregate.Filters())
    return {row.period: row for row in report.rows}


def test_daily_totals_match_expected(
    make_engine: EngineFactory, claude_home: Path, shared: Path
) -> None:
    expected = load_expected(shared, "claude-code")
    engine = make_engine(claude=claude_home)
    scan = engine.ingestor.scan()

    assert scan.skipped_lines == expected["skipped_lines"]
    assert scan.pending_partial_lines == expected["pending_partial_lines"]
    rows = daily(engine)
    assert sorted(rows) == sorted(expected["days"])
    for day, want in expected["days"].items():
        got = rows[day].totals
        assert got.input_tokens == want["input_tokens"], day
        assert got.output_tokens == want["output_tokens"], day
        assert got.cache_write_tokens == want["cache_write_tokens"], day
        assert got.cache_read_tokens == want["cache_read_tokens"], day
        assert got.cost_usd == pytest.approx(want["cost_usd"], abs=1e-9), day
        assert sorted(got.unpriced_models) == sorted(want.get("unpriced_models", [])), day
        for model, cost in want["by_model_cost_usd"].items():
            assert rows[day].models[model].cost_usd == pytest.approx(cost, abs=1e-9), model


def test_sessions_and_subagents(
    make_engine: EngineFactory, claude_home: Path, shared: Path
) -> None:
    expected = load_expected(shared, "claude-code")
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    report = aggregate.session_report(engine.store, UTC, aggregate.Filters())
    assert len(report.rows) == expected["sessions"]
    main = next(r for r in report.rows if r.period.startswith("1111"))
    # The subagent transcript belongs to its parent session.
    assert "claude-3-5-haiku-20241022" in main.models
    assert main.extra["project"] == "/home/dev/app"


def test_streaming_snapshot_keeps_final_usage(
    make_engine: EngineFactory, claude_home: Path
) -> None:
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT output_tokens FROM events WHERE model = 'claude-sonnet-4-5-20250929' "
        "AND cache_write_5m_tokens = 1000"
    )
    assert rows == [(420,)]


def test_unknown_model_is_unpriced_not_zero(make_engine: EngineFactory, claude_home: Path) -> None:
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT cost_usd, cost_status, output_tokens FROM events WHERE model = ?",
        ("claude-experimental-x",),
    )
    assert rows == [(None, "unpriced", 200)]
    assert engine.store.query("SELECT COUNT(*) FROM events WHERE model = '<synthetic>'") == [(0,)]


def test_partial_line_counts_once_complete(
    make_engine: EngineFactory, claude_home: Path, shared: Path
) -> None:
    expected = load_expected(shared, "claude-code")
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    before = daily(engine)["2026-10-02"].totals.output_tokens

    with open(claude_home / PARTIAL, "ab") as handle:
        handle.write(b',"timestamp":"2026-10-02T11:00:05.000Z"}\n')
    scan = engine.ingestor.scan()

    assert scan.pending_partial_lines == 0
    assert scan.events_stored == 1
    after = daily(engine)["2026-10-02"].totals
    assert after.output_tokens == before + 999
    assert before == expected["days"]["2026-10-02"]["output_tokens"]


def test_rescan_reads_nothing_new(make_engine: EngineFactory, claude_home: Path) -> None:
    engine = make_engine(claude=claude_home)
    first = engine.ingestor.scan()
    second = engine.ingestor.scan()
    assert first.bytes_read > 0
    # Only the file with an incomplete last line is looked at again, and not re-read.
    assert second.bytes_read == 0
    assert second.events_stored == 0
    assert second.pending_partial_lines == 1


def test_streaming_lines_arriving_across_scans(make_engine: EngineFactory, tmp_path: Path) -> None:
    """The agent appends snapshots of one response between two scans."""
    home = tmp_path / "live"
    log = home / "projects" / "-p" / "abc.jsonl"
    log.parent.mkdir(parents=True)
    engine = make_engine(claude=home)

    def line(output: int) -> bytes:
        return (
            b'{"type":"assistant","cwd":"/p","timestamp":"2026-10-05T10:00:00Z",'
            b'"requestId":"r1","message":{"id":"m1","model":"claude-sonnet-4-5-20250929",'
            b'"usage":{"input_tokens":10,"output_tokens":' + str(output).encode() + b"}}}\n"
        )

    log.write_bytes(line(5))
    engine.ingestor.scan()
    with open(log, "ab") as handle:
        handle.write(line(400) + line(250))
    engine.ingestor.scan()
    assert engine.store.query("SELECT COUNT(*), SUM(output_tokens) FROM events") == [(1, 400)]


def test_usage_lines_without_a_type_are_read_by_their_shape(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Older builds and hand-made files omit ``type``: such lines gave 0 events, silently."""

    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "old.jsonl"
    log.parent.mkdir(parents=True)
    lines = [
        {
            "timestamp": "2026-10-02T08:00:00Z",
            "cwd": "/p",
            "message": {
                "id": "msg_old_1",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "usage": {"input_tokens": 7, "output_tokens": 70, "cache_read_input_tokens": 700},
            },
        },
        {  # a person's message with no type and no usage stays nothing
            "timestamp": "2026-10-02T08:00:01Z",
            "message": {"role": "user", "content": "hello"},
        },
        {  # a user-role message is never taken for a response
            "timestamp": "2026-10-02T08:00:02Z",
            "message": {"role": "user", "usage": {"input_tokens": 5}, "model": "x"},
        },
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    engine = make_engine(claude=home)
    scan = engine.ingestor.scan()
    assert scan.skipped_lines == 0
    rows = engine.store.query("SELECT input_tokens, output_tokens, cache_read_tokens FROM events")
    assert rows == [(7, 70, 700)]


PROGRESS = Path(__file__).parent / "fixtures" / "claude-subagent-progress"


def _progress_engine(make_engine: EngineFactory, tmp_path: Path, with_subagent_file: bool):  # type: ignore[no-untyped-def]
    home = tmp_path / "claude"
    shutil.copytree(PROGRESS / "projects", home / "projects")
    if not with_subagent_file:
        for transcript in (home / "projects").rglob("agent-*.jsonl"):
            transcript.unlink()
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    return engine


@pytest.mark.parametrize("with_subagent_file", [True, False])
def test_subagent_requests_copied_into_progress_lines_count_once(
    make_engine: EngineFactory, tmp_path: Path, with_subagent_file: bool
) -> None:
    """k2's transcript is missing: its responses count from the parent's progress
    lines. k1's count once whether its own file is there or not."""
    engine = _progress_engine(make_engine, tmp_path, with_subagent_file)
    assert_expected_days(engine, "claude-subagent-progress")  # requests included


def test_the_subagents_own_copy_wins_over_the_progress_copy(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = _progress_engine(make_engine, tmp_path, with_subagent_file=True)
    rows = engine.store.query(
        "SELECT replayed, output_tokens FROM events WHERE output_tokens = 200"
    )
    assert rows == [(0, 200)]


def test_a_response_whose_tool_input_names_tool_result_is_counted(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Tool results are passed over unread, recognised by "tool_result" in the line; a
    response that searches for that very word (Grep for "tool_result") still bills."""
    home = tmp_path / "grep"
    log = home / "projects" / "-p" / "s.jsonl"
    log.parent.mkdir(parents=True)
    response = {
        "type": "assistant",
        "timestamp": "2026-10-01T10:00:00.000Z",
        "message": {
            "id": "msg_grep",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Grep", "input": {"type": "tool_result"}}
            ],
            "usage": {"input_tokens": 10, "output_tokens": 20},
        },
    }
    result = {
        "type": "user",
        "timestamp": "2026-10-01T10:00:01.000Z",
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    }
    log.write_text(json.dumps(response) + "\n" + json.dumps(result) + "\n")
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    assert engine.store.query("SELECT output_tokens FROM events") == [(20,)]
    kinds = engine.store.query("SELECT kind FROM activity ORDER BY kind")
    assert kinds == [("tool",)]  # the tool result is no prompt typed by a person
