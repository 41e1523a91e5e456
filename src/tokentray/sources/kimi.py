"""Kimi CLI (Moonshot): ``~/.kimi/sessions/<group>/<session>/wire.jsonl``, append-only.

Each ``StatusUpdate`` message carries one request's ``token_usage`` (``input_other`` is
uncached input, cache reads and writes apart). The model is the one in ``~/.kimi/config.json``
(``kimi-for-coding`` when none is set, which has no public per-token price).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, as_count, load_object, parse_timestamp_ms, table

DEFAULT_MODEL = "kimi-for-coding"


class KimiLineParser:
    def __init__(self, path: Path, root: Path, state: dict[str, Any] | None) -> None:
        self.session_id = path.parent.name
        self.model: str = (state or {}).get("model") or _configured_model(root.parent)

    def state(self) -> dict[str, Any]:
        return {"model": self.model}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        message = table(record.get("message"))
        stamp = record.get("timestamp")
        if message.get("type") == "TurnBegin" and stamp:
            key = f"kimi-turn:{self.session_id}:{stamp}"
            return [
                Activity(KimiSource.name, key, self.session_id, parse_timestamp_ms(stamp), "human")
            ]
        if message.get("type") != "StatusUpdate":
            return []
        payload = table(message.get("payload"))
        usage = table(payload.get("token_usage"))
        output = as_count(usage.get("output"))
        parts = [
            as_count(usage.get(k))
            for k in ("input_other", "input_cache_read", "input_cache_creation")
        ]
        if not any(parts) and not output:
            output = as_count(usage.get("total"))  # only a total: count it as output
        message_id = payload.get("message_id")
        ident = (
            message_id
            if isinstance(message_id, str) and message_id
            else hashlib.blake2b(line).hexdigest()
        )
        event = UsageEvent(
            source=KimiSource.name,
            key=f"kimi:{self.session_id}:{ident}",
            session_id=self.session_id,
            project="",
            model=self.model,
            timestamp_ms=parse_timestamp_ms(stamp),
            input_tokens=parts[0],
            output_tokens=output,
            cache_read_tokens=parts[1],
            cache_write_5m_tokens=parts[2],
        )
        return [event] if event.total_tokens else []


def _configured_model(kimi_home: Path) -> str:
    try:
        config = orjson.loads((kimi_home / "config.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return DEFAULT_MODEL
    model = table(config).get("model")
    return model if isinstance(model, str) and model else DEFAULT_MODEL


class KimiSource(LineSource):
    name = "kimi"
    display_name = "Kimi CLI"
    marks = (b'"StatusUpdate"', b'"TurnBegin"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".kimi" / "sessions"]

    def wants(self, path: Path) -> bool:
        return path.name == "wire.jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> KimiLineParser:
        return KimiLineParser(path, root, state)
