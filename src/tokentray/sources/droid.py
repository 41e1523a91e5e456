"""Factory Droid: ``~/.factory/sessions/**/<session>.settings.json``, rewritten whole, with the
session's running ``tokenUsage``.

Droid keeps no per-request usage: a session is one event holding its totals so far,
dated at its last update (``providerLockTimestamp``, else the file's time). The store
keeps the largest copy of it, so an older archived copy of the same session never counts
twice. Thinking tokens are billed as output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import LineError, UsageEvent
from tokentray.sources.base import (
    DocumentSource,
    WholeRead,
    as_count,
    load_document,
    parse_timestamp_ms,
    table,
)

_BRACKETS = re.compile(r"\[[^\]]*\]")
_SEPARATORS = re.compile(r"[\s.\-]+")
_MODEL_LINE = re.compile(rb"Model:\s*([^\"\\\[]+)")


def normalise_model(raw: str) -> str:
    """``custom:Claude-Sonnet-4.5-[Anthropic]`` → ``claude-sonnet-4-5``."""
    name = raw.removeprefix("custom:")
    name = _BRACKETS.sub("", name).strip().lower()
    return _SEPARATORS.sub("-", name).strip("-")


class DroidSource(DocumentSource):
    name = "droid"
    display_name = "Factory Droid"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".factory" / "sessions"]

    def wants(self, path: Path) -> bool:
        return path.name.endswith(".settings.json")

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        try:
            settings = load_document(path.read_bytes())
        except LineError as exc:
            return WholeRead(problems=[(0, str(exc))])
        usage = table(table(settings).get("tokenUsage"))
        if not usage:
            return WholeRead()
        session = path.name.removesuffix(".settings.json")
        model = settings.get("model")
        name = normalise_model(model) if isinstance(model, str) and model else _sidecar_model(path)
        stamp = settings.get("providerLockTimestamp")
        thinking = as_count(usage.get("thinkingTokens"))
        output = as_count(usage.get("outputTokens"))
        input_tokens = as_count(usage.get("inputTokens"))
        total = as_count(usage.get("totalTokens"))
        if not (input_tokens or output or thinking) and total:
            output = total  # only a total: count it as output, as peers do
        event = UsageEvent(
            source=self.name,
            key=f"droid:{session}",
            session_id=session,
            project="",
            model=name or "unknown",
            timestamp_ms=parse_timestamp_ms(stamp)
            if stamp
            else path.stat().st_mtime_ns // 1_000_000,
            input_tokens=input_tokens,
            output_tokens=output + thinking,
            reasoning_tokens=thinking,
            cache_read_tokens=as_count(usage.get("cacheReadTokens")),
            cache_write_5m_tokens=as_count(usage.get("cacheCreationTokens")),
        )
        return WholeRead(items=[event] if event.total_tokens else [])


def _sidecar_model(settings: Path) -> str:
    """The model named in the session's transcript (``Model: …``), when settings lack it."""
    sidecar = settings.with_name(settings.name.removesuffix(".settings.json") + ".jsonl")
    try:
        with open(sidecar, "rb") as handle:
            for _, line in zip(range(500), handle, strict=False):
                match = _MODEL_LINE.search(line)
                if match:
                    return normalise_model(match.group(1).decode(errors="replace"))
    except OSError:
        pass
    return ""
