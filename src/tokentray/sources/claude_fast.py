"""A fast reading of whole blocks of Claude Code transcript lines.

Transcript lines are mostly text the usage count does not need: prompts, answers, tool
inputs and results, several kilobytes a line. ``msgspec`` decodes a block of lines in
one call into typed structs that name only the fields read here; everything else is
skipped without being built as Python objects, which is most of a first scan's work.

The fast reading is an optimisation and never a second opinion: it handles the common,
clean shape and gives up (returns None) on anything else: a line that is not JSON, a
blank line holding spaces, a field of an unexpected type, a value out of bounds, a line
that would be reported as skipped. The engine then reads that block line by line with
the ordinary parser, which decides and reports exactly as before. Tests compare the two
on every fixture, on the generated corpus and on fuzzed transcripts.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from tokentray.events import (
    EARLIEST_MS,
    LATEST_MS,
    MAX_TOKENS_PER_FIELD,
    Activity,
    UsageEvent,
    check_event,
)
from tokentray.sources.base import as_count, parse_timestamp_ms, tool_fingerprint
from tokentray.sources.claude_code import ClaudeLineParser, cache_writes, line_key

_ASSISTANT = "assistant"
_ABSENT = msgspec.Raw()  # a field the line does not have (msgspec.Raw cannot be optional)


class _Usage(msgspec.Struct):
    input_tokens: Any = None
    output_tokens: Any = None
    cache_read_input_tokens: Any = None
    cache_creation_input_tokens: Any = None
    cache_creation: Any = None
    speed: Any = None


class _Item(msgspec.Struct):
    """One content block: its text is skipped, a tool call's input kept as raw JSON."""

    type: Any = None
    id: Any = None
    name: Any = msgspec.UNSET  # absent reads as "", null as "None" (as the line reading)
    input: msgspec.Raw = _ABSENT


class _Message(msgspec.Struct):
    id: Any = None
    model: Any = None
    role: Any = _ASSISTANT  # a line without ``type`` is a response unless it says otherwise
    usage: _Usage | None = None
    content: str | list[_Item] | None = None


class _Progress(msgspec.Struct):
    type: Any = None
    message: _Line | None = None


class _Line(msgspec.Struct):
    type: Any = None
    timestamp: Any = None
    cwd: Any = None
    gitBranch: Any = None  # noqa: N815 - the transcript's own field name
    requestId: Any = None  # noqa: N815
    uuid: Any = None
    isMeta: Any = None  # noqa: N815
    isSidechain: Any = None  # noqa: N815
    message: _Message | None = None
    data: _Progress | None = None


_DECODER = msgspec.json.Decoder(_Line)


class UnusualBlockError(Exception):
    """This block is not the clean, common shape: read it line by line instead."""


def parse_block(
    parser: ClaudeLineParser, block: memoryview, line_count: int
) -> list[UsageEvent | Activity] | None:
    """Everything the block's lines yield, in order and checked against the event model's
    bounds, or None to have them read one by one.

    ``block`` holds ``line_count`` whole lines. The parser's remembered branch is put back when
    the block is given up, so the line-by-line reading starts from the same state.
    """
    branch = parser.branch
    try:
        records = _DECODER.decode_lines(block)
        lines = _Lines(block, line_count, len(records))
        found: list[UsageEvent | Activity] = []
        for index, record in enumerate(records):
            found += _record(parser, record, lines, index)
        for item in found:
            if not _plainly_fine(item):
                check_event(item)
    except (msgspec.MsgspecError, UnusualBlockError, ValueError, TypeError, OverflowError):
        parser.branch = branch
        return None
    return found


def _plainly_fine(item: UsageEvent | Activity) -> bool:
    """The bounds check of the common case, on fields this module built as ints and
    strings; anything else goes through ``check_event``."""
    if not EARLIEST_MS <= item.timestamp_ms < LATEST_MS:
        return False
    if isinstance(item, Activity):
        return (item.key + item.session_id + item.fingerprint).isascii()
    return (
        max(
            item.input_tokens,
            item.output_tokens,
            item.cache_read_tokens,
            item.cache_write_5m_tokens,
            item.cache_write_1h_tokens,
        )
        <= MAX_TOKENS_PER_FIELD
        and (item.key + item.session_id + item.project + item.model).isascii()
    )


class _Lines:
    """The block's lines. Decoding passes over blank lines, which the line-by-line
    reading reports when they hold spaces: a block is taken only when it has one record
    per line. A line's bytes are looked up only for a record keyed by them."""

    def __init__(self, block: memoryview, line_count: int, records: int) -> None:
        if line_count != records:
            raise UnusualBlockError
        self._block = block
        self._spans: list[tuple[int, int]] | None = None

    def line(self, index: int) -> memoryview:
        if self._spans is None:
            self._spans = self._find_spans()
        start, end = self._spans[index]
        return self._block[start:end]

    def _find_spans(self) -> list[tuple[int, int]]:
        data = self._block.tobytes()
        spans, position = [], 0
        while (newline := data.find(b"\n", position)) >= 0:
            end = newline - 1 if newline > position and data[newline - 1] == 13 else newline
            spans.append((position, end))
            position = newline + 1
        return spans


def _record(
    parser: ClaudeLineParser, record: _Line, lines: _Lines, index: int
) -> list[UsageEvent | Activity]:
    kind = record.type
    message = record.message
    if kind is None and message is not None and message.usage is not None:
        kind = _ASSISTANT if message.role == _ASSISTANT else None
    if kind == "user":
        return _human_turn(parser, record, lines, index)
    if kind == "progress":
        return _subagent_copy(parser, record, lines, index)
    if kind != _ASSISTANT:
        return []
    return _response(parser, record, lines, index, record.cwd, record.timestamp, 0)


def _subagent_copy(
    parser: ClaudeLineParser, record: _Line, lines: _Lines, index: int
) -> list[UsageEvent | Activity]:
    data = record.data
    if data is None or data.type != "agent_progress":
        return []
    inner = data.message
    if inner is None or inner.type != _ASSISTANT or inner.message is None:
        return []
    cwd = inner.cwd or record.cwd
    timestamp = inner.timestamp or record.timestamp
    found = _response(parser, inner, lines, index, cwd, timestamp, 1)
    return [item for item in found if isinstance(item, UsageEvent)]


def _response(
    parser: ClaudeLineParser,
    record: _Line,
    lines: _Lines,
    index: int,
    cwd: Any,
    timestamp: Any,
    replayed: int,
) -> list[UsageEvent | Activity]:
    message = record.message
    if message is None:
        raise UnusualBlockError  # reported as a skipped line by the ordinary reading
    usage = message.usage
    if usage is None:
        return []
    model = message.model
    if not isinstance(model, str) or not model:
        raise UnusualBlockError
    if model == "<synthetic>":
        return []
    key = _request_key(record, message, lines, index)
    event = _event(parser, key, message, usage, model, cwd, timestamp, replayed)
    found: list[UsageEvent | Activity] = [event] if event.total_tokens > 0 else []
    branch = record.gitBranch
    if isinstance(branch, str) and branch and branch != parser.branch:
        parser.branch = branch
        found.append(parser.branch_activity(branch, event.timestamp_ms))
    return found + _tool_calls(parser, message.content, event.timestamp_ms)


def _request_key(record: _Line, message: _Message, lines: _Lines, index: int) -> str:
    """As ``claude_code._request_key``: the message id, else the request id, else the line."""
    if isinstance(message.id, str) and message.id:
        return "claude:" + message.id
    if isinstance(record.requestId, str) and record.requestId:
        return "claude-req:" + record.requestId
    return line_key(lines.line(index))


def _event(
    parser: ClaudeLineParser,
    key: str,
    message: _Message,
    usage: _Usage,
    model: str,
    cwd: Any,
    timestamp: Any,
    replayed: int,
) -> UsageEvent:
    write_5m, write_1h = cache_writes(usage.cache_creation_input_tokens, usage.cache_creation)
    return UsageEvent(
        source=parser.source_name,
        key=key,
        session_id=parser.session_id,
        project=cwd if isinstance(cwd, str) and cwd else parser.project_fallback,
        model=model,
        timestamp_ms=parse_timestamp_ms(timestamp),
        input_tokens=as_count(usage.input_tokens),
        output_tokens=as_count(usage.output_tokens),
        cache_read_tokens=as_count(usage.cache_read_input_tokens),
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        service_tier="fast" if usage.speed == "fast" else "",
        replayed=replayed,
    )


def _tool_calls(
    parser: ClaudeLineParser, content: str | list[_Item] | None, timestamp_ms: int
) -> list[UsageEvent | Activity]:
    if not isinstance(content, list):
        return []
    calls: list[UsageEvent | Activity] = []
    for item in content:
        if item.type == "tool_use" and item.id:
            arguments = orjson.loads(memoryview(item.input)) if item.input else None
            name = "" if item.name is msgspec.UNSET else str(item.name)
            fingerprint = tool_fingerprint(name, arguments)
            calls.append(parser.tool_activity(f"claude-tool:{item.id}", timestamp_ms, fingerprint))
    return calls


def _human_turn(
    parser: ClaudeLineParser, record: _Line, lines: _Lines, index: int
) -> list[UsageEvent | Activity]:
    message = record.message
    if record.isMeta or record.isSidechain or message is None:
        return []
    if not _typed(message.content):
        return []
    uuid = record.uuid
    key = f"claude-turn:{uuid}" if isinstance(uuid, str) and uuid else line_key(lines.line(index))
    return [parser.human_activity(key, parse_timestamp_ms(record.timestamp))]


def _typed(content: str | list[_Item] | None) -> bool:
    """Whether a prompt's content was typed by a person: non-blank text, or text blocks
    without tool results."""
    if isinstance(content, str):
        return bool(content.strip())
    if content is None:
        return False
    kinds = [item.type for item in content]
    return "text" in kinds and "tool_result" not in kinds
