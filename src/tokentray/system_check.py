"""`tokentray doctor`'s first screen: what works on this desktop and what does not, each
problem with its fix. No Qt: the tray's and notifications' hosts are asked on the D-Bus
session bus (jeepney), the X11 tray through Xlib's selection owner, the keyring through
keyring's own backend choice (on a thread, so a hung secret service cannot stall it)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tokentray import __version__

Status = Literal["ok", "problem", "info"]

GNOME_EXTENSION = (
    "On GNOME, install the 'AppIndicator and KStatusNotifierItem Support' extension "
    "(package gnome-shell-extension-appindicator) and log in again"
)
GNOME_TRAY_FIX = (
    f"{GNOME_EXTENSION}; on other desktops, add a system tray (notification area) to the "
    "panel. Without one tokentray shows a small summary window instead."
)
NOTIFICATIONS_FIX = (
    "Run a notification service: every desktop has one; on a bare window manager start "
    "dunst or mako. Until then alerts appear as tray balloons or in the summary window."
)
KEYRING_FIX = (
    "Install and unlock a keyring (GNOME Keyring, KWallet, or the Secret Service of your "
    "password manager), or give keys as environment variables "
    "(TOKENTRAY_ANTHROPIC_ADMIN_KEY, TOKENTRAY_OPENAI_ADMIN_KEY, TOKENTRAY_OPENROUTER_KEY)."
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def session_bus_names(names: tuple[str, ...], timeout_s: float = 2.0) -> dict[str, bool] | str:
    """Which of ``names`` have an owner on the session bus; why not, when it cannot be asked."""
    try:
        from jeepney import DBus  # noqa: PLC0415
        from jeepney.io.blocking import open_dbus_connection  # noqa: PLC0415
    except ImportError:
        return "jeepney is not installed"
    try:
        with open_dbus_connection(bus="SESSION") as connection:
            bus = DBus()
            found = {}
            for name in names:
                reply = connection.send_and_get_reply(bus.NameHasOwner(name), timeout=timeout_s)
                found[name] = bool(reply.body[0])
            return found
    except (OSError, KeyError, ValueError, TimeoutError) as exc:
        return f"no session bus ({exc.__class__.__name__}: {exc})"


def x11_tray_owner(display: str) -> bool | None:
    """Whether an X11 system tray (XEmbed, ``_NET_SYSTEM_TRAY_S<screen>``) is running;
    None when Xlib is not there to ask."""
    library = ctypes.util.find_library("X11")
    if not library or not display:
        return None
    try:
        xlib = ctypes.cdll.LoadLibrary(library)
    except OSError:
        return None
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XGetSelectionOwner.restype = ctypes.c_ulong
    xlib.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    xlib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = xlib.XOpenDisplay(display.encode())
    if not handle:
        return None
    try:
        screen = xlib.XDefaultScreen(handle)
        atom = xlib.XInternAtom(handle, f"_NET_SYSTEM_TRAY_S{screen}".encode(), 0)
        return bool(xlib.XGetSelectionOwner(handle, atom))
    finally:
        xlib.XCloseDisplay(handle)


def _on_linux(env: Mapping[str, str]) -> list[Check]:
    from tokentray.ui.display import display_problem  # noqa: PLC0415 - no Qt in it

    checks = []
    problem = display_problem(env)
    display = env.get("WAYLAND_DISPLAY") and f"Wayland ({env['WAYLAND_DISPLAY']})"
    display = display or (env.get("DISPLAY") and f"X11 ({env['DISPLAY']})") or ""
    if problem:
        checks.append(Check("Display", "problem", problem.split(". ")[0], problem))
    else:
        checks.append(Check("Display", "ok", display or "set by QT_QPA_PLATFORM"))
    watcher, notifications = "org.kde.StatusNotifierWatcher", "org.freedesktop.Notifications"
    names = session_bus_names((watcher, notifications))
    if isinstance(names, str):
        checks.append(Check("System tray", "problem", names, GNOME_TRAY_FIX))
        checks.append(Check("Notifications", "problem", names, NOTIFICATIONS_FIX))
        return checks
    xembed = x11_tray_owner(env.get("DISPLAY", "")) if not names[watcher] else None
    if names[watcher]:
        checks.append(Check("System tray", "ok", "a StatusNotifierItem host is running"))
    elif xembed:
        checks.append(Check("System tray", "ok", "an X11 system tray (XEmbed) is running"))
    else:
        desktop = env.get("XDG_CURRENT_DESKTOP", "") or "this desktop"
        checks.append(
            Check("System tray", "problem", f"no system tray on {desktop}", GNOME_TRAY_FIX)
        )
    if names[notifications]:
        checks.append(Check("Notifications", "ok", f"{notifications} is on the session bus"))
    else:
        checks.append(
            Check("Notifications", "problem", "no notification service", NOTIFICATIONS_FIX)
        )
    return checks


def keyring_check(timeout_s: float = 5.0) -> Check:
    """Which keyring backend keys would go to, asked on a thread with a time limit."""
    found: list[Check] = []

    def ask() -> None:
        try:
            import keyring  # noqa: PLC0415
            from keyring.backends import fail  # noqa: PLC0415

            backend = keyring.get_keyring()
            name = f"{type(backend).__module__}.{type(backend).__name__}"
            usable = not isinstance(backend, fail.Keyring) and "null" not in name.lower()
            chained = getattr(backend, "backends", None)
            if chained is not None and not chained:
                usable = False
            found.append(
                Check("Keyring", "ok", name)
                if usable
                else Check("Keyring", "problem", f"no usable keyring ({name})", KEYRING_FIX)
            )
        except Exception as exc:
            found.append(Check("Keyring", "problem", f"{type(exc).__name__}: {exc}", KEYRING_FIX))

    thread = threading.Thread(target=ask, name="doctor-keyring", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not found:
        return Check("Keyring", "problem", f"no answer in {timeout_s:g} s (locked?)", KEYRING_FIX)
    return found[0]


def _version(distribution: str) -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {
        "tokentray": __version__,
        "python": platform.python_version(),
        "qt": _version("PySide6-Essentials"),
        "prices (genai-prices)": _version("genai-prices"),
        "platform": platform.platform(terse=True),
    }


def system_checks(
    env: Mapping[str, str] | None = None,
    platform_name: str = sys.platform,
    keyring_probe: Callable[[], Check] = keyring_check,
) -> list[Check]:
    """Display, tray, notifications and keyring, as this machine stands."""
    env = os.environ if env is None else env
    if platform_name == "linux" or platform_name.startswith("freebsd"):
        checks = _on_linux(env)
    elif platform_name == "darwin":
        checks = [
            Check("System tray", "ok", "the menu bar"),
            Check("Notifications", "ok", "macOS notifications (allow them in System Settings)"),
        ]
    else:
        checks = [
            Check("System tray", "ok", "the notification area"),
            Check("Notifications", "ok", "Windows toasts from the tray icon"),
        ]
    checks.append(keyring_probe())
    return checks


def local_checks(data_dir: Path, config_file: Path, log_file: Path) -> list[Check]:
    """The store, the settings and the log: where they are and whether they can be written."""
    checks = []
    database = data_dir / "usage.sqlite3"
    size = database.stat().st_size if database.is_file() else 0
    writable = (
        os.access(data_dir, os.W_OK)
        if data_dir.is_dir()
        else os.access(_existing_parent(data_dir), os.W_OK)
    )
    checks.append(
        Check("Usage store", "ok", f"{database} ({size / 1e6:,.1f} MB)")
        if writable
        else Check(
            "Usage store",
            "problem",
            f"{data_dir} cannot be written",
            "Free the disk or fix the folder's permissions; reports still show what is stored.",
        )
    )
    if database.is_file():
        checks.append(backup_check(database))
    state = "found" if config_file.is_file() else "not written yet (defaults)"
    checks.append(Check("Settings", "info", f"{config_file} ({state})"))
    checks.append(Check("Log", "info", str(log_file)))
    return checks


# A store whose newest backup is older than this says so (backups are daily).
BACKUP_OVERDUE_S = 3 * 86_400


def backup_check(database: Path, now: float | None = None) -> Check:
    """The newest backup and its age; damage found by the daily check in the background;
    a backup being made now; none for days."""
    from tokentray.store.core import (  # noqa: PLC0415
        backup_folder,
        backup_running,
        latest_backup,
        marked_damage,
    )

    damage = marked_damage(database)
    if damage is not None:
        return Check(
            "Backups",
            "problem",
            f"the usage store is damaged ({damage[:160]})",
            "Open tokentray (or run any command): it restores the newest backup and reads "
            "the agents' logs again.",
        )
    newest = latest_backup(database)
    running = " (one is being made now)" if backup_running(backup_folder(database)) else ""
    if newest is None:
        return Check("Backups", "info", f"none yet{running}: the first pass of a day makes one")
    age_s = (now or time.time()) - newest.stat().st_mtime
    detail = f"newest {newest.name}, {_age(age_s)} old{running}"
    if age_s > BACKUP_OVERDUE_S:
        return Check("Backups", "problem", detail, "Run `tokentray backup --now`.")
    return Check("Backups", "ok", detail)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def autostart_check() -> Check:
    from tokentray.desktop.autostart import for_this_platform  # noqa: PLC0415

    entry = for_this_platform()
    with contextlib.suppress(OSError):
        if entry.is_enabled():
            return Check("Start at login", "info", f"on ({entry.where})")
    return Check(
        "Start at login", "info", "off (Preferences → Budget, or `tokentray autostart on`)"
    )


def as_dicts(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(check) for check in checks]
