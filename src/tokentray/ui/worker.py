"""The engine's thread: ingests what the folder watcher saw, prepares what the GUI shows.

The engine-side ``FolderWatcher`` collects changed paths on watchdog's thread and
calls back; the callback only posts an event to this worker
(``QCoreApplication.postEvent`` is safe from any thread). The worker, living in its
own QThread, debounces, ingests and emits snapshots; Qt delivers them to the GUI
thread as queued signals. Everything computed here comes from ``dashboard``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

from tokentray import guardrails
from tokentray.alerts.engine import Alert, AlertEngine
from tokentray.dashboard import live
from tokentray.dashboard.graph import GraphData, GraphSpec, compute_graph
from tokentray.dashboard.series_cache import SeriesCache
from tokentray.engine import Engine, FolderStatus
from tokentray.insight import summary
from tokentray.insight.summary import InsightRequest, OutcomeBadge
from tokentray.settings import Settings
from tokentray.store import Store
from tokentray.watcher import DEBOUNCE_S, SAFETY_RESCAN_S, FolderWatcher

log = logging.getLogger(__name__)

DEBOUNCE_MS = int(DEBOUNCE_S * 1000)
SAFETY_RESCAN_MS = SAFETY_RESCAN_S * 1000
SNAPSHOT_TICK_MS = 30 * 1000
IDLE_TICK_S = 5 * 60  # with nothing written and nothing decaying, recompute this often
STALE_AFTER_S = 15 * 60
BADGE_EVERY_S = 5 * 60  # today's commits are read from git at most this often
_FILES_CHANGED = QEvent.Type(QEvent.registerEventType())


class EngineWorker(QObject):
    """Owns the engine; every method runs on the worker thread."""

    snapshotReady = Signal(object)  # live.LiveSnapshot
    graphReady = Signal(object)  # GraphData
    foldersReady = Signal(object)  # list[FolderStatus]
    alertsDue = Signal(object)  # list[Alert]: new for their window and level
    pausedUntil = Signal(object)  # int ms since the epoch (0: not paused)
    agentActed = Signal(object)  # agents.ActionResult
    agentDescribed = Signal(object)  # agents.SessionAgent
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
        self._watcher = FolderWatcher(self._wake)
        self._graph_spec: GraphSpec | None = None
        self._series_cache = SeriesCache()
        self._last_ok = 0.0
        self._failed = False
        self._debounce: QTimer | None = None
        self._timers: list[QTimer] = []
        self._last_snapshot: live.LiveSnapshot | None = None
        self._tick_state: tuple[int, str] | None = None
        self._last_full_tick = 0.0
        self._rescan_timer: QTimer | None = None
        self._badge: OutcomeBadge | None = None
        self._badge_read: tuple[float, str, tuple[int, int | None]] = (0.0, "", (0, None))

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
        self._rescan_timer = self._timers[0]
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
            self._cannot_open(exc)
            return
        if self._engine.store.notice:
            self.problem.emit(self._engine.store.notice)
        self._alerts = AlertEngine(self._engine.store, self._settings.rules(), self._tz)
        self.pausedUntil.emit(self._alerts.paused_until_ms())
        self.refresh()

    def _store_current(self, store: Store) -> bool:
        """Open the store again when another process repaired it or a background check
        found it damaged (``Store.reopen_if_replaced``), and say what the repair did;
        False when it can no longer be opened."""
        try:
            if store.reopen_if_replaced() and store.notice:
                self.problem.emit(store.notice)
        except Exception as exc:  # the tray must stay up and say why
            self._cannot_open(exc)
            return False
        return True

    def _cannot_open(self, exc: Exception) -> None:
        """No store: say why, and show the tray as failed until settings change."""
        log.exception("cannot open the usage store")
        self._engine = None
        self._failed = True
        self.problem.emit(f"The usage store cannot be opened: {exc}")
        self._emit_snapshot()

    # -- watching ----------------------------------------------------------------

    def _wake(self) -> None:
        """Called from watchdog's thread."""
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
        for problem in self._watcher.sync(root for _source, root in self._engine.ingestor.roots()):
            self.problem.emit(problem)
        interval = self._watcher.rescan_s * 1000
        if self._rescan_timer is not None and self._rescan_timer.interval() != interval:
            self._rescan_timer.setInterval(interval)

    def _stop_observer(self) -> None:
        self._watcher.stop()

    # -- ingest --------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Full pass over every folder (start, 'Refresh now', and every 15 minutes; 5 while
        a folder cannot be watched).

        Watches are set before the pass, so that nothing written during or right
        after it goes unseen."""
        self._sync_watches()
        self._scan(None)
        self._emit_folders()

    def _ingest_dirty(self) -> None:
        paths = self._watcher.take()
        if paths:
            self._scan(paths)

    def _scan(self, paths: list[Path] | None) -> None:
        if self._engine is None or not self._store_current(self._engine.store):
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
    def refresh_snapshot(self) -> None:
        """A new snapshot now (e.g. the providers' figures changed in the store)."""
        self._emit_snapshot()

    @Slot()
    def _tick(self) -> None:
        """Burn rates decay while nothing is written: recompute while they can move, and
        every few minutes regardless (windows open and close, digests fall due)."""
        if self._quiet():
            return
        self._emit_snapshot()
        if self._graph_spec is not None:
            self._emit_graph()
        self._check_alerts()

    def _quiet(self) -> bool:
        """Nothing a recompute could change: no write since the last one (the provider
        thread writes too), no burn rate still decaying, the same local day, and the
        periodic recompute not yet due. An idle tray on a 3 GB history then stays idle."""
        if self._engine is None:
            return False
        now = time.time()
        state = (self._engine.store.data_version(), datetime.now(self._tz).date().isoformat())
        shown = self._last_snapshot
        decaying = shown is None or shown.burn_usd_per_hour > 0 or shown.burn_tokens_per_minute > 0
        due = now - self._last_full_tick >= IDLE_TICK_S
        if state == self._tick_state and not decaying and not due:
            return True
        self._tick_state, self._last_full_tick = state, now
        return False

    def _check_alerts(self) -> None:
        if self._alerts is None:
            return
        try:
            due = self._alerts.due(datetime.now(UTC))
        except Exception as exc:
            log.exception("alert check failed")
            self.problem.emit(f"Checking alert rules failed: {exc}")
            return
        for alert in due:
            self._apply_action(alert)
        if due:
            self.alertsDue.emit(due)

    def _apply_action(self, alert: Alert) -> None:
        """A rule's opt-in guardrail: pause or stop the session the alert names."""
        rule, session = alert.rule, alert.culprit.get("session")
        if rule.action == "notify" or alert.level != "critical" or self._engine is None:
            return
        if not session:
            alert.details["acted"] = f"Nothing was {rule.action}d: the alert names no session."
            return
        result = guardrails.perform(
            self._engine.store,
            rule.action,
            alert.culprit.get("source", ""),
            session,
            rule.grace_seconds,
            rule.id,
        )
        alert.details["acted"] = result.summary()  # the notification says it: no balloon
        alert.details["action"] = rule.action if result.ok else ""
        self._emit_snapshot()

    @Slot(str, str)
    def describe_agent(self, source: str, session: str) -> None:
        """The processes a stop would end, for the person to confirm."""
        if self._engine is not None:
            self.agentDescribed.emit(guardrails.locate(self._engine.store, source, session))

    @Slot(str, str, str)
    def act_on_agent(self, action: str, source: str, session: str) -> None:
        """From a notification button or the sessions table: pause, resume or stop."""
        if self._engine is None or action not in ("pause", "resume", "stop"):
            return
        try:
            result = guardrails.perform(self._engine.store, action, source, session)  # type: ignore[arg-type]
        except Exception as exc:
            log.exception("agent action failed")
            self.problem.emit(f"Could not {action} the agent: {exc}")
            return
        self.agentActed.emit(result)
        self._emit_snapshot()

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
        snap = live.snapshot(
            self._engine.store,
            now_ms,
            self._tz,
            self._settings.daily_budget_usd or None,
            sources_found=found,
            stale=stale,
            count_billed=self._settings.budget_counts_billed,
        )
        return replace(snap, badge=self._outcome_badge(now_ms))

    def _outcome_badge(self, now_ms: int) -> OutcomeBadge | None:
        """Today's tier and commits; git is asked again when the day turns, or at most
        every ``BADGE_EVERY_S`` while new usage arrives."""
        assert self._engine is not None
        store = self._engine.store
        day_start = live.local_day_start_ms(now_ms, self._tz)
        day = str(day_start)
        usage = (store.data_version(), store.last_event_ms())
        read_at, read_day, read_usage = self._badge_read
        due = time.time() - read_at >= BADGE_EVERY_S and usage != read_usage
        if self._badge is not None and day == read_day and not due:
            return self._badge
        try:
            moved = self._settings.insight.moved
            self._badge = summary.outcome_badge(store, self._tz, day_start, moved)
        except Exception:  # a broken repository costs the badge, never the snapshot
            log.exception("reading today's commits failed")
        self._badge_read = (time.time(), day, usage)
        return self._badge

    def _emit_snapshot(self) -> None:
        try:
            self._last_snapshot = self._current_snapshot()
            self.snapshotReady.emit(self._last_snapshot)
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
        return compute_graph(self._engine.store, spec, self._tz, snap, self._series_cache, changed)

    @Slot(object)
    def request_insight(self, request: InsightRequest) -> None:
        """The Insight tab's figures for a range of days and a model to compare with."""
        if self._engine is None:
            return
        engine, tz = self._engine, self._tz
        today = live.local_day_start_ms(int(time.time() * 1000), tz)
        try:
            found = summary.insight_figures(
                engine.store, engine.pricer, request, today, tz, self._settings.insight.moved
            )
        except Exception as exc:
            log.exception("insight figures failed")
            self.problem.emit(f"Preparing the insight figures failed: {exc}")
            return
        self.insightReady.emit(found)

    insightReady = Signal(object)  # dict: outcomes, cache, counterfactual, request

    @Slot(str, str)
    def request_session(self, source: str, session_id: str) -> None:
        if self._engine is None:
            return
        timeline = live.session_timeline(self._engine.store, source, session_id)
        self.sessionReady.emit((source, session_id, timeline))

    sessionReady = Signal(object)
