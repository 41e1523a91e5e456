"""The engine's thread: watches the agents' folders, ingests, prepares what the GUI shows.

watchdog calls back on its own thread; those callbacks only record the path
and post an event to this worker (``QCoreApplication.postEvent`` is safe
from any thread). The worker, living in its own QThread, debounces, ingests
and emits snapshots; Qt delivers them to the GUI thread as queued signals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tokentray import live
from tokentray.alerts.engine import AlertEngine
from tokentray.engine import Engine, FolderStatus
from tokentray.settings import Settings
from tokentray.ui.series_cache import BurnSeries, SeriesCache

log = logging.getLogger(__name__)

DEBOUNCE_MS = 150
SAFETY_RESCAN_MS = 5 * 60 * 1000
SNAPSHOT_TICK_MS = 30 * 1000
STALE_AFTER_S = 15 * 60
RANGES_MS = {
    "1h": 3_600_000,
    "24h": 86_400_000,
    "7d": 7 * 86_400_000,
    "30d": 30 * 86_400_000,
    "all": 0,
}
_FILES_CHANGED = QEvent.Type(QEvent.registerEventType())


@dataclass(frozen=True, slots=True)
class GraphSpec:
    range_key: str = "24h"
    split: str = "source"


@dataclass(slots=True)
class GraphData:
    spec: GraphSpec
    snapshot: live.LiveSnapshot
    series: BurnSeries
    cumulative: list[tuple[int, float]]
    day_start_ms: int
    day_end_ms: int
    sessions: list[live.SessionRow] = field(default_factory=list)


RECENT_SESSIONS_MS = 24 * 3_600_000


def compute_graph(
    engine: Engine,
    spec: GraphSpec,
    tz: ZoneInfo,
    snap: live.LiveSnapshot,
    cache: SeriesCache | None = None,
    changed: tuple[int, int] | None = None,
) -> GraphData:
    """Everything the graph window draws; with a cache, only what changed is re-read."""
    store = engine.store
    now = snap.now_ms
    cache = cache or SeriesCache()
    series = cache.get(store, RANGES_MS[spec.range_key], spec.split, now, changed)
    day_start = live.local_day_start_ms(now, tz)
    return GraphData(
        spec=spec,
        snapshot=snap,
        series=series,
        cumulative=live.cumulative_cost(store, day_start, now + 60_000),
        day_start_ms=day_start,
        day_end_ms=live.local_day_end_ms(now, tz),
        sessions=live.recent_sessions(store, now - RECENT_SESSIONS_MS, now),
    )


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: record the path, wake the worker, nothing else."""

    def __init__(self, notify: Callable[[list[Path]], None]) -> None:
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory and event.event_type != "moved":
            return
        paths = [Path(str(event.src_path))]
        if getattr(event, "dest_path", ""):
            paths.append(Path(str(event.dest_path)))
        self._notify(paths)


class EngineWorker(QObject):
    """Owns the engine; every method runs on the worker thread."""

    snapshotReady = Signal(object)  # live.LiveSnapshot
    graphReady = Signal(object)  # GraphData
    foldersReady = Signal(object)  # list[FolderStatus]
    alertsDue = Signal(object)  # list[Alert]: new for their window and level
    pausedUntil = Signal(object)  # int ms since the epoch (0: not paused)
    problem = Signal(str)

    def __init__(
        self, open_engine: Callable[[Settings], Engine], settings: Settings, tz: ZoneInfo
    ) -> None:
        super().__init__()
        self._open_engine = open_engine
        self._settings = settings
        self._tz = tz
        self._engine: Engine | None = None
        self._alerts: AlertEngine | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._watched: set[Path] = set()
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._graph_spec: GraphSpec | None = None
        self._series_cache = SeriesCache()
        self._last_ok = 0.0
        self._failed = False
        self._debounce: QTimer | None = None
        self._timers: list[QTimer] = []

    # -- lifetime (called through queued signals, on the worker thread) ----------

    @Slot()
    def start(self) -> None:
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._ingest_dirty)
        for interval, slot in ((SAFETY_RESCAN_MS, self.refresh), (SNAPSHOT_TICK_MS, self._tick)):
            timer = QTimer(self)
            timer.setInterval(interval)
            timer.timeout.connect(slot)
            timer.start()
            self._timers.append(timer)
        self._open()

    @Slot()
    def stop(self) -> None:
        for timer in (*self._timers, self._debounce):
            if timer is not None:
                timer.stop()
        self._stop_observer()
        if self._engine is not None:
            self._engine.store.close()
            self._engine = None
        # Hand this object (and its timers) back to the GUI thread, which will delete it.
        application = QCoreApplication.instance()
        if application is not None:
            self.moveToThread(application.thread())

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        self._settings = settings
        self._series_cache = SeriesCache()
        self._stop_observer()
        if self._engine is not None:
            self._engine.store.close()
        self._open()

    def _open(self) -> None:
        try:
            self._engine = self._open_engine(self._settings)
        except Exception as exc:  # the tray must stay up and say why
            log.exception("cannot open the usage store")
            self._engine = None
            self._failed = True
            self.problem.emit(f"The usage store cannot be opened: {exc}")
            self._emit_snapshot()
            return
        if self._engine.store.notice:
            self.problem.emit(self._engine.store.notice)
        self._alerts = AlertEngine(self._engine.store, self._settings.rules(), self._tz)
        self.pausedUntil.emit(self._alerts.paused_until_ms())
        self.refresh()

    # -- watching ----------------------------------------------------------------

    def notify(self, paths: list[Path]) -> None:
        """Called from watchdog's thread."""
        with self._lock:
            self._dirty.update(paths)
        QCoreApplication.postEvent(self, QEvent(_FILES_CHANGED))

    def event(self, event: QEvent) -> bool:
        if event.type() == _FILES_CHANGED:
            if self._debounce is not None and not self._debounce.isActive():
                self._debounce.start()
            return True
        return super().event(event)

    def _sync_watches(self) -> None:
        """Watch every agent folder that exists (folders can appear later)."""
        if self._engine is None:
            return
        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        handler = _Handler(self.notify)
        for _source, root in self._engine.ingestor.roots():
            if root in self._watched or not root.is_dir():
                continue
            try:
                self._observer.schedule(handler, str(root), recursive=True)
                self._watched.add(root)
            except OSError as exc:  # e.g. the inotify watch limit
                log.warning("cannot watch %s: %s", root, exc)
                self.problem.emit(f"Cannot watch {root}: {exc}. It is re-read every 5 minutes.")

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self._watched.clear()

    # -- ingest --------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Full pass over every folder (start, 'Refresh now', and every 5 minutes).

        Watches are set before the pass, so that nothing written during or right
        after it goes unseen."""
        self._sync_watches()
        self._scan(None)
        self._emit_folders()

    def _ingest_dirty(self) -> None:
        with self._lock:
            paths, self._dirty = sorted(self._dirty), set()
        if paths:
            self._scan(paths)

    def _scan(self, paths: list[Path] | None) -> None:
        if self._engine is None:
            return
        changed: tuple[int, int] | None = None
        try:
            report = self._engine.ingestor.scan(paths)
        except Exception as exc:  # a broken disk or store must not take the tray down
            log.exception("ingest failed")
            self._failed = True
            self.problem.emit(f"Reading agent logs failed: {exc}")
        else:
            self._failed = False
            self._last_ok = time.time()
            for item in report.unreadable:
                self.problem.emit(f"Cannot read {item.path}: {item.reason}")
            if report.changed_from_ms is not None and report.changed_to_ms is not None:
                changed = (report.changed_from_ms, report.changed_to_ms)
        self._emit_snapshot()
        if self._graph_spec is not None:
            self._emit_graph(changed)
        self._check_alerts()

    @Slot()
    def _tick(self) -> None:
        """Burn rates decay while nothing is written: recompute now and then."""
        self._emit_snapshot()
        if self._graph_spec is not None:
            self._emit_graph()
        self._check_alerts()  # windows open and close, digests fall due, with or without data

    def _check_alerts(self) -> None:
        if self._alerts is None:
            return
        try:
            due = self._alerts.due(datetime.now(UTC))
        except Exception as exc:
            log.exception("alert check failed")
            self.problem.emit(f"Checking alert rules failed: {exc}")
            return
        if due:
            self.alertsDue.emit(due)

    @Slot(object)
    def pause_alerts(self, until_ms: int) -> None:
        if self._alerts is not None:
            self._alerts.pause_until(datetime.fromtimestamp(until_ms / 1000, UTC))
            self.pausedUntil.emit(self._alerts.paused_until_ms())

    # -- what the GUI shows ----------------------------------------------------------

    def _current_snapshot(self) -> live.LiveSnapshot:
        now_ms = int(time.time() * 1000)
        if self._engine is None:
            return live.LiveSnapshot(now_ms=now_ms, sources_found=False, stale=True)
        found = any(root.is_dir() for _, root in self._engine.ingestor.roots())
        stale = self._failed or time.time() - self._last_ok > STALE_AFTER_S
        return live.snapshot(
            self._engine.store,
            now_ms,
            self._tz,
            self._settings.daily_budget_usd or None,
            sources_found=found,
            stale=stale,
            count_billed=self._settings.budget_counts_billed,
        )

    def _emit_snapshot(self) -> None:
        try:
            self.snapshotReady.emit(self._current_snapshot())
        except Exception as exc:
            log.exception("snapshot failed")
            self.problem.emit(f"Reading the usage store failed: {exc}")

    def _emit_folders(self) -> None:
        if self._engine is not None:
            status: list[FolderStatus] = self._engine.folder_status()
            self.foldersReady.emit(status)

    @Slot(object)
    def request_graph(self, spec: GraphSpec | None) -> None:
        """Start (or, with None, stop) preparing graph data after every ingest."""
        self._graph_spec = spec
        if spec is not None:
            self._emit_graph()

    def _emit_graph(self, changed: tuple[int, int] | None = None) -> None:
        if self._engine is None or self._graph_spec is None:
            return
        try:
            self.graphReady.emit(self.graph_data(self._graph_spec, changed))
        except Exception as exc:
            log.exception("graph data failed")
            self.problem.emit(f"Preparing the graphs failed: {exc}")

    def graph_data(self, spec: GraphSpec, changed: tuple[int, int] | None = None) -> GraphData:
        assert self._engine is not None
        snap = self._current_snapshot()
        return compute_graph(self._engine, spec, self._tz, snap, self._series_cache, changed)

    @Slot(str, str)
    def request_session(self, source: str, session_id: str) -> None:
        if self._engine is None:
            return
        timeline = live.session_timeline(self._engine.store, source, session_id)
        self.sessionReady.emit((source, session_id, timeline))

    sessionReady = Signal(object)
