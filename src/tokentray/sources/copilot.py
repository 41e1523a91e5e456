"""GitHub Copilot CLI: ``~/.copilot/session-state/<session>/events.jsonl`` (and the older
flat ``<id>.jsonl``).

Only output tokens are logged as they happen (``assistant.message``); input and cache
tokens arrive once per run, as totals per model, in ``session.shutdown``. Until then the
input of each response is estimated with tiktoken from the conversation so far, and marked
estimated; at shutdown one correction per model brings the totals to what Copilot
reported. Copilot bills premium requests, not tokens: its dollar figures are notional.
With the OpenTelemetry export turned on, that is read instead (``copilot_otel.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.estimate import count_tokens
from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, as_count, load_object, parse_timestamp_ms, table
from tokentray.sources.copilot_otel import export_exists

FALLBACK_MODEL = "gpt-5"


def _model(name: str) -> str:
    """Copilot prefixes models with their provider (``openai/…``); prices are by model."""
    return name.split("/", 1)[1] if "/" in name else name


class CopilotLineParser:
    def __init__(self, path: Path, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.session_id: str = state.get("session_id") or (
            path.parent.name if path.name == "events.jsonl" else path.stem
        )
        self.project: str = state.get("project", "")
        self.model: str = state.get("model", "")
        self.context_tokens: int = state.get("context_tokens", 0)
        # Since the last shutdown: estimated input and live output per model, and runs seen.
        self.estimated: dict[str, list[int]] = state.get("estimated", {})
        self.shutdowns: int = state.get("shutdowns", 0)

    def state(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "project": self.project,
            "model": self.model,
            "context_tokens": self.context_tokens,
            "estimated": self.estimated,
            "shutdowns": self.shutdowns,
        }

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        kind = record.get("type")
        data = table(record.get("data"))
        if kind == "session.start":
            self.session_id = str(data.get("sessionId") or self.session_id)
            context = table(data.get("context"))
            self.project = str(context.get("cwd") or self.project)
            self.model = _model(str(context.get("model") or self.model))
        elif kind == "session.model_change":
            self.model = _model(str(data.get("newModel") or self.model))
        elif kind == "user.message":
            self.context_tokens += count_tokens(str(data.get("content") or ""), self.model)[0]
            stamp = parse_timestamp_ms(record.get("timestamp"))
            key = f"copilot-turn:{self.session_id}:{data.get('messageId') or stamp}"
            return [Activity(CopilotSource.name, key, self.session_id, stamp, "human")]
        elif kind == "assistant.message":
            return self._message(record, data)
        elif kind == "session.shutdown":
            return self._shutdown(record, data)
        return []

    def _message(
        self, record: Mapping[str, Any], data: Mapping[str, Any]
    ) -> list[UsageEvent | Activity]:
        model = self.model or FALLBACK_MODEL
        output = as_count(data.get("outputTokens"))
        estimate = self.context_tokens
        self.context_tokens += count_tokens(str(data.get("content") or ""), model)[0]
        totals = self.estimated.setdefault(model, [0, 0])
        totals[0] += estimate
        totals[1] += output
        event = UsageEvent(
            source=CopilotSource.name,
            key=f"copilot:{self.session_id}:{data.get('messageId') or record.get('timestamp')}",
            session_id=self.session_id,
            project=self.project,
            model=model,
            timestamp_ms=parse_timestamp_ms(record.get("timestamp")),
            input_tokens=estimate,
            output_tokens=output,
            estimated=True,
        )
        return [event] if event.total_tokens else []

    def _shutdown(
        self, record: Mapping[str, Any], data: Mapping[str, Any]
    ) -> list[UsageEvent | Activity]:
        """Copilot's totals for this run, per model: correct the estimates to them."""
        metrics = table(data.get("modelMetrics"))
        self.shutdowns += 1
        events: list[UsageEvent | Activity] = []
        for raw_model, values in metrics.items():
            usage = values.get("usage") if isinstance(values, dict) else None
            if not isinstance(usage, dict):
                continue
            model = _model(str(raw_model))
            estimated_in, live_out = self.estimated.get(model, [0, 0])
            cached = as_count(usage.get("cacheReadTokens"))
            uncached = max(as_count(usage.get("inputTokens")) - cached, 0)
            event = UsageEvent(
                source=CopilotSource.name,
                key=f"copilot-run:{self.session_id}:{self.shutdowns}:{model}",
                session_id=self.session_id,
                project=self.project,
                model=model,
                timestamp_ms=parse_timestamp_ms(record.get("timestamp")),
                input_tokens=max(uncached - estimated_in, 0),
                output_tokens=max(as_count(usage.get("outputTokens")) - live_out, 0),
                cache_read_tokens=cached,
                cache_write_5m_tokens=as_count(usage.get("cacheWriteTokens")),
            )
            if event.total_tokens:
                events.append(event)
        self.estimated = {}
        return events


class CopilotSource(LineSource):
    name = "copilot"
    display_name = "Copilot CLI"
    marks = (b'"session.', b'"assistant.message"', b'"user.message"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """None while the OpenTelemetry export exists: it is read instead (precisely)."""
        if export_exists(env, home):
            return []
        base = Path(env.get("COPILOT_HOME") or home / ".copilot")
        return [base / "session-state", base / "history-session-state"]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> CopilotLineParser:
        return CopilotLineParser(path, state)
