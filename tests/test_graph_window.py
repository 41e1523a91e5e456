"""The graph window tells the truth: an empty range says so (the previous curves go),
buckets are stacked steps (no ramp before usage that came later), the hover gives dollars,
the real spend keeps its scale under a forecast that runs off the top, no chart is made up
for the Billed tab, a person with no usage yet is welcomed, and the window can be narrow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot

from tokentray.dashboard.graph import GraphData, GraphSpec, compute_graph
from tokentray.dashboard.live import snapshot
from tokentray.engine import open_engine
from tokentray.events import PricedEvent, UsageEvent
from tokentray.settings import Settings
from tokentray.ui.signals import AppSignals

ZONE = ZoneInfo("UTC")


# "Now" for these graphs: the real time, or 01:00 (UTC, the graphs' zone) while the real
# time is earlier in the day, so that minutes ago are today at any hour the tests run.
_REAL_NOW = datetime.now(UTC)
NOW = max(_REAL_NOW, _REAL_NOW.replace(hour=1, minute=0, second=0, microsecond=0))


def _event(key: str, minutes_ago: float, project: str, tokens: int, cost: float) -> PricedEvent:
    at = NOW - timedelta(minutes=minutes_ago)
    usage = UsageEvent(
        source="claude-code",
        key=key,
        session_id=f"s-{project}",
        project=project,
        model="claude-sonnet-4-5",
        timestamp_ms=int(at.timestamp() * 1000),
        output_tokens=tokens,
    )
    return PricedEvent(usage, cost, "priced")


def _data(tmp_path: Path, spec: GraphSpec, events: list[PricedEvent]) -> GraphData:
    engine = open_engine(tmp_path / "data", env={"CLAUDE_CONFIG_DIR": "-"}, home=tmp_path)
    with engine.store:
        if events:
            with engine.store.transaction():
                engine.store.upsert_events(events)
        now_ms = int(NOW.timestamp() * 1000)
        snap = snapshot(engine.store, now_ms, ZONE, daily_budget_usd=20.0)
        return compute_graph(engine.store, spec, ZONE, snap)


def _window(qtbot: QtBot):  # type: ignore[no-untyped-def]
    from tokentray.ui.graph_window import GraphWindow

    window = GraphWindow(AppSignals(Settings()))
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    return window


EVENTS = [
    _event("a1", 300, "/home/dev/projects/very-long-folder/webshop", 4000, 0.40),
    _event("a2", 200, "/home/dev/projects/very-long-folder/webshop", 2000, 0.20),
    _event("b1", 250, "/home/dev/projects/api", 1000, 0.10),
]


def test_buckets_are_stacked_steps_with_short_labels(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot)
    spec = GraphSpec("24h", "project")
    window.select(spec)
    window.show_data(_data(tmp_path, spec, EVENTS))
    curves = list(window._curves.values())
    assert len(curves) == 2
    for curve in curves:
        xs, ys = curve.xData, curve.yData
        assert curve.opts["stepMode"] == "center" and len(xs) == len(ys) + 1
    top = max(curves, key=lambda c: float(np.sum(c.yData)))
    assert float(np.sum(top.yData)) == 7000  # the top edge is the total burn
    labels = [label.text for _sample, label in window.legend.items]
    assert labels == ["webshop", "api"]  # folder names, not paths


def test_an_empty_range_clears_the_curves_and_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot)
    day = GraphSpec("24h", "source")
    window.select(day)
    window.show_data(_data(tmp_path, day, EVENTS))
    assert window._curves
    hour = GraphSpec("1h", "source")
    window.select(hour)
    window.show_data(_data(tmp_path / "again", hour, EVENTS))
    assert window._curves == {} and window.legend.items == []
    assert window.empty_note.isVisible()
    assert window.empty_note.toPlainText().startswith("No usage in this range — last activity ")


def test_the_hover_gives_dollars(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot)
    spec = GraphSpec("24h", "project")
    window.select(spec)
    window.show_data(_data(tmp_path, spec, EVENTS))
    webshop = window._y[next(label for label in window._y if "webshop" in label)]
    index = int(np.argmax(webshop))
    view = window.burn.plotItem.vb
    scene = view.mapViewToScene(QPointF(window._x[index] + 30, float(webshop[index]) / 2))
    window._hover((scene,))
    text = window.readout.toPlainText()
    assert "webshop: 4k tokens · $0.40" in text


def test_the_forecast_does_not_squash_the_real_spend(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot)
    spec = GraphSpec("24h", "source")
    window.select(spec)
    burning = [_event(f"h{i}", i, "/p", 100_000, 5.0) for i in range(1, 10)]  # $180/h now
    data = _data(tmp_path, spec, burning)
    window.show_data(data)
    _low, high = window.spend.viewRange()[1]
    spent = data.cumulative[-1][1]
    assert spent < high <= max(spent, 20.0) * 1.3 + 1e-9  # scaled to what was spent
    assert window.forecast_label.isVisible()
    assert window.forecast_label.toPlainText().startswith("at this rate: $")


def test_with_no_usage_the_window_welcomes(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot)
    spec = GraphSpec("24h", "source")
    window.show_data(_data(tmp_path, spec, []))
    assert window.pages.currentWidget() is window.welcome
    assert "No agent usage yet" in window.welcome.findChildren(type(window.status))[0].text()
    with qtbot.waitSignal(window.welcome.tryDemo, timeout=1000):
        window.welcome.findChildren(__import__("PySide6.QtWidgets").QtWidgets.QPushButton)[
            0
        ].click()


def test_no_chart_is_made_up_for_the_billed_tab(qtbot: QtBot) -> None:
    window = _window(qtbot)
    window.show_reconcile([])
    assert not window.billed.plot.isVisibleTo(window.billed)
    assert window.billed.note.isVisibleTo(window.billed)


def test_the_window_can_be_narrow(qtbot: QtBot) -> None:
    window = _window(qtbot)
    assert window.minimumSizeHint().width() <= 720


def test_large_token_axes_are_compact() -> None:
    from tokentray.ui.graph_window import CompactAxis

    assert CompactAxis("left").tickStrings([3_500_000.0, 250_000.0], 1.0, 1.0) == [
        "3.5M",
        "250k",
    ]
