"""Start at login on Windows: a value under the user's own Run key (no administrator)."""

from __future__ import annotations

import subprocess
from typing import Any

from tokentray.desktop.autostart import AutostartError

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE = "tokentray"


class RunKey:
    def __init__(self, registry: Any = None) -> None:
        """``registry``: the ``winreg`` module, or a stand-in with its names (tests)."""
        if registry is None:
            import winreg as registry  # noqa: PLC0415
        self.registry = registry

    @property
    def where(self) -> str:
        return rf"HKEY_CURRENT_USER\{RUN_KEY}\{VALUE}"

    def is_enabled(self) -> bool:
        reg = self.registry
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = reg.QueryValueEx(key, VALUE)
        except OSError:
            return False
        return bool(value)

    def enable(self, command: list[str]) -> None:
        reg = self.registry
        try:
            with reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                reg.SetValueEx(key, VALUE, 0, reg.REG_SZ, subprocess.list2cmdline(command))
        except OSError as exc:
            raise AutostartError(f"cannot write {self.where}: {exc}") from exc

    def disable(self) -> None:
        reg = self.registry
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, VALUE)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AutostartError(f"cannot remove {self.where}: {exc}") from exc
