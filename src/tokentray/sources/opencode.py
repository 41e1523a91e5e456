"""OpenCode: the SQLite database of versions 1.2 and later (``opencode.db``, channel
databases ``opencode-<channel>.db``) and the legacy JSON message files
(``storage/message/<session>/msg_*.json``).

The database is written in WAL mode while OpenCode runs: it is opened read-only, each
pass reads only messages updated since the last one, and a busy database is retried,
never locked. A message reachable both ways counts once (the database's copy wins).
OpenCode's own ``cost`` is kept beside tokentray's price.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import LineError, UsageEvent
from tokentray.sources.base import (
    SqliteSource,
    WholeRead,
    as_count,
    load_document,
    parse_timestamp_ms,
    read_document,
    table,
)

log = logging.getLogger(__name__)
BUSY_RETRIES = 5


def message_event(
    message_id: str, session_id: str, data: Mapping[str, Any], legacy: bool
) -> UsageEvent | None:
    """One assistant message; ``input`` is uncached already, reasoning is billed as output."""
    if data.get("role") != "assistant":
        return None
    tokens = data.get("tokens")
    model = data.get("modelID")
    if not isinstance(tokens, dict) or not isinstance(model, str) or not model:
        return None
    cache = table(tokens.get("cache"))
    reasoning = as_count(tokens.get("reasoning"))
    times = table(data.get("time"))
    path = table(data.get("path"))
    cost = data.get("cost")
    event = UsageEvent(
        source=OpenCodeSource.name,
        key=f"opencode:{message_id}",
        session_id=session_id,
        project=str(path.get("cwd") or path.get("root") or ""),
        model=model,
        timestamp_ms=parse_timestamp_ms(times.get("created")),
        input_tokens=as_count(tokens.get("input")),
        output_tokens=as_count(tokens.get("output")) + reasoning,
        reasoning_tokens=reasoning,
        cache_read_tokens=as_count(cache.get("read")),
        cache_write_5m_tokens=as_count(cache.get("write")),
        replayed=legacy,  # the database's copy of the same message replaces it
        reported_cost_usd=float(cost) if isinstance(cost, int | float) and cost > 0 else None,
    )
    return event if event.total_tokens else None


class OpenCodeSource(SqliteSource):
    name = "opencode"
    display_name = "OpenCode"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
        return [data / "opencode"]

    def wants(self, path: Path) -> bool:
        if path.suffix == ".db" and path.name.startswith("opencode"):
            return True
        return path.suffix == ".json" and path.name.startswith("msg_") and "message" in path.parts

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        if path.suffix == ".db":
            return self._read_database(path, since)
        data = read_document(path, dict, "not an OpenCode message")
        session = str(data.get("sessionID") or path.parent.name)
        read = WholeRead()
        with read.record(1):
            event = message_event(str(data.get("id") or path.stem), session, data, legacy=True)
            read.items += [event] if event else []
        return read

    @staticmethod
    def _row(read: WholeRead, message_id: str, session_id: str, raw: object) -> None:
        if not isinstance(raw, str | bytes):
            raise LineError(f"message {message_id}: data is not JSON")
        try:
            data = load_document(raw)
        except LineError:
            raise LineError(f"message {message_id}: data is not JSON") from None
        if isinstance(data, dict):
            event = message_event(message_id, session_id, data, legacy=False)
            if event is not None:
                read.items.append(event)

    def _read_database(self, path: Path, since: dict[str, Any]) -> WholeRead:
        after = int(since.get("updated_after", 0))
        for attempt in range(BUSY_RETRIES):
            try:
                return self._query(path, after)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    return WholeRead(
                        problems=[(0, f"cannot read the database: {exc}")],
                        state={"updated_after": after},
                    )
                time.sleep(0.1 * (attempt + 1))
        return WholeRead(problems=[(0, "the database stayed busy")], state={"updated_after": after})

    def _query(self, path: Path, after: int) -> WholeRead:
        connection = self.connect(path)
        try:
            rows = connection.execute(
                "SELECT m.id, m.session_id, m.time_updated, m.data FROM message m "
                # >=: a row updated in the same millisecond as the last one read is read
                # again rather than missed (upserts make that harmless).
                "WHERE m.time_updated >= ? ORDER BY m.time_updated",
                (after,),
            ).fetchall()
        finally:
            connection.close()
        read = WholeRead(state={"updated_after": after})
        for index, (message_id, session_id, updated, raw) in enumerate(rows, start=1):
            with read.record(index):
                self._row(read, str(message_id), str(session_id), raw)
            if isinstance(updated, int):
                read.state["updated_after"] = max(read.state["updated_after"], updated)
        return read
