"""The interface every Preferences page implements."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from tokentray.settings import Settings

# Secondary text in the theme's own muted colour (a fixed grey vanishes on a dark theme).
SECONDARY_TEXT = "color: palette(placeholder-text);"


class Page(QWidget):
    """One section of Preferences: it shows the settings it owns and writes them back."""

    title = ""

    def load(self, settings: Settings) -> None:
        raise NotImplementedError

    def store(self, settings: Settings) -> None:
        raise NotImplementedError

    def apply(self) -> str | None:
        """After the settings are saved: what lives outside them (the login entry).
        Returns why it failed, or None."""
        return None
