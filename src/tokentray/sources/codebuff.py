"""Codebuff (formerly Manicode): ``~/.config/manicode*/projects/<project>/chats/<chat>/
chat-messages.json``, a JSON array rewritten whole.

Assistant messages carry usage in ``metadata.usage`` (or ``metadata.codebuff.usage``)
under varying key spellings; a message is keyed by its id (else its chat and position).
Codebuff bills credits, not dollars: tokens are priced at list price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tokentray.events import UsageEvent
from tokentray.sources.base import (
    DocumentSource,
    WholeRead,
    as_count,
    parse_timestamp_ms,
    read_document,
    table,
)

CHANNELS = ("manicode", "manicode-dev", "manicode-staging")
_INPUT = ("inputTokens", "input_tokens", "promptTokens", "prompt_tokens")
_OUTPUT = ("outputTokens", "output_tokens", "completionTokens", "completion_tokens")
_READ = ("cacheReadInputTokens", "cache_read_input_tokens")
_WRITE = ("cacheCreationInputTokens", "cache_creation_input_tokens", "cacheCreationTokens")


def _pick(usage: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    return next((as_count(usage[k]) for k in keys if as_count(usage.get(k))), 0)


class CodebuffSource(DocumentSource):
    name = "codebuff"
    display_name = "Codebuff"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".config" / channel / "projects" for channel in CHANNELS]

    def wants(self, path: Path) -> bool:
        return path.name == "chat-messages.json"

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        messages = read_document(path, list, "chat-messages.json is not a list")
        chat = path.parent.name
        project = path.parent.parent.parent.name
        fallback_ms = _chat_time(chat) or path.stat().st_mtime_ns // 1_000_000
        read = WholeRead()
        for position, message in enumerate(messages):
            with read.record(position + 1):
                self._message(read, message, position, chat, project, fallback_ms)
        return read

    def _message(
        self,
        read: WholeRead,
        message: Any,
        position: int,
        chat: str,
        project: str,
        fallback_ms: int,
    ) -> None:
        if not isinstance(message, dict):
            return
        if (message.get("variant") or message.get("role")) not in ("ai", "agent", "assistant"):
            return
        metadata = table(message.get("metadata"))
        usage = table(metadata.get("usage")) or table(table(metadata.get("codebuff")).get("usage"))
        if not usage:
            return
        stamp = message.get("timestamp") or message.get("createdAt") or metadata.get("timestamp")
        ident = message.get("id") or f"{position}"
        event = UsageEvent(
            source=self.name,
            key=f"codebuff:{project}:{chat}:{ident}",
            session_id=f"{project}/{chat}",
            project=project,
            model=str(metadata.get("model") or usage.get("model") or "unknown"),
            timestamp_ms=parse_timestamp_ms(stamp) if stamp else fallback_ms,
            input_tokens=_pick(usage, _INPUT),
            output_tokens=_pick(usage, _OUTPUT) or as_count(usage.get("totalTokens")),
            cache_read_tokens=_pick(usage, _READ),
            cache_write_5m_tokens=_pick(usage, _WRITE),
        )
        if event.total_tokens:
            read.items.append(event)


def _chat_time(chat: str) -> int:
    """Chat folders are named by their start: ``2026-05-01T10-20-30.000Z``."""
    date, _, clock = chat.partition("T")
    try:
        moment = datetime.fromisoformat(f"{date}T{clock.replace('-', ':', 2)}")
    except ValueError:
        return 0
    return int(moment.timestamp() * 1000) if moment.tzinfo else 0
