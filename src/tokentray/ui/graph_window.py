"""The graph window: live token burn, today's spend against the budget, recent sessions.

Imported only when first opened (pyqtgraph and numpy are not needed before).
It draws what the engine worker prepared (GraphData); it never reads SQLite.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tokentray.live import SessionRow
from tokentray.reporting import compact
from tokentray.ui.tray import money
from tokentray.ui.worker import RANGES_MS, GraphData, GraphSpec

MAX_LINES = 8  # more labels than this are summed into "other"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
UNPRICED_MARK = " *"
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
SESSION_COLUMNS = ("Source", "Project", "Model", "Started", "Duration", "Tokens", "Cost", "$/h now")

pg.setConfigOptions(antialias=True, background="w", foreground="#333333")


def dense(values: dict[int, int] | dict[int, float], start_ms: int, count: int, bucket_ms: int):  # type: ignore[no-untyped-def]
    """Per-bucket values as an array over the whole window (zeros where nothing happened)."""
    array = np.zeros(count, dtype=np.float64)
    for ts, value in values.items():
        index = (ts - start_ms) // bucket_ms
        if 0 <= index < count:
            array[index] += value
    return array


class GraphWindow(QWidget):
    specChanged = Signal(object)  # GraphSpec
    sessionRequested = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("tokentray — token burn")
        self.resize(1100, 760)
        self.spec = GraphSpec()
        self.data: GraphData | None = None
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._x = np.zeros(0)
        self._y: dict[str, np.ndarray] = {}
        layout = QVBoxLayout(self)
        layout.addLayout(self._controls())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._burn_plot())
        splitter.addWidget(self._spend_plot())
        splitter.addWidget(self._sessions_table())
        splitter.setSizes([330, 200, 230])
        layout.addWidget(splitter, 1)

    # -- building -------------------------------------------------------------------

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.range_buttons = QButtonGroup(self)
        for key in RANGES_MS:
            button = QPushButton(key)
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
        row.addWidget(self.status)
        return row

    def _burn_plot(self) -> pg.PlotWidget:
        self.burn = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.burn.setLabel("left", "tokens per minute")
        self.burn.showGrid(x=True, y=True, alpha=0.2)
        self.burn.setClipToView(True)
        self.burn.setDownsampling(auto=True, mode="peak")
        self.legend = self.burn.addLegend(offset=(10, 5))
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
        self.spend = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.spend.setLabel("left", "spend today (USD)")
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
        return self.spend

    def _sessions_table(self) -> QTableWidget:
        self.sessions = QTableWidget(0, len(SESSION_COLUMNS))
        self.sessions.setHorizontalHeaderLabels(SESSION_COLUMNS)
        self.sessions.verticalHeader().setVisible(False)
        self.sessions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sessions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.sessions.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.sessions.cellDoubleClicked.connect(self._session_clicked)
        self._session_rows: list[SessionRow] = []
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

    def _session_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._session_rows):
            session = self._session_rows[row]
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
        values = [f"{label}: {compact(y[index])}" for label, y in self._y.items() if y[index]]
        self.readout.setText("\n".join([moment, *(values or ["no usage"])]))
        self.readout.setPos(point.x(), point.y())
        self.readout.show()

    # -- data ----------------------------------------------------------------------------

    def show_data(self, data: GraphData) -> None:
        """Draw prepared data; cheap enough to run on every update."""
        if data.spec != self.spec:
            return  # an answer to an older request
        self.data = data
        self._draw_burn(data)
        self._draw_spend(data)
        self._fill_sessions(data.sessions)
        snap = data.snapshot
        unpriced = f" · unpriced: {', '.join(snap.unpriced_models)}" if snap.unpriced_models else ""
        self.status.setText(
            f"Today {money(snap.today_cost_usd)} · now {money(snap.burn_usd_per_hour)}/h · "
            f"updated {datetime.fromtimestamp(snap.now_ms / 1000):%H:%M:%S}{unpriced}"
        )

    def _draw_burn(self, data: GraphData) -> None:
        series = data.series
        bucket = series.bucket_ms
        count = max(1, (series.end_ms - series.start_ms) // bucket)
        self._x = (series.start_ms + np.arange(count, dtype=np.float64) * bucket) / 1000.0
        labels = series.labels
        shown, rest = labels[:MAX_LINES], labels[MAX_LINES:]
        scale = 60_000 / bucket  # plotted as tokens per minute
        self._y = {
            label: dense(series.tokens[label], series.start_ms, count, bucket) * scale
            for label in shown
        }
        if rest:
            other = np.zeros(count)
            for label in rest:
                other += dense(series.tokens[label], series.start_ms, count, bucket) * scale
            self._y["other"] = other
        self.burn.setLabel("left", "tokens per minute" + (" (hourly mean)" if scale < 1 else ""))
        for label in list(self._curves):
            if label not in self._y:
                self.burn.removeItem(self._curves.pop(label))
        self.legend.clear()
        for index, (label, y) in enumerate(self._y.items()):
            name = label + (UNPRICED_MARK if label in series.unpriced else "")
            curve = self._curves.get(label)
            if curve is None:
                curve = self.burn.plot(stepMode=None)
                self._curves[label] = curve
            curve.setPen(pg.mkPen(PALETTE[index % len(PALETTE)], width=1.5))
            curve.setData(self._x, y)
            self.legend.addItem(curve, _short_label(name))
        self.burn.setXRange(self._x[0], self._x[-1] + bucket / 1000, padding=0.01)

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
        self.spend.setYRange(0, max(projected, budget, total, 0.01) * 1.1, padding=0)

    def _fill_sessions(self, rows: list[SessionRow]) -> None:
        self._session_rows = rows
        self.sessions.setRowCount(len(rows))
        for index, row in enumerate(rows):
            minutes = (row.last_ms - row.first_ms) / 60_000
            cost = money(row.cost_usd) + (UNPRICED_MARK if row.unpriced else "")
            cells = (
                row.source,
                Path(row.project).name or row.project,
                row.model,
                datetime.fromtimestamp(row.first_ms / 1000).strftime("%m-%d %H:%M"),
                f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min",
                compact(row.tokens),
                cost,
                money(row.usd_per_hour_now) if row.usd_per_hour_now else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column >= 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if column == 6 and row.unpriced:
                    item.setToolTip("* part of this session's models have no known price")
                if column == 1:
                    item.setToolTip(row.project)
                self.sessions.setItem(index, column, item)


def _short_label(label: str) -> str:
    return label if len(label) <= 32 else "…" + label[-31:]


class SessionDialog(QDialog):
    """One session over time: tokens and spend so far."""

    def __init__(
        self, source: str, session_id: str, timeline: list[tuple[int, int, float]]
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"{source} session {session_id[:8]}")
        self.resize(720, 420)
        plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
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
