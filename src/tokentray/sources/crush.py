"""Crush (charmbracelet): ``<project>/.crush/crush.db``, one row per session, projects listed
in ``~/.local/share/crush/projects.json``.

Crush rewrites its token counts across steps, so they are not safe to add up; its session
``cost`` (USD) is. Each pass records the growth of a root session's cost as one event of
the synthetic model ``crush-session-cost`` with no tokens, priced at Crush's own figure.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tokentray.events import LineError, UsageEvent
from tokentray.sources.base import SqliteSource, WholeRead, as_count

MODEL = "crush-session-cost"


class CrushSource(SqliteSource):
    name = "crush"
    display_name = "Crush"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Every project in Crush's registry has its own database."""
        if sys.platform == "win32":
            registry = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "crush"
        else:
            registry = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "crush"
        return [Path(p) / ".crush" for p in _projects(registry / "projects.json")]

    def files(self, root: Path) -> Iterator[Path]:
        database = root / "crush.db"
        if database.is_file():
            yield database

    def wants(self, path: Path) -> bool:
        return path.name == "crush.db"

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        seen: dict[str, float] = dict(since.get("seen", {}))
        try:
            connection = self.connect(path)
            try:
                rows = connection.execute(
                    "SELECT id, cost, created_at, updated_at, prompt_tokens, completion_tokens "
                    "FROM sessions WHERE parent_session_id IS NULL"
                ).fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return WholeRead(
                problems=[(0, f"cannot read the database: {exc}")], state={"seen": seen}
            )
        project = str(path.parent.parent)
        read = WholeRead(state={"seen": seen})
        for index, (session, raw_cost, created, updated, _prompt, _completion) in enumerate(
            rows, start=1
        ):
            with read.record(index):
                self._session(read, seen, project, str(session), raw_cost, updated or created)
        return read

    def _session(
        self,
        read: WholeRead,
        seen: dict[str, float],
        project: str,
        session: str,
        raw_cost: object,
        stamp: object,
    ) -> None:
        if not isinstance(raw_cost, int | float | str | None):
            raise LineError(f"session {session}: cost is not a number")
        cost = float(raw_cost or 0.0)
        if not math.isfinite(cost):
            raise LineError(f"session {session}: cost {raw_cost!r} is not a number")
        growth = cost - seen.get(session, 0.0)
        if growth <= 1e-9:
            return
        seen[session] = cost
        read.items.append(
            UsageEvent(
                source=self.name,
                key=f"crush:{project}:{session}:{cost:.6f}",
                session_id=session,
                project=project,
                model=MODEL,
                timestamp_ms=as_count(stamp) * 1000,
                reported_cost_usd=growth,
            )
        )


def _projects(registry: Path) -> list[str]:
    try:
        data = json.loads(registry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    projects = data.get("projects") if isinstance(data, dict) else data
    found = []
    for item in projects if isinstance(projects, list) else []:
        path = item.get("path") if isinstance(item, dict) else item
        if isinstance(path, str):
            found.append(path)
    return found
