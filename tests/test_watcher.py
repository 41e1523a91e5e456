"""The engine-side folder watcher, alone and inside ``tokentray watch``: real folders,
real appends while it runs, no display."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tokentray.store import Store
from tokentray.watcher import FolderWatcher


def _line(message_id: str, output_tokens: int) -> bytes:
    record = {
        "type": "assistant",
        "timestamp": datetime.now(UTC).isoformat(),
        "sessionId": "s1",
        "cwd": "/work/demo",
        "message": {
            "id": message_id,
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 10, "output_tokens": output_tokens},
        },
    }
    return json.dumps(record).encode() + b"\n"


def test_the_watcher_hands_over_changed_paths_once(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    root.mkdir()
    later = tmp_path / "later"
    watcher = FolderWatcher()
    try:
        assert watcher.sync([root, later]) == []
        assert watcher.watched == {root}  # a folder that does not exist yet is not watched
        log = root / "a.jsonl"
        log.write_bytes(_line("m1", 5))
        assert log in watcher.wait(timeout=10)
        assert watcher.take() == []
        assert watcher.wait(timeout=0.2) == []  # nothing new: the timeout ends the wait

        later.mkdir()
        watcher.sync([root, later])  # folders that appear are picked up on the next sync
        (later / "b.jsonl").write_bytes(_line("m2", 5))
        assert later / "b.jsonl" in watcher.wait(timeout=10)
    finally:
        watcher.stop()


def test_a_stop_ends_the_wait_for_changes_within_a_second() -> None:
    from tokentray.cli.alerts import _wait_for_changes

    watcher, stop = FolderWatcher(), threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert _wait_for_changes(watcher, stop, 30) == []
    assert time.monotonic() - started < 1.5


_HANDLER_WHILE_THE_WAIT_HOLDS_ITS_LOCK = """
import signal, threading
from tokentray.cli.alerts import stop_handler
from tokentray.watcher import FolderWatcher
watcher, stop = FolderWatcher(), threading.Event()
with watcher._changed._cond:  # the main thread inside the watcher's wait, as a signal lands
    stop_handler(stop)(signal.SIGTERM, None)
print("stopped" if stop.is_set() else "not stopped")
"""


def test_the_stop_signal_handler_takes_no_lock_the_waiting_thread_holds() -> None:
    """A handler runs in the main thread between two of its steps: one that woke the
    watcher's wait took that wait's lock, and hung for good when the signal landed while
    the wait held it (seen once in CI: `watch` never ended after SIGTERM)."""
    done = subprocess.run(
        [sys.executable, "-c", _HANDLER_WHILE_THE_WAIT_HOLDS_ITS_LOCK],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "stopped"


def _events(data: Path) -> int:
    try:
        with Store(data / "usage.sqlite3", integrity="never") as store:
            return store.count_events()
    except Exception:  # the watch process may be creating it
        return -1


def _start_watch(tmp_path: Path) -> tuple[Path, Path, subprocess.Popen[str]]:
    """A `tokentray watch` process over one Claude log with one request: the log, the
    data folder, the process (rules every hour: only the watcher makes it read)."""
    claude = tmp_path / "claude"
    log = claude / "projects" / "-work-demo" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_line("m1", 100))
    data = tmp_path / "data"
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "CLAUDE_CONFIG_DIR": str(claude),
        "CODEX_HOME": str(tmp_path / "none"),
        "TOKENTRAY_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data), "watch"]
    watch = subprocess.Popen(
        [*command, "--interval", "3600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return log, data, watch


def test_watch_reads_an_append_at_once_not_at_the_next_interval(tmp_path: Path) -> None:
    log, data, watch = _start_watch(tmp_path)
    try:
        assert watch.stdout is not None
        banner = watch.stdout.readline()
        assert "watching" in banner and "every 3600 s" in banner, banner
        deadline = time.monotonic() + 20
        while _events(data) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _events(data) == 1
        with open(log, "ab") as handle:  # the agent writes while watch runs
            handle.write(_line("m2", 200))
        deadline = time.monotonic() + 10  # far less than the interval or the safety rescan
        while _events(data) != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _events(data) == 2
    finally:
        watch.send_signal(signal.SIGTERM)
        _out, err = watch.communicate(timeout=20)
    assert watch.returncode == 0, err


def test_the_safety_rescan_is_rarer_while_every_folder_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokentray import watcher as watcher_module

    watched, refused = tmp_path / "watched", tmp_path / "refused"
    watched.mkdir()
    refused.mkdir()
    folders = watcher_module.FolderWatcher()
    try:
        assert folders.sync([watched]) == []
        assert folders.rescan_s == watcher_module.WATCHED_RESCAN_S
        real_schedule = folders._observer.schedule  # type: ignore[union-attr]

        def schedule(handler, path, recursive=False):  # type: ignore[no-untyped-def]
            if path == str(refused):
                raise OSError(28, "inotify watch limit reached")
            return real_schedule(handler, path, recursive=recursive)

        monkeypatch.setattr(folders._observer, "schedule", schedule)
        problems = folders.sync([watched, refused])
        assert problems and "re-read every 5 minutes" in problems[0]
        assert folders.rescan_s == watcher_module.SAFETY_RESCAN_S
    finally:
        folders.stop()


def test_watch_repairs_a_store_found_damaged_while_it_runs(tmp_path: Path) -> None:
    """The background check marked the store damaged while `watch` ran: its next pass
    repairs it, says so, and goes on recording into the repaired store."""
    from tokentray.store.core import mark_damage

    log, data, watch = _start_watch(tmp_path)
    try:
        assert watch.stdout is not None
        watch.stdout.readline()
        deadline = time.monotonic() + 20
        while _events(data) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _events(data) == 1
        mark_damage(data / "usage.sqlite3", "database disk image is malformed")
        with open(log, "ab") as handle:
            handle.write(_line("m2", 200))
        deadline = time.monotonic() + 20
        while not list(data.glob("usage.sqlite3.damaged-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        while _events(data) != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _events(data) == 2
        assert not (data / "usage.sqlite3.check-failed").exists()
    finally:
        watch.send_signal(signal.SIGTERM)
        _out, err = watch.communicate(timeout=20)
    assert watch.returncode == 0, err
    assert "The usage store was damaged (found by the daily check" in err
