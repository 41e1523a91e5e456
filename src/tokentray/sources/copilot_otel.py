"""Copilot CLI's OpenTelemetry file export, the precise source when a user turns it on
(``COPILOT_OTEL_ENABLED=true``, ``COPILOT_OTEL_EXPORTER_TYPE=file``,
``COPILOT_OTEL_FILE_EXPORTER_PATH=~/.copilot/otel/<name>.jsonl``).

Each ``chat`` span carries one request's ``gen_ai.usage.*`` attributes (input includes
cache reads). Once an export exists, tokentray reads it instead of Copilot's session
events, which know input only at the end of a session: the same requests are not
counted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, as_count, load_object, parse_timestamp_ms, table

_SESSION_ATTRIBUTES = ("gen_ai.conversation.id", "session.id", "copilot_chat.session_id")


def export_folders(env: Mapping[str, str], home: Path) -> list[Path]:
    configured = env.get("COPILOT_OTEL_FILE_EXPORTER_PATH", "").strip()
    folders = [Path(configured).expanduser().parent] if configured else []
    base = Path(env.get("COPILOT_HOME") or home / ".copilot")
    return [*folders, base / "otel"]


def export_exists(env: Mapping[str, str], home: Path) -> bool:
    return any(
        folder.is_dir() and any(folder.glob("*.jsonl")) for folder in export_folders(env, home)
    )


def _moment_ms(value: Any) -> int:
    """OpenTelemetry times come as [seconds, nanoseconds], a number, or ISO text."""
    if isinstance(value, list) and len(value) == 2:
        return int(value[0]) * 1000 + int(value[1]) // 1_000_000
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value > 1e17:
            return int(value // 1_000_000)  # nanoseconds
        return int(value if value > 1e11 else value * 1000)
    return parse_timestamp_ms(value)


class CopilotOtelParser:
    def state(self) -> dict[str, Any]:
        return {}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        attributes = table(record.get("attributes"))
        name = str(record.get("name") or "")
        chat = attributes.get("gen_ai.operation.name") == "chat" or name.startswith("chat ")
        if not chat or record.get("type", "span") != "span":
            return []
        total_in = as_count(attributes.get("gen_ai.usage.input_tokens"))
        cached = min(as_count(attributes.get("gen_ai.usage.cache_read.input_tokens")), total_in)
        written = as_count(
            attributes.get("gen_ai.usage.cache_write.input_tokens")
            or attributes.get("gen_ai.usage.cache_creation.input_tokens")
        )
        reasoning = as_count(attributes.get("gen_ai.usage.reasoning.output_tokens"))
        context = table(record.get("spanContext"))
        trace = record.get("traceId") or context.get("traceId") or ""
        span = record.get("spanId") or context.get("spanId") or ""
        ident = f"{trace}:{span}" if trace and span else hashlib.blake2b(line).hexdigest()
        session = next(
            (str(attributes[a]) for a in _SESSION_ATTRIBUTES if attributes.get(a)), str(trace)
        )
        model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
        event = UsageEvent(
            source=CopilotOtelSource.name,
            key=f"copilot-otel:{ident}",
            session_id=session or "copilot",
            project="",
            model=str(model or "unknown").split("/", 1)[-1],
            timestamp_ms=_moment_ms(record.get("endTime") or record.get("startTime")),
            input_tokens=total_in - cached - min(written, total_in - cached),
            output_tokens=as_count(attributes.get("gen_ai.usage.output_tokens")),
            reasoning_tokens=reasoning,
            cache_read_tokens=cached,
            cache_write_5m_tokens=written,
        )
        return [event] if event.total_tokens else []


class CopilotOtelSource(LineSource):
    name = "copilot-otel"
    display_name = "Copilot CLI (OpenTelemetry export)"
    marks = (b'"attributes"',)

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return export_folders(env, home)

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> CopilotOtelParser:
        return CopilotOtelParser()
