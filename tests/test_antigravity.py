"""Antigravity CLI: exact counts from the conversation database, estimates only without it."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import assert_expected_days
from tokentray.engine import open_engine
from tokentray.sources.antigravity import AntigravitySource, model_from_label
from tokentray.sources.protowire import ProtoError, fields, first

UTC = ZoneInfo("UTC")
FIXTURE = Path(__file__).parent / "fixtures" / "antigravity"
EXACT = "5d1ba9b7-0000-4000-8000-00000000000a"


def _home(tmp_path: Path, *, keep: tuple[str, ...] = ("conversations", "brain")) -> Path:
    home = tmp_path / "home"
    for part in keep:
        shutil.copytree(
            FIXTURE / "antigravity-cli" / part, home / ".gemini" / "antigravity-cli" / part
        )
    return home


def _engine(tmp_path: Path, home: Path):  # type: ignore[no-untyped-def]
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    return open_engine(tmp_path / "data", tmp_path / "c.toml", env=env, home=home)


def _check(engine) -> None:  # type: ignore[no-untyped-def]
    """The day totals of expected.json, and per day whether it is estimated and which
    models it used."""
    assert_expected_days(engine, "antigravity")
    expected = json.loads((FIXTURE / "expected.json").read_text())
    rows = engine.store.query(
        "SELECT date(ts_ms / 1000, 'unixepoch'), MAX(estimated), GROUP_CONCAT(DISTINCT model) "
        "FROM events GROUP BY 1"
    )
    for day, estimated, models in rows:
        assert bool(estimated) is expected["days"][day]["estimated"], day
        assert sorted(models.split(",")) == expected["models"][day], day


def test_the_database_counts_exactly_and_the_transcript_only_estimates_the_rest(
    tmp_path: Path,
) -> None:
    """30,265 tokens for the first call (the transcript's text is a dozen)."""
    engine = _engine(tmp_path, _home(tmp_path))
    scan = engine.ingestor.scan()
    _check(engine)
    assert scan.skipped_lines == json.loads((FIXTURE / "expected.json").read_text())["skipped_rows"]
    first_call = engine.store.query(
        "SELECT input_tokens + output_tokens FROM events WHERE session_id = ? ORDER BY ts_ms",
        (EXACT,),
    )[0][0]
    assert first_call == 30_265
    engine.store.close()


def test_a_database_arriving_after_its_transcript_replaces_the_estimates(
    tmp_path: Path,
) -> None:
    home = _home(tmp_path, keep=("brain",))
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    estimated = engine.store.query(
        "SELECT COUNT(*), MIN(estimated) FROM events WHERE session_id = ?", (EXACT,)
    )
    assert estimated == [(2, 1)]  # two responses with text; the tool step had none
    models = engine.store.query(
        "SELECT model FROM events WHERE session_id = ? ORDER BY ts_ms", (EXACT,)
    )
    assert models == [("gemini-3.5-flash",), ("claude-opus-4.6",)]  # the user switched
    shutil.copytree(
        FIXTURE / "antigravity-cli" / "conversations",
        home / ".gemini" / "antigravity-cli" / "conversations",
    )
    engine.ingestor.scan()
    _check(engine)
    engine.store.close()


def test_rows_appended_later_are_read_once(tmp_path: Path) -> None:
    home = _home(tmp_path)
    database = home / ".gemini" / "antigravity-cli" / "conversations" / f"{EXACT}.db"
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    with sqlite3.connect(database) as connection:
        (blob,) = connection.execute("SELECT data FROM gen_metadata WHERE idx = 2").fetchone()
        connection.execute("INSERT INTO gen_metadata VALUES (6, ?, ?)", (blob, len(blob)))
    connection.close()
    engine.ingestor.scan()
    engine.ingestor.scan()
    (count,) = engine.store.query("SELECT COUNT(*) FROM events WHERE session_id = ?", (EXACT,))[0]
    assert count == 4
    engine.store.close()


def test_a_database_that_is_not_one_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    home = _home(tmp_path)
    database = home / ".gemini" / "antigravity-cli" / "conversations" / f"{EXACT}.db"
    database.write_bytes(b"not a database" * 100)
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    problems = engine.store.query("SELECT reason FROM problems")
    assert any("conversation database" in reason for (reason,) in problems)
    # the transcript's estimates stand in for the unreadable database
    assert engine.store.query(
        "SELECT COUNT(*), MIN(estimated) FROM events WHERE session_id = ?", (EXACT,)
    ) == [(2, 1)]
    engine.store.close()


def test_model_labels_name_priced_models() -> None:
    assert model_from_label("Gemini 3.5 Flash (High)") == "gemini-3.5-flash"
    assert model_from_label("Claude Opus 4.6 (Thinking)") == "claude-opus-4.6"
    assert AntigravitySource().owner(Path("c/x.db-wal")) == Path("c/x.db")


@pytest.mark.parametrize(
    "blob",
    [b"\x0a\xff\x01", b"\x08", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x00", b"\x0b"],
)
def test_malformed_protobuf_raises_proto_error(blob: bytes) -> None:
    with pytest.raises(ProtoError):
        list(fields(blob))


def test_protobuf_paths() -> None:
    blob = b"\x0a\x04\x22\x02\x28\x05" + b"\x22\x01z"  # f1 { f4 { f5: 5 } }, f4: "z"
    assert first(blob, 1, 4, 5) == 5
    assert first(blob, 4) == b"z"
    assert first(blob, 1, 9) is None
    with pytest.raises(ProtoError):  # the string "z" read as a message: a length past its end
        first(blob, 4, 1)


def test_random_blobs_either_parse_or_raise_proto_error() -> None:
    rng = random.Random(20261122)
    for _ in range(3000):
        blob = rng.randbytes(rng.randrange(0, 40))
        try:
            list(fields(blob))
            first(blob, 1, 4, 5)
        except ProtoError:
            pass


def test_responses_beyond_the_databases_rows_are_not_estimated(tmp_path: Path) -> None:
    """With the database there, the transcript adds no estimates (a response without a
    database row would otherwise be counted on top of the exact calls)."""
    home = _home(tmp_path)
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    transcript = next((home / ".gemini").rglob(f"{EXACT}/**/transcript.jsonl"))
    extra = {"created_at": "2026-10-09T08:05:00Z", "type": "PLANNER_RESPONSE", "content": "Done."}
    with transcript.open("a") as handle:
        handle.write(json.dumps(extra) + "\n")
    engine.ingestor.scan()
    _check(engine)
    engine.store.close()


def test_a_fifo_named_like_the_database_does_not_block(tmp_path: Path) -> None:
    home = _home(tmp_path, keep=("brain",))
    conversations = home / ".gemini" / "antigravity-cli" / "conversations"
    conversations.mkdir()
    os.mkfifo(conversations / f"{EXACT}.db")
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()  # would hang reading the FIFO
    assert engine.store.query(
        "SELECT COUNT(*) FROM events WHERE session_id = ? AND estimated = 1", (EXACT,)
    ) == [(2,)]
    engine.store.close()
