"""An idle tray stays idle: with nothing written, the engine thread recomputes nothing
between its periodic passes (on a 3 GB history each recompute costs tens of ms)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from pytestqt.qtbot import QtBot

from conftest import delete_now
from tokentray.engine import open_engine
from tokentray.settings import Settings
from tokentray.store import Store
from tokentray.ui import worker as worker_module
from tokentray.ui.worker import EngineWorker


def _worker(tmp_path: Path, claude: Path) -> EngineWorker:
    env = {"CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(tmp_path / "none")}

    def opener(settings: Settings):  # type: ignore[no-untyped-def]
        return open_engine(tmp_path / "data", env=env, home=tmp_path, settings=settings)

    return EngineWorker(opener, Settings(), ZoneInfo("UTC"))


def _old_line(n: int) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": "2026-01-05T10:00:00Z",
            "sessionId": "s",
            "message": {
                "id": f"msg_{n}",
                "model": "claude-sonnet-4-5",
                "usage": {"input_tokens": 10, "output_tokens": 20},
            },
        }
    )


def test_ticks_with_nothing_written_recompute_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    claude = tmp_path / "claude"
    (claude / "projects" / "p").mkdir(parents=True)
    (claude / "projects" / "p" / "s.jsonl").write_text(_old_line(1) + "\n")
    worker = _worker(tmp_path, claude)
    snapshots: list[object] = []
    worker.snapshotReady.connect(snapshots.append)
    worker.start()
    try:
        worker._tick()  # the first tick learns the state
        settled = len(snapshots)
        for _ in range(5):
            worker._tick()
        assert len(snapshots) == settled  # no burn decaying, no write, same day

        # Another connection writes (the provider thread does): the next tick recomputes.
        with Store(tmp_path / "data" / "usage.sqlite3", integrity="never") as other:
            other.set_meta("poke", "1")
        worker._tick()
        assert len(snapshots) == settled + 1

        # And however quiet, a full pass comes every IDLE_TICK_S.
        worker._last_full_tick -= worker_module.IDLE_TICK_S
        worker._tick()
        assert len(snapshots) == settled + 2
    finally:
        worker.stop()
        delete_now(worker)
