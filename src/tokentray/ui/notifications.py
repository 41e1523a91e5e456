"""Desktop notifications for alerts: freedesktop D-Bus first (clickable), else the tray's
balloon, else the log. Clicking one opens the graph window on the culprit."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from tokentray.alerts.engine import Alert
from tokentray.alerts.notify import desktop_notify
from tokentray.ui.tray import TrayController

log = logging.getLogger(__name__)


class Notifier(QObject):
    activated = Signal(object)  # the Alert a person clicked
    _invoked = Signal(int)  # from the D-Bus listener thread; delivered on the GUI thread

    def __init__(self, tray: TrayController) -> None:
        super().__init__()
        self.tray = tray
        self._by_id: dict[int, Alert] = {}
        self._last_balloon: Alert | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._invoked.connect(self._on_invoked)
        if tray.tray is not None:
            tray.tray.messageClicked.connect(self._on_balloon_clicked)

    def show(self, alert: Alert) -> str:
        """Where the alert went: "desktop", "balloon" or "log"."""
        notification_id = desktop_notify(alert)
        if notification_id is not None:
            self._by_id[notification_id] = alert
            self._listen()
            return "desktop"
        tray = self.tray.tray
        if tray is not None and QSystemTrayIcon.isSystemTrayAvailable():
            icon = (
                QSystemTrayIcon.MessageIcon.Critical
                if alert.level == "critical"
                else QSystemTrayIcon.MessageIcon.Information
            )
            tray.showMessage(alert.title, alert.message(), icon, 15_000)
            self._last_balloon = alert
            return "balloon"
        log.warning("%s\n%s", alert.title, alert.message())
        return "log"

    def stop(self) -> None:
        self._stop.set()

    def _on_balloon_clicked(self) -> None:
        if self._last_balloon is not None:
            self.activated.emit(self._last_balloon)

    def _on_invoked(self, notification_id: int) -> None:
        alert = self._by_id.get(notification_id)
        if alert is not None:
            self.activated.emit(alert)

    def _listen(self) -> None:
        """Wait for ActionInvoked signals on the session bus, on a daemon thread."""
        if self._listener is not None:
            return
        self._listener = threading.Thread(target=self._receive, name="tokentray-dbus", daemon=True)
        self._listener.start()

    def _receive(self) -> None:
        try:
            from jeepney import MatchRule, message_bus  # noqa: PLC0415
            from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415

            rule = MatchRule(
                type="signal",
                interface="org.freedesktop.Notifications",
                member="ActionInvoked",
                path="/org/freedesktop/Notifications",
            )
            with open_dbus_connection(bus="SESSION") as connection:
                connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=3)
                with connection.filter(rule) as queue:
                    while not self._stop.is_set():
                        try:
                            message = connection.recv_until_filtered(queue, timeout=1)
                        except TimeoutError:
                            continue
                        if message.body:
                            self._invoked.emit(int(message.body[0]))
        except Exception as exc:  # clicks are a convenience: never take the app down
            log.info("notification clicks unavailable: %s", exc)
