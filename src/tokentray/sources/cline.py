"""Cline, Roo Code, Kilo Code and Zoo Code (VS Code extensions and their forks' storage,
and the Cline CLI): ``tasks/<taskId>/ui_messages.json``, a JSON array rewritten whole.

Usage is on ``say: api_req_started`` entries whose ``text`` is a JSON string, filled in
when the request ends; entries are keyed by task and ``ts``, so each rewrite updates
them in place. The model is not in that file: it comes from ``task_metadata.json``
(Cline) or the ``<model>`` tag in ``api_conversation_history.json`` (Roo, Kilo).
The extension's own ``cost`` is kept beside tokentray's price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentray.events import LineError, UsageEvent
from tokentray.sources.base import (
    DocumentSource,
    WholeRead,
    app_config_dir,
    as_count,
    load_document,
    read_document,
)

FORKS = ("Code", "Code - Insiders", "Cursor", "Windsurf", "VSCodium", "Positron", "Antigravity")
_MODEL_TAG = re.compile(rb"<model>([^<]{1,120})</model>")
_CWD = re.compile(rb"Current Working Directory \(([^)\n]{1,500})\)")


def _storage_roots(env: Mapping[str, str], home: Path) -> list[Path]:
    """Every VS Code fork's user folder, per OS, plus VS Code Server's."""
    base = app_config_dir(env, home)
    folders = [base / fork / "User" for fork in FORKS]
    folders += [
        home / server / "data" / "User" for server in (".vscode-server", ".vscode-server-insiders")
    ]
    return folders


class _TaskSource(DocumentSource):
    """One extension; subclasses name it and its extension id."""

    extension_id = ""

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [
            user / "globalStorage" / self.extension_id / "tasks"
            for user in _storage_roots(env, home)
        ]

    def wants(self, path: Path) -> bool:
        return path.name == "ui_messages.json"

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        entries = read_document(path, list, "ui_messages.json is not a list")
        task = path.parent.name
        models = _model_history(path.parent)
        project = _project(path.parent)
        read = WholeRead()
        for index, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or entry.get("say") != "api_req_started":
                continue
            with read.record(index):
                text = entry.get("text") or "{}"
                try:
                    request = load_document(text if isinstance(text, str) else "")
                except LineError:
                    raise LineError("api_req_started text is not JSON") from None
                event = self._event(task, entry, request, models, project)
                if event is not None:
                    read.items.append(event)
        return read

    def _event(
        self,
        task: str,
        entry: Mapping[str, Any],
        request: Any,
        models: list[tuple[int, str]],
        project: str,
    ) -> UsageEvent | None:
        if not isinstance(request, dict):
            return None
        ts = as_count(entry.get("ts"))
        reads = as_count(request.get("cacheReads"))
        tokens_in = as_count(request.get("tokensIn"))
        if str(request.get("apiProtocol", "")).startswith("openai"):
            tokens_in = max(tokens_in - reads, 0)  # OpenAI-style input includes cache reads
        cost = request.get("cost")
        model = next((m for t, m in reversed(models) if t <= ts), models[-1][1] if models else "")
        event = UsageEvent(
            source=self.name,
            key=f"{self.name}:{task}:{ts}",
            session_id=task,
            project=project,
            model=model or "unknown",
            timestamp_ms=ts,
            input_tokens=tokens_in,
            output_tokens=as_count(request.get("tokensOut")),
            cache_read_tokens=reads,
            cache_write_5m_tokens=as_count(request.get("cacheWrites")),
            estimated=not model,
            reported_cost_usd=float(cost) if isinstance(cost, int | float) and cost > 0 else None,
        )
        return event if event.total_tokens else None


def _model_history(task: Path) -> list[tuple[int, str]]:
    """(from ts, model): Cline's task_metadata.json, else Roo/Kilo's <model> tags."""
    try:
        metadata = orjson.loads((task / "task_metadata.json").read_bytes())
        usage = metadata.get("model_usage") if isinstance(metadata, dict) else None
        if isinstance(usage, list):
            found = [
                (as_count(u.get("ts")), str(u.get("model_id")))
                for u in usage
                if isinstance(u, dict) and u.get("model_id")
            ]
            if found:
                return sorted(found)
    except (OSError, orjson.JSONDecodeError):
        pass
    try:
        history = (task / "api_conversation_history.json").read_bytes()
    except OSError:
        return []
    tags = _MODEL_TAG.findall(history)
    return [(0, tags[-1].decode(errors="replace").strip())] if tags else []


def _project(task: Path) -> str:
    try:
        history = (task / "api_conversation_history.json").read_bytes()
    except OSError:
        return ""
    match = _CWD.search(history)
    return match.group(1).decode(errors="replace").strip() if match else ""


class ClineSource(_TaskSource):
    name = "cline"
    display_name = "Cline"
    extension_id = "saoudrizwan.claude-dev"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        cli = Path(env.get("CLINE_DIR") or home / ".cline") / "data" / "tasks"
        return [*super().roots(env, home), cli]


class RooCodeSource(_TaskSource):
    name = "roo-code"
    display_name = "Roo Code"
    extension_id = "rooveterinaryinc.roo-cline"


class KiloCodeSource(_TaskSource):
    name = "kilo-code"
    display_name = "Kilo Code"
    extension_id = "kilocode.kilo-code"


class ZooCodeSource(_TaskSource):
    name = "zoo-code"
    display_name = "Zoo Code"
    extension_id = "zoocodeorganization.zoo-code"
