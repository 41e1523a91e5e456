"""A private D-Bus session bus with a stand-in notification daemon, for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from typing import Any

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    message_bus,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class NotificationDaemon:
    """Owns org.freedesktop.Notifications on a private bus; answers Notify with ids 42, 43…"""

    def __init__(self) -> None:
        if shutil.which("dbus-daemon") is None:
            raise RuntimeError("dbus-daemon is not installed")
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.bus.stdout is not None
        self.address = self.bus.stdout.readline().strip()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.senders: dict[int, str] = {}  # notification id -> the connection that asked
        self.next_id = 42
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.previous = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.address
        self.connection = open_dbus_connection(bus="SESSION")
        self.connection.send_and_get_reply(message_bus.RequestName(NAME), timeout=5)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.connection.receive(timeout=0.2)
            except TimeoutError:
                continue
            if message.header.message_type != MessageType.method_call:
                continue
            member = message.header.fields.get(HeaderFields.member)
            signature = message.header.fields.get(HeaderFields.signature, "")
            self.calls.append((str(signature), message.body))
            if member == "Notify":
                reply = new_method_return(message, "u", (self.next_id,))
                self.senders[self.next_id] = str(message.header.fields[HeaderFields.sender])
                self.next_id += 1
            else:
                reply = new_method_return(message)
            self.connection.send(reply)

    def click(self, notification_id: int, action: str = "default") -> None:
        """What the desktop sends when the notification (or one of its buttons) is clicked:
        like dunst, only to the connection that sent it (a closed one never hears it)."""
        address = DBusAddress(PATH, interface=NAME)
        signal = new_signal(address, "ActionInvoked", "us", (notification_id, action))
        sender = self.senders.get(notification_id)
        if sender is None:
            return
        signal.header.fields[HeaderFields.destination] = sender
        self.connection.send(signal)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.connection.close()
        self.bus.terminate()
        self.bus.wait(5)
        if self.previous is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.previous
