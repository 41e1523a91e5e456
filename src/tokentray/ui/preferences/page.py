"""The interface every Preferences page implements."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from tokentray.settings import Settings


class Page(QWidget):
    """One section of Preferences: it shows the settings it owns and writes them back."""

    title = ""

    def load(self, settings: Settings) -> None:
        raise NotImplementedError

    def store(self, settings: Settings) -> None:
        raise NotImplementedError
