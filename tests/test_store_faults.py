"""The store under hostile conditions: no folder, read-only, full disk, damaged, other users."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tokentray.engine import open_engine
from tokentray.paths import sqlite_uri
from tokentray.store import Store, StoreError
from tokentray.store import core as store_module


def _line(message_id: str, output: int = 100, day: int = 5) -> bytes:
    return (
        b'{"type":"assistant","cwd":"/p","timestamp":"2026-10-%02dT10:00:00Z",' % day
        + b'"message":{"id":"'
        + message_id.encode()
        + b'","model":"claude-sonnet-4-5-20250929",'
        b'"usage":{"input_tokens":10,"output_tokens":' + str(output).encode() + b"}}}\n"
    )


def _claude_home(tmp_path: Path, count: int) -> Path:
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"".join(_line(f"m{i}") for i in range(count)))
    return home


def _env(tmp_path: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CLAUDE_CONFIG_DIR=str(home),
        CODEX_HOME=str(tmp_path / "none"),
        TOKENTRAY_CONFIG_DIR=str(tmp_path / "config"),
        HOME=str(tmp_path / "home"),
    )
    return env


def _cli(
    data: Path, env: dict[str, str], *args: str, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data), *args],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        timeout=120,
        check=False,
    )


def _report_total(result: subprocess.CompletedProcess[str]) -> int:
    return int(json.loads(result.stdout)["totals"]["output_tokens"])


def test_a_data_folder_that_cannot_be_created_is_one_sentence_and_exit_4(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _cli(blocker / "data", _env(tmp_path, _claude_home(tmp_path, 1)), "scan")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tokentray: cannot create the data folder")
    assert "--data-dir" in result.stderr


def _read_only_command(data: Path, *args: str) -> list[str]:
    """The command with ``data`` read-only: by its modes for an ordinary user; for root
    (who ignores modes) through a read-only bind mount in a private mount namespace."""
    command = [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data), *args]
    if os.getuid() != 0:
        for path in [data, *data.rglob("*")]:
            path.chmod(0o500 if path.is_dir() else 0o400)
        return command
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("root without mount namespaces cannot make a folder read-only")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(data), *command]


def test_a_read_only_store_still_reports_what_it_holds(tmp_path: Path) -> None:
    home = _claude_home(tmp_path, 3)
    env = _env(tmp_path, home)
    data = tmp_path / "data"
    assert _cli(data, env, "scan").returncode == 0
    with open(home / "projects" / "-p" / "s1.jsonl", "ab") as handle:
        handle.write(_line("m-new"))  # cannot be recorded: the store is read-only
    command = _read_only_command(data, "report", "daily", "--json")
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        for path in [data, *data.rglob("*")]:
            path.chmod(0o700 if path.is_dir() else 0o600)
    assert result.returncode == 4, result.stderr
    assert _report_total(result) == 300
    assert "read-only" in result.stderr and "Traceback" not in result.stderr


def test_a_full_disk_fails_the_write_cleanly_and_keeps_what_was_stored(tmp_path: Path) -> None:
    home = _claude_home(tmp_path, 5)
    env = _env(tmp_path, home)
    data = tmp_path / "data"
    assert _cli(data, env, "scan").returncode == 0
    log = home / "projects" / "-p" / "s1.jsonl"
    with open(log, "ab") as handle:  # enough new usage to need new pages
        handle.write(b"".join(_line(f"big{i}", 7) for i in range(3000)))
    limit = sum(p.stat().st_size for p in data.glob("usage.sqlite3*")) + 4096

    def disk_full() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = _cli(data, env, "scan", preexec=disk_full)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tokentray: ")
    report = _cli(data, env, "report", "daily", "--json", "--no-scan")
    assert _report_total(report) == 500  # nothing half-written
    assert _cli(data, env, "scan").returncode == 0  # with space again, nothing is lost
    assert _report_total(_cli(data, env, "report", "daily", "--json", "--no-scan")) == 500 + 21000


def _damage(database: Path) -> None:
    """Overwrite runs of pages at a third and at two thirds of the file, as a bad disk
    would: wherever the schema puts its tables and indexes, requests are lost."""
    page = 4096
    pages = database.stat().st_size // page
    with open(database, "r+b") as handle:
        for share in (3, 1.5):
            handle.seek(max(2, int(pages / share)) * page)
            handle.write(b"\xa5" * page * 2)


def test_a_damaged_store_is_detected_moved_aside_and_rebuilt_from_backup_and_logs(
    tmp_path: Path,
) -> None:
    home = _claude_home(tmp_path, 2000)
    data = tmp_path / "data"
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}
    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    engine.ingestor.scan()  # the first full scan makes the first backup
    expected = engine.store.count_events()
    engine.store.close()
    assert len(list((data / "backups").glob("usage-*.sqlite3"))) == 1
    log = home / "projects" / "-p" / "s1.jsonl"
    with open(log, "ab") as handle:  # newer than the backup: must come back from the log
        handle.write(b"".join(_line(f"late{i}") for i in range(50)))
    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    engine.ingestor.scan()
    engine.store.close()
    with sqlite3.connect(data / "usage.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(data / "usage.sqlite3")

    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    with engine.store:
        notice = engine.store.notice or ""
        assert "damaged" in notice and "backup" in notice and "salvaged" in notice
        assert list(data.glob("usage.sqlite3.damaged-*"))
        engine.ingestor.scan()
        assert engine.store.count_events() == expected + 50
        assert engine.store._db.execute("PRAGMA quick_check").fetchone() == ("ok",)


def test_without_backup_or_logs_the_readable_requests_are_salvaged(tmp_path: Path) -> None:
    home = _claude_home(tmp_path, 3000)
    data = tmp_path / "data"
    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}
    with Store(data / "usage.sqlite3"):
        pass
    engine = open_engine(data, tmp_path / "none.toml", env=env, home=tmp_path)
    engine.store.set_meta("backup_ms", "99999999999999")  # no backup is made
    engine.ingestor.scan()
    engine.store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.store.close()
    (home / "projects" / "-p" / "s1.jsonl").unlink()  # the agent cleaned up its logs
    _damage(data / "usage.sqlite3")

    with Store(data / "usage.sqlite3") as store:
        assert store.notice is not None and "no backup" in store.notice
        salvaged = store.count_events()
        assert 1000 < salvaged < 3000  # the damaged pages are lost, the rest is kept
        assert f"{salvaged} requests were salvaged" in store.notice


def test_backups_are_daily_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    with Store(tmp_path / "usage.sqlite3") as store:
        day = store_module.BACKUP_EVERY_MS
        start = 1_790_000_000_000
        made = [store.daily_upkeep(start + i * day, check=False)[1] for i in range(5)]
        assert all(made)
        not_due_yet = start + 4 * day + 1000
        assert store.daily_upkeep(not_due_yet, check=False)[1] is None
    kept = sorted((tmp_path / "backups").glob("usage-*.sqlite3"))
    assert kept == sorted(made)[-store_module.BACKUPS_KEPT :]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)


def test_the_store_and_its_folder_are_private_and_old_modes_are_fixed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store(data / "usage.sqlite3") as store, store.transaction():
        store.set_meta("x", "y")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.iterdir()]}
    assert modes["data"] == 0o700
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("usage"))

    data.chmod(0o755)  # as older builds left it
    for path in data.iterdir():
        path.chmod(0o644)
    Store(data / "usage.sqlite3").close()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.iterdir()]}
    assert modes["data"] == 0o700
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("usage"))


def test_paths_with_uri_characters_are_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "odd #1 ?x=y %20"
    with Store(folder / "usage.sqlite3") as store, store.transaction():
        store.set_meta("x", "y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd #1 ?x=y %20"]
    connection = sqlite3.connect(sqlite_uri(folder / "usage.sqlite3", mode="ro"), uri=True)
    assert connection.execute("SELECT value FROM meta WHERE key = 'x'").fetchone() == ("y",)
    connection.close()


def test_a_damaged_read_only_store_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match="damaged"):
        Store(path, recover=False)
