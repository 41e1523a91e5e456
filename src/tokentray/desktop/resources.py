"""The files under ``resources/`` (shipped inside the package as ``tokentray/resources``),
and ``tokentray install-desktop``: the desktop entry and icons for a user who installed
with pip or pipx, in the XDG data folder where menus and docks look."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

DESKTOP_FILE = "tokentray.desktop"
METAINFO_FILE = "dev.tokentray.tokentray.metainfo.xml"
ICON_NAME = "tokentray"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def resource(*parts: str) -> Traversable:
    """A shipped resource: in the package, or beside the executable in a bundle."""
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:  # PyInstaller: the spec copies resources/ to tokentray/resources
        return Path(bundled, "tokentray", "resources", *parts)
    return resources.files("tokentray").joinpath("resources", *parts)


def icon_files() -> dict[str, Traversable]:
    """hicolor size folder ("16x16", …, "scalable") -> the icon file in it."""
    found = {
        f"{size}x{size}": resource("icons", "hicolor", f"{size}x{size}", "apps", "tokentray.png")
        for size in ICON_SIZES
    }
    found["scalable"] = resource("icons", "hicolor", "scalable", "apps", "tokentray.svg")
    return found


def launch_command() -> list[str]:
    """How to start this tokentray: the bundle's executable, the ``tokentray`` script
    beside this interpreter, or this interpreter running the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    beside = Path(sys.executable).with_name("tokentray")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("tokentray")
    return [found] if found else [sys.executable, "-m", "tokentray.cli"]


def exec_line(command: list[str]) -> str:
    """A desktop entry's Exec value (its own quoting rules: % doubled, shell-like quotes)."""
    return " ".join(shlex.quote(part).replace("%", "%%") for part in command)


def desktop_entry(command: list[str], extra: Mapping[str, str] | None = None) -> str:
    """The shipped desktop entry with ``Exec`` pointing at ``command``."""
    lines = [
        f"Exec={exec_line(command)}" if line.startswith("Exec=") else line
        for line in resource(DESKTOP_FILE).read_text(encoding="utf-8").splitlines()
    ]
    lines += [f"{key}={value}" for key, value in (extra or {}).items()]
    return "\n".join(lines) + "\n"


def data_home(env: Mapping[str, str], home: Path) -> Path:
    value = env.get("XDG_DATA_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else home / ".local" / "share"


def install_desktop(
    env: Mapping[str, str] | None = None, home: Path | None = None, command: list[str] | None = None
) -> list[Path]:
    """Write the desktop entry, the metainfo and every icon size under the XDG data folder;
    returns what was written. Existing copies are replaced (a reinstall moves Exec)."""
    env = os.environ if env is None else env
    share = data_home(env, home or Path.home())
    written = [
        write_atomically(
            share / "applications" / DESKTOP_FILE, desktop_entry(command or launch_command())
        )
    ]
    for folder, icon in icon_files().items():
        target = share / "icons" / "hicolor" / folder / "apps" / icon.name
        written.append(write_atomically(target, icon.read_bytes()))
    written.append(
        write_atomically(share / "metainfo" / METAINFO_FILE, resource(METAINFO_FILE).read_bytes())
    )
    return written


def uninstall_desktop(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    env = os.environ if env is None else env
    share = data_home(env, home or Path.home())
    targets = [share / "applications" / DESKTOP_FILE, share / "metainfo" / METAINFO_FILE]
    targets += [
        share / "icons" / "hicolor" / folder / "apps" / icon.name
        for folder, icon in icon_files().items()
    ]
    removed = [t for t in targets if t.is_file()]
    for target in removed:
        target.unlink()
    return removed


def write_atomically(target: Path, content: str | bytes) -> Path:
    """Write through a temporary file and a rename: never half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if isinstance(content, str):
        temporary.write_text(content, encoding="utf-8")
    else:
        temporary.write_bytes(content)
    temporary.replace(target)
    return target
