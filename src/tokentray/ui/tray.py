"""The tray icon, its tooltip and menu; a small summary window where there is no tray."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from tokentray.dashboard.live import LiveSnapshot
from tokentray.events import ProviderState
from tokentray.numbers import compact
from tokentray.paths import folder_name
from tokentray.providers import provider_by_name
from tokentray.system_check import GNOME_EXTENSION
from tokentray.ui.icon import icon_state, icon_text, make_icon, render
from tokentray.ui.signals import AppSignals

log = logging.getLogger(__name__)

NO_TRAY_HELP = (
    "No system tray was found, so tokentray shows a small summary window instead. "
    f"{GNOME_EXTENSION} to get the tray icon."
)


def money(usd: float) -> str:
    return f"${usd:,.2f}" if usd < 1000 else f"${usd:,.0f}"


def tooltip(snap: LiveSnapshot, paused_until: datetime | None = None) -> str:
    """Six short lines at most; on Windows, whose tray cuts tooltips at 127 characters,
    only the first two."""
    budget = ""
    if snap.daily_budget_usd:
        budget = (
            f" · {snap.today_cost_usd / snap.daily_budget_usd:.0%} of ${snap.daily_budget_usd:g}"
        )
    billed = [p for p in snap.providers if p.status != "no key"]
    billed_line = "Billed: " + " · ".join(_provider_note(p) for p in billed) if billed else ""
    if snap.last_event_ms is None and not snap.today_tokens and not snap.stale:
        first_run = [
            "tokentray: no agent usage yet",
            "Click to see where it looked and how to start",
        ]
        if snap.nearest_plan is not None:
            first_run.append(f"Plan: {snap.nearest_plan.summary()}")
        if snap.paused_agents:
            first_run.append(paused_line(snap))
        return "\n".join([*first_run, *([billed_line] if billed_line else [])])
    lines = [f"Today {money(snap.today_cost_usd)} · {compact(snap.today_tokens)} tokens{budget}"]
    if snap.billed_today_usd is not None:
        lines[0] += f" (billed {money(snap.billed_today_usd)})"
    lines.append(
        f"Now {money(snap.burn_usd_per_hour)}/h · {compact(snap.burn_tokens_per_minute)} tok/min"
        f" · {snap.active_sessions} active"
    )
    if snap.badge is not None:  # the tier, always beside what the day's spend bought
        lines.append(snap.badge.text())
    plan = snap.nearest_plan
    if plan is not None:
        lines.append(f"Plan: {plan.summary()}")
    if snap.paused_agents:
        lines.append(paused_line(snap))
    if (snap.top_project or snap.top_model) and len(lines) < 4:
        project = folder_name(snap.top_project)
        lines.append(f"Top: {project} · {snap.top_model}")
    notes = []
    if snap.estimated_requests:
        notes.append("~ partly estimated")
    if snap.reported_requests:
        notes.append("~ partly the agents' own cost figures")
    if snap.unpriced_models:
        notes.append(f"unpriced: {', '.join(snap.unpriced_models[:2])}")
    if not snap.sources_found:
        notes.append("no agent logs found")
    elif snap.stale:
        notes.append("not updating")
    if paused_until is not None:
        notes.append(f"alerts paused until {paused_until:%H:%M}")
    if billed_line:
        lines.append(billed_line)
    updated = datetime.fromtimestamp(snap.now_ms / 1000).strftime("%H:%M:%S")
    lines.append(f"Updated {updated}" + (f" · {'; '.join(notes)}" if notes else ""))
    if sys.platform == "win32":
        lines = lines[:2]
    return "\n".join(lines)


def paused_line(snap: LiveSnapshot) -> str:
    """``Paused: Claude Code 5f0c2a9e (Resume in the menu)``."""
    from tokentray.sources import display_name  # noqa: PLC0415

    names = [f"{display_name(a.source)} {a.session_id[:8]}" for a in snap.paused_agents[:2]]
    more = f" and {len(snap.paused_agents) - 2} more" if len(snap.paused_agents) > 2 else ""
    return f"Paused: {', '.join(names)}{more} (Resume in the menu)"


def _provider_note(state: ProviderState) -> str:
    name = provider_by_name(state.provider).display_name
    if state.status == "ok" and state.last_ok_ms:
        return f"{name} ok {datetime.fromtimestamp(state.last_ok_ms / 1000):%H:%M}"
    return f"{name} {state.shown_status}"


class SummaryWindow(QWidget):
    """Stands in for the tray icon on desktops without one: small and always on top."""

    def __init__(self, menu: QMenu) -> None:
        super().__init__(None, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("tokentray")
        self.badge = QLabel()
        self.text = QLabel("Reading agent logs…")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        more = QPushButton("Menu")
        more.setMenu(menu)
        top = QHBoxLayout()
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(more, 0, Qt.AlignmentFlag.AlignRight)

    def show_snapshot(self, snap: LiveSnapshot, mode: str, text: str) -> None:
        self.badge.setPixmap(
            render(
                icon_text(snap, mode),
                icon_state(snap, mode),
                40,
                mode == "burn",
                paused=bool(snap.paused_agents),
            )
        )
        self.text.setText(text)
        self.adjustSize()


class TrayController(QObject):
    """Shows the hub's snapshot, pause state and icon mode as they change; menu actions
    are signals the application connects."""

    openGraphs = Signal()
    openPreferences = Signal()
    refreshNow = Signal()
    pauseAlerts = Signal(str)  # "1h", "tomorrow" or "resume"
    showAbout = Signal()
    quitRequested = Signal()
    resumeAgents = Signal()  # every agent a guardrail paused

    def __init__(self, signals: AppSignals, data_dir: Path) -> None:
        super().__init__()
        self.signals = signals
        self.data_dir = data_dir
        self.menu = self._build_menu()
        self.tray: QSystemTrayIcon | None = None
        self.window: SummaryWindow | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(QIcon(render("…", "stale", 32)))
            self.tray.setContextMenu(self.menu)
            self.tray.setToolTip("tokentray: reading agent logs…")
            self.tray.activated.connect(self._activated)
            self.tray.show()
        else:
            log.warning("%s", NO_TRAY_HELP)
            self.window = SummaryWindow(self.menu)
            self.window.text.setText(NO_TRAY_HELP)
            self.window.text.setWordWrap(True)
            self.window.show()
        signals.snapshotChanged.connect(self.show_snapshot)
        signals.pausedChanged.connect(self._redraw)
        signals.settingsChanged.connect(self._redraw)

    @property
    def paused_until(self) -> datetime | None:
        return self.signals.paused_until

    @property
    def icon_mode(self) -> str:
        return self.signals.settings.icon_shows

    def _build_menu(self) -> QMenu:
        menu = QMenu()
        self.actions: dict[str, QAction] = {}

        def add(key: str, text: str, handler: object) -> None:
            action = menu.addAction(text)
            action.triggered.connect(handler)
            self.actions[key] = action

        add("graphs", "Open graphs", self.openGraphs.emit)
        self.pause_menu = pause = menu.addMenu("Pause alerts")
        for key, text in (("1h", "For 1 hour"), ("tomorrow", "Until tomorrow morning")):
            action = pause.addAction(text)
            action.triggered.connect(lambda _=False, k=key: self.pauseAlerts.emit(k))
            self.actions[f"pause-{key}"] = action
        add("resume", "Resume alerts", lambda: self.pauseAlerts.emit("resume"))
        self.actions["resume"].setVisible(False)
        add("resume-agents", "Resume paused agents", self.resumeAgents.emit)
        self.actions["resume-agents"].setVisible(False)
        add("refresh", "Refresh now", self.refreshNow.emit)
        menu.addSeparator()
        add("preferences", "Preferences…", self.openPreferences.emit)
        add("data", "Open data folder", self._open_data_folder)
        add("about", "About tokentray", self.showAbout.emit)
        menu.addSeparator()
        add("quit", "Quit", self.quitRequested.emit)
        return menu

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.openGraphs.emit()

    def _open_data_folder(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.data_dir)))

    def show_snapshot(self, snap: LiveSnapshot) -> None:
        text = tooltip(snap, self.paused_until)
        paused = len(snap.paused_agents)
        self.actions["resume-agents"].setVisible(bool(paused))
        self.actions["resume-agents"].setText(
            "Resume paused agent" if paused == 1 else f"Resume {paused} paused agents"
        )
        if self.tray is not None:
            self.tray.setIcon(make_icon(snap, self.icon_mode))
            self.tray.setToolTip(text)
        if self.window is not None:
            self.window.text.setWordWrap(False)
            self.window.show_snapshot(snap, self.icon_mode, text)

    def _redraw(self, _changed: object = None) -> None:
        paused = self.paused_until
        self.pause_menu.setTitle(
            "Pause alerts" if paused is None else f"Alerts paused until {paused:%a %H:%M}"
        )
        self.actions["resume"].setVisible(paused is not None)
        if self.signals.snapshot is not None:
            self.show_snapshot(self.signals.snapshot)

    def hide(self) -> None:
        if self.tray is not None:
            self.tray.hide()
        if self.window is not None:
            self.window.close()
