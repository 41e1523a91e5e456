"""Provider polling on its own thread: HTTP waits never hold up ingest or the GUI.

Every minute it asks the poller which providers are due (the poller keeps each
provider's own schedule and back-off); keys are read, stored and tested here
too, since a keyring call can block on D-Bus.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from tokentray.claude_usage import ClaudeUsagePoller
from tokentray.events import ProviderState
from tokentray.providers import ALL_PROVIDERS, provider_by_name
from tokentray.providers.http import ProviderError
from tokentray.providers.keys import NO_KEYRING_HELP, KeyStore
from tokentray.providers.poll import ProviderPoller
from tokentray.reconcile import ReconcileRow, reconcile
from tokentray.store import Store

log = logging.getLogger(__name__)

POLL_TICK_MS = 60_000


class ProviderWorker(QObject):
    statesReady = Signal(object)  # list[ProviderState]
    keysReady = Signal(object)  # dict[str, str]: provider -> where its key is ("" = none)
    keyringProblem = Signal(str)  # why keys cannot be stored here ("" when they can)
    testDone = Signal(str, object)  # provider, ProviderState
    claudeUsageReady = Signal(object)  # claude_usage.UsageState
    plansChanged = Signal()  # new plan window figures are in the store
    reconcileReady = Signal(object)  # list[ReconcileRow]
    problem = Signal(str)

    def __init__(self, database: Path, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._database = database
        self._env = dict(os.environ if env is None else env)
        self._store: Store | None = None
        self._poller: ProviderPoller | None = None
        self._timer: QTimer | None = None
        self._reconciled: tuple[int, list[ProviderState]] | None = None
        self._claude_usage: ClaudeUsagePoller | None = None
        self._claude_usage_wanted = False
        self._store_failed = False

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_TICK_MS)
        self._timer.timeout.connect(self.poll_due)
        self._timer.start()
        self.poll_due()
        self.report_keys()

    def _open_store(self) -> ProviderPoller | None:
        """The poller on the store: opened at the first poll, and at the next one after a
        failure (at start the engine thread may be repairing the store, which this second
        connection must not do). None once stopped."""
        if self._timer is None or not self._timer.isActive():
            return None
        if self._poller is not None:
            return self._poller
        try:
            self._store = Store(self._database, integrity="never", recover=False)
        except Exception as exc:  # the tray stays up; the message says why, once
            log.exception("provider store")
            if not self._store_failed:
                self.problem.emit(f"Provider usage cannot be stored: {exc}")
            self._store_failed = True
            return None
        self._store_failed = False
        bases = {
            cls.name: self._env[f"TOKENTRAY_{cls.name.upper()}_BASE_URL"]
            for cls in ALL_PROVIDERS
            if self._env.get(f"TOKENTRAY_{cls.name.upper()}_BASE_URL")
        }
        providers = [cls() for cls in ALL_PROVIDERS]
        self._poller = ProviderPoller(self._store, providers, KeyStore(self._env), bases)
        return self._poller

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._store is not None:
            self._store.close()
            self._store = None
        application = QCoreApplication.instance()
        if application is not None:
            self.moveToThread(application.thread())

    @Slot(bool)
    def set_claude_usage(self, enabled: bool) -> None:
        """Preferences → Plans: check Claude's usage endpoint (opt-in), at once when turned
        on."""
        turned_on = enabled and not self._claude_usage_wanted
        self._claude_usage_wanted = enabled
        if turned_on:
            self._poll_claude_usage(force=True)

    def _poll_claude_usage(self, force: bool = False) -> None:
        if not self._claude_usage_wanted or self._store is None:
            return
        if self._claude_usage is None:
            self._claude_usage = ClaudeUsagePoller(self._store, self._env)
        try:
            before = self._claude_usage.state().last_ok_ms
            state = self._claude_usage.poll_due(force=force)
        except Exception as exc:
            log.exception("Claude usage check failed")
            self.problem.emit(f"Checking Claude's plan usage failed: {exc}")
            return
        self.claudeUsageReady.emit(state)
        if state.last_ok_ms != before:
            self.plansChanged.emit()

    @Slot()
    def poll_due(self) -> None:
        poller = self._open_store()
        if poller is None or self._store is None:
            return
        try:  # the file may have been repaired by the engine thread or another process
            self._store.reopen_if_replaced(repair=False)
        except Exception as exc:
            log.exception("provider store")
            self.problem.emit(f"Provider usage cannot be stored: {exc}")
            return
        self._poll_claude_usage()
        try:
            states = poller.poll_due()
        except Exception as exc:
            log.exception("provider polling failed")
            self.problem.emit(f"Fetching provider usage failed: {exc}")
            return
        self.statesReady.emit(states)
        # Billed beside local changes when a poll brought figures or the engine stored
        # usage; an idle minute recomputes nothing.
        seen = (self._store.data_version() if self._store else 0, states)
        if seen != self._reconciled:
            self._reconciled = seen
            self._emit_reconcile()

    def _emit_reconcile(self) -> None:
        if self._store is not None:
            rows: list[ReconcileRow] = reconcile(self._store)
            self.reconcileReady.emit(rows)

    @Slot()
    def refresh_reconcile(self) -> None:
        self._emit_reconcile()

    @Slot()
    def report_keys(self) -> None:
        keys = KeyStore(self._env)
        where: dict[str, str] = {}
        failed: list[str] = []
        for cls in ALL_PROVIDERS:
            try:
                where[cls.name] = keys.get(cls())[1]
            except ProviderError:
                where[cls.name] = ""
                failed.append(cls.env_var)
        # Said where keys are wanted (Preferences → Provider keys), naming every variable
        # that can stand in for the keyring; not a balloon at every launch.
        self.keyringProblem.emit(NO_KEYRING_HELP.format(env=", ".join(failed)) if failed else "")
        self.keysReady.emit(where)

    @Slot(str, str)
    def set_key(self, name: str, key: str) -> None:
        """Store (or, with an empty key, remove) a key, then test it at once."""
        provider = provider_by_name(name)
        keys = KeyStore(self._env)
        try:
            if key:
                keys.set(provider, key)
            else:
                keys.delete(provider)
        except ProviderError as exc:
            self.testDone.emit(name, ProviderState(name, "error", exc.message))
            return
        self.report_keys()
        self.test(name)  # a removed key shows "no key" at once

    @Slot(str)
    def test(self, name: str) -> None:
        if self._poller is None:
            return
        state = self._poller.poll(provider_by_name(name), force=True)
        self.testDone.emit(name, state)
        self.statesReady.emit([self._poller.state(cls.name) for cls in ALL_PROVIDERS])
        self._emit_reconcile()
