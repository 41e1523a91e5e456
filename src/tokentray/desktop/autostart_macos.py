"""Start at login on macOS: a LaunchAgent in ``~/Library/LaunchAgents`` (loaded by launchd
at the next login; nothing runs as root)."""

from __future__ import annotations

import plistlib
from pathlib import Path

from tokentray.desktop.autostart import remove_entry, write_entry

LABEL = "dev.tokentray.tokentray"


class LaunchAgent:
    def __init__(self, home: Path) -> None:
        self.path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    @property
    def where(self) -> str:
        return str(self.path)

    def is_enabled(self) -> bool:
        try:
            with self.path.open("rb") as handle:
                agent = plistlib.load(handle)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return bool(agent.get("RunAtLoad")) and not agent.get("Disabled", False)

    def enable(self, command: list[str]) -> None:
        agent = {
            "Label": LABEL,
            "ProgramArguments": command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",  # the graphical login only
        }
        write_entry(self.path, plistlib.dumps(agent))

    def disable(self) -> None:
        remove_entry(self.path)
