"""Gemini CLI chats: ``~/.gemini/tmp/<project>/chats/session-*.jsonl`` (an append-only event
log) and the legacy ``session-*.json`` (one document, rewritten whole).

A message is appended again each time it changes (tokens arrive after its tool calls):
every copy is keyed by session and message id, and the store keeps the largest. Resuming
a legacy session copies its messages into a new ``.jsonl`` twin: same keys, counted once.
``$rewindTo`` and ``$set.messages`` rewrite the conversation, not the bill: nothing is
removed. ``input`` includes cached tokens; ``thoughts`` are billed as output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, LineError, UsageEvent
from tokentray.sources.base import (
    DocumentSource,
    LineSource,
    WholeRead,
    as_count,
    load_object,
    parse_timestamp_ms,
    read_document,
)

Item = UsageEvent | Activity


class GeminiLineParser:
    """Reads one chat log; remembers its session and project between passes."""

    def __init__(self, path: Path, root: Path, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.session_id: str = state.get("session_id") or _session_from_path(path, root)
        self.project: str = state.get("project") or _project_of(path, root)

    def state(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "project": self.project}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[Item]:
        record = load_object(line)
        if "sessionId" in record and "id" not in record:  # the header line
            if not _is_subagent_path(record):
                self.session_id = str(record["sessionId"]) or self.session_id
            return []
        replacement = (record.get("$set") or {}).get("messages") if "$set" in record else None
        if isinstance(replacement, list):  # a compacted history: union by id, never remove
            return [i for m in replacement if isinstance(m, dict) for i in self.message(m)]
        return self.message(record)

    def message(self, record: Mapping[str, Any]) -> list[Item]:
        kind = record.get("type")
        message_id = record.get("id")
        if not isinstance(message_id, str) or not message_id:
            return []
        timestamp = record.get("timestamp")
        if kind == "user" and timestamp:
            key = f"gemini-turn:{self.session_id}:{message_id}"
            return [
                Activity(
                    GeminiSource.name, key, self.session_id, parse_timestamp_ms(timestamp), "human"
                )
            ]
        if kind != "gemini":
            return []
        tokens = record.get("tokens")
        if not isinstance(tokens, dict):
            return []  # written again with its tokens later
        model = record.get("model")
        if not isinstance(model, str) or not model:
            raise LineError("a Gemini response with tokens but no model")
        prompt = as_count(tokens.get("input"))
        cached = min(as_count(tokens.get("cached")), prompt)
        thoughts = as_count(tokens.get("thoughts"))
        event = UsageEvent(
            source=GeminiSource.name,
            key=f"gemini:{self.session_id}:{message_id}",
            session_id=self.session_id,
            project=self.project,
            model=model,
            timestamp_ms=parse_timestamp_ms(timestamp),
            input_tokens=prompt - cached + as_count(tokens.get("tool")),
            output_tokens=as_count(tokens.get("output")) + thoughts,
            reasoning_tokens=thoughts,
            cache_read_tokens=cached,
        )
        return [event] if event.total_tokens else []


def _is_subagent_path(record: Mapping[str, Any]) -> bool:
    return record.get("kind") == "subagent"


def _session_from_path(path: Path, root: Path) -> str:
    """A subagent chat (``chats/<parent>/<id>.jsonl``) belongs to its parent session."""
    parts = path.relative_to(root).parts if path.is_relative_to(root) else path.parts
    if len(parts) >= 4 and parts[1] == "chats":
        return parts[2]
    return path.stem


def _project_of(path: Path, root: Path) -> str:
    """The project folder: ``.project_root`` in the chat's project folder, else its name."""
    if not path.is_relative_to(root):
        return ""
    folder = root / path.relative_to(root).parts[0]
    marker = folder / ".project_root"
    try:
        return marker.read_text(encoding="utf-8").strip() or folder.name
    except OSError:
        return _from_registry(root, folder.name)


def _from_registry(root: Path, slug: str) -> str:
    """``projects.json`` maps absolute paths to the slugs of newer Gemini CLI versions."""
    try:
        registry = json.loads((root.parent / "projects.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return slug
    projects = registry.get("projects") if isinstance(registry, dict) else None
    if isinstance(projects, dict):
        for project, name in projects.items():
            if name == slug:
                return str(project)
    return slug


class GeminiSource(LineSource, DocumentSource):
    """Chats as JSONL (appended) or as one JSON document (rewritten whole)."""

    name = "gemini"
    display_name = "Gemini CLI"
    marks = (b'"tokens"', b'"sessionId"', b'"$set"', b'"type":"user"', b'"type": "user"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        # GEMINI_CLI_HOME replaces the home folder; some tools treat it as .gemini: probe both.
        override = env.get("GEMINI_CLI_HOME", "").strip()
        if override:
            base = Path(override).expanduser()
            return [base / ".gemini" / "tmp", base / "tmp"]
        return [home / ".gemini" / "tmp"]

    def wants(self, path: Path) -> bool:
        return (path.parent.name == "chats" and path.suffix in (".jsonl", ".json")) or (
            path.parent.parent.name == "chats" and path.suffix == ".jsonl"
        )

    def whole_file(self, path: Path) -> bool:
        return path.suffix == ".json"

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> GeminiLineParser:
        return GeminiLineParser(path, root, state)

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        """The legacy chat: one JSON document with every message."""
        document = read_document(path, dict, "not a Gemini chat document")
        parser = GeminiLineParser(path, root, None)
        if document.get("sessionId"):
            parser.session_id = str(document["sessionId"])
        read = WholeRead()
        for index, message in enumerate(document.get("messages") or [], start=1):
            if not isinstance(message, dict):
                continue
            with read.record(index):
                read.items += parser.message(message)
        return read
