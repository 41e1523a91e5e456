"""Start tokentray when the user logs in: one small interface, one module per platform.
The entry itself is the only record (no setting mirrors it), so turning it off in the
desktop's own settings is seen here too."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol


class Autostart(Protocol):
    @property
    def where(self) -> str:
        """Where the entry lives, for the user."""

    def is_enabled(self) -> bool: ...

    def enable(self, command: list[str]) -> None:
        """Start ``command`` at login (replacing an entry that names another one)."""

    def disable(self) -> None: ...


class AutostartError(OSError):
    """The entry could not be written or removed; the message says where and why."""


def write_entry(path: Path, content: str | bytes) -> None:
    """Write a file-based login entry (XDG, LaunchAgent) whole, or say why not."""
    from tokentray.desktop.resources import write_atomically  # noqa: PLC0415

    try:
        write_atomically(path, content)
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {exc.strerror or exc}") from exc


def remove_entry(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise AutostartError(f"cannot remove {path}: {exc.strerror or exc}") from exc


def for_this_platform(
    env: Mapping[str, str] | None = None, home: Path | None = None, platform: str = sys.platform
) -> Autostart:
    env = os.environ if env is None else env
    home = home or Path.home()
    if platform == "darwin":
        from tokentray.desktop.autostart_macos import LaunchAgent  # noqa: PLC0415

        return LaunchAgent(home)
    if platform == "win32":
        from tokentray.desktop.autostart_windows import RunKey  # noqa: PLC0415

        return RunKey()
    from tokentray.desktop.autostart_linux import XdgAutostart  # noqa: PLC0415

    return XdgAutostart(env, home)
