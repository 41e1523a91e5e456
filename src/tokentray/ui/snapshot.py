"""`tokentray snapshot --out DIR`: the tray icon in each state and every window, as PNG.

Used by the tests and for the README's screenshots. Real data when the store
has some, otherwise the demo agents' data.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tokentray.dashboard.live import LiveSnapshot, snapshot
from tokentray.engine import Engine, local_zone, open_engine
from tokentray.settings import Settings, load_settings

if TYPE_CHECKING:
    from tokentray.ui.signals import AppSignals

STATES = ("normal", "warning", "over", "stale")
SIZES = (16, 22, 24, 32)
PANELS = (("light", "#eeeeee"), ("dark", "#2b2b2b"))


def _engine(data_dir: str | None, config: Path | None) -> tuple[Engine, Settings]:
    settings = load_settings(config)
    engine = open_engine(data_dir, settings=settings)
    engine.ingestor.scan()
    if engine.store.count_events():
        return engine, settings
    engine.store.close()
    from tokentray.synthetic import LiveAgents  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="tokentray-snapshot-"))
    agents = LiveAgents(root)
    for _ in range(40):
        agents.step()
    demo = open_engine(root / "data", env=agents.env(), settings=settings)
    demo.ingestor.scan()
    return demo, settings


def render_all(out: Path, data_dir: str | None = None, config: Path | None = None) -> list[Path]:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    engine, settings = _engine(data_dir, config)
    tz = local_zone()
    snap = snapshot(engine.store, int(time.time() * 1000), tz, settings.daily_budget_usd or None)
    from tokentray.ui.signals import AppSignals  # noqa: PLC0415

    written = [render_icons(out, snap)]
    signals = AppSignals(settings)
    signals.publish_snapshot(snap)
    signals.publish_folders(engine.folder_status())
    written.append(render_graph_window(out, engine, signals))
    written.append(render_preferences(out, signals))
    written.append(render_summary_window(out, snap, settings.icon_shows))
    engine.store.close()
    app.processEvents()
    return written


def render_icons(out: Path, snap: LiveSnapshot) -> Path:
    """Every state at every tray size, on a light and a dark panel, magnified 4x."""
    from PySide6.QtCore import Qt  # noqa: PLC0415
    from PySide6.QtGui import QColor, QPainter, QPixmap  # noqa: PLC0415

    from tokentray.ui.icon import icon_text, render  # noqa: PLC0415

    text = icon_text(snap, "spend")
    cell = max(SIZES) + 8
    sheet = QPixmap(cell * len(SIZES) * len(PANELS), cell * len(STATES))
    sheet.fill(QColor("#ffffff"))
    painter = QPainter(sheet)
    for p, (_panel, colour) in enumerate(PANELS):
        x0 = p * cell * len(SIZES)
        painter.fillRect(x0, 0, cell * len(SIZES), sheet.height(), QColor(colour))
        for row, state in enumerate(STATES):
            for column, size in enumerate(SIZES):
                icon = render(text, state, size)
                icon.save(str(out / f"tray-icon-{state}-{size}.png"))
                offset = (cell - size) // 2
                painter.drawPixmap(x0 + column * cell + offset, row * cell + offset, icon)
    painter.end()
    path = out / "tray-icons.png"
    sheet.scaled(
        sheet.width() * 4, sheet.height() * 4, mode=Qt.TransformationMode.FastTransformation
    ).save(str(path))
    return path


def _grab(widget: object, path: Path) -> Path:
    from PySide6.QtCore import Qt  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication, QWidget  # noqa: PLC0415

    assert isinstance(widget, QWidget)
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    widget.show()
    QApplication.processEvents()
    widget.grab().save(str(path))
    widget.close()
    return path


def render_graph_window(out: Path, engine: Engine, signals: AppSignals) -> Path:
    from tokentray.dashboard.graph import GraphSpec, compute_graph  # noqa: PLC0415
    from tokentray.ui.graph_window import GraphWindow  # noqa: PLC0415

    assert signals.snapshot is not None
    window = GraphWindow(signals)
    window.select(GraphSpec("7d", "model"))
    signals.publish_graph(compute_graph(engine.store, window.spec, local_zone(), signals.snapshot))
    return _grab(window, out / "graph-window.png")


def render_preferences(out: Path, signals: AppSignals) -> Path:
    from tokentray.ui.preferences import PreferencesDialog  # noqa: PLC0415

    dialog = PreferencesDialog(signals)
    return _grab(dialog, out / "preferences.png")


def render_summary_window(out: Path, snap: LiveSnapshot, mode: str) -> Path:
    from PySide6.QtWidgets import QMenu  # noqa: PLC0415

    from tokentray.ui.tray import SummaryWindow, tooltip  # noqa: PLC0415

    window = SummaryWindow(QMenu())
    window.show_snapshot(snap, mode, tooltip(snap))
    return _grab(window, out / "summary-window.png")
