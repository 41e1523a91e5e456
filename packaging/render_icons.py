"""Render the application icon's PNG sizes (hicolor layout) from its SVG, with Qt.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py

Run after changing resources/icons/hicolor/scalable/apps/tokentray.svg; the PNGs are
committed (tests/test_desktop.py checks every size is there and drawn).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons" / "hicolor"


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    renderer = QSvgRenderer(str(ICONS / "scalable" / "apps" / "tokentray.svg"))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = ICONS / f"{size}x{size}" / "apps" / "tokentray.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))
        print(target.relative_to(ICONS.parents[1]))
    del app


if __name__ == "__main__":
    main()
