"""Claude Code transcripts: ``projects/<encoded-cwd>/<session>.jsonl`` and subagents.

One API response is written as several lines (one per content block) that
share ``message.id``; early lines carry a streaming snapshot of ``usage``.
Each line becomes an event keyed on the message id, and the store keeps the
largest usage seen for a key, so a response counts once with its final usage,
however many files (resumed sessions, ``/btw`` side chains) repeat it.

A subagent's responses are also copied into the parent transcript, inside
``progress`` lines (``data.type == "agent_progress"``). Those copies are read as
ranked copies (``replayed = 1``): the subagent's own file wins when it carries
the same message id, and a copy counts once when that file is missing.

Large blocks of lines (a first scan) are decoded at once by ``claude_fast``, which
decides as this parser does and hands back any block it cannot take whole.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokentray.events import Activity, LineError, UsageEvent
from tokentray.sources.base import (
    LineSource,
    as_count,
    env_paths,
    load_object,
    parse_timestamp_ms,
    tool_fingerprint,
)

SOURCE_NAME = "claude-code"
_INTERNAL_MODELS = frozenset({"<synthetic>"})
FAST_BLOCK_BYTES = 256 << 10


class ClaudeLineParser:
    """Parses the lines of one transcript; carries no state between passes."""

    source_name = SOURCE_NAME

    def __init__(self, session_id: str, project_fallback: str) -> None:
        self.session_id = session_id
        self.project_fallback = project_fallback
        self.branch = ""  # the last git branch said, so each is recorded once per read

    def state(self) -> dict[str, Any]:
        return {}

    def parse_block(self, block: memoryview, line_count: int) -> list[UsageEvent | Activity] | None:
        """Whole lines at once, or None when they must be read one by one (see claude_fast).
        A few new lines (the usual append) are read one by one until the block decoder is
        loaded: decoding them in a block saves less than its import costs a short command."""
        if len(block) < FAST_BLOCK_BYTES and "tokentray.sources.claude_fast" not in sys.modules:
            return None
        from tokentray.sources import claude_fast  # noqa: PLC0415

        return claude_fast.parse_block(self, block, line_count)

    def branch_activity(self, branch: str, timestamp_ms: int) -> Activity:
        """The git branch the session worked on (one row per session and branch)."""
        key = f"claude-branch:{self.session_id}:{branch}"
        return Activity(self.source_name, key, self.session_id, timestamp_ms, "branch", branch)

    def tool_activity(self, key: str, timestamp_ms: int, fingerprint: str) -> Activity:
        return Activity(self.source_name, key, self.session_id, timestamp_ms, "tool", fingerprint)

    def human_activity(self, key: str, timestamp_ms: int) -> Activity:
        return Activity(self.source_name, key, self.session_id, timestamp_ms, "human")

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        kind = record.get("type")
        if kind is None and _looks_like_a_response(record):
            kind = "assistant"  # older builds and hand-made files: decided by shape
        if kind == "user":
            return self._human_turn(record, line)
        if kind == "progress":
            return self._subagent_copy(record, line)
        if kind != "assistant":
            return []
        return self._response(record, line)

    def _subagent_copy(
        self, record: dict[str, Any], line: bytes | memoryview
    ) -> list[UsageEvent | Activity]:
        """A subagent response embedded in the parent's agent progress line."""
        data = record.get("data")
        if not isinstance(data, dict) or data.get("type") != "agent_progress":
            return []
        inner = data.get("message")
        if not isinstance(inner, dict) or inner.get("type") != "assistant":
            return []
        if not isinstance(inner.get("message"), dict):
            return []
        copy = {**inner, "cwd": inner.get("cwd") or record.get("cwd")}
        copy["timestamp"] = inner.get("timestamp") or record.get("timestamp")
        # Only the usage: the subagent's tool calls are its own file's to report.
        return [
            replace(found, replayed=1)
            for found in self._response(copy, line)
            if isinstance(found, UsageEvent)
        ]

    def _response(
        self, record: dict[str, Any], line: bytes | memoryview
    ) -> list[UsageEvent | Activity]:
        message = record.get("message")
        if not isinstance(message, dict):
            raise LineError("assistant line without a message object")
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return []
        model = message.get("model")
        if not isinstance(model, str) or not model:
            raise LineError("usage without a model")
        if model in _INTERNAL_MODELS:
            return []
        event = self._event(record, message, usage, model, line)
        found: list[UsageEvent | Activity] = [event] if event.total_tokens > 0 else []
        branch = record.get("gitBranch")
        if isinstance(branch, str) and branch and branch != self.branch:
            self.branch = branch
            found.append(self.branch_activity(branch, event.timestamp_ms))
        return found + self._tool_calls(message, event.timestamp_ms)

    def _human_turn(
        self, record: dict[str, Any], line: bytes | memoryview
    ) -> list[UsageEvent | Activity]:
        """A prompt typed by a person (tool results and meta lines are not)."""
        message = record.get("message")
        if record.get("isMeta") or record.get("isSidechain") or not isinstance(message, dict):
            return []
        content = message.get("content")
        typed = (isinstance(content, str) and content.strip()) or (
            isinstance(content, list)
            and any(isinstance(c, dict) and c.get("type") == "text" for c in content)
            and not any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content)
        )
        if not typed:
            return []
        uuid = record.get("uuid")
        key = f"claude-turn:{uuid}" if isinstance(uuid, str) and uuid else line_key(line)
        return [self.human_activity(key, parse_timestamp_ms(record.get("timestamp")))]

    def _tool_calls(
        self, message: dict[str, Any], timestamp_ms: int
    ) -> list[UsageEvent | Activity]:
        content = message.get("content")
        calls: list[UsageEvent | Activity] = []
        for item in content if isinstance(content, list) else []:
            if isinstance(item, dict) and item.get("type") == "tool_use" and item.get("id"):
                fingerprint = tool_fingerprint(str(item.get("name", "")), item.get("input"))
                key = f"claude-tool:{item['id']}"
                calls.append(self.tool_activity(key, timestamp_ms, fingerprint))
        return calls

    def _event(
        self,
        record: dict[str, Any],
        message: dict[str, Any],
        usage: dict[str, Any],
        model: str,
        line: bytes | memoryview,
    ) -> UsageEvent:
        write_5m, write_1h = cache_writes(
            usage.get("cache_creation_input_tokens"), usage.get("cache_creation")
        )
        cwd = record.get("cwd")
        return UsageEvent(
            source=self.source_name,
            key=_request_key(message, record, line),
            session_id=self.session_id,
            project=cwd if isinstance(cwd, str) and cwd else self.project_fallback,
            model=model,
            timestamp_ms=parse_timestamp_ms(record.get("timestamp")),
            input_tokens=as_count(usage.get("input_tokens")),
            output_tokens=as_count(usage.get("output_tokens")),
            cache_read_tokens=as_count(usage.get("cache_read_input_tokens")),
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            service_tier="fast" if usage.get("speed") == "fast" else "",
        )


def cache_writes(written: object, split: object) -> tuple[int, int]:
    """Split cache writes (``cache_creation_input_tokens``) into 5-minute and 1-hour TTL
    buckets by ``cache_creation``.

    Without the split every write is a 5-minute write (the API default). Tokens the
    split does not account for go to 5 minutes.
    """
    total = as_count(written)
    if not isinstance(split, dict):
        return total, 0
    one_hour = as_count(split.get("ephemeral_1h_input_tokens"))
    five_min = as_count(split.get("ephemeral_5m_input_tokens"))
    return max(five_min, total - one_hour), one_hour


def _request_key(
    message: Mapping[str, Any], record: Mapping[str, Any], line: bytes | memoryview
) -> str:
    """The API message id identifies a response everywhere it is copied.

    ``requestId`` is not part of the key: ``/btw`` side chains replay a parent
    message under a new request id. A line without a message id can only be
    recognised by its exact content.
    """
    message_id = message.get("id")
    if isinstance(message_id, str) and message_id:
        return "claude:" + message_id
    request_id = record.get("requestId")
    if isinstance(request_id, str) and request_id:
        return "claude-req:" + request_id
    return line_key(line)


def line_key(line: bytes | memoryview) -> str:
    """The key of a line with no id of its own: its exact content."""
    return "claude-line:" + hashlib.blake2b(line, digest_size=16).hexdigest()


def _looks_like_a_response(record: Mapping[str, Any]) -> bool:
    """A line without ``type`` that carries a model's usage: an assistant response."""
    message = record.get("message")
    return (
        isinstance(message, dict)
        and isinstance(message.get("usage"), dict)
        and message.get("role", "assistant") == "assistant"
    )


class ClaudeCodeSource(LineSource):
    name = SOURCE_NAME
    display_name = "Claude Code"
    # Usage, and typed prompts (for runaway detection); tool results are not prompts.
    marks = (b'"usage"', b'"user"')
    skip_marks = (b'"tool_result"',)
    keep_marks = (b'"usage"',)

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        configured = env_paths(env, "CLAUDE_CONFIG_DIR")
        if configured is not None:
            return [p if p.name == "projects" else p / "projects" for p in configured]
        xdg = env.get("XDG_CONFIG_HOME") or str(home / ".config")
        return [Path(xdg) / "claude" / "projects", home / ".claude" / "projects"]

    def roots_for_folder(self, folder: Path) -> list[Path]:
        """A Claude config folder holds its transcripts in ``projects``."""
        if folder.name != "projects" and (folder / "projects").is_dir():
            return [folder / "projects"]
        return [folder]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> ClaudeLineParser:
        return ClaudeLineParser(_session_of(path, root), _project_of(path, root))


def _session_of(path: Path, root: Path) -> str:
    """The session a transcript belongs to: subagent files belong to their parent."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return path.stem
    # <project>/<session>.jsonl  or  <project>/<session>/subagents/**/agent-*.jsonl
    if len(parts) >= 3 and "subagents" in parts[2:]:
        return parts[1]
    return path.stem


def _project_of(path: Path, root: Path) -> str:
    """The encoded project folder name, used only when a line has no ``cwd``."""
    try:
        return path.relative_to(root).parts[0]
    except (ValueError, IndexError):
        return ""
