"""Antigravity CLI: ``~/.gemini/antigravity-cli/brain/<session>/.system_generated/logs/
transcript.jsonl``. It records text but no token counts: prompts and responses (with
their thinking) are counted with tiktoken and every event is marked estimated. Only the
typed prompt is known, not the context sent with it, so input is an undercount.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.estimate import count_tokens
from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import Source, load_object, parse_timestamp_ms

DEFAULT_MODEL = "gemini-3.5-flash"
_MODEL_CHANGE = re.compile(r"Model Selection` from .*? to ([^\n(]+?)(?:\s*\(|\.\s|\.$|\n|$)")


class AntigravityLineParser:
    def __init__(self, path: Path, state: dict[str, Any] | None) -> None:
        parts = path.parts
        self.session_id = parts[-4] if len(parts) >= 4 else path.stem
        self.model: str = (state or {}).get("model", DEFAULT_MODEL)

    def state(self) -> dict[str, Any]:
        return {"model": self.model}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        kind = record.get("type")
        content = str(record.get("content") or "")
        stamp = parse_timestamp_ms(record.get("created_at"))
        key = "antigravity:" + hashlib.blake2b(line, digest_size=16).hexdigest()
        if kind == "USER_INPUT":
            change = _MODEL_CHANGE.search(content)
            if change:
                self.model = change.group(1).strip().lower().replace(" ", "-")
            tokens = count_tokens(content, self.model)[0]
            human = Activity(AntigravitySource.name, key + ":turn", self.session_id, stamp, "human")
            return [human, self._event(key, stamp, tokens, 0, 0)] if tokens else [human]
        if kind == "PLANNER_RESPONSE":
            thinking = count_tokens(str(record.get("thinking") or ""), self.model)[0]
            output = count_tokens(content, self.model)[0]
            return (
                [self._event(key, stamp, 0, output + thinking, thinking)]
                if output or thinking
                else []
            )
        return []

    def _event(self, key: str, stamp: int, inp: int, out: int, reasoning: int) -> UsageEvent:
        return UsageEvent(
            source=AntigravitySource.name,
            key=key,
            session_id=self.session_id,
            project="",
            model=self.model,
            timestamp_ms=stamp,
            input_tokens=inp,
            output_tokens=out,
            reasoning_tokens=reasoning,
            estimated=True,
        )


class AntigravitySource(Source):
    name = "antigravity"
    display_name = "Antigravity CLI (estimated)"
    marks = (b'"USER_INPUT"', b'"PLANNER_RESPONSE"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".gemini" / "antigravity-cli" / "brain"]

    def wants(self, path: Path) -> bool:
        return path.name == "transcript.jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> AntigravityLineParser:
        return AntigravityLineParser(path, state)
