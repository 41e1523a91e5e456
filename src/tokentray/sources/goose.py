"""Goose (Block): one SQLite row per session (``sessions.db``) with running totals.

Goose keeps no per-message usage, so each pass records the growth of a session's
``accumulated_*`` totals since the previous pass as one event, dated at the pass (the
first pass dates a session's history at its creation). Goose logs no cache split: its
input is priced as uncached, and such events are marked estimated.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tokentray.events import UsageEvent
from tokentray.sources.base import (
    SqliteSource,
    WholeRead,
    as_count,
    parse_timestamp_ms,
)


class GooseSource(SqliteSource):
    name = "goose"
    display_name = "Goose"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        if env.get("GOOSE_PATH_ROOT"):
            return [Path(env["GOOSE_PATH_ROOT"]) / "data" / "sessions"]
        roots = [
            home / ".local" / "share" / "goose" / "sessions",
            home / ".local" / "share" / "Block" / "goose" / "sessions",
        ]
        if sys.platform == "darwin":
            roots.append(home / "Library" / "Application Support" / "goose" / "sessions")
        if sys.platform == "win32":
            appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
            roots.append(appdata / "Block" / "goose" / "data" / "sessions")
        return roots

    def wants(self, path: Path) -> bool:
        return path.name == "sessions.db"

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        seen: dict[str, list[int]] = dict(since.get("seen", {}))
        try:
            connection = self.connect(path)
            try:
                connection.row_factory = sqlite3.Row
                rows = connection.execute("SELECT * FROM sessions").fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return WholeRead(
                problems=[(0, f"cannot read the database: {exc}")], state={"seen": seen}
            )
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        read = WholeRead(state={"seen": seen})
        for index, row in enumerate(rows, start=1):
            with read.record(index):
                self._session(read, seen, since, dict(row), now_ms)
        return read

    def _session(
        self,
        read: WholeRead,
        seen: dict[str, list[int]],
        since: dict[str, Any],
        data: dict[str, Any],
        now_ms: int,
    ) -> None:
        session = str(data.get("id"))
        totals = [
            as_count(data.get("accumulated_input_tokens") or data.get("input_tokens")),
            as_count(data.get("accumulated_output_tokens") or data.get("output_tokens")),
        ]
        before = seen.get(session, [0, 0])
        growth = [max(t - b, 0) for t, b in zip(totals, before, strict=True)]
        if not any(growth):
            return
        seen[session] = totals
        first = session not in since.get("seen", {})
        when = _created_ms(data.get("created_at")) if first else now_ms
        read.items.append(
            UsageEvent(
                source=self.name,
                key=f"goose:{session}:{totals[0]}:{totals[1]}",
                session_id=session,
                project=str(data.get("working_dir") or ""),
                model=_model(data.get("model_config_json")),
                timestamp_ms=when or now_ms,
                input_tokens=growth[0],
                output_tokens=growth[1],
                estimated=True,
            )
        )


def _model(config: Any) -> str:
    try:
        parsed = orjson.loads(config) if isinstance(config, str | bytes) else {}
    except orjson.JSONDecodeError:
        parsed = {}
    return str(parsed.get("model_name") or "unknown") if isinstance(parsed, dict) else "unknown"


def _created_ms(value: Any) -> int:
    if not value:
        return 0
    try:
        text = str(value).replace(" ", "T")
        return parse_timestamp_ms(text if "+" in text or text.endswith("Z") else text + "+00:00")
    except ValueError:
        return 0
