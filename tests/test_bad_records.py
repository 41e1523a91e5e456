"""Records that used to stop every later scan: each is skipped alone, with its reason."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from conftest import FIXTURES, EngineFactory, assert_expected_days
from tokentray import aggregate
from tokentray.engine import open_engine
from tokentray.sources.gemini import GeminiSource
from tokentray.sources.opencode import OpenCodeSource


def _claude(
    message_id: str, usage: dict[str, Any], ts: Any = "2026-10-05T10:00:00Z", **extra: Any
) -> bytes:
    message = {"id": message_id, "model": "claude-sonnet-4-5-20250929", "usage": usage, **extra}
    record = {"type": "assistant", "cwd": "/p", "timestamp": ts, "message": message}
    return json.dumps(record).encode() + b"\n"


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


GOOD = {"input_tokens": 10, "output_tokens": 100}


def _scan_claude(make_engine: EngineFactory, tmp_path: Path, content: bytes):  # type: ignore[no-untyped-def]
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(content)
    engine = make_engine(claude=home)
    return engine, engine.ingestor.scan()


def test_hostile_lines_are_skipped_alone_and_the_rest_is_counted(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    bad = [
        _claude("m_big", {"input_tokens": 2**63, "output_tokens": 1}),
        _claude("m_float", {"input_tokens": 1, "output_tokens": 1e30}),
        *(_claude(f"m_near{i}", {"input_tokens": 2**62, "output_tokens": 1}) for i in range(4)),
        _claude("m_y9999", GOOD, ts="9999-12-31T23:59:59-23:59"),
        _claude("m_e20", GOOD, ts=1e20),
        _claude("m_neg", GOOD, ts=-5000),
        b'{"type":"assistant","timestamp":"2026-10-05T10:00:00Z","message":{"usage":NaN}}\n',
    ]
    survivors = [
        # A tool call whose input is nested deeper than the JSON encoder goes.
        _claude(
            "m_deep",
            GOOD,
            content=[{"type": "tool_use", "id": "t1", "name": "Bash", "input": _deep(400)}],
        ),
        # Invalid UTF-8 inside a text field: the numbers survive.
        _claude("m_utf8", GOOD, content=[{"type": "text", "text": "MARK"}]).replace(
            b"MARK", b"caf\xe9 \xff\xfe"
        ),
        # A lone surrogate escape in a text field.
        _claude("m_surrogate", GOOD, content=[{"type": "text", "text": "MARK"}]).replace(
            b"MARK", b"\\ud800"
        ),
    ]
    content = (
        b"\xef\xbb\xbf"  # a byte-order mark before the first line
        + _claude("m_first", GOOD)
        + b"".join(bad)
        + b"".join(survivors)
        + _claude("m_last", GOOD)
    )
    engine, scan = _scan_claude(make_engine, tmp_path, content)

    keys = {row[0] for row in engine.store.query("SELECT session_id FROM events")}
    assert keys == {"s1"}
    assert engine.store.count_events() == 5  # first, deep, utf8, surrogate, last
    assert scan.skipped_lines == len(bad)
    reasons = " | ".join(p.reason for p in scan.problems)
    assert "outside 0..10,000,000,000" in reasons
    assert "outside the years 2000-2099" in reasons or "out of range" in reasons
    report = aggregate.period_report(engine.store, "daily", ZoneInfo("UTC"), aggregate.Filters())
    assert report.totals.output_tokens == 500
    assert report.totals.input_tokens == 50

    # The next scan goes on normally: nothing is stuck.
    log = tmp_path / "claude" / "projects" / "-p" / "s1.jsonl"
    with open(log, "ab") as handle:
        handle.write(_claude("m_after", GOOD))
    assert engine.ingestor.scan().events_stored == 1


def test_a_gemini_set_of_the_wrong_type_is_skipped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chats = home / ".gemini" / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    message = {
        "id": "g1",
        "type": "gemini",
        "model": "gemini-2.5-pro",
        "timestamp": "2026-10-01T09:00:05Z",
        "tokens": {"input": 100, "output": 10},
    }
    lines = [
        {"sessionId": "sess1"},
        {"$set": "not an object"},
        {"$set": {"messages": "not a list"}},
        {"$set": ["wrong"]},
        message,
    ]
    (chats / "session-1.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    engine = open_engine(
        tmp_path / "data", tmp_path / "none.toml", env={}, home=home, sources=[GeminiSource()]
    )
    with engine.store:
        engine.ingestor.scan()
        assert engine.store.query("SELECT output_tokens FROM events") == [(10,)]


def test_an_opencode_message_without_a_creation_time_skips_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = home / ".local" / "share" / "opencode"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "opencode.db")
    db.execute(
        "CREATE TABLE message (id TEXT, session_id TEXT, time_created INTEGER, "
        "time_updated INTEGER, data TEXT)"
    )

    def data(created: Any) -> str:
        return json.dumps(
            {
                "role": "assistant",
                "modelID": "claude-sonnet-4-5",
                "providerID": "anthropic",
                "time": {"created": created} if created is not None else {},
                "tokens": {"input": 100, "output": 10, "cache": {"read": 0, "write": 0}},
            }
        )

    rows = [
        ("m1", "s", 1, 1, data(1_790_000_000_000)),
        ("m2", "s", 2, 2, data(None)),
        ("m3", "s", 3, 3, data(1_790_000_001_000)),
        ("m4", "s", 4, 4, b"\x00\xff not json"),
    ]
    db.executemany("INSERT INTO message VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    engine = open_engine(
        tmp_path / "data", tmp_path / "none.toml", env={}, home=home, sources=[OpenCodeSource()]
    )
    with engine.store:
        scan = engine.ingestor.scan()
        assert engine.store.count_events() == 2
        assert scan.skipped_lines == 2


def test_amp_messages_without_or_with_a_malformed_id_are_each_counted(tmp_path: Path) -> None:
    """Two messages without ``messageId`` used to collapse into one (half the tokens lost),
    and an id that is an object stopped the whole thread."""
    from tokentray.sources.amp import AmpSource

    engine = open_engine(
        tmp_path / "data",
        tmp_path / "none.toml",
        env={},
        home=FIXTURES / "amp",
        sources=[AmpSource()],
    )
    with engine.store:
        engine.ingestor.scan()
        assert_expected_days(engine, "amp")  # 100 + 200 + 400 + 800: each message once


def test_a_parser_state_holding_a_lone_surrogate_is_still_saved() -> None:
    """Found by the fuzzer: a model name read from broken bytes made the checkpoint
    unsavable, so the file's whole batch failed and was read again on every pass."""
    from tokentray.store import state_json

    state = {"model": "gpt-\ud800", "ancestors": {"a\udcff": "b"}, "previous": [1, 2]}
    assert json.loads(state_json(state)) == {
        "model": "gpt-?",
        "ancestors": {"a?": "b"},
        "previous": [1, 2],
    }
