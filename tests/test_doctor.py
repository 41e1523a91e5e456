"""`tokentray doctor`'s system checks against a real private session bus: a tray host and
a notification service present, then gone; the keyring; the store's folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from jeepney import message_bus
from jeepney.io.blocking import open_dbus_connection

from tokentray.system_check import (
    GNOME_TRAY_FIX,
    NOTIFICATIONS_FIX,
    Check,
    keyring_check,
    local_checks,
    system_checks,
    versions,
)

sys.path.insert(0, str(Path(__file__).parent))
from dbus_notifications import NotificationDaemon

FINE_KEYRING = Check("Keyring", "ok", "test")


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


@pytest.fixture
def desktop_bus():  # type: ignore[no-untyped-def]
    daemon = NotificationDaemon()
    yield daemon
    daemon.close()


def test_a_desktop_with_a_tray_host_and_notifications(desktop_bus) -> None:  # type: ignore[no-untyped-def]
    with open_dbus_connection(bus="SESSION") as watcher:
        watcher.send_and_get_reply(
            message_bus.RequestName("org.kde.StatusNotifierWatcher"), timeout=5
        )
        env = {"DISPLAY": "", "WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE"}
        checks = by_name(system_checks(env, "linux", lambda: FINE_KEYRING))
    assert checks["Display"] == Check("Display", "ok", "Wayland (wayland-0)")
    assert checks["System tray"].status == "ok"
    assert "StatusNotifierItem host" in checks["System tray"].detail
    assert checks["Notifications"].status == "ok"


def test_gnome_without_the_extension_is_told_how(desktop_bus) -> None:  # type: ignore[no-untyped-def]
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "GNOME"}
    tray = by_name(system_checks(env, "linux", lambda: FINE_KEYRING))["System tray"]
    assert tray == Check("System tray", "problem", "no system tray on GNOME", GNOME_TRAY_FIX)
    assert "gnome-shell-extension-appindicator" in tray.fix


def test_no_session_bus_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    checks = by_name(system_checks({"WAYLAND_DISPLAY": "w"}, "linux", lambda: FINE_KEYRING))
    assert checks["System tray"].status == "problem"
    assert checks["System tray"].detail.startswith("no session bus")
    assert checks["Notifications"].fix == NOTIFICATIONS_FIX


def test_no_display_says_what_to_run_instead() -> None:
    display = by_name(system_checks({}, "linux", lambda: FINE_KEYRING))["Display"]
    assert display.status == "problem" and "tokentray watch" in display.fix


def test_macos_and_windows_have_their_tray() -> None:
    for platform_name in ("darwin", "win32"):
        checks = by_name(system_checks({}, platform_name, lambda: FINE_KEYRING))
        assert checks["System tray"].status == "ok" and checks["Notifications"].status == "ok"


def test_the_keyring_check_names_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    check = keyring_check()
    assert check.status == "problem" and "fail.Keyring" in check.detail
    assert "TOKENTRAY_ANTHROPIC_ADMIN_KEY" in check.fix


def test_a_keyring_that_hangs_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import keyring

    release = threading.Event()
    monkeypatch.setattr(keyring, "get_keyring", lambda: release.wait(10))
    try:
        check = keyring_check(timeout_s=0.3)
    finally:
        release.set()
    assert check.status == "problem" and "no answer in 0.3 s" in check.detail


def test_a_store_folder_that_cannot_be_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o500)
    try:
        checks = by_name(local_checks(data, tmp_path / "config.toml", tmp_path / "log"))
    finally:
        data.chmod(0o700)
    if os.geteuid() == 0:  # root writes anywhere: the check reports what the OS says
        assert checks["Usage store"].status == "ok"
    else:
        assert checks["Usage store"].status == "problem"
    assert checks["Settings"].detail.endswith("(not written yet (defaults))")


def test_versions_name_qt_python_and_prices() -> None:
    found = versions()
    assert set(found) == {"tokentray", "python", "qt", "prices (genai-prices)", "platform"}
    assert found["qt"][0].isdigit() and found["prices (genai-prices)"][0].isdigit()


def test_doctor_tells_the_state_of_the_backups(tmp_path: Path) -> None:
    """None yet, the newest and its age, one being made, overdue, and damage found by the
    daily check in the background (with what to do)."""
    from tokentray.store import Store
    from tokentray.store.core import BACKUP_LOCK, mark_damage
    from tokentray.system_check import backup_check

    database = tmp_path / "usage.sqlite3"
    with Store(database) as store:
        assert backup_check(database).detail.startswith("none yet")
        made = store.daily_upkeep(check=False)[1]
    assert made is not None
    fresh = backup_check(database)
    assert fresh.status == "ok" and made.name in fresh.detail and "min old" in fresh.detail
    (made.parent / BACKUP_LOCK).write_text(str(os.getpid()))
    assert "being made now" in backup_check(database).detail
    late = backup_check(database, now=made.stat().st_mtime + 5 * 86_400)
    assert late.status == "problem" and "5 days old" in late.detail and "--now" in late.fix
    mark_damage(database, "database disk image is malformed")
    damaged = backup_check(database)
    assert damaged.status == "problem" and "malformed" in damaged.detail
    with Store(database) as repaired:  # the next opening repairs it
        assert repaired.notice and "daily check" in repaired.notice
    assert backup_check(database).status == "ok"
