"""Antigravity CLI (``agy``): ``~/.gemini/antigravity-cli/``.

Exact counts live in one SQLite database per conversation,
``conversations/<id>.db``: its ``gen_metadata`` table holds one protobuf row per
model call (no ``.proto`` is published; the field map below was recovered from the
CLI's own rows). A usage row carries the model label at f1.f21 (the id at f1.f19)
and, at f1.f4, the prompt tokens (f5), the response tokens (f10) and the thinking
tokens (f9). Rows over 8 KiB are periodic context snapshots that embed a copy of
the last call's usage: they are skipped.

The transcript, ``brain/<id>/.system_generated/logs/transcript.jsonl``, records
text only. Where the database is missing, each response (with the prompts typed
before it) is estimated from its text with tiktoken and marked estimated; it is
keyed by its position in the conversation, as the database's row for the same call
is, and ranked as a copy, so the exact row replaces the estimate when it arrives.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentray.estimate import count_tokens
from tokentray.events import Activity, LineError, UsageEvent
from tokentray.paths import sqlite_uri
from tokentray.sources.base import (
    LineSource,
    SqliteSource,
    WholeRead,
    load_object,
    parse_timestamp_ms,
    read_only,
)
from tokentray.sources.protowire import ProtoError, first

DEFAULT_MODEL = "gemini-3.5-flash"
_MODEL_CHANGE = re.compile(r"Model Selection` from .*? to ([^\n(]+?)(?:\s*\(|\.\s|\.$|\n|$)")
# gen_metadata rows above this size are context snapshots, not calls.
_SNAPSHOT_BYTES = 8 * 1024
# Field paths in a gen_metadata row.
_USAGE = (1, 4)
_PROMPT, _THINKING, _RESPONSE = 5, 9, 10
_MODEL_LABEL, _MODEL_ID = (1, 21), (1, 19)
# An estimate gives way to the database's exact row for the same call.
_ESTIMATE_RANK = 1


def model_from_label(label: str) -> str:
    """``Gemini 3.5 Flash (High)`` -> ``gemini-3.5-flash`` (the effort is not a model)."""
    name = label.split("(", maxsplit=1)[0].strip().rstrip(".")
    return name.lower().replace(" ", "-")


def _call_key(conversation: str, ordinal: int) -> str:
    return f"antigravity:{conversation}:{ordinal}"


class AntigravityLineParser:
    """Estimates from a transcript: one event per response, with the prompts before it."""

    def __init__(self, path: Path, state: dict[str, Any] | None) -> None:
        state = state or {}
        parts = path.parts
        self.session_id = parts[-4] if len(parts) >= 4 else path.stem
        # brain/<id>/.system_generated/logs/transcript.jsonl -> conversations/<id>.db
        database = path.parents[4] / "conversations" / f"{self.session_id}.db"
        self.exact_elsewhere = len(parts) >= 5 and _is_database(database)
        self.model: str = state.get("model", DEFAULT_MODEL)
        self.ordinal: int = state.get("ordinal", 0)
        self.pending_input: int = state.get("pending_input", 0)

    def state(self) -> dict[str, Any]:
        return {"model": self.model, "ordinal": self.ordinal, "pending_input": self.pending_input}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        kind = record.get("type")
        content = str(record.get("content") or "")
        stamp = parse_timestamp_ms(record.get("created_at"))
        if kind == "USER_INPUT":
            change = _MODEL_CHANGE.search(content)
            if change:
                self.model = model_from_label(change.group(1))
            self.pending_input += count_tokens(content, self.model)[0]
            key = "antigravity:" + hashlib.blake2b(line, digest_size=16).hexdigest() + ":turn"
            return [Activity(AntigravitySource.name, key, self.session_id, stamp, "human")]
        if kind != "PLANNER_RESPONSE":
            return []
        thinking = count_tokens(str(record.get("thinking") or ""), self.model)[0]
        output = count_tokens(content, self.model)[0] + thinking
        event = UsageEvent(
            source=AntigravitySource.name,
            key=_call_key(self.session_id, self.ordinal),
            session_id=self.session_id,
            project="",
            model=self.model,
            timestamp_ms=stamp,
            input_tokens=self.pending_input,
            output_tokens=output,
            reasoning_tokens=thinking,
            estimated=True,
            replayed=_ESTIMATE_RANK,
        )
        self.ordinal += 1
        self.pending_input = 0
        # With the database present its rows are the count; an estimate could only
        # outlive them (a response the database has no row for).
        return [event] if event.total_tokens and not self.exact_elsewhere else []


class AntigravitySource(LineSource, SqliteSource):
    """Transcripts read line by line (estimates), conversation databases read whole."""

    name = "antigravity"
    display_name = "Antigravity CLI"
    marks = (b'"USER_INPUT"', b'"PLANNER_RESPONSE"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        base = home / ".gemini" / "antigravity-cli"
        return [base / "conversations", base / "brain"]

    def roots_for_folder(self, folder: Path) -> list[Path]:
        """An ``antigravity-cli`` folder holds ``conversations`` and ``brain``."""
        inside = [folder / "conversations", folder / "brain"]
        return [p for p in inside if p.is_dir()] or [folder]

    def wants(self, path: Path) -> bool:
        return path.name == "transcript.jsonl" or (
            path.suffix == ".db" and path.parent.name == "conversations"
        )

    def whole_file(self, path: Path) -> bool:
        return path.suffix == ".db"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> AntigravityLineParser:
        return AntigravityLineParser(path, state)

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        """The calls recorded since the last read (rows are only ever appended)."""
        conversation = path.stem
        last_idx, ordinal = int(since.get("idx", -1)), int(since.get("ordinal", 0))
        try:
            rows = _new_rows(path, last_idx)
        except sqlite3.Error as exc:
            return WholeRead(
                problems=[(0, f"cannot read the conversation database: {exc}")], state=dict(since)
            )
        read = WholeRead()
        stamps = _response_times(path, conversation) if rows else []
        fallback = path.stat().st_mtime_ns // 1_000_000
        for idx, data in rows:
            with read.record(int(idx)):
                usage = _usage_row(data)
                if usage is not None:
                    stamp = stamps[ordinal] if ordinal < len(stamps) else 0
                    stamp = stamp or fallback
                    read.items.append(self._event(conversation, ordinal, stamp, usage))
                    ordinal += 1
            last_idx = max(last_idx, int(idx))
        read.state = {"idx": last_idx, "ordinal": ordinal}
        return read

    def _event(
        self, conversation: str, ordinal: int, stamp: int, usage: tuple[str, int, int, int]
    ) -> UsageEvent:
        model, prompt, response, thinking = usage
        return UsageEvent(
            source=self.name,
            key=_call_key(conversation, ordinal),
            session_id=conversation,
            project="",
            model=model,
            timestamp_ms=stamp,
            input_tokens=prompt,
            output_tokens=response + thinking,
            reasoning_tokens=thinking,
        )


def _is_database(path: Path) -> bool:
    """An SQLite file (by its header): a missing or broken one leaves the estimates."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False  # a FIFO would block the reader
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _new_rows(path: Path, after_idx: int) -> list[tuple[Any, Any]]:
    """gen_metadata rows after ``after_idx``. A WAL database whose -shm is gone cannot be
    opened read-only; it is then read as an immutable snapshot of what was committed."""
    query = "SELECT idx, data FROM gen_metadata WHERE idx > ? ORDER BY idx"
    try:
        connection = read_only(path)
        try:
            return connection.execute(query, (after_idx,)).fetchall()
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc):
            raise
    connection = sqlite3.connect(sqlite_uri(path, immutable="1"), uri=True, timeout=2)
    try:
        return connection.execute(query, (after_idx,)).fetchall()
    finally:
        connection.close()


def _usage_row(data: object) -> tuple[str, int, int, int] | None:
    """(model, prompt, response, thinking) of a call row; None for a snapshot or a row that
    carries no usage. A malformed blob raises LineError (one skipped row)."""
    if not isinstance(data, bytes) or len(data) > _SNAPSHOT_BYTES:
        return None
    try:
        usage = first(data, *_USAGE)
        if not isinstance(usage, bytes):
            return None
        counts = [first(usage, number) or 0 for number in (_PROMPT, _RESPONSE, _THINKING)]
        label, model_id = first(data, *_MODEL_LABEL), first(data, *_MODEL_ID)
    except ProtoError as exc:
        raise LineError(f"usage blob is not readable: {exc}") from exc
    if not all(isinstance(count, int) for count in counts):
        raise LineError("usage counts are not numbers")
    prompt, response, thinking = (int(c) for c in counts)
    if isinstance(label, bytes) and label:
        model = model_from_label(label.decode("utf-8", "replace"))
    elif isinstance(model_id, bytes) and model_id:
        model = model_id.decode("utf-8", "replace")
    else:
        model = DEFAULT_MODEL
    return model, prompt, response, thinking


def _response_times(database: Path, conversation: str) -> list[int]:
    """When each response of the conversation was written, from its transcript (the
    database records none); empty when the transcript is missing or unreadable."""
    transcript = (
        database.parent.parent
        / "brain"
        / conversation
        / ".system_generated"
        / "logs"
        / "transcript.jsonl"
    )
    stamps: list[int] = []
    try:
        with transcript.open("rb") as handle:
            for line in handle:
                if b'"PLANNER_RESPONSE"' not in line:
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("type") == "PLANNER_RESPONSE":
                    try:
                        stamps.append(parse_timestamp_ms(record.get("created_at")))
                    except LineError:
                        stamps.append(0)  # keeps the positions of the later responses
    except OSError:
        return []
    return stamps
