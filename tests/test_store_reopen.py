"""A process that keeps the store open for days (the tray, ``watch``) follows the store's
file: when another process repairs it (moving the damaged file aside) or a check in the
background finds it damaged, the next pass opens it again, repairing it if need be, instead
of writing into a file nobody reads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from conftest import delete_now
from test_store_faults import _claude_home, _damage
from tokentray import backup
from tokentray.engine import open_engine
from tokentray.settings import Settings
from tokentray.store import Store
from tokentray.store.core import Integrity, damage_mark, mark_damage
from tokentray.ui.worker import EngineWorker


def _engine(tmp_path: Path, home: Path, integrity: Integrity = "always"):  # type: ignore[no-untyped-def]
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}
    return open_engine(
        tmp_path / "data", tmp_path / "none.toml", env=env, home=tmp_path, integrity=integrity
    )


def _count(database: Path, sql: str, *args: str) -> int:
    """A count read straight from a store's file, beside any connection to it."""
    db = sqlite3.connect(database)
    try:
        return int(db.execute(sql, args).fetchone()[0])
    finally:
        db.close()


def _events_in(database: Path) -> int:
    return _count(database, "SELECT COUNT(*) FROM events")


def test_a_store_repaired_by_another_process_is_followed(tmp_path: Path) -> None:
    """Another process found the mark and repaired the store: the long-lived connection
    reads and writes the repaired file from its next pass on."""
    home = _claude_home(tmp_path, 300)
    engine = _engine(tmp_path, home)
    database = engine.store.path
    with engine.store:
        engine.ingestor.scan()  # stored, and backed up
        assert not engine.store.reopen_if_replaced()  # nothing happened: nothing done
        mark_damage(database, "database disk image is malformed")
        with Store(database) as other:  # a report, say: it repairs what it opens
            assert other.notice is not None and "daily check" in other.notice
        (aside,) = tmp_path.glob("data/usage.sqlite3.damaged-*[0-9]")

        assert engine.store.reopen_if_replaced()
        assert engine.store.notice is None  # the other process repaired it, and said so
        engine.store.set_meta("written_after_the_repair", "1")
        with Store(database, integrity="never") as other:
            assert other.get_meta("written_after_the_repair") == "1"
        written = "SELECT COUNT(*) FROM meta WHERE key = ?"
        assert _count(aside, written, "written_after_the_repair") == 0


def test_a_store_marked_damaged_is_repaired_by_its_long_lived_user(tmp_path: Path) -> None:
    """A check in the background found damage: the next pass repairs the store (backup,
    salvage, logs read again) and says so; the connection that lacks the right to repair
    (the provider thread's) only follows a file that was replaced."""
    home = _claude_home(tmp_path, 300)
    engine = _engine(tmp_path, home)
    database = engine.store.path
    with engine.store:
        engine.ingestor.scan()
        expected = engine.store.count_events()
        provider_thread = Store(database, integrity="never", recover=False)
        mark_damage(database, "database disk image is malformed")
        assert not provider_thread.reopen_if_replaced(repair=False)
        assert damage_mark(database).exists()

        assert engine.store.reopen_if_replaced()
        assert "daily check" in (engine.store.notice or "")
        assert not damage_mark(database).exists()
        engine.ingestor.scan()
        assert engine.store.count_events() == expected
        assert not engine.store.reopen_if_replaced()
        assert provider_thread.reopen_if_replaced(repair=False)  # it follows the new file
        assert provider_thread.count_events() == expected
        provider_thread.close()


def test_a_deleted_store_is_made_anew_and_filled_from_the_logs(tmp_path: Path) -> None:
    """Someone deleted the store while the tray ran: the next pass starts a new one and
    reads the logs again, rather than writing into the deleted file until the tray quits."""
    home = _claude_home(tmp_path, 50)
    engine = _engine(tmp_path, home)
    with engine.store:
        engine.ingestor.scan()
        for suffix in ("", "-wal", "-shm"):
            engine.store.path.with_name(engine.store.path.name + suffix).unlink(missing_ok=True)
        assert engine.store.reopen_if_replaced()
        engine.ingestor.scan()
        assert engine.store.count_events() == 50
    assert _events_in(tmp_path / "data" / "usage.sqlite3") == 50


def test_a_small_stores_daily_check_runs_in_the_pass_and_damage_is_repaired_next_pass(
    tmp_path: Path,
) -> None:
    """The tray opens its store without checking it unless the check is due, and runs
    for days: a small store's daily check is made in a pass, and damage it finds is
    repaired by the next."""
    home = _claude_home(tmp_path, 2000)
    engine = _engine(tmp_path, home, integrity="daily")  # as the tray opens it
    database = engine.store.path
    with engine.store:
        engine.ingestor.scan()
        expected = engine.store.count_events()
        engine.store.set_meta("integrity_checked_ms", "0")
        db = sqlite3.connect(database, isolation_level=None)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        _damage(database)  # under the tray's open connection

        backup.upkeep_when_due(engine.store)  # what the end of a pass does
        assert damage_mark(database).exists()

        assert engine.store.reopen_if_replaced()
        assert "damaged" in (engine.store.notice or "")
        engine.ingestor.scan()
        assert engine.store.count_events() == expected


def test_the_tray_repairs_a_store_found_damaged_while_it_runs(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _claude_home(tmp_path, 300)
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}

    def opener(settings: Settings):  # type: ignore[no-untyped-def]
        return open_engine(
            tmp_path / "data", env=env, home=tmp_path, settings=settings, integrity="daily"
        )

    worker = EngineWorker(opener, Settings(), ZoneInfo("UTC"))
    problems: list[str] = []
    worker.problem.connect(problems.append)
    worker.start()
    try:
        assert worker._engine is not None
        database = worker._engine.store.path
        expected = worker._engine.store.count_events()
        assert expected == 300 and not problems
        mark_damage(database, "database disk image is malformed")  # the background job's
        worker.refresh()
        assert len(problems) == 1 and "was damaged" in problems[0]
        assert not damage_mark(database).exists()
        assert worker._engine.store.count_events() == expected
        assert _events_in(database) == expected
    finally:
        worker.stop()
        delete_now(worker)


def test_the_provider_thread_opens_the_store_once_the_engine_thread_repaired_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """At the tray's start the provider thread may find the store marked damaged before
    the engine thread has repaired it: it says so once and opens it at a later poll (it
    gave up for the whole session before)."""
    from tokentray.ui.provider_worker import ProviderWorker

    database = tmp_path / "data" / "usage.sqlite3"
    Store(database).close()
    mark_damage(database, "database disk image is malformed")
    worker = ProviderWorker(database, env={"HOME": str(tmp_path)})
    problems: list[str] = []
    worker.problem.connect(problems.append)
    worker.start()
    try:
        assert worker._poller is None
        worker.poll_due()
        assert len(problems) == 1 and "damaged" in problems[0]
        Store(database).close()  # the engine thread's opening repairs it
        worker.poll_due()
        assert worker._poller is not None and len(problems) == 1
    finally:
        worker.stop()
        delete_now(worker)


def test_a_repair_that_fails_leaves_the_tray_up_and_saying_why(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk is full when the tray repairs its store: it says so and shows the failed
    state, and keeps running."""
    from tokentray.store import StoreError
    from tokentray.store import core as store_core

    home = _claude_home(tmp_path, 30)
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}

    def opener(settings: Settings):  # type: ignore[no-untyped-def]
        return open_engine(tmp_path / "data", env=env, home=tmp_path, settings=settings)

    worker = EngineWorker(opener, Settings(), ZoneInfo("UTC"))
    problems: list[str] = []
    snapshots: list[object] = []
    worker.problem.connect(problems.append)
    worker.snapshotReady.connect(snapshots.append)
    worker.start()
    try:
        assert worker._engine is not None
        mark_damage(worker._engine.store.path, "database disk image is malformed")

        def no_room(self: Store, damage: str, recover: bool) -> None:
            raise StoreError("cannot restore the backup: No space left on device")

        monkeypatch.setattr(store_core.Store, "_recover_or_fail", no_room)
        shown = len(snapshots)
        worker.refresh()
        assert worker._engine is None
        assert problems == [
            "The usage store cannot be opened: cannot restore the backup: No space left on device"
        ]
        assert len(snapshots) == shown + 1
        worker.refresh()  # later passes do nothing, quietly
        assert len(problems) == 1
    finally:
        worker.stop()
        delete_now(worker)


def test_a_command_that_repairs_the_store_says_so_once(tmp_path: Path) -> None:
    """The repair's sentence reaches the terminal once (it was printed and logged)."""
    home = _claude_home(tmp_path, 20)
    engine = _engine(tmp_path, home)
    engine.ingestor.scan()
    engine.store.close()
    mark_damage(engine.store.path, "database disk image is malformed")
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "CLAUDE_CONFIG_DIR": str(home),
        "CODEX_HOME": str(tmp_path / "none"),
        "TOKENTRAY_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [sys.executable, "-m", "tokentray.cli", "--data-dir", str(tmp_path / "data")]
    report = subprocess.run(
        [*command, "report", "daily", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert report.stderr.count("The usage store was damaged") == 1, report.stderr
