"""The graph window: live token burn, today's spend against the budget, recent sessions.

Imported only when first opened (pyqtgraph and numpy are not needed before).
It draws what the engine worker prepared (GraphData); it never reads SQLite.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tokentray.dashboard.graph import PLAN_VIEW_MS, RANGES_MS, GraphData, GraphSpec
from tokentray.dashboard.live import SessionRow
from tokentray.engine import FolderStatus
from tokentray.events import PlanSample
from tokentray.numbers import compact
from tokentray.plans import PlanWindow
from tokentray.reconcile import ReconcileRow
from tokentray.ui.insight_view import InsightView
from tokentray.ui.signals import AppSignals
from tokentray.ui.tray import money

MAX_LINES = 8  # more labels than this are summed into "other"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
UNPRICED_MARK = " *"
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
DISPLAY = Qt.ItemDataRole.DisplayRole
NO_INDEX = QModelIndex()
SESSION_COLUMNS = ("Source", "Project", "Model", "Started", "Duration", "Tokens", "Cost", "$/h now")

pg.setConfigOptions(antialias=True)


def _follow_the_theme(widget: QWidget) -> None:
    """Plots in the theme's colours (set before they are made): a dark desktop gets dark
    plots, with the text colour of its labels."""
    palette = widget.palette()
    pg.setConfigOptions(
        background=palette.color(QPalette.ColorRole.Base),
        foreground=palette.color(QPalette.ColorRole.Text),
    )


class CompactAxis(pg.AxisItem):
    """Tick labels like 250k and 3.5M instead of 3.5e+06."""

    def __init__(self, orientation: str, prefix: str = "") -> None:
        super().__init__(orientation)
        self.prefix = prefix

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.prefix:
            return [
                f"{self.prefix}{v:,.2f}" if spacing < 1 else f"{self.prefix}{v:,.0f}"
                for v in values
            ]
        return [compact(v) for v in values]


class GraphWindow(QWidget):
    """Draws the hub's graph data and billed-vs-local rows as they arrive; asks for other
    data through ``specChanged`` and ``sessionRequested``."""

    specChanged = Signal(object)  # GraphSpec
    sessionRequested = Signal(str, str)
    agentAction = Signal(str, str, str)  # "pause", "stop" or "resume"; source; session
    insightRequested = Signal(object)  # InsightRequest

    def __init__(self, signals: AppSignals) -> None:
        super().__init__()
        _follow_the_theme(self)
        self.setWindowTitle("tokentray — token burn")
        self.resize(1100, 760)
        self.spec = GraphSpec()
        self.data: GraphData | None = None
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._x = np.zeros(0)
        self._y: dict[str, np.ndarray] = {}
        self._cost: dict[str, np.ndarray] = {}
        self._base: dict[str, np.ndarray] = {}
        self._base_cost: dict[str, np.ndarray] = {}
        self._base_start_ms = self._base_bucket_ms = self._display_ms = 0
        self._base_end_s = 0.0
        self._unpriced: set[str] = set()
        self._drawn_spec: GraphSpec | None = None
        self.signals = signals
        self.charts = charts = QWidget()
        layout = QVBoxLayout(charts)
        layout.addLayout(self._controls())
        layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._burn_plot())
        splitter.addWidget(self._spend_plot())
        splitter.addWidget(self._sessions_table())
        splitter.setSizes([330, 200, 230])
        layout.addWidget(splitter, 1)
        self.welcome = WelcomePage()
        self.pages = QStackedWidget()
        self.pages.addWidget(charts)
        self.pages.addWidget(self.welcome)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.pages, "Token burn")
        self.plan = PlanView()
        self.tabs.addTab(self.plan, "Plan")
        self.billed = BilledView()
        self.tabs.addTab(self.billed, "Billed vs local")
        self.insight = InsightView(signals.settings.insight.compare_model)
        self.tabs.addTab(self.insight, "Insight")
        self.insight.requested.connect(self.insightRequested.emit)
        self.tabs.currentChanged.connect(self._tab_shown)
        signals.insightChanged.connect(self.insight.show_insight)
        signals.snapshotChanged.connect(self.insight.show_badge)
        if signals.snapshot is not None:
            self.insight.show_badge(signals.snapshot)
        QVBoxLayout(self).addWidget(self.tabs)
        self.show_reconcile(signals.reconcile)
        signals.graphChanged.connect(self.show_data)
        signals.reconcileChanged.connect(self.show_reconcile)

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.insight:
            self.insight.ask()  # git is read only when someone looks

    # -- building -------------------------------------------------------------------

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.range_buttons = QButtonGroup(self)
        for key in RANGES_MS:
            button = QPushButton(key)
            button.setMinimumWidth(44)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            button.setCheckable(True)
            button.setChecked(key == self.spec.range_key)
            button.clicked.connect(lambda _=False, k=key: self._set_spec(range_key=k))
            self.range_buttons.addButton(button)
            row.addWidget(button)
        row.addSpacing(16)
        row.addWidget(QLabel("Split by"))
        self.split = QComboBox()
        self.split.addItems(["source", "model", "project"])
        self.split.currentTextChanged.connect(lambda text: self._set_spec(split=text))
        row.addWidget(self.split)
        row.addStretch(1)
        self.status = QLabel("Waiting for data…")
        self.status.setWordWrap(True)  # a long line must not set the window's width
        return row

    def _burn_plot(self) -> pg.PlotWidget:
        self.burn = pg.PlotWidget(
            axisItems={"bottom": pg.DateAxisItem(), "left": CompactAxis("left")}
        )
        self.burn.setLabel("left", "tokens per minute")
        self.burn.showGrid(x=True, y=True, alpha=0.2)
        self.burn.setClipToView(True)
        self.burn.sigXRangeChanged.connect(self._on_zoom)
        self.burn.setDownsampling(auto=True, mode="peak")
        self.legend = self.burn.addLegend(offset=(10, 5), colCount=3)
        backdrop = QColor(self.palette().color(QPalette.ColorRole.Base))
        backdrop.setAlpha(210)
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.empty_note = pg.TextItem(
            anchor=(0.5, 0.5), color=self.palette().color(QPalette.ColorRole.PlaceholderText)
        )
        self.burn.addItem(self.empty_note, ignoreBounds=True)
        self.empty_note.hide()
        self.hover_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("#999999", style=Qt.PenStyle.DashLine)
        )
        self.burn.addItem(self.hover_line, ignoreBounds=True)
        self.readout = pg.TextItem(anchor=(0, 0), color="#222222", fill=QColor(255, 255, 255, 220))
        self.burn.addItem(self.readout, ignoreBounds=True)
        self.readout.hide()
        self._proxy = pg.SignalProxy(
            self.burn.scene().sigMouseMoved, rateLimit=30, slot=self._hover
        )
        return self.burn

    def _spend_plot(self) -> pg.PlotWidget:
        self.spend = pg.PlotWidget(
            axisItems={"bottom": pg.DateAxisItem(), "left": CompactAxis("left", prefix="$")}
        )
        self.spend.setLabel("left", "spend today")
        self.spend.showGrid(x=True, y=True, alpha=0.2)
        self.spend_curve = self.spend.plot(pen=pg.mkPen("#1f8a5b", width=2), name="spend")
        self.forecast = self.spend.plot(
            pen=pg.mkPen("#1f8a5b", width=2, style=Qt.PenStyle.DashLine), name="forecast"
        )
        self.budget_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen("#c62828", width=1.5),
            label="budget",
            labelOpts={"position": 0.02, "color": "#c62828", "anchors": [(0, 1), (0, 1)]},
        )
        self.spend.addItem(self.budget_line)
        self.forecast_label = pg.TextItem(anchor=(1, 0), color="#1f8a5b")
        self.spend.addItem(self.forecast_label, ignoreBounds=True)
        return self.spend

    def _sessions_table(self) -> QTableView:
        self.sessions_model = SessionTableModel()
        self.sessions = QTableView()
        self.sessions.setModel(self.sessions_model)
        self.sessions.verticalHeader().setVisible(False)
        self.sessions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sessions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.sessions.setAlternatingRowColors(True)
        header = self.sessions.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the project
        self.sessions.doubleClicked.connect(self._session_clicked)
        self.sessions.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.sessions.customContextMenuRequested.connect(self._session_menu)
        return self.sessions

    # -- interaction -------------------------------------------------------------------

    def select(self, spec: GraphSpec) -> None:
        """Show ``spec``'s range and split in the controls, without asking for data."""
        self.spec = spec
        for button in self.range_buttons.buttons():
            button.setChecked(button.text() == spec.range_key)
        self.split.blockSignals(True)
        self.split.setCurrentText(spec.split)
        self.split.blockSignals(False)

    def _set_spec(self, range_key: str | None = None, split: str | None = None) -> None:
        self.spec = GraphSpec(range_key or self.spec.range_key, split or self.spec.split)
        self.specChanged.emit(self.spec)

    def session_menu(self, row: SessionRow) -> QMenu:
        """Open it; pause, stop or resume its agent (the app asks before stopping)."""
        menu = QMenu(self)
        menu.addAction("Open session").triggered.connect(
            lambda: self.sessionRequested.emit(row.source, row.session_id)
        )
        menu.addSeparator()
        paused = (row.source, row.session_id) in self.sessions_model.paused
        for action, text in (
            ("resume", "Resume agent"),
            ("pause", "Pause agent"),
            ("stop", "Stop agent…"),
        ):
            item = menu.addAction(text)
            item.setEnabled((action == "resume") == paused)
            item.triggered.connect(
                lambda _=False, a=action: self.agentAction.emit(a, row.source, row.session_id)
            )
        return menu

    def _session_menu(self, position: Any) -> None:
        index = self.sessions.indexAt(position)
        rows = self.sessions_model.rows
        if index.isValid() and 0 <= index.row() < len(rows):
            menu = self.session_menu(rows[index.row()])
            menu.exec(self.sessions.viewport().mapToGlobal(position))

    def _session_clicked(self, index: QModelIndex) -> None:
        rows = self.sessions_model.rows
        if index.isValid() and 0 <= index.row() < len(rows):
            session = rows[index.row()]
            self.sessionRequested.emit(session.source, session.session_id)

    def _hover(self, event: tuple[object, ...]) -> None:
        position = event[0]
        if not self._x.size or not self.burn.sceneBoundingRect().contains(position):
            self.readout.hide()
            return
        point = self.burn.plotItem.vb.mapSceneToView(position)
        index = int(np.clip(np.searchsorted(self._x, point.x()) - 1, 0, self._x.size - 1))
        self.hover_line.setPos(self._x[index])
        moment = datetime.fromtimestamp(self._x[index]).strftime("%Y-%m-%d %H:%M")
        values = [
            f"{_short_label(label)}: {compact(y[index])} tokens · {money(self._cost[label][index])}"
            for label, y in self._y.items()
            if y[index]
        ]
        if len(values) > 1:
            tokens = sum(float(y[index]) for y in self._y.values())
            dollars = sum(float(c[index]) for c in self._cost.values())
            values.append(f"all: {compact(tokens)} tokens · {money(dollars)}")
        self.readout.setText("\n".join([moment, *(values or ["no usage"])]))
        self.readout.setPos(point.x(), point.y())
        self.readout.show()

    # -- data ----------------------------------------------------------------------------

    def show_reconcile(self, rows: list[ReconcileRow]) -> None:
        self.billed.show_rows(rows)

    def show_data(self, data: GraphData) -> None:
        """Draw prepared data; cheap enough to run on every update."""
        if data.spec != self.spec:
            return  # an answer to an older request
        self.data = data
        nothing_yet = data.snapshot.last_event_ms is None
        if nothing_yet:
            self.welcome.show_folders(self.signals.folders)
        self.pages.setCurrentWidget(self.welcome if nothing_yet else self.charts)
        self._draw_burn(data)
        self._draw_spend(data)
        self._fill_sessions(data.sessions)
        self.plan.show_plans(data)
        snap = data.snapshot
        unpriced = f" · unpriced: {', '.join(snap.unpriced_models)}" if snap.unpriced_models else ""
        if snap.estimated_requests:
            unpriced += " · ~ partly estimated"
        if snap.reported_requests:
            unpriced += " · ~ partly the agents' own cost figures"
        self.status.setText(
            f"Today {money(snap.today_cost_usd)} · now {money(snap.burn_usd_per_hour)}/h · "
            f"updated {datetime.fromtimestamp(snap.now_ms / 1000):%H:%M:%S}{unpriced}"
        )

    def _draw_burn(self, data: GraphData) -> None:
        """Keep the data at its own resolution; what is drawn depends on the zoom."""
        series = data.series
        bucket, count = series.bucket_ms, series.count
        labels = series.labels
        shown, rest = labels[:MAX_LINES], labels[MAX_LINES:]
        base = {label: series.tokens[label] for label in shown}
        zeros = np.zeros(count)
        base_cost = {label: series.cost.get(label, zeros) for label in shown}
        if rest:
            base["other"] = sum((series.tokens[label] for label in rest), np.zeros(count))
            base_cost["other"] = sum((series.cost.get(label, zeros) for label in rest), zeros)
        previous_end = self._base_end_s
        self._base, self._base_cost = base, base_cost
        self._base_start_ms, self._base_bucket_ms = series.start_ms, bucket
        self._show_empty_range(data, empty=not any(float(v.sum()) for v in base.values()))
        self._base_end_s = (series.start_ms + count * bucket) / 1000
        self._unpriced = set(series.unpriced)
        first_draw = self._drawn_spec != data.spec
        if first_draw:
            self._drawn_spec = data.spec
            self._display_ms = 0
            self.burn.setXRange(series.start_ms / 1000, self._base_end_s, padding=0.01)
        else:
            low, high = self.burn.viewRange()[0]
            if previous_end and abs(high - previous_end) < (high - low) * 0.05:
                shift = self._base_end_s - previous_end  # following "now": keep following
                self.burn.setXRange(low + shift, high + shift, padding=0)
        self._rebin(force=True)

    def _on_zoom(self) -> None:
        self._rebin(force=False)

    def _show_empty_range(self, data: GraphData, empty: bool) -> None:
        """A range with no usage clears the curves and says when the last activity was."""
        self.burn.getAxis("left").setStyle(showValues=not empty)  # no made-up scale
        if not empty:
            self.empty_note.hide()
            return
        for curve in self._curves.values():
            self.burn.removeItem(curve)
        self._curves.clear()
        self.legend.clear()
        self._base, self._base_cost, self._y, self._cost = {}, {}, {}, {}
        self._x = np.zeros(0)
        self.burn.setLabel("left", "tokens")
        last = data.snapshot.last_event_ms
        when = (
            f" — last activity {datetime.fromtimestamp(last / 1000):%Y-%m-%d %H:%M}" if last else ""
        )
        start_s, end_s = data.series.start_ms / 1000, data.series.end_ms / 1000
        self.burn.setXRange(start_s, end_s, padding=0.01)
        self.burn.setYRange(0, 1, padding=0)
        self.empty_note.setText(f"No usage in this range{when}")
        self.empty_note.setPos((start_s + end_s) / 2, 0.5)
        self.empty_note.show()

    def _rebin(self, force: bool) -> None:
        """Tokens per minute, hour or day, by how much time the view spans: drawn as steps,
        stacked, so the top edge is the total burn."""
        if not self._base:
            return
        low, high = self.burn.viewRange()[0]
        span_s = max(high - low, 1.0)
        display = (
            60_000 if span_s <= 6 * 3600 else 3_600_000 if span_s <= 10 * 86400 else 86_400_000
        )
        display = max(display, self._base_bucket_ms)
        if display == self._display_ms and not force:
            return
        self._display_ms = display
        factor = display // self._base_bucket_ms
        lead = (self._base_start_ms % display) // self._base_bucket_ms  # align to whole units
        start_ms = self._base_start_ms - lead * self._base_bucket_ms
        self._y = {label: _regroup(y, factor, lead) for label, y in self._base.items()}
        self._cost = {label: _regroup(c, factor, lead) for label, c in self._base_cost.items()}
        groups = len(next(iter(self._y.values())))
        self._x = (start_ms + np.arange(groups, dtype=np.float64) * display) / 1000.0
        edges = (start_ms + np.arange(groups + 1, dtype=np.float64) * display) / 1000.0
        unit = {60_000: "minute", 900_000: "15 minutes", 3_600_000: "hour", 86_400_000: "day"}[
            display
        ]
        self.burn.setLabel("left", f"tokens per {unit}")
        for label in list(self._curves):
            if label not in self._y:
                self.burn.removeItem(self._curves.pop(label))
        self.legend.clear()
        stacked = np.zeros(groups)
        for index, (label, y) in enumerate(self._y.items()):
            stacked = stacked + y
            colour = QColor(PALETTE[index % len(PALETTE)])
            curve = self._curves.get(label)
            if curve is None:
                curve = self.burn.plot()
                self._curves[label] = curve
            curve.setPen(pg.mkPen(colour, width=1))
            curve.setBrush(pg.mkBrush(_tint(colour)))  # opaque: bands must not blend
            curve.setFillLevel(0)
            curve.setZValue(-index)  # the lower bands drawn over the totals above them
            curve.setData(edges, stacked.copy(), stepMode="center")
            name = label + (UNPRICED_MARK if label in self._unpriced else "")
            self.legend.addItem(curve, _short_label(name))
        top = float(stacked.max()) if stacked.size else 0.0
        self.burn.setYRange(0, max(top, 1.0) * 1.3, padding=0)  # room for the legend

    def _draw_spend(self, data: GraphData) -> None:
        points = data.cumulative
        snap = data.snapshot
        now_s = snap.now_ms / 1000
        start_s = data.day_start_ms / 1000
        xs = np.array([start_s] + [t / 1000 for t, _ in points] + [now_s], dtype=np.float64)
        total = points[-1][1] if points else 0.0
        ys = np.array([0.0] + [c for _, c in points] + [total], dtype=np.float64)
        self.spend_curve.setData(xs, ys, stepMode=None)
        end_s = data.day_end_ms / 1000
        projected = total + snap.burn_usd_per_hour * (end_s - now_s) / 3600
        self.forecast.setData(np.array([now_s, end_s]), np.array([total, projected]))
        budget = snap.daily_budget_usd or 0
        self.budget_line.setVisible(budget > 0)
        self.budget_line.setPos(budget)
        self.budget_line.label.setFormat(f"budget {money(budget)}")
        self.spend.setXRange(start_s, end_s, padding=0.01)
        # The real spend sets the scale (with room for the budget and its label); the
        # forecast may run off the top, and its end value is written at the right.
        top = max(total, budget, 0.01) * 1.3
        self.spend.setYRange(0, top, padding=0)
        self.forecast_label.setText(f"at this rate: {money(projected)} by midnight")
        self.forecast_label.setPos(end_s, min(projected, top))
        self.forecast_label.setVisible(projected > total + 0.005)

    def _fill_sessions(self, rows: list[SessionRow]) -> None:
        first = not self.sessions_model.rows
        assert self.data is not None
        paused = {(a.source, a.session_id) for a in self.data.snapshot.paused_agents}
        self.sessions_model.set_rows(rows, paused)
        if first and rows:  # size the columns once; later the user's widths are kept
            self.sessions.resizeColumnsToContents()


class WelcomePage(QWidget):
    """Shown until any agent has logged a request: where tokentray looked, and two ways on."""

    tryDemo = Signal()
    addFolder = Signal()

    def __init__(self) -> None:
        super().__init__()
        title = QLabel("No agent usage yet")
        title.setStyleSheet("font-size: 20px; font-weight: bold;")
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        demo = QPushButton("Try the demo")
        demo.setToolTip("Synthetic agents in a separate window; nothing of yours is read")
        demo.clicked.connect(self.tryDemo.emit)
        add = QPushButton("Add a folder…")
        add.setToolTip("Logs kept somewhere else (another disk, a synced folder)")
        add.clicked.connect(self.addFolder.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(demo)
        buttons.addWidget(add)
        buttons.addStretch(1)
        box = QVBoxLayout()
        box.addWidget(title)
        box.addWidget(self.where)
        box.addLayout(buttons)
        box.addStretch(2)
        box.insertStretch(0, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(box, 4)
        outer.addStretch(1)
        self.show_folders([])

    def show_folders(self, folders: list[FolderStatus]) -> None:
        found = [f for f in folders if f.found]
        agents = list(dict.fromkeys(f.display_name for f in folders))  # the registry's order
        if not folders:
            text = "tokentray is looking for the logs your coding agents write…"
        elif found:
            names = ", ".join(sorted({f.display_name for f in found}))
            text = (
                f"Found the folders of {names}, with no request in them yet. Start an "
                "agent and its usage appears here within a second."
            )
        else:
            text = (
                f"tokentray looked in {len(folders)} folders for {len(agents)} agents "
                f"({', '.join(agents[:6])}, …) and found none of them on this machine. "
                "Start Claude Code, Codex, Gemini CLI or another agent and its usage "
                "appears here within a second."
            )
        self.where.setText(text)


RECONCILE_COLUMNS = ("Day (UTC)", "Provider", "Local", "Billed", "Local $", "Billed $", "Why")


SPARSE_READINGS = 60  # fewer readings than this in a week: each is marked
PLAN_AHEAD_MS = 6 * 3_600_000  # a window resetting within this is projected to its reset


class PlanView(QWidget):
    """Each subscription window's use over the last week, resets marked; the windows as
    they stand now above it."""

    EMPTY = (
        "No plan windows known yet. Codex logs its 5-hour and weekly windows as it works. "
        "For Claude, set `tokentray statusline` as Claude Code's status line, or turn on "
        "Preferences → Plans → “Check Claude's plan usage” (see the README)."
    )

    def __init__(self) -> None:
        super().__init__()
        self.now_label = QLabel(self.EMPTY)
        self.now_label.setWordWrap(True)
        self.now_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.plot.setLabel("left", "% of the window used")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setYRange(0, 105)
        self.legend = self.plot.addLegend(offset=(10, 5), colCount=2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.now_label)
        layout.addWidget(self.plot, 1)

    def show_plans(self, data: GraphData) -> None:
        windows = [w for w in data.snapshot.plans if not w.has_reset] or list(data.snapshot.plans)
        self.now_label.setText("\n".join(w.summary() for w in windows) if windows else self.EMPTY)
        self.plot.clear()
        self.legend.clear()
        self.plot.setVisible(bool(data.plan_history))
        series: dict[tuple[str, str, str], list[PlanSample]] = {}
        for sample in data.plan_history:
            series.setdefault((sample.source, sample.account, sample.window), []).append(sample)
        top = 100.0
        resets: set[int] = set()
        horizon_ms = data.snapshot.now_ms + PLAN_AHEAD_MS
        latest_end = data.snapshot.now_ms
        for index, (key, samples) in enumerate(sorted(series.items())):
            latest = PlanWindow(samples[-1], data.snapshot.now_ms)
            label = latest.label
            if key[1]:
                label += f" ({key[1]})"
            xs, ys = _plan_steps(samples, data.snapshot.now_ms)
            top = max(top, float(ys.max()) if ys.size else 0.0)
            colour = PALETTE[index % len(PALETTE)]
            sparse = len(samples) < SPARSE_READINGS  # a few readings: show each one
            self.plot.plot(
                xs,
                ys,
                pen=pg.mkPen(colour, width=2),
                name=label,
                symbol="o" if sparse else None,
                symbolSize=6,
                symbolBrush=colour,
                symbolPen=colour,
            )
            reset = samples[-1].resets_ms
            if latest.projected_pct is not None and reset and reset <= horizon_ms:
                # Where this window is heading at its pace, up to its reset.
                level = min(latest.projected_pct, 250.0)
                self.plot.plot(
                    [data.snapshot.now_ms / 1000, reset / 1000],
                    [latest.used_pct, level],
                    pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                )
                top = max(top, level)
                latest_end = max(latest_end, reset)
            resets |= {
                s.resets_ms for s in samples if s.resets_ms and s.resets_ms <= data.snapshot.now_ms
            }
        full = pg.InfiniteLine(
            pos=100,
            angle=0,
            pen=pg.mkPen("#c62828", width=1.2),
            label="100%",
            labelOpts={"position": 0.99, "color": "#c62828", "anchors": [(1, 1), (1, 1)]},
        )
        self.plot.addItem(full, ignoreBounds=True)
        for reset in sorted(resets):
            marker = pg.InfiniteLine(
                pos=reset / 1000, angle=90, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine)
            )
            self.plot.addItem(marker, ignoreBounds=True)
        self.plot.setYRange(0, top * 1.05)
        start = (data.snapshot.now_ms - PLAN_VIEW_MS) / 1000
        self.plot.setXRange(start, latest_end / 1000, padding=0.01)


def _plan_steps(samples: list[PlanSample], now_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """A step line through the readings: each holds until the next one, or drops to 0 at
    its window's reset when that comes first (a reading is a level, not a trend)."""
    xs: list[float] = []
    ys: list[float] = []
    for index, sample in enumerate(samples):
        following = samples[index + 1].observed_ms if index + 1 < len(samples) else now_ms
        xs.append(sample.observed_ms / 1000)
        ys.append(sample.used_pct)
        level = sample.used_pct
        if sample.resets_ms and sample.observed_ms < sample.resets_ms < following:
            xs += [sample.resets_ms / 1000, sample.resets_ms / 1000]
            ys += [sample.used_pct, 0.0]
            level = 0.0
        xs.append(following / 1000)
        ys.append(level)
    return np.array(xs), np.array(ys)


class BilledView(QWidget):
    """Per day and provider: the local logs' estimate beside what the provider billed."""

    def __init__(self) -> None:
        super().__init__()
        self.note = QLabel(
            "Add an admin key under Preferences → Provider keys to compare what your agents "
            "logged here with what the provider billed (all machines and keys)."
        )
        self.note.setWordWrap(True)
        self.plot = pg.PlotWidget(axisItems={"left": CompactAxis("left", prefix="$")})
        self.plot.setVisible(False)  # no chart until a provider has billed something
        self.plot.showGrid(y=True, alpha=0.2)
        self.plot.setLabel("left", "spend per day")
        self.plot.addLegend(offset=(10, 5))
        self.table = QTableWidget(0, len(RECONCILE_COLUMNS))
        self.table.setHorizontalHeaderLabels(RECONCILE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(splitter, 1)

    def show_rows(self, rows: list[ReconcileRow]) -> None:
        recent = [r for r in rows if r.billed_cost_usd is not None or r.billed_tokens is not None]
        self.note.setVisible(not recent)
        self.plot.setVisible(bool(recent))
        self.table.setVisible(bool(rows))
        recent = recent[-60:]
        days = sorted({r.day for r in recent})
        index = {day: i for i, day in enumerate(days)}
        self.plot.clear()
        providers = sorted({r.provider for r in recent})
        width = 0.8 / max(1, 2 * len(providers))
        for p, provider in enumerate(providers):
            mine = [r for r in recent if r.provider == provider]
            xs = np.array([index[r.day] for r in mine], dtype=np.float64)
            offset = -0.4 + width * (2 * p + 0.5)
            local = np.array([r.local_cost_usd for r in mine])
            billed = np.array([r.billed_cost_usd or 0.0 for r in mine])
            colour = PALETTE[p % len(PALETTE)]
            self.plot.addItem(
                pg.BarGraphItem(
                    x=xs + offset,
                    height=local,
                    width=width,
                    brush=pg.mkBrush(colour + "80"),
                    name=f"{provider} local",
                )
            )
            self.plot.addItem(
                pg.BarGraphItem(
                    x=xs + offset + width,
                    height=billed,
                    width=width,
                    brush=pg.mkBrush(colour),
                    name=f"{provider} billed",
                )
            )
        axis = self.plot.getAxis("bottom")
        step = max(1, len(days) // 10)
        axis.setTicks([[(i, day[5:]) for i, day in enumerate(days) if i % step == 0]])
        self._fill(list(reversed(recent)))

    def _fill(self, rows: list[ReconcileRow]) -> None:
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = (
                row.day,
                row.provider,
                compact(row.local_tokens),
                "—" if row.billed_tokens is None else compact(row.billed_tokens),
                money(row.local_cost_usd),
                "—" if row.billed_cost_usd is None else money(row.billed_cost_usd),
                "; ".join(row.reasons),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 6:
                    item.setToolTip(text)
                self.table.setItem(index, column, item)
        self.table.resizeColumnsToContents()


class SessionTableModel(QAbstractTableModel):
    """Active and recent sessions; a model, so a refresh is one reset, not a cell per call."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[SessionRow] = []
        self.paused: set[tuple[str, str]] = set()
        self._cells: list[tuple[str, ...]] = []

    def set_rows(self, rows: list[SessionRow], paused: set[tuple[str, str]] | None = None) -> None:
        self.beginResetModel()
        self.rows = rows
        self.paused = paused or set()
        self._cells = [
            _session_cells(row, (row.source, row.session_id) in self.paused) for row in rows
        ]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = NO_INDEX) -> int:
        return 0 if parent.isValid() else len(SESSION_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if role == DISPLAY and orientation == Qt.Orientation.Horizontal:
            return SESSION_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        row, column = index.row(), index.column()
        if role == DISPLAY:
            return self._cells[row][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 5:
            return int(RIGHT.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 1:
                return self.rows[row].project
            if column == 6 and self.rows[row].unpriced:
                return "* some of this session's models have no known price: not in the cost"
            if column == 6 and self.rows[row].estimated:
                return "~ partly estimated: the agent's log has no exact token counts"
            if column == 6 and self.rows[row].reported:
                return "~ partly the agent's own cost figure: the model has no list price"
        return None


def _session_cells(row: SessionRow, paused: bool = False) -> tuple[str, ...]:
    minutes = (row.last_ms - row.first_ms) / 60_000
    return (
        row.source + (" (paused)" if paused else ""),
        Path(row.project).name or row.project,
        row.model,
        datetime.fromtimestamp(row.first_ms / 1000).strftime("%m-%d %H:%M"),
        f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min",
        compact(row.tokens),
        ("~" if row.estimated or row.reported else "")
        + money(row.cost_usd)
        + (UNPRICED_MARK if row.unpriced else ""),
        money(row.usd_per_hour_now) if row.usd_per_hour_now else "",
    )


def _regroup(values: np.ndarray, factor: int, lead: int) -> np.ndarray:
    """Sum consecutive buckets in groups of ``factor``, after ``lead`` empty ones."""
    if factor <= 1:
        return values
    padded = np.concatenate([np.zeros(lead), values])
    tail = (-len(padded)) % factor
    padded = np.concatenate([padded, np.zeros(tail)])
    grouped: np.ndarray = padded.reshape(-1, factor).sum(axis=1)
    return grouped


def _tint(colour: QColor, share: float = 0.65) -> QColor:
    """``colour`` mixed with white: a lighter, opaque fill."""
    return QColor.fromRgbF(
        colour.redF() * share + 1 - share,
        colour.greenF() * share + 1 - share,
        colour.blueF() * share + 1 - share,
    )


def _short_label(label: str) -> str:
    """A legend's label: a project's folder name rather than its path, and no longer
    than 28 characters."""
    if "/" in label or "\\" in label:
        label = Path(label).name or label
    return label if len(label) <= 28 else label[:27] + "…"


class SessionDialog(QDialog):
    """One session over time: tokens and spend so far."""

    def __init__(
        self, source: str, session_id: str, timeline: list[tuple[int, int, float]]
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"{source} session {session_id[:8]}")
        self.resize(720, 420)
        plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(), "left": CompactAxis("left")})
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("left", "tokens so far")
        xs = np.array([t / 1000 for t, _, _ in timeline], dtype=np.float64)
        plot.plot(
            xs,
            np.array([n for _, n, _ in timeline], dtype=np.float64),
            pen=pg.mkPen("#1f77b4", width=2),
        )
        spent = timeline[-1][2] if timeline else 0.0
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"{len(timeline)} requests · {money(spent)} · session {session_id}")
        )
        layout.addWidget(plot)
