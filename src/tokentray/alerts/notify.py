"""Where alerts go: the desktop (freedesktop notifications over D-Bus), a webhook, the log.

jeepney sends ``Notify`` with its exact signature (PySide6's QtDBus sends wrong
argument types for it). The GUI adds the tray balloon as a fallback.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from tokentray.alerts.engine import Alert

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_ATTEMPTS = 3


NOTIFICATIONS = ("/org/freedesktop/Notifications", "org.freedesktop.Notifications")
EXPIRE_AS_USUAL = -1  # the notification server's own timeout
NEVER_EXPIRE = 0


def expiry_ms(alert: Alert) -> int:
    """Critical alerts stay until dismissed; warnings and digests expire as usual."""
    return NEVER_EXPIRE if alert.level == "critical" else EXPIRE_AS_USUAL


def notification_actions(alert: Alert) -> list[str]:
    """(key, label) pairs, flattened as the spec wants: the default click opens the graphs;
    an alert that names a session offers to pause or stop its agent, or, once paused, to
    resume it."""
    actions = ["default", "Open graphs"]
    if not alert.culprit.get("session") or alert.level == "digest":
        return actions
    if alert.details.get("action") == "pause":
        return [*actions, "resume", "Resume agent"]
    if alert.details.get("action") == "stop":
        return actions
    return [*actions, "pause", "Pause agent", "stop", "Stop agent"]


def notify_message(alert: Alert, timeout_ms: int | None = None) -> Any:
    """The ``Notify`` call for ``alert``, with the exact signature the spec asks for."""
    from jeepney import DBusAddress, new_method_call  # noqa: PLC0415

    path, name = NOTIFICATIONS
    address = DBusAddress(path, bus_name=name, interface=name)
    urgency = 2 if alert.level == "critical" else 1
    return new_method_call(
        address,
        "Notify",
        "susssasa{sv}i",
        (
            "tokentray",
            0,
            "dialog-warning" if alert.level != "digest" else "dialog-information",
            alert.title,
            alert.message(),
            notification_actions(alert),
            {"urgency": ("y", urgency), "category": ("s", "tokentray.alert")},
            expiry_ms(alert) if timeout_ms is None else timeout_ms,
        ),
    )


def desktop_notify(alert: Alert, timeout_ms: int | None = None) -> int | None:
    """One notification on a short-lived connection (``tokentray watch --desktop``, where
    nobody listens for clicks); its id, or None if unavailable."""
    try:
        from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415
    except ImportError:
        return None
    try:
        with open_dbus_connection(bus="SESSION") as connection:
            reply = connection.send_and_get_reply(notify_message(alert, timeout_ms), timeout=3)
    except Exception as exc:  # no session bus, no notification daemon: fall back
        log.info("desktop notifications unavailable: %s", exc)
        return None
    return _notification_id(reply.body)


def _notification_id(body: Any) -> int | None:
    return int(body[0]) if body and isinstance(body[0], int) else None


class DesktopNotifications:
    """Notifications that can be clicked: one long-lived session-bus connection, on its own
    thread, sends every ``Notify`` and hears the ``ActionInvoked`` answers. Notification
    servers such as dunst send that signal only to the connection that asked, so a
    connection closed after sending would never hear a click.

    ``on_sent(alert, id or None)`` and ``on_click(id, action key)`` are called on that
    thread; nothing
    here blocks the caller of ``send``.
    """

    def __init__(
        self,
        on_sent: Callable[[Alert, int | None], None],
        on_click: Callable[[int, str], None],
    ) -> None:
        self._on_sent = on_sent
        self._on_click = on_click
        self._outbox: queue.Queue[Alert] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, alert: Alert) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="tokentray-notifications", daemon=True
            )
            self._thread.start()
        self._outbox.put(alert)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._serve()
            except Exception as exc:  # no bus or no server: each alert falls back
                log.info("desktop notifications unavailable: %s", exc)
                self._fail_waiting()

    def _fail_waiting(self) -> None:
        """Hand back what waits (the caller falls back), then wait for the next alert."""
        while not self._stop.is_set():
            try:
                alert = self._outbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self._on_sent(alert, None)
            return

    def _serve(self) -> None:
        from jeepney import MatchRule, message_bus  # noqa: PLC0415
        from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415

        path, name = NOTIFICATIONS
        rule = MatchRule(type="signal", interface=name, member="ActionInvoked", path=path)
        with open_dbus_connection(bus="SESSION") as connection:
            connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=3)
            with connection.filter(rule) as clicks:
                while not self._stop.is_set():
                    self._send_waiting(connection)
                    try:
                        message = connection.recv_until_filtered(clicks, timeout=0.2)
                    except TimeoutError:
                        continue
                    if message.body:
                        key = str(message.body[1]) if len(message.body) > 1 else "default"
                        self._on_click(int(message.body[0]), key)

    def _send_waiting(self, connection: Any) -> None:
        while True:
            try:
                alert = self._outbox.get_nowait()
            except queue.Empty:
                return
            try:
                reply = connection.send_and_get_reply(notify_message(alert), timeout=3)
            except Exception:
                self._outbox.put(alert)  # sent again on a new connection, or handed back
                raise
            self._on_sent(alert, _notification_id(reply.body))


def post_webhook(
    url: str,
    alert: Alert,
    attempts: int = WEBHOOK_ATTEMPTS,
    timeout: float = WEBHOOK_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST the alert as JSON (Slack-compatible ``text``), retrying.

    False when it never got through."""
    payload = {"text": f"{alert.title}\n{alert.message()}", "alert": alert.as_dict()}
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
            if response.status_code < 400:
                return True
            log.warning("webhook answered %s (attempt %d)", response.status_code, attempt)
            if 400 <= response.status_code < 500 and response.status_code != 429:
                return False  # the request itself is refused: retrying will not help
        except httpx.HTTPError as exc:
            log.warning("webhook failed (attempt %d): %s", attempt, type(exc).__name__)
        if attempt < attempts:
            sleep(2 ** (attempt - 1))
    return False
