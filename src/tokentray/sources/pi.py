"""pi (the pi coding agent): ``~/.pi/agent/sessions/<project>/<time>_<session>.jsonl``.

Assistant ``message`` lines carry ``usage`` (``input`` uncached, ``cacheRead``,
``cacheWrite``, ``output``) and pi's own cost (``usage.cost.total``), kept beside ours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, as_count, load_object, parse_timestamp_ms, table


class PiLineParser:
    def __init__(self, path: Path, root: Path) -> None:
        stem = path.stem
        self.session_id = stem.split("_", 1)[1] if "_" in stem else stem
        parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
        self.project = parts[0] if len(parts) > 1 else ""

    def state(self) -> dict[str, Any]:
        return {}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        if record.get("type", "message") != "message":
            return []
        message = table(record.get("message"))
        # OpenClaw (and some pi builds) date a line only inside its message.
        stamp = record.get("timestamp") or message.get("timestamp")
        if message.get("role") == "user" and stamp:
            key = "pi-turn:" + hashlib.blake2b(line, digest_size=16).hexdigest()
            return [
                Activity(PiSource.name, key, self.session_id, parse_timestamp_ms(stamp), "human")
            ]
        usage = table(message.get("usage"))
        if message.get("role") != "assistant" or not usage:
            return []
        output = as_count(usage.get("output"))
        parts = [as_count(usage.get(k)) for k in ("input", "cacheRead", "cacheWrite")]
        if not any(parts) and not output:
            output = as_count(usage.get("totalTokens"))
        cost = table(usage.get("cost")).get("total")
        event = UsageEvent(
            source=PiSource.name,
            key="pi:" + hashlib.blake2b(line, digest_size=16).hexdigest(),
            session_id=self.session_id,
            project=self.project,
            model=str(message.get("model") or "unknown"),
            timestamp_ms=parse_timestamp_ms(stamp),
            input_tokens=parts[0],
            output_tokens=output,
            cache_read_tokens=parts[1],
            cache_write_5m_tokens=parts[2],
            reported_cost_usd=float(cost) if isinstance(cost, int | float) and cost > 0 else None,
        )
        return [event] if event.total_tokens else []


class PiSource(LineSource):
    name = "pi"
    display_name = "pi"
    marks = (b'"usage"', b'"user"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".pi" / "agent" / "sessions"]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> PiLineParser:
        return PiLineParser(path, root)
