"""Where alerts go: the desktop (freedesktop notifications over D-Bus), a webhook, the log.

jeepney sends ``Notify`` with its exact signature (PySide6's QtDBus sends wrong
argument types for it). The GUI adds the tray balloon as a fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from tokentray.alerts.engine import Alert

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_ATTEMPTS = 3


def desktop_notify(alert: Alert, timeout_ms: int = 0) -> int | None:
    """Show ``alert`` through org.freedesktop.Notifications; its id, or None if unavailable."""
    try:
        from jeepney import DBusAddress, new_method_call  # noqa: PLC0415
        from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415
    except ImportError:
        return None
    address = DBusAddress(
        "/org/freedesktop/Notifications",
        bus_name="org.freedesktop.Notifications",
        interface="org.freedesktop.Notifications",
    )
    urgency = 2 if alert.level == "critical" else 1
    message = new_method_call(
        address,
        "Notify",
        "susssasa{sv}i",
        (
            "tokentray",
            0,
            "dialog-warning" if alert.level != "digest" else "dialog-information",
            alert.title,
            alert.message(),
            ["default", "Open graphs"],
            {"urgency": ("y", urgency), "category": ("s", "tokentray.alert")},
            timeout_ms,
        ),
    )
    try:
        with open_dbus_connection(bus="SESSION") as connection:
            reply = connection.send_and_get_reply(message, timeout=3)
    except Exception as exc:  # no session bus, no notification daemon: fall back
        log.info("desktop notifications unavailable: %s", exc)
        return None
    body = reply.body
    return int(body[0]) if body and isinstance(body[0], int) else None


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
