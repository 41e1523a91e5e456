"""Desktop notifications for alerts: freedesktop D-Bus first (clickable), else the tray's
balloon, else the log. Clicking one opens the graph window on the culprit.

The D-Bus work (sending, and hearing clicks) runs on the engine-side
``DesktopNotifications`` thread; this object only moves its answers to the GUI
thread and falls back where the desktop has no notification service."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from tokentray.alerts.engine import Alert
from tokentray.alerts.notify import DesktopNotifications
from tokentray.ui.tray import TrayController

log = logging.getLogger(__name__)

BALLOON_MS = 15_000


class Notifier(QObject):
    activated = Signal(object)  # the Alert a person clicked
    delivered = Signal(object, str)  # the Alert, and where it went: desktop, balloon or log
    _sent = Signal(object, object)  # from the D-Bus thread: Alert, notification id or None
    _invoked = Signal(int, str)  # from the D-Bus thread: the notification and its button
    agentAction = Signal(object, str)  # the Alert, and "pause", "stop" or "resume"

    def __init__(self, tray: TrayController) -> None:
        super().__init__()
        self.tray = tray
        self._by_id: dict[int, Alert] = {}
        self._last_balloon: Alert | None = None
        self._sent.connect(self._on_sent)
        self._invoked.connect(self._on_invoked)
        self._desktop = DesktopNotifications(self._sent.emit, self._invoked.emit)
        if tray.tray is not None:
            tray.tray.messageClicked.connect(self._on_balloon_clicked)

    def show(self, alert: Alert) -> None:
        """Send without waiting; ``delivered`` says where the alert went."""
        self._desktop.send(alert)

    def stop(self) -> None:
        self._desktop.stop()

    def _on_sent(self, alert: Alert, notification_id: int | None) -> None:
        if notification_id is not None:
            self._by_id[notification_id] = alert
            self.delivered.emit(alert, "desktop")
            return
        tray = self.tray.tray
        if tray is not None and QSystemTrayIcon.isSystemTrayAvailable():
            icon = (
                QSystemTrayIcon.MessageIcon.Critical
                if alert.level == "critical"
                else QSystemTrayIcon.MessageIcon.Information
            )
            tray.showMessage(alert.title, alert.message(), icon, BALLOON_MS)
            self._last_balloon = alert
            self.delivered.emit(alert, "balloon")
            return
        log.warning("%s\n%s", alert.title, alert.message())
        self.delivered.emit(alert, "log")

    def _on_balloon_clicked(self) -> None:
        if self._last_balloon is not None:
            self.activated.emit(self._last_balloon)

    def _on_invoked(self, notification_id: int, key: str) -> None:
        alert = self._by_id.get(notification_id)
        if alert is None:
            return
        if key in ("pause", "stop", "resume"):
            self.agentAction.emit(alert, key)
        else:
            self.activated.emit(alert)
