"""One signal hub for the application's state, on the GUI thread.

The workers publish here; the tray, the graph window and the preferences dialog
subscribe themselves, and read the latest value when they are created (a window
opened late starts from what is known, not from nothing). Nothing else caches app
state or pushes it into widgets by hand.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QObject, Signal

from tokentray.claude_usage import UsageState
from tokentray.dashboard.graph import GraphData
from tokentray.dashboard.live import LiveSnapshot
from tokentray.engine import FolderStatus
from tokentray.events import ProviderState
from tokentray.reconcile import ReconcileRow
from tokentray.settings import Settings


class AppSignals(QObject):
    """The latest snapshot, provider states, pause state, settings, folders and the
    billed-vs-local rows; each change is announced by its signal."""

    snapshotChanged = Signal(object)  # LiveSnapshot
    graphChanged = Signal(object)  # GraphData
    providersChanged = Signal(object)  # list[ProviderState]
    providerKeysChanged = Signal(object)  # dict[str, str]: provider -> where its key is
    keyringChanged = Signal(str)  # why keys cannot be stored here ("" when they can)
    keyTested = Signal(str, object)  # provider, ProviderState
    pausedChanged = Signal(object)  # datetime | None: alerts paused until then
    settingsChanged = Signal(object)  # Settings
    foldersChanged = Signal(object)  # list[FolderStatus]
    reconcileChanged = Signal(object)  # list[ReconcileRow]
    claudeUsageChanged = Signal(object)  # claude_usage.UsageState
    agentActed = Signal(object)  # agents.ActionResult of a pause, resume or stop
    insightChanged = Signal(object)  # dict: the Insight tab's figures
    exporterChanged = Signal(str)  # the Prometheus endpoint's state, a sentence
    problem = Signal(str)  # a sentence for the user

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.snapshot: LiveSnapshot | None = None
        self.graph: GraphData | None = None
        self.providers: list[ProviderState] = []
        self.provider_keys: dict[str, str] = {}
        self.keyring_problem = ""
        self.paused_until: datetime | None = None
        self.folders: list[FolderStatus] = []
        self.reconcile: list[ReconcileRow] = []
        self.claude_usage: UsageState | None = None
        self.exporter_state = ""

    def publish_snapshot(self, snapshot: LiveSnapshot) -> None:
        self.snapshot = snapshot
        self.snapshotChanged.emit(snapshot)

    def publish_graph(self, data: GraphData) -> None:
        self.graph = data
        self.graphChanged.emit(data)

    def publish_exporter_state(self, state: str) -> None:
        self.exporter_state = state
        self.exporterChanged.emit(state)

    def publish_providers(self, states: list[ProviderState]) -> None:
        self.providers = states
        self.providersChanged.emit(states)

    def publish_provider_keys(self, where: dict[str, str]) -> None:
        self.provider_keys = where
        self.providerKeysChanged.emit(where)

    def publish_keyring_problem(self, problem: str) -> None:
        self.keyring_problem = problem
        self.keyringChanged.emit(problem)

    def publish_paused_until(self, until_ms: int) -> None:
        """From the store's figure (0: not paused); a time already past is not paused."""
        now_ms = datetime.now().timestamp() * 1000
        self.paused_until = datetime.fromtimestamp(until_ms / 1000) if until_ms > now_ms else None
        self.pausedChanged.emit(self.paused_until)

    def publish_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.settingsChanged.emit(settings)

    def publish_folders(self, folders: list[FolderStatus]) -> None:
        self.folders = folders
        self.foldersChanged.emit(folders)

    def publish_reconcile(self, rows: list[ReconcileRow]) -> None:
        self.reconcile = rows
        self.reconcileChanged.emit(rows)

    def publish_claude_usage(self, state: UsageState) -> None:
        self.claude_usage = state
        self.claudeUsageChanged.emit(state)
