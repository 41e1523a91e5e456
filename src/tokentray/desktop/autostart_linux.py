"""Start at login on Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tokentray.desktop.autostart import AutostartError
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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            raise AutostartError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.path}: {exc.strerror or exc}") from exc
