"""Qwen Code: ``~/.qwen/projects/<cwd>/chats/<session>.jsonl`` (Claude-style transcripts,
usage in ``usageMetadata`` with Gemini semantics: cached tokens are part of the prompt,
thoughts are extra output), and the old ``~/.qwen/tmp/<hash>/chats/*.json`` documents.

The ``ui_telemetry`` ``qwen-code.api_response`` events repeat the same calls and are not
counted. Qwen's OAuth model alias ``coder-model`` has no price: it shows as unpriced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, LineError, UsageEvent
from tokentray.sources.base import LineSource, WholeRead, as_count, load_object, parse_timestamp_ms
from tokentray.sources.gemini import GeminiSource


class QwenLineParser:
    def __init__(self, path: Path) -> None:
        self.session_fallback = path.stem

    def state(self) -> dict[str, Any]:
        return {}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        session = str(record.get("sessionId") or self.session_fallback)
        if record.get("type") == "user" and record.get("timestamp"):
            key = f"qwen-turn:{record.get('uuid') or hashlib.blake2b(line).hexdigest()}"
            return [
                Activity(
                    QwenSource.name, key, session, parse_timestamp_ms(record["timestamp"]), "human"
                )
            ]
        usage = record.get("usageMetadata")
        if record.get("type") != "assistant" or not isinstance(usage, dict):
            return []
        model = record.get("model")
        if not isinstance(model, str) or not model:
            raise LineError("usage without a model")
        prompt = as_count(usage.get("promptTokenCount"))
        cached = min(as_count(usage.get("cachedContentTokenCount")), prompt)
        thoughts = as_count(usage.get("thoughtsTokenCount"))
        uuid = record.get("uuid")
        key = f"qwen:{uuid}" if uuid else "qwen-line:" + hashlib.blake2b(line).hexdigest()
        event = UsageEvent(
            source=QwenSource.name,
            key=key,
            session_id=session,
            project=str(record.get("cwd") or ""),
            model=model,
            timestamp_ms=parse_timestamp_ms(record.get("timestamp")),
            input_tokens=prompt - cached,
            output_tokens=as_count(usage.get("candidatesTokenCount")) + thoughts,
            reasoning_tokens=thoughts,
            cache_read_tokens=cached,
        )
        return [event] if event.total_tokens else []


class QwenSource(LineSource):
    name = "qwen"
    display_name = "Qwen Code"
    marks = (b'"usageMetadata"', b'"user"')
    skip_marks = (b'"ui_telemetry"',)

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".qwen" / "projects", home / ".qwen" / "tmp"]

    def wants(self, path: Path) -> bool:
        return path.parent.name == "chats" and path.suffix in (".jsonl", ".json")

    def whole_file(self, path: Path) -> bool:
        return path.suffix == ".json"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> QwenLineParser:
        return QwenLineParser(path)

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        """The old Gemini-fork document: read as Gemini reads it, then named Qwen."""
        read = GeminiSource().read_whole(path, root, since)
        for item in read.items:
            item.source = self.name
            item.key = item.key.replace("gemini", "qwen", 1)
        return read
