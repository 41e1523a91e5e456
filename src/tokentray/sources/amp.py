"""Amp's legacy local threads: ``~/.local/share/amp/threads/T-*.json``, rewritten whole.

Modern Amp keeps threads on its servers and writes no usage locally; only the old
threads can be read. When a thread has a usage ledger, tokens come from it and cache
figures from the message it points to; otherwise from each message's ``usage``.
Amp bills in credits, not dollars: tokentray prices the tokens at list price.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class AmpSource(DocumentSource):
    name = "amp"
    display_name = "Amp (legacy threads)"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
        return [data / "amp" / "threads"]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".json" and path.name.startswith("T-")

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        thread = read_document(path, dict, "not an Amp thread")
        thread_id = str(thread.get("id") or path.stem)
        messages = _messages(thread.get("messages"))
        ledger = [
            e for e in table(thread.get("usageLedger")).get("events") or [] if isinstance(e, dict)
        ]
        read = WholeRead()
        if ledger:
            for index, entry in enumerate(ledger, start=1):
                with read.record(index):
                    usage = messages.get(_ident(entry.get("toMessageId")) or "", {})
                    tokens = table(entry.get("tokens"))
                    read.items.append(
                        self._event(
                            thread_id,
                            str(entry.get("id")),
                            entry.get("model"),
                            entry.get("timestamp"),
                            as_count(tokens.get("input")),
                            as_count(tokens.get("output")),
                            usage,
                        )
                    )
        else:
            for index, (message_id, usage) in enumerate(messages.items(), start=1):
                if usage:
                    with read.record(index):
                        read.items.append(
                            self._event(
                                thread_id,
                                str(message_id),
                                usage.get("model"),
                                usage.get("timestamp"),
                                as_count(usage.get("inputTokens")),
                                as_count(usage.get("outputTokens")),
                                usage,
                            )
                        )
        read.items = [e for e in read.items if isinstance(e, UsageEvent) and e.total_tokens]
        return read

    def _event(
        self,
        thread: str,
        ident: str,
        model: Any,
        timestamp: Any,
        input_tokens: int,
        output_tokens: int,
        usage: Mapping[str, Any],
    ) -> UsageEvent:
        return UsageEvent(
            source=self.name,
            key=f"amp:{thread}:{ident}",
            session_id=thread,
            project="",
            model=str(model or usage.get("model") or "unknown"),
            timestamp_ms=parse_timestamp_ms(timestamp or usage.get("timestamp")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=as_count(usage.get("cacheReadInputTokens")),
            cache_write_5m_tokens=as_count(usage.get("cacheCreationInputTokens")),
        )


def _ident(value: Any) -> str | None:
    """A message id as text; None for a missing or malformed one."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _messages(raw: Any) -> dict[str, Mapping[str, Any]]:
    """Each message's usage by its id; a message without one is keyed by its position in
    the thread, so two such messages never collapse into one."""
    found: dict[str, Mapping[str, Any]] = {}
    for position, message in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(message, dict):
            key = _ident(message.get("messageId")) or f"position-{position}"
            found[key] = table(message.get("usage"))
    return found
