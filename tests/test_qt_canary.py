"""Canary for PySide6 6.12.0 on Python 3.11, which drops a reference to None on every Qt call
that returns nothing until the process aborts (`Fatal Python error: none_dealloc`).
pyproject pins PySide6-Essentials below 6.12; this fails if a broken build slips in."""

from __future__ import annotations

import sys

from pytestqt.qtbot import QtBot


def test_qt_calls_keep_none_alive(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for n in range(1000):
        widget.setWindowTitle(f"canary {n}")
    after = sys.getrefcount(None)
    # A healthy build keeps None's count steady; the broken one loses ~1 per call.
    assert before - after < 100, f"None lost {before - after} references in 1000 Qt calls"
