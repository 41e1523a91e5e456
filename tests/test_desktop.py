"""Desktop integration: the shipped icons, desktop entry and metainfo (checked by the
freedesktop validators), `tokentray install-desktop`, and starting at login on each
platform (the Linux entry for real; macOS's plist and Windows' Run key as written)."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from tokentray.desktop.autostart import AutostartError, for_this_platform
from tokentray.desktop.autostart_linux import XdgAutostart
from tokentray.desktop.autostart_macos import LaunchAgent
from tokentray.desktop.autostart_windows import RunKey
from tokentray.desktop.resources import (
    ICON_SIZES,
    desktop_entry,
    icon_files,
    launch_command,
    resource,
)

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "tokentray.cli"]


def validator(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return found


def test_every_icon_size_is_there_and_drawn() -> None:
    icons = icon_files()
    assert set(icons) == {f"{s}x{s}" for s in ICON_SIZES} | {"scalable"}
    for folder, icon in icons.items():
        if folder == "scalable":
            assert icon.read_text().lstrip().startswith("<svg")
            continue
        image = QImage()
        assert image.loadFromData(icon.read_bytes()), folder
        size = int(folder.split("x")[0])
        assert (image.width(), image.height()) == (size, size)
        colours = {image.pixel(x, y) for x in range(size) for y in range(size)}
        assert len(colours) > 4, f"{folder} looks empty"


def test_the_shipped_files_pass_the_freedesktop_validators() -> None:
    desktop = validator("desktop-file-validate")
    appstream = validator("appstreamcli")
    entry = ROOT / "resources" / "tokentray.desktop"
    done = subprocess.run([desktop, str(entry)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "error" not in done.stdout.lower(), done.stdout
    metainfo = ROOT / "resources" / "dev.tokentray.tokentray.metainfo.xml"
    done = subprocess.run(
        [appstream, "validate", "--no-net", str(metainfo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The package's copy is the repository's (resources/ is shipped through a symlink).
    assert resource("tokentray.desktop").read_bytes() == entry.read_bytes()


def test_install_desktop_for_a_pip_install(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "share")}
    done = subprocess.run(
        [*CLI, "install-desktop"], env=env, capture_output=True, text=True, check=True
    )
    assert "Installed 11 files" in done.stdout
    installed = tmp_path / "share" / "applications" / "tokentray.desktop"
    exec_line = next(
        line for line in installed.read_text().splitlines() if line.startswith("Exec=")
    )
    command = shlex.split(exec_line.removeprefix("Exec="))
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("tokentray ")
    for size in ICON_SIZES:
        assert (tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps").is_dir()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(installed)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout
    subprocess.run([*CLI, "install-desktop", "--remove"], env=env, check=True, capture_output=True)
    assert not installed.exists()
    assert not list((tmp_path / "share").rglob("tokentray.png"))


def test_start_at_login_on_linux_for_real(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    entry = for_this_platform(env, tmp_path / "home", platform="linux")
    assert isinstance(entry, XdgAutostart) and not entry.is_enabled()
    entry.enable(launch_command())
    path = tmp_path / "config" / "autostart" / "tokentray.desktop"
    assert entry.where == str(path) and entry.is_enabled()
    # What the session manager will run at login works.
    exec_line = next(line for line in path.read_text().splitlines() if line.startswith("Exec="))
    command = shlex.split(exec_line.removeprefix("Exec="))
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("tokentray ")
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(path)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout
    # Switched off in the desktop's own settings (GNOME writes this): seen as off.
    path.write_text(
        path.read_text().replace(
            "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"
        )
    )
    assert not entry.is_enabled()
    entry.enable(launch_command())
    assert entry.is_enabled()
    entry.disable()
    assert not path.exists() and not entry.is_enabled()
    entry.disable()  # twice is fine


def test_an_unwritable_autostart_folder_is_said(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "autostart").write_text("a file where the folder should be")
    entry = XdgAutostart({"XDG_CONFIG_HOME": str(config)}, tmp_path)
    with pytest.raises(AutostartError, match=r"cannot write .*autostart"):
        entry.enable(["tokentray"])


def test_a_launch_agent_on_macos(tmp_path: Path) -> None:
    entry = for_this_platform({}, tmp_path, platform="darwin")
    assert isinstance(entry, LaunchAgent) and not entry.is_enabled()
    entry.enable(["/Applications/tokentray.app/Contents/MacOS/tokentray"])
    path = tmp_path / "Library" / "LaunchAgents" / "dev.tokentray.tokentray.plist"
    with path.open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent == {
        "Label": "dev.tokentray.tokentray",
        "ProgramArguments": ["/Applications/tokentray.app/Contents/MacOS/tokentray"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert entry.is_enabled()
    path.write_bytes(b"not a plist")
    assert not entry.is_enabled()
    entry.disable()
    assert not path.exists()


class FakeRegistry:
    """The few names of ``winreg`` the Run key uses, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    class _Key:
        def __init__(self, path: str) -> None:
            self.path = path

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def OpenKey(self, root: str, path: str, *_: object) -> Any:  # noqa: N802
        return self._Key(path)

    def CreateKey(self, root: str, path: str) -> Any:  # noqa: N802
        return self._Key(path)

    def QueryValueEx(self, key: Any, name: str) -> tuple[Any, int]:  # noqa: N802
        try:
            return self.values[(key.path, name)], self.REG_SZ
        except KeyError:
            raise FileNotFoundError(name) from None

    def SetValueEx(self, key: Any, name: str, _reserved: int, kind: int, value: Any) -> None:  # noqa: N802
        self.values[(key.path, name)] = value

    def DeleteValue(self, key: Any, name: str) -> None:  # noqa: N802
        if (key.path, name) not in self.values:
            raise FileNotFoundError(name)
        del self.values[(key.path, name)]


def test_the_run_key_on_windows() -> None:
    registry = FakeRegistry()
    entry = RunKey(registry)
    assert not entry.is_enabled()
    entry.enable([r"C:\Program Files\tokentray\tokentray.exe"])
    assert registry.values == {
        (r"Software\Microsoft\Windows\CurrentVersion\Run", "tokentray"): (
            r'"C:\Program Files\tokentray\tokentray.exe"'
        )
    }
    assert entry.is_enabled()
    entry.disable()
    entry.disable()
    assert not entry.is_enabled()


def test_desktop_entry_quotes_its_command() -> None:
    text = desktop_entry(["/opt/my tools/tokentray", "--config", "/home/me/100%.toml"])
    assert "Exec='/opt/my tools/tokentray' --config /home/me/100%%.toml" in text


def test_preferences_turn_start_at_login_on_and_off(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tokentray.settings import load_settings
    from tokentray.ui.preferences.budget import BudgetPage

    entry = XdgAutostart({"XDG_CONFIG_HOME": str(tmp_path / "config")}, tmp_path)
    page = BudgetPage(entry)
    qtbot.addWidget(page)
    page.load(load_settings(tmp_path / "none.toml"))
    assert not page.start_at_login.isChecked()
    page.start_at_login.setChecked(True)
    assert page.apply() is None and entry.is_enabled()
    page.load(load_settings(tmp_path / "none.toml"))
    assert page.start_at_login.isChecked()
    page.start_at_login.setChecked(False)
    assert page.apply() is None and not entry.is_enabled()
