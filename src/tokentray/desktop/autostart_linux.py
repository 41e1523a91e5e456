"""Start at login on Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tokentray.desktop.autostart import remove_entry, write_entry
from tokentray.desktop.resources import DESKTOP_FILE, desktop_entry


class XdgAutostart:
    def __init__(self, env: Mapping[str, str], home: Path) -> None:
        config = env.get("XDG_CONFIG_HOME", "")
        base = Path(config) if config and Path(config).is_absolute() else home / ".config"
        self.path = base / "autostart" / DESKTOP_FILE

    @property
    def where(self) -> str:
        return str(self.path)

    def is_enabled(self) -> bool:
        """An entry there that no desktop setting has hidden or switched off."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        values = dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
        )
        hidden = values.get("Hidden", "false").strip().lower() == "true"
        off = values.get("X-GNOME-Autostart-enabled", "true").strip().lower() == "false"
        return not hidden and not off

    def enable(self, command: list[str]) -> None:
        text = desktop_entry(command, {"X-GNOME-Autostart-enabled": "true", "Hidden": "false"})
        write_entry(self.path, text)

    def disable(self) -> None:
        remove_entry(self.path)
