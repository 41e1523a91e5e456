"""Aider. Its analytics log (``--analytics-log``; Aider's own tools point it at
``~/.aider/analytics.jsonl``): one ``message_send`` event per request, with the model,
prompt and completion tokens and Aider's own cost. Aider writes nothing by default.

Roughly, also its chat history (``.aider.chat.history.md`` in a repository you add under
Preferences → Sources): lines like ``> Tokens: 12k sent, 1.1k received. Cost: $0.05
message`` give rounded counts, dated at the chat's start and marked estimated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, as_count, load_object, parse_timestamp_ms, table


class AiderLineParser:
    def state(self) -> dict[str, Any]:
        return {}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        if record.get("event") != "message_send":
            return []
        properties = table(record.get("properties"))
        prompt = as_count(properties.get("prompt_tokens"))
        completion = as_count(properties.get("completion_tokens"))
        estimated = not (prompt or completion)
        if estimated:  # only a total: call it input, and say it is an estimate
            prompt = as_count(properties.get("total_tokens"))
        cost = properties.get("cost")
        user = str(record.get("user_id") or "aider")
        event = UsageEvent(
            source=AiderSource.name,
            key="aider:" + hashlib.blake2b(line, digest_size=16).hexdigest(),
            session_id=str(properties.get("session_id") or user),
            project="",
            model=str(properties.get("main_model") or "unknown"),
            timestamp_ms=parse_timestamp_ms(record.get("time")),
            input_tokens=prompt,
            output_tokens=completion,
            estimated=estimated,
            reported_cost_usd=float(cost) if isinstance(cost, int | float) and cost > 0 else None,
        )
        return [event] if event.total_tokens else []


_TOKENS = re.compile(r"^> Tokens: (.+?)\.(?: Cost: \$([\d.,]+) message.*)?\s*$")
_PART = re.compile(r"([\d.]+)([kKmM]?) (sent|received|cache write|cache hit)")
_MODEL = re.compile(r"^> (?:Main )?[Mm]odel: (\S+)")
_STARTED = re.compile(r"^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def _amount(number: str, suffix: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(suffix.lower(), 1)
    return round(float(number) * scale)


class AiderHistoryParser:
    """The rough source: rounded counts from the chat history, dated at the chat's start."""

    def __init__(self, path: Path, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.file = hashlib.blake2b(str(path).encode(), digest_size=8).hexdigest()
        self.project = str(path.parent)
        self.model: str = state.get("model", "unknown")
        self.started_ms: int = state.get("started_ms", 0)

    def state(self) -> dict[str, Any]:
        return {"model": self.model, "started_ms": self.started_ms}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        text = bytes(line).decode("utf-8", errors="replace")
        if started := _STARTED.match(text):
            local = datetime.fromisoformat(started.group(1)).astimezone()
            self.started_ms = int(local.timestamp() * 1000)
            return []
        if model := _MODEL.match(text):
            self.model = model.group(1)
            return []
        tokens = _TOKENS.match(text)
        if not tokens or not self.started_ms:
            return []
        counts = {label: _amount(n, s) for n, s, label in _PART.findall(tokens.group(1))}
        cost = float(tokens.group(2).replace(",", "")) if tokens.group(2) else None
        read, written = counts.get("cache hit", 0), counts.get("cache write", 0)
        event = UsageEvent(
            source=AiderSource.name,
            key=f"aider-history:{self.file}:{line_no}",
            session_id=f"chat-{self.started_ms}",
            project=self.project,
            model=self.model,
            timestamp_ms=self.started_ms,
            input_tokens=max(counts.get("sent", 0) - read - written, 0),
            output_tokens=counts.get("received", 0),
            cache_read_tokens=read,
            cache_write_5m_tokens=written,
            estimated=True,
            reported_cost_usd=cost if cost else None,
        )
        return [event] if event.total_tokens else []


class AiderSource(LineSource):
    name = "aider"
    display_name = "Aider"
    marks = (b'"message_send"',)

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".aider"]

    def files(self, root: Path) -> Iterator[Path]:
        """Only the folder itself: a repository added for its chat history is not walked."""
        try:
            yield from (p for p in root.iterdir() if p.is_file() and self.wants(p))
        except OSError:
            return

    def wants(self, path: Path) -> bool:
        if path.name == ".aider.chat.history.md":
            return True
        return path.suffix == ".jsonl" and "analytics" in path.name

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> Any:
        if path.suffix == ".md":
            return AiderHistoryParser(path, state)
        return AiderLineParser()
