"""Aider's analytics log (``--analytics-log``; Aider's own tools point it at
``~/.aider/analytics.jsonl``): one ``message_send`` event per request, with the model,
prompt and completion tokens and Aider's own cost. Aider writes nothing by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import Source, as_count, load_object, parse_timestamp_ms, table


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


class AiderSource(Source):
    name = "aider"
    display_name = "Aider"
    marks = (b'"message_send"',)

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".aider"]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl" and "analytics" in path.name

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> AiderLineParser:
        return AiderLineParser()
