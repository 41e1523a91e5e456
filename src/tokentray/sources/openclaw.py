"""OpenClaw (built on the pi agent): ``~/.openclaw/agents/<agent>/sessions/<uuid>.jsonl``,
soft-deleted ones renamed ``<uuid>.jsonl.deleted.<time>`` (their usage was billed: read too,
and a renamed file's lines are recognised, not counted again).

Lines have pi's shape: assistant ``message`` lines with ``usage`` and OpenClaw's cost; the
first line (``type: session``) names the working folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import Activity, UsageEvent
from tokentray.sources.base import LineSource, load_object
from tokentray.sources.pi import PiLineParser


class OpenClawLineParser(PiLineParser):
    def __init__(self, path: Path, root: Path, state: dict[str, Any] | None) -> None:
        super().__init__(path, root)
        self.session_id = path.name.split(".jsonl", 1)[0]
        self.project = (state or {}).get("project", "")
        self.model = (state or {}).get("model", "")

    def state(self) -> dict[str, Any]:
        return {"project": self.project, "model": self.model}

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
        record = load_object(line)
        kind = record.get("type")
        if kind == "session":
            self.project = str(record.get("cwd") or self.project)
            return []
        if kind == "model_change":
            self.model = str(record.get("modelId") or record.get("model") or self.model)
            return []
        items = super().parse(line, line_no)
        for item in items:
            item.source = OpenClawSource.name
            item.key = item.key.replace("pi", "openclaw", 1)
            if isinstance(item, UsageEvent):
                item.project = self.project
                if item.model == "unknown" and self.model:
                    item.model = self.model
        return items


class OpenClawSource(LineSource):
    name = "openclaw"
    display_name = "OpenClaw"
    marks = (b'"usage"', b'"user"', b'"session"', b'"model_change"')

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [home / ".openclaw" / "agents"]

    def wants(self, path: Path) -> bool:
        return path.parent.name == "sessions" and ".jsonl" in path.name

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> OpenClawLineParser:
        return OpenClawLineParser(path, root, state)
