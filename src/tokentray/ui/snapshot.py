"""`tokentray snapshot --out DIR`: the tray icon in each state and every window, as PNG.

Used by the tests and for the README's screenshots. Real data when the store
has some, otherwise the demo agents' data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tokentray.dashboard.live import LiveSnapshot, snapshot
from tokentray.engine import Engine, local_zone, open_engine
from tokentray.settings import Settings, load_settings

if TYPE_CHECKING:
    from PySide6.QtGui import QPalette, QPixmap

    from tokentray.events import PlanSample
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


def dark_palette() -> QPalette:
    """A dark desktop theme's colours (as KDE Breeze Dark or GNOME's dark style give Qt)."""
    from PySide6.QtGui import QColor, QPalette  # noqa: PLC0415

    palette = QPalette()
    role = QPalette.ColorRole
    for name, colour in (
        (role.Window, "#2b2b2b"),
        (role.WindowText, "#eeeeee"),
        (role.Base, "#1e1e1e"),
        (role.AlternateBase, "#262626"),
        (role.Text, "#eeeeee"),
        (role.Button, "#353535"),
        (role.ButtonText, "#eeeeee"),
        (role.Highlight, "#3d7fd9"),
        (role.HighlightedText, "#ffffff"),
        (role.ToolTipBase, "#353535"),
        (role.ToolTipText, "#eeeeee"),
        (role.PlaceholderText, "#9a9a9a"),
    ):
        palette.setColor(name, QColor(colour))
    return palette


def render_all(
    out: Path, data_dir: str | None = None, config: Path | None = None, dark: bool = False
) -> list[Path]:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    if dark:
        app.setStyle("Fusion")  # the platform style would ignore part of the palette
        app.setPalette(dark_palette())
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
    written += render_insight(out, engine, signals)
    written.append(render_summary_window(out, snap, settings.icon_shows))
    engine.store.close()
    written += render_first_run(out, settings)
    written += render_alert_editors(out)
    written += render_plans(out, settings)
    written.append(render_notification(out))
    app.processEvents()
    return written


def render_first_run(out: Path, settings: Settings) -> list[Path]:
    """The window a new user sees (nothing recorded yet), and a range with no usage."""
    from tokentray.dashboard.graph import GraphSpec, compute_graph  # noqa: PLC0415
    from tokentray.events import PricedEvent, UsageEvent  # noqa: PLC0415
    from tokentray.ui.graph_window import GraphWindow  # noqa: PLC0415
    from tokentray.ui.signals import AppSignals  # noqa: PLC0415

    written = []
    root = Path(tempfile.mkdtemp(prefix="tokentray-snapshot-"))
    nowhere = {"CLAUDE_CONFIG_DIR": str(root / "none"), "CODEX_HOME": str(root / "none")}
    engine = open_engine(root / "data", env=nowhere, home=root / "home", settings=settings)
    tz = local_zone()
    with engine.store:
        signals = AppSignals(settings)
        signals.publish_folders(engine.folder_status())
        for name, spec, hours_ago in (("welcome", "24h", None), ("empty-range", "1h", 3)):
            if hours_ago is not None:
                stamp = int((time.time() - hours_ago * 3600) * 1000)
                usage = UsageEvent("claude-code", "k", "s", "/p", "m", stamp, output_tokens=9)
                with engine.store.transaction():
                    engine.store.upsert_events([PricedEvent(usage, 0.01, "priced")])
            snap = snapshot(engine.store, int(time.time() * 1000), tz, 20.0)
            window = GraphWindow(signals)
            window.resize(1000, 640)
            window.select(GraphSpec(spec, "source"))
            signals.publish_graph(compute_graph(engine.store, window.spec, tz, snap))
            written.append(_grab(window, out / f"graph-window-{name}.png"))
    shutil.rmtree(root, ignore_errors=True)
    return written


def plan_history(now_ms: int) -> list[PlanSample]:
    """A week of plan readings as a busy subscriber leaves them: Claude's 5-hour windows
    filling through each working day, the weekly one creeping up; Codex's too."""
    from tokentray.events import PlanSample  # noqa: PLC0415

    samples: list[PlanSample] = []
    hour = 3_600_000
    start = now_ms - 7 * 24 * hour
    week_reset = now_ms + 30 * hour
    window_start = start
    for minute in range(0, 7 * 24 * 60, 10):
        at = start + minute * 60_000
        if at - window_start >= 5 * hour:
            window_start = at
        working = 8 <= (minute // 60) % 24 <= 22
        if not working:
            continue
        into = (at - window_start) / (5 * hour)
        samples.append(
            PlanSample(
                "claude-code",
                "five_hour",
                at,
                min(100.0, 85 * into),
                window_start + 5 * hour,
                300,
                "statusline",
            )
        )
        week = 60 * (at - start) / (week_reset - start)
        samples.append(
            PlanSample("claude-code", "seven_day", at, week, week_reset, 10080, "statusline")
        )
        if minute % 30 == 0:
            samples.append(
                PlanSample("codex", "primary", at, 40 * into, window_start + 5 * hour, 300, "log")
            )
    return samples


def render_plans(out: Path, settings: Settings) -> list[Path]:
    """The Plan tab, the Plans page, a plan rule, and the tray showing a plan window and a
    paused agent."""
    from dataclasses import replace  # noqa: PLC0415

    from tokentray.alerts.rules import Rule, default_rules  # noqa: PLC0415
    from tokentray.dashboard.graph import compute_graph  # noqa: PLC0415
    from tokentray.guardrails import PausedAgent  # noqa: PLC0415
    from tokentray.ui.graph_window import GraphWindow  # noqa: PLC0415
    from tokentray.ui.preferences import PreferencesDialog, RuleDialog  # noqa: PLC0415
    from tokentray.ui.signals import AppSignals  # noqa: PLC0415

    written = []
    root = Path(tempfile.mkdtemp(prefix="tokentray-snapshot-"))
    nowhere = {"CLAUDE_CONFIG_DIR": str(root / "none"), "CODEX_HOME": str(root / "none")}
    engine = open_engine(root / "data", env=nowhere, home=root / "home", settings=settings)
    tz = local_zone()
    now_ms = int(time.time() * 1000)
    with engine.store:
        with engine.store.transaction():
            engine.store.record_plan_samples(plan_history(now_ms))
        snap = snapshot(engine.store, now_ms, tz, 20.0)
        paused = PausedAgent("claude-code", "5f0c2a9e-1111", (4242,), "Paused claude", now_ms)
        snap = replace(snap, paused_agents=(paused,))
        signals = AppSignals(settings)
        signals.publish_snapshot(snap)
        window = GraphWindow(signals)
        window.resize(1000, 640)
        window.tabs.setCurrentWidget(window.plan)
        signals.publish_graph(compute_graph(engine.store, window.spec, tz, snap))
        written.append(_grab(window, out / "graph-window-plan.png"))
        dialog = PreferencesDialog(signals)
        dialog.sections.setCurrentRow(dialog.pages.index(dialog.plans_page))
        written.append(_grab(dialog, out / "preferences-plans.png"))
        written.append(render_summary_window(out, snap, "plan", "summary-window-plan.png"))
        written.append(render_plan_icons(out, snap))
    shutil.rmtree(root, ignore_errors=True)
    plan_rule = Rule("plan", "Plan window", metric="plan_pct", threshold=95.0)
    written.append(_grab(RuleDialog(plan_rule), out / "alert-editor-plan.png"))
    runaway = replace(default_rules(20.0)[-1], action="stop")
    written.append(_grab(RuleDialog(runaway), out / "alert-editor-action.png"))
    return written


def render_plan_icons(out: Path, snap: LiveSnapshot) -> Path:
    """The icon in plan mode (green, amber, red) and with an agent paused, magnified 4x."""
    from PySide6.QtGui import QColor, QPainter, QPixmap  # noqa: PLC0415

    from tokentray.ui.icon import icon_text, render  # noqa: PLC0415

    text = icon_text(snap, "plan")
    cell = max(SIZES) + 8
    states = ("normal", "warning", "over")
    sheet = QPixmap(cell * len(SIZES), cell * len(states) * 2)
    sheet.fill(QColor("#2d2d2d"))
    painter = QPainter(sheet)
    for row, (state, paused) in enumerate((s, p) for p in (False, True) for s in states):
        for column, size in enumerate(SIZES):
            offset = (cell - size) // 2
            icon = render(text, state, size, paused=paused)
            painter.drawPixmap(column * cell + offset, row * cell + offset, icon)
    painter.end()
    path = out / "tray-icons-plan.png"
    return _save_enlarged(sheet, path)


def render_alert_editors(out: Path) -> list[Path]:
    """The rule editor for each kind of rule, showing only the fields that kind uses."""
    from tokentray.alerts.rules import default_rules  # noqa: PLC0415
    from tokentray.ui.preferences import RuleDialog  # noqa: PLC0415

    written = []
    overnight = default_rules(20.0)[0]
    for kind in ("total", "burn", "projection", "runaway"):
        editor = RuleDialog(overnight)
        editor.kind.setCurrentIndex(editor.kind.findData(kind))
        written.append(_grab(editor, out / f"alert-editor-{kind}.png"))
    return written


def render_notification(out: Path) -> Path:
    """What a desktop notification of a runaway session says (drawn here as the desktop's
    notification service would show its title and text)."""
    from datetime import datetime, timedelta  # noqa: PLC0415

    from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout  # noqa: PLC0415

    from tokentray.alerts.engine import Alert, Window  # noqa: PLC0415
    from tokentray.alerts.rules import default_rules  # noqa: PLC0415

    rule = default_rules(20.0)[-1]
    now = datetime.now().astimezone()
    alert = Alert(
        rule, "critical", 14.2, rule.threshold, Window(now, now + timedelta(hours=1)), "k"
    )
    alert.culprit = {
        "source": "claude-code",
        "project": "/home/dev/webshop",
        "model": "claude-opus-4-1",
        "why": f"no prompt for {rule.minutes} min",
    }
    card = QFrame()
    card.setStyleSheet(
        "QFrame { background: #2b2b2b; border-radius: 6px; } QLabel { color: #eeeeee; }"
    )
    layout = QVBoxLayout(card)
    title = QLabel(alert.title)
    title.setStyleSheet("font-weight: bold;")
    body = QLabel(alert.message())
    body.setWordWrap(True)
    layout.addWidget(title)
    layout.addWidget(body)
    card.setFixedWidth(420)
    layout_of = card.layout()
    assert layout_of is not None
    card.setFixedHeight(layout_of.totalHeightForWidth(420))
    return _grab(card, out / "notification.png")


def render_icons(out: Path, snap: LiveSnapshot) -> Path:
    """Every state at every tray size, on a light and a dark panel, magnified 4x."""
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
    return _save_enlarged(sheet, path)


def _save_enlarged(sheet: QPixmap, path: Path) -> Path:
    """A sheet of icons at four times their size, pixels kept sharp, so they can be seen."""
    from PySide6.QtCore import Qt  # noqa: PLC0415

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


def render_insight(out: Path, engine: Engine, signals: AppSignals) -> list[Path]:
    """The Insight tab over this store's whole history, and Preferences → Team."""
    from dataclasses import replace  # noqa: PLC0415

    from tokentray.dashboard.live import local_day_start_ms  # noqa: PLC0415
    from tokentray.insight import summary  # noqa: PLC0415
    from tokentray.ui.graph_window import GraphWindow  # noqa: PLC0415
    from tokentray.ui.preferences import PreferencesDialog  # noqa: PLC0415

    assert signals.snapshot is not None
    tz, moved = local_zone(), signals.settings.insight.moved
    today = local_day_start_ms(int(time.time() * 1000), tz)
    badge = summary.outcome_badge(engine.store, tz, today, moved)
    signals.publish_snapshot(replace(signals.snapshot, badge=badge))
    window = GraphWindow(signals)
    window.resize(1100, 700)
    window.insight.range.setCurrentText("All")
    window.tabs.setCurrentWidget(window.insight)
    request = window.insight.current_request()
    signals.insightChanged.emit(
        summary.insight_figures(engine.store, engine.pricer, request, today, tz, moved)
    )
    written = [_grab(window, out / "graph-window-insight.png")]
    dialog = PreferencesDialog(signals)
    dialog.sections.setCurrentRow(dialog.pages.index(dialog.team_page))
    written.append(_grab(dialog, out / "preferences-team.png"))
    return written


def render_preferences(out: Path, signals: AppSignals) -> Path:
    from tokentray.ui.preferences import PreferencesDialog  # noqa: PLC0415

    dialog = PreferencesDialog(signals)
    return _grab(dialog, out / "preferences.png")


def render_summary_window(
    out: Path, snap: LiveSnapshot, mode: str, name: str = "summary-window.png"
) -> Path:
    from PySide6.QtWidgets import QMenu  # noqa: PLC0415

    from tokentray.ui.tray import SummaryWindow, tooltip  # noqa: PLC0415

    window = SummaryWindow(QMenu())
    window.show_snapshot(snap, mode, tooltip(snap))
    return _grab(window, out / name)
