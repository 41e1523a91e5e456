"""The daily backup out of the way: a big store's is made by a process of its own that the
pass does not wait for, one at a time across processes, and ``tokentray backup`` by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EngineFactory
from tokentray import backup
from tokentray.store import Store, backup_folder
from tokentray.store import core as store_core
from tokentray.store.core import BACKUP_LOCK, BACKUP_LOCK_STALE_MS


def _backups(data: Path) -> list[Path]:
    return sorted((data / "backups").glob("usage-*.sqlite3"))


def _wait_for(condition: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_big_stores_backup_is_made_by_a_process_the_pass_does_not_wait_for(
    make_engine: EngineFactory,
    claude_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_core, "BACKGROUND_UPKEEP_BYTES", 0)  # every store is "big"
    started: list[Path] = []
    start = backup.start_backup_process

    def recording(data_dir: Path) -> subprocess.Popen[bytes]:
        started.append(data_dir)
        return start(data_dir)

    monkeypatch.setattr(backup, "start_backup_process", recording)
    data = tmp_path / "data"
    folder = backup_folder(data / "usage.sqlite3")
    folder.mkdir(parents=True)
    (folder / BACKUP_LOCK).write_text(str(os.getpid()))  # a backup is being made

    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    assert started == [] and _backups(data) == []  # not a second one meanwhile

    (folder / BACKUP_LOCK).unlink()
    engine.ingestor.scan()
    assert started == [data]
    _wait_for(
        lambda: (
            engine.store.get_meta("backup_ms") is not None and not (folder / BACKUP_LOCK).exists()
        )  # let go once it is done
    )
    (made,) = _backups(data)
    with Store(made, integrity="always", recover=False) as copy:
        assert copy.query("SELECT COUNT(*) FROM events") == engine.store.query(
            "SELECT COUNT(*) FROM events"
        )
    engine.ingestor.scan()  # not due again today
    assert started == [data]


def test_a_small_stores_backup_is_made_in_the_pass(
    make_engine: EngineFactory, claude_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(data_dir: Path) -> None:
        raise AssertionError("a small store's backup needs no process")

    monkeypatch.setattr(backup, "start_backup_process", refuse)
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    assert len(_backups(tmp_path / "data")) == 1


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    "lock", ["held by this process", "left by a dead process", "an hour old", "a fifo"]
)
def test_one_backup_at_a_time_and_a_stale_lock_is_taken_over(tmp_path: Path, lock: str) -> None:
    with Store(tmp_path / "usage.sqlite3") as store:
        folder = backup_folder(store.path)
        folder.mkdir()
        path = folder / BACKUP_LOCK
        if lock == "a fifo":
            os.mkfifo(path)
        else:
            path.write_text(str(_dead_pid() if lock == "left by a dead process" else os.getpid()))
        if lock == "an hour old":
            old = time.time() - BACKUP_LOCK_STALE_MS / 1000 - 60
            os.utime(path, (old, old))
        (folder / "usage-20260101-000000.sqlite3.partial").write_bytes(b"half")
        (folder / "usage-20260101-000000.sqlite3.partial-journal").write_bytes(b"")

        made = store.daily_upkeep(check=False)[1]
        if lock == "held by this process":
            assert made is None and store.backup_due()
            assert path.read_text() == str(os.getpid())  # left to its holder
            return
        assert made is not None and made.exists() and not store.backup_due()
        assert sorted(p.name for p in folder.iterdir()) == [made.name]  # no lock, no partial


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_backup_by_hand(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _cli(data, "-v", "backup")
    assert first.returncode == 0 and "backed up the usage store to" in first.stdout
    again = _cli(data, "backup")
    assert again.returncode == 0 and "no backup made" in again.stdout
    assert len(_backups(data)) == 1
    time.sleep(1.1)  # backups are named by the second
    forced = _cli(data, "backup", "--now")
    assert forced.returncode == 0 and len(_backups(data)) == 2
    shutil.rmtree(data / "backups")
    (data / "backups").write_text("a file where the backups go")
    refused = _cli(data, "backup", "--now")
    assert refused.returncode != 0 and "could not back up the usage store" in refused.stderr


def test_a_big_stores_daily_check_is_made_in_the_background_and_damage_repaired_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short command does not check a big store itself (6 s on a 3 GB history): the
    background upkeep does, copies only a sound store, and leaves word of damage for the
    next opening, which repairs it from the backup and the logs."""
    import sqlite3

    from test_store_faults import _claude_home, _damage
    from tokentray.engine import open_engine

    home = _claude_home(tmp_path, 2000)
    data = tmp_path / "data"
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}
    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    engine.ingestor.scan()  # checked when opened, and backed up in the pass (small)
    expected = engine.store.count_events()
    engine.store.set_meta("integrity_checked_ms", "0")
    engine.store.close()

    monkeypatch.setattr(store_core, "BACKGROUND_UPKEEP_BYTES", 0)  # now it is "big"
    with Store(data / "usage.sqlite3", integrity="daily") as store:  # as a report opens it
        assert store.integrity_due()  # not checked in the report's way
        damage, made = store.daily_upkeep()  # what `tokentray backup --background` does
        assert damage is None and made is None and not store.integrity_due()

    db = sqlite3.connect(data / "usage.sqlite3", isolation_level=None)
    db.execute("UPDATE meta SET value = '0' WHERE key IN ('integrity_checked_ms', 'backup_ms')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    _damage(data / "usage.sqlite3")
    job = _cli(data, "backup")
    assert job.returncode != 0 and "damaged" in job.stderr
    assert (data / "usage.sqlite3.check-failed").exists()
    assert len(_backups(data)) == 1  # no copy of a damaged store

    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    with engine.store:
        assert "daily check" in (engine.store.notice or "")
        assert not (data / "usage.sqlite3.check-failed").exists()
        engine.ingestor.scan()
        assert engine.store.count_events() == expected


class _BusyChecks:
    """A connection whose integrity check cannot run (another process holds the store)."""

    def __init__(self, db: object) -> None:
        self._db = db

    def execute(self, sql: str, *args: object) -> object:
        if "quick_check" in sql:
            import sqlite3

            raise sqlite3.OperationalError("database is locked")
        return self._db.execute(sql, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


def test_a_check_that_could_not_run_is_no_damage(tmp_path: Path) -> None:
    """A busy store is not a damaged one: nothing is marked for repair (which would move
    the store aside), and the check is made next time."""
    with Store(tmp_path / "usage.sqlite3") as store:
        store.set_meta("integrity_checked_ms", "0")
        real = store._db
        store._db = _BusyChecks(real)  # type: ignore[assignment]
        try:
            damage, made = store.daily_upkeep()
        finally:
            store._db = real
        assert damage is None and made is not None and store.integrity_due()
    assert not (tmp_path / "usage.sqlite3.check-failed").exists()
    with Store(tmp_path / "usage.sqlite3") as reopened:
        assert reopened.notice is None
