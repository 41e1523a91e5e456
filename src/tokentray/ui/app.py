"""The tray application: one instance per user and data folder, engine on its own thread."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, Qt, QThread, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox

from tokentray import __version__
from tokentray.agents import ActionResult, SessionAgent
from tokentray.alerts.engine import Alert, Window
from tokentray.alerts.rules import Rule
from tokentray.dashboard.live import LiveSnapshot
from tokentray.engine import Engine, local_zone, open_engine
from tokentray.instance import owned_by_me, peer_is_me, socket_path
from tokentray.paths import data_dir as default_data_dir
from tokentray.paths import database_path
from tokentray.settings import ExporterSettings, Settings, load_settings
from tokentray.store import StoreError
from tokentray.ui.display import display_problem
from tokentray.ui.notifications import Notifier
from tokentray.ui.provider_worker import ProviderWorker
from tokentray.ui.signals import AppSignals
from tokentray.ui.tray import TrayController
from tokentray.ui.worker import EngineWorker

if TYPE_CHECKING:
    from tokentray.exporter import Exporter
    from tokentray.ui.graph_window import GraphWindow
    from tokentray.ui.preferences import PreferencesDialog

log = logging.getLogger(__name__)


def hand_over_to_running_instance(name: str) -> bool:
    """True when another tokentray of this user already runs: it was asked to show its
    graph window. A socket that belongs to someone else is not spoken to."""
    if not owned_by_me(name):
        return False
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(500):
        return False
    socket.write(b"show\n")
    socket.flush()
    socket.waitForBytesWritten(1000)
    socket.disconnectFromServer()
    return True


class TrayApp(QObject):
    """Wires the workers to the signal hub, and the hub to the tray and the windows
    (GUI thread). The app itself keeps no copy of their state."""

    refreshRequested = Signal()
    graphRequested = Signal(object)  # GraphSpec | None
    sessionRequested = Signal(str, str)
    stopRequested = Signal()
    stopProvidersRequested = Signal()
    pauseRequested = Signal(object)  # int ms since the epoch
    keySaveRequested = Signal(str, str)
    keyTestRequested = Signal(str)
    reconcileRequested = Signal()
    snapshotRequested = Signal()
    claudeUsageWanted = Signal(bool)
    agentActionRequested = Signal(str, str, str)  # action, source, session
    agentDescribeRequested = Signal(str, str)  # source, session: before a stop, say what
    insightRequested = Signal(object)  # InsightRequest

    def __init__(
        self,
        data_dir: Path,
        config_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.signals = AppSignals(settings or load_settings(config_file))
        self.graph_window: GraphWindow | None = None  # created on first use: loads pyqtgraph
        self.preferences: PreferencesDialog | None = None
        self.problems: list[str] = []
        self.server: QLocalServer | None = None

        def opener(settings: Settings) -> Engine:
            # Checked once a day, a big store in the background (at every start before:
            # 3 to 66 s on a 3 GB history); damage found is repaired by the next pass.
            return open_engine(data_dir, env=env, settings=settings, integrity="daily")

        self.engine_thread = QThread()
        self.engine_thread.setObjectName("tokentray-engine")
        self.worker = EngineWorker(opener, self.signals.settings, local_zone())
        self.worker.moveToThread(self.engine_thread)
        self.engine_thread.started.connect(self.worker.start)
        self.refreshRequested.connect(self.worker.refresh)
        self.pauseRequested.connect(self.worker.pause_alerts)
        self.graphRequested.connect(self.worker.request_graph)
        self.signals.settingsChanged.connect(self.worker.apply_settings)
        self.snapshotRequested.connect(self.worker.refresh_snapshot)
        self.sessionRequested.connect(self.worker.request_session)
        self.insightRequested.connect(self.worker.request_insight)
        self.stopRequested.connect(self.worker.stop, Qt.ConnectionType.BlockingQueuedConnection)

        self.provider_thread = QThread()
        self.provider_thread.setObjectName("tokentray-providers")
        self.providers = ProviderWorker(database_path(data_dir), env)
        self.providers.moveToThread(self.provider_thread)
        self.provider_thread.started.connect(self.providers.start)
        self.keySaveRequested.connect(self.providers.set_key)
        self.keyTestRequested.connect(self.providers.test)
        self.reconcileRequested.connect(self.providers.refresh_reconcile)
        self.claudeUsageWanted.connect(self.providers.set_claude_usage)
        self.stopProvidersRequested.connect(
            self.providers.stop, Qt.ConnectionType.BlockingQueuedConnection
        )

        self.tray = TrayController(self.signals, data_dir)
        self.tray.openGraphs.connect(self.show_graphs)
        self.tray.openPreferences.connect(self.show_preferences)
        self.tray.refreshNow.connect(self.refreshRequested.emit)
        self.tray.pauseAlerts.connect(self.pause_alerts)
        self.tray.showAbout.connect(self.show_about)
        self.tray.quitRequested.connect(QApplication.quit)
        hub = self.signals
        self.worker.snapshotReady.connect(hub.publish_snapshot)
        self.worker.graphReady.connect(hub.publish_graph)
        self.worker.foldersReady.connect(hub.publish_folders)
        self.worker.pausedUntil.connect(hub.publish_paused_until)
        self.worker.problem.connect(hub.problem)
        self.worker.sessionReady.connect(self._on_session)
        self.worker.insightReady.connect(hub.insightChanged)
        self.worker.alertsDue.connect(self._on_alerts)
        self.notifier = Notifier(self.tray)
        self.notifier.activated.connect(self.open_culprit)
        self.notifier.agentAction.connect(
            lambda alert, action: self.request_agent_action(
                action, alert.culprit.get("source", ""), alert.culprit.get("session", "")
            )
        )
        self.agentActionRequested.connect(self.worker.act_on_agent)
        self.agentDescribeRequested.connect(self.worker.describe_agent)
        self.worker.agentDescribed.connect(self._confirm_stop)
        self.worker.agentActed.connect(hub.agentActed)
        hub.agentActed.connect(self._on_agent_acted)
        self.tray.resumeAgents.connect(self.resume_paused_agents)
        self.alerts_sent: list[tuple[Alert, str]] = []  # (alert, where it went), in order
        self.agent_actions: list[ActionResult] = []  # pauses, resumes and stops, in order
        self.notifier.delivered.connect(self._on_delivered)
        self.providers.statesReady.connect(hub.publish_providers)
        self.providers.keysReady.connect(hub.publish_provider_keys)
        self.providers.keyringProblem.connect(hub.publish_keyring_problem)
        self.providers.testDone.connect(hub.keyTested)
        self.providers.reconcileReady.connect(hub.publish_reconcile)
        self.providers.problem.connect(hub.problem)
        self.providers.claudeUsageReady.connect(hub.publish_claude_usage)
        self.providers.plansChanged.connect(self.snapshotRequested.emit)
        hub.settingsChanged.connect(lambda s: self.claudeUsageWanted.emit(s.claude_usage_check))
        self.exporter: Exporter | None = None
        self._exporter_wanted: ExporterSettings | None = None
        hub.settingsChanged.connect(self._apply_exporter)
        # The tray's provider figures come in the snapshot, read from the store: one route.
        hub.providersChanged.connect(lambda _states: self.snapshotRequested.emit())
        hub.problem.connect(self._on_problem)
        if hub.settings.error:
            hub.problem.emit(hub.settings.error)

    @property
    def settings(self) -> Settings:
        return self.signals.settings

    @property
    def last_snapshot(self) -> LiveSnapshot | None:
        return self.signals.snapshot

    def start(self) -> None:
        self.engine_thread.start()
        self.provider_thread.start()
        self.claudeUsageWanted.emit(self.settings.claude_usage_check)
        self._apply_exporter(self.settings)

    def _apply_exporter(self, settings: Settings) -> None:
        """Open, move or close the Prometheus endpoint as the settings say."""
        wanted = replace(settings.exporter) if settings.exporter.enabled else None
        if wanted == self._exporter_wanted and (wanted is None or self.exporter is not None):
            return
        self._exporter_wanted = wanted
        if self.exporter is not None:
            self.exporter.stop()
            self.exporter = None
        if wanted is None:
            self.signals.publish_exporter_state("Off.")
            return
        from tokentray.exporter import ExporterError, exposure_warning, start_exporter  # noqa: PLC0415

        try:
            self.exporter = start_exporter(
                database_path(self.data_dir),
                wanted,
                lambda: self.settings.daily_budget_usd,
                local_zone(),
                lambda: self.settings.insight.moved,
            )
        except (ExporterError, StoreError) as exc:
            self.signals.publish_exporter_state(f"Not serving: {exc}")
            self.signals.problem.emit(str(exc))
            return
        warning = exposure_warning(wanted)
        state = f"Serving {self.exporter.url}"
        self.signals.publish_exporter_state(f"{state}. {warning}" if warning else f"{state}.")
        if warning:
            self.signals.problem.emit(warning)

    def stop(self) -> None:
        # A blocking signal to a thread that is not running would never return.
        if self.engine_thread.isRunning():
            self.stopRequested.emit()
        if self.provider_thread.isRunning():
            self.stopProvidersRequested.emit()
        for thread in (self.engine_thread, self.provider_thread):
            thread.quit()
            thread.wait(30_000)
        if self.exporter is not None:
            self.exporter.stop()
            self.exporter = None
        self.notifier.stop()
        self.tray.hide()
        if self.server is not None:
            self.server.close()

    def listen(self, name: str) -> None:
        """Answer later launches: they ask this instance to show its graph window."""
        QLocalServer.removeServer(name)  # a stale socket left by a crash
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(name):
            log.warning("single-instance socket: %s", self.server.errorString())
            return
        self.server.newConnection.connect(self._on_connection)

    def _on_connection(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_message(s))

    def _on_message(self, socket: QLocalSocket) -> None:
        if not peer_is_me(int(socket.socketDescriptor())):
            log.warning("single-instance socket: a process of another user was refused")
            socket.abort()
            return
        if bytes(socket.readAll().data()).strip() == b"show":
            self.show_graphs()

    # -- from the worker ---------------------------------------------------------------

    def _on_session(self, payload: tuple[str, str, list[tuple[int, int, float]]]) -> None:
        from tokentray.ui.graph_window import SessionDialog  # noqa: PLC0415

        source, session_id, timeline = payload
        dialog = SessionDialog(source, session_id, timeline)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self._session_dialog = dialog

    def _on_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.notifier.show(alert)

    def _on_delivered(self, alert: Alert, where: str) -> None:
        self.alerts_sent.append((alert, where))

    def send_test_notification(self) -> None:
        """From Preferences → Alerts: a sample alert through the real notification path."""
        now = datetime.now().astimezone()
        rule = Rule("test", "Test notification", threshold=1.0)
        sample = Alert(rule, "warning", 0.8, 1.0, Window(now, now + timedelta(hours=1)), "test")
        sample.culprit = {"project": "this is only a test"}
        self.notifier.show(sample)

    def open_culprit(self, alert: Alert) -> None:
        """A click on a notification: the graphs, and the session that caused it."""
        self.show_graphs()
        culprit = alert.culprit
        if culprit.get("source") and culprit.get("session"):
            self.sessionRequested.emit(culprit["source"], culprit["session"])

    def _on_problem(self, message: str) -> None:
        """Said once, in the tray's balloon or the log; the app carries on."""
        if message in self.problems:
            return
        self.problems.append(message)
        log.warning("%s", message)
        if self.tray.tray is not None and self.tray.tray.supportsMessages():
            self.tray.tray.showMessage("tokentray", message)

    # -- user actions ----------------------------------------------------------------

    def show_graphs(self) -> None:
        if self.graph_window is None:
            from tokentray.ui.graph_window import GraphWindow  # noqa: PLC0415

            self.graph_window = GraphWindow(self.signals)
            self.graph_window.specChanged.connect(self.graphRequested.emit)
            self.graph_window.sessionRequested.connect(self.sessionRequested.emit)
            self.graph_window.agentAction.connect(self.request_agent_action)
            self.graph_window.welcome.tryDemo.connect(self.start_demo)
            self.graph_window.welcome.addFolder.connect(self.add_folder)
            self.graph_window.insightRequested.connect(self.insightRequested.emit)
        self.graphRequested.emit(self.graph_window.spec)
        self.reconcileRequested.emit()
        if self.graph_window.isMinimized():  # show() alone leaves a minimised window down
            self.graph_window.setWindowState(
                self.graph_window.windowState() & ~Qt.WindowState.WindowMinimized
            )
            self.graph_window.showNormal()
        self.graph_window.show()
        self.graph_window.raise_()
        self.graph_window.activateWindow()

    # -- guardrails --------------------------------------------------------------------

    def request_agent_action(self, action: str, source: str, session: str) -> None:
        """Pause and resume at once; a stop first shows which processes it would end."""
        if not source or not session:
            return
        if action == "stop":
            self.agentDescribeRequested.emit(source, session)
        else:
            self.agentActionRequested.emit(action, source, session)

    def _confirm_stop(self, agent: SessionAgent) -> None:
        if not agent.found:
            QMessageBox.information(None, "tokentray", f"Nothing to stop: {agent.problem}")
            return
        lines = "\n".join(f"• {p.describe()}" for p in agent.processes)
        answer = QMessageBox.question(
            None,
            "Stop this agent?",
            f"These processes of the {agent.source} session {agent.session_id[:8]} get "
            f"SIGTERM, then SIGKILL after 10 seconds:\n\n{lines}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.agentActionRequested.emit("stop", agent.source, agent.session_id)

    def resume_paused_agents(self) -> None:
        snapshot = self.signals.snapshot
        for agent in snapshot.paused_agents if snapshot else ():
            self.agentActionRequested.emit("resume", agent.source, agent.session_id)

    def _on_agent_acted(self, result: ActionResult) -> None:
        self.agent_actions.append(result)
        if self.tray.tray is not None and self.tray.tray.supportsMessages():
            self.tray.tray.showMessage("tokentray", result.summary())
        else:
            log.warning("%s", result.summary())

    def start_demo(self) -> None:
        """The demo runs as its own tray, on its own temporary folder: nothing here changes."""
        subprocess.Popen(
            [sys.executable, "-m", "tokentray.cli", "--demo"],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def add_folder(self) -> None:
        """Preferences on its Sources page, with the folder chooser open."""
        self.show_preferences()
        assert self.preferences is not None
        self.preferences.sections.setCurrentRow(0)
        QTimer.singleShot(0, self.preferences.sources_page.choose_folder)

    def show_preferences(self) -> None:
        from tokentray.ui.preferences import PreferencesDialog  # noqa: PLC0415

        if self.preferences is not None:
            self.preferences.close()
            self.preferences.deleteLater()
        self.preferences = PreferencesDialog(self.signals)
        self.preferences.rules_page.testNotification.connect(self.send_test_notification)
        keys = self.preferences.keys_page
        keys.saveKey.connect(self.keySaveRequested.emit)
        keys.testKey.connect(self.keyTestRequested.emit)
        self.preferences.show()
        self.preferences.raise_()

    def pause_alerts(self, how: str) -> None:
        """For an hour, or until tomorrow morning (07:00), or resume now; kept in the store
        across restarts."""
        now = datetime.now()
        if how == "resume":
            self.pauseRequested.emit(0)
            return
        if how == "1h":
            until = now + timedelta(hours=1)
        else:
            until = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
            until += timedelta(hours=7)
        self.pauseRequested.emit(int(until.timestamp() * 1000))

    def show_about(self) -> None:
        QMessageBox.about(
            None,
            "About tokentray",
            f"tokentray {__version__}\n\nSee what your AI coding agents burn, as it happens.\n"
            f"Usage store: {self.data_dir}",
        )


_SIGNAL_WAKERS: list[tuple[socket.socket, socket.socket, QSocketNotifier]] = []


def _quit_on_signals(app: QApplication) -> None:
    """SIGTERM and SIGINT end the tray cleanly (the demo's folder removed, the store
    closed). Qt's loop holds Python's signal handlers back until Python code runs: the
    signal's byte on a socket wakes the loop (no timer polling while idle)."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: app.quit())
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)

    def drain() -> None:  # the Python handler has run by now; empty the socket
        with contextlib.suppress(OSError):
            reader.recv(64)

    notifier.activated.connect(drain)
    _SIGNAL_WAKERS.append((reader, writer, notifier))  # they live as long as the app


def _set_icon(app: QApplication) -> None:
    """The application icon for windows and dialogs, from the shipped resources."""
    from PySide6.QtGui import QIcon  # noqa: PLC0415

    from tokentray.desktop.resources import icon_files  # noqa: PLC0415

    icon = QIcon()
    for folder, file in icon_files().items():
        if folder != "scalable":
            icon.addFile(str(file))
    app.setWindowIcon(icon)


def run(data_dir: str | None, config_file: Path | None, demo: bool = False) -> int:
    """``tokentray`` with no command: start the tray, or wake the one already running."""
    problem = display_problem() if QApplication.instance() is None else None
    if problem is not None:
        print(f"tokentray: {problem}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("tokentray")
    app.setDesktopFileName("tokentray")  # Wayland: the window belongs to tokentray.desktop
    app.setQuitOnLastWindowClosed(False)
    _set_icon(app)
    from tokentray.logfile import install_crash_hooks, start_file_log  # noqa: PLC0415

    log_file = start_file_log()
    problems: list[str] = []  # errors before the tray exists are said once it does
    restore_hooks = install_crash_hooks(problems.append)
    env: dict[str, str] | None = None
    agents = None
    if demo:
        from tokentray.synthetic import LiveAgents  # noqa: PLC0415

        root = Path(tempfile.mkdtemp(prefix="tokentray-demo-"))
        agents = LiveAgents(root)
        env = {**os.environ, **agents.env()}
        data_dir = str(root / "data")
        config_file = root / "config.toml"
    folder = default_data_dir(data_dir)
    name = None if demo else socket_path(folder)
    if name is not None and hand_over_to_running_instance(name):
        log.info("tokentray is already running: showing its graph window")
        return 0
    tray_app = TrayApp(folder, config_file, env=env)
    restore_hooks()
    install_crash_hooks(tray_app.signals.problem.emit)  # from any thread: queued to the GUI
    for problem in problems:
        tray_app.signals.problem.emit(problem)
    if log_file is not None:
        log.info("tokentray %s started; logging to %s", __version__, log_file)
    if name is not None:
        tray_app.listen(name)
    timer = QTimer()
    if agents is not None:
        timer.timeout.connect(agents.step)
        timer.start(1500)
        QTimer.singleShot(800, tray_app.show_graphs)
    app.aboutToQuit.connect(tray_app.stop)
    _quit_on_signals(app)
    if demo:  # the demo's logs and store go with it
        app.aboutToQuit.connect(lambda: shutil.rmtree(folder.parent, ignore_errors=True))
    tray_app.start()
    return int(app.exec())
