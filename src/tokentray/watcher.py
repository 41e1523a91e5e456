"""Watch the agents' folders and collect the files that changed (no Qt).

watchdog calls back on its own thread; the callback only records the path and
wakes whoever waits. The tray's engine worker and ``tokentray watch`` both use
this: they decide *when* to ingest (after a short quiet spell, the debounce),
and hand the collected paths to ``Ingestor.scan``, the one entry point that
reads what is new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.15  # writes closer together than this are read in one pass
MAX_DEBOUNCE_S = 2.0  # an agent that never stops writing is still read this often
# Every folder is re-read this often as a safety net: more often while a folder cannot be
# watched (an inotify limit), less when every one is (an idle tray on 9,000 files then
# stays under 0.1% of a CPU).
SAFETY_RESCAN_S = 5 * 60
WATCHED_RESCAN_S = 15 * 60


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: record the path, wake the waiter, nothing else."""

    def __init__(self, record: Callable[[list[Path]], None]) -> None:
        self._record = record

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory and event.event_type != "moved":
            return
        paths = [Path(str(event.src_path))]
        if getattr(event, "dest_path", ""):
            paths.append(Path(str(event.dest_path)))
        self._record(paths)


class FolderWatcher:
    """The changed files under the watched folders, collected until taken.

    ``on_change`` (optional) is called from watchdog's thread after each change: the
    tray uses it to post an event to its worker thread; ``wait`` serves a plain loop.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._on_change = on_change
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._observer: BaseObserver | None = None
        self._watched: set[Path] = set()
        self._unwatchable: set[Path] = set()
        self._last_change = 0.0

    @property
    def watched(self) -> frozenset[Path]:
        return frozenset(self._watched)

    def sync(self, roots: Iterable[Path]) -> list[str]:
        """Watch every folder that exists and is not watched yet (folders can appear
        later); returns one sentence per folder that cannot be watched."""
        problems: list[str] = []
        handler = _Handler(self._record)
        for root in roots:
            if root in self._watched or not root.is_dir():
                continue
            if self._observer is None:
                self._observer = Observer()
                self._observer.daemon = True
                self._observer.start()
            try:
                self._observer.schedule(handler, str(root), recursive=True)
                self._watched.add(root)
                self._unwatchable.discard(root)
            except OSError as exc:  # e.g. the inotify watch limit
                self._unwatchable.add(root)
                log.warning("cannot watch %s: %s", root, exc)
                problems.append(
                    f"Cannot watch {root}: {exc}. It is re-read every "
                    f"{SAFETY_RESCAN_S // 60} minutes."
                )
        return problems

    @property
    def rescan_s(self) -> int:
        """How often every folder should be re-read, given what could be watched."""
        return SAFETY_RESCAN_S if self._unwatchable else WATCHED_RESCAN_S

    def _record(self, paths: list[Path]) -> None:
        with self._lock:
            self._dirty.update(paths)
            self._last_change = time.monotonic()
        self._changed.set()
        if self._on_change is not None:
            self._on_change()

    def take(self) -> list[Path]:
        """The paths changed since the last call, sorted; the set starts empty again."""
        with self._lock:
            paths, self._dirty = sorted(self._dirty), set()
            self._changed.clear()
        return paths

    def wait(self, timeout: float, debounce: float = DEBOUNCE_S) -> list[Path]:
        """Block until a change (or ``timeout`` seconds), then until writes pause for
        ``debounce`` seconds (at most ``MAX_DEBOUNCE_S``); the changed paths."""
        if not self._changed.wait(timeout):
            return []
        settle_until = time.monotonic() + MAX_DEBOUNCE_S
        while True:
            with self._lock:
                quiet_for = time.monotonic() - self._last_change
            if quiet_for >= debounce or time.monotonic() >= settle_until:
                return self.take()
            time.sleep(max(0.01, debounce - quiet_for))

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self._watched.clear()
