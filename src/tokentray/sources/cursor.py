"""Cursor, best effort: the IDE's local state database (``globalStorage/state.vscdb``).

Chat "bubbles" (``bubbleId:…`` keys) sometimes carry token counts; many are zero — then
the bubble's text is counted with tiktoken —, there is no cache split and no cost, and
Cursor's real figures are only on its web dashboard.
Events from here are marked estimated and the agent is labelled incomplete. The database
is large and held open by the IDE: it is read read-only, at most every ten minutes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentray.estimate import count_tokens
from tokentray.events import UsageEvent
from tokentray.sources.base import (
    SqliteSource,
    WholeRead,
    app_config_dir,
    as_count,
    parse_timestamp_ms,
    table,
)

MAX_VALUE_BYTES = 512_000
MIN_INTERVAL_MS = 10 * 60 * 1000


class CursorSource(SqliteSource):
    name = "cursor"
    display_name = "Cursor (incomplete)"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [app_config_dir(env, home) / "Cursor" / "User" / "globalStorage"]

    def files(self, root: Path) -> Any:
        database = root / "state.vscdb"
        if database.is_file():
            yield database

    def wants(self, path: Path) -> bool:
        return path.name == "state.vscdb"

    def signature(self, path: Path) -> list[int]:
        """Changes every few seconds while Cursor runs: read again at most every 10 minutes."""
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns // (MIN_INTERVAL_MS * 1_000_000)]

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        started = time.monotonic()
        try:
            connection = self.connect(path)
            try:
                rows = connection.execute(
                    "SELECT key, value FROM cursorDiskKV WHERE key LIKE 'bubbleId:%' "
                    "AND length(value) < ?",
                    (MAX_VALUE_BYTES,),
                ).fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return WholeRead(problems=[(0, f"cannot read the database: {exc}")])
        read = WholeRead(state={"seconds": round(time.monotonic() - started, 3)})
        for index, (key, value) in enumerate(rows, start=1):
            with read.record(index):
                self._bubble(read, str(key), value)
        return read

    def _bubble(self, read: WholeRead, key: str, value: object) -> None:
        try:
            bubble = orjson.loads(value) if isinstance(value, str | bytes) else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(bubble, dict):
            return
        tokens = table(bubble.get("tokenCount"))
        model = str(table(bubble.get("modelInfo")).get("modelName") or "unknown")
        input_tokens = as_count(tokens.get("inputTokens"))
        output_tokens = as_count(tokens.get("outputTokens"))
        if not (input_tokens or output_tokens):  # Cursor often logs zeros: count the text
            counted = count_tokens(str(bubble.get("text") or ""), model)[0]
            if bubble.get("type") == 1:  # the person's message
                input_tokens = counted
            else:
                output_tokens = counted
        event = UsageEvent(
            source=self.name,
            key=f"cursor:{key}",
            session_id=str(key).split(":")[1] if str(key).count(":") >= 2 else "cursor",
            project="",
            model=model,
            timestamp_ms=_when(bubble.get("createdAt")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            estimated=True,
        )
        if event.total_tokens and event.timestamp_ms:
            read.items.append(event)


def _when(value: Any) -> int:
    try:
        return parse_timestamp_ms(value)
    except ValueError:
        return 0
