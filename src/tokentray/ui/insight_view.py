"""The graph window's Insight tab: what the spend bought (commits), where it leaked (cache
writes nobody read, rewrites after idle gaps) and what a cheaper model would have cost.
The figures come from the engine's ``insight`` package, computed on the worker thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tokentray.dashboard.live import LiveSnapshot
from tokentray.insight.summary import InsightRequest
from tokentray.numbers import compact, dollars, plural, share
from tokentray.paths import folder_name

RANGES: dict[str, int | None] = {"Today": 1, "7 days": 7, "30 days": 30, "All": None}
SUGGESTED_MODELS = (
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-5",
    "gpt-5-mini",
    "gpt-5",
    "gemini-2.5-flash",
)
OUTCOME_COLUMNS = (
    "Day",
    "Project",
    "Agent",
    "Model",
    "Sessions",
    "Commits",
    "Lines",
    "Spend",
    "$ / commit",
    "Tokens / commit",
    "No commit",
)


class InsightView(QWidget):
    """Asks for figures through ``requested`` (when shown, or when the range or model
    changes) and shows them when they arrive."""

    requested = Signal(object)  # InsightRequest

    def __init__(self, compare_model: str) -> None:
        super().__init__()
        self.badge = QLabel("Today's tier appears once usage has been read.")
        font = self.badge.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.badge.setFont(font)
        self.badge.setWordWrap(True)
        self.range = QComboBox()
        self.range.addItems(list(RANGES))
        self.range.setCurrentText("7 days")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(list(dict.fromkeys((compare_model, *SUGGESTED_MODELS))))
        self.model.setCurrentText(compare_model)
        self.model.setMinimumContentsLength(18)
        refresh = QPushButton("Refresh")
        self.range.currentTextChanged.connect(lambda _text: self.ask())
        self.model.activated.connect(lambda _index: self.ask())
        refresh.clicked.connect(self.ask)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Period"))
        controls.addWidget(self.range)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Compare with"))
        controls.addWidget(self.model)
        controls.addWidget(refresh)
        controls.addStretch(1)
        self.outcome_text, self.cache_text, self.model_text = QLabel(), QLabel(), QLabel()
        boxes = QGridLayout()
        for column, (title, label) in enumerate(
            (
                ("What it bought", self.outcome_text),
                ("Cache", self.cache_text),
                ("On a cheaper model", self.model_text),
            )
        ):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            label.setText("Working…")
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(label)
            boxes.addWidget(box, 0, column)
            boxes.setColumnStretch(column, 1)
        self.table = QTableWidget(0, len(OUTCOME_COLUMNS))
        self.table.setHorizontalHeaderLabels(OUTCOME_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.note = QLabel(
            "A commit counts for a session when its author time falls within the session "
            "(or 30 minutes after it), on the session's branch, by the repository's own "
            "user.email. Tiers are tokens a day, Beginner to AI God (100 M)."
        )
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.badge)
        layout.addLayout(controls)
        layout.addLayout(boxes)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        self.data: dict[str, Any] | None = None

    def current_request(self) -> InsightRequest:
        model = self.model.currentText().strip() or SUGGESTED_MODELS[0]
        return InsightRequest(RANGES[self.range.currentText()], model)

    def ask(self) -> None:
        self.requested.emit(self.current_request())

    def show_badge(self, snap: LiveSnapshot) -> None:
        if snap.badge is not None:
            self.badge.setText(f"{snap.badge.text()} · {compact(snap.badge.tokens)} tokens today")

    def show_insight(self, data: dict[str, Any]) -> None:
        if data.get("request") != self.current_request():
            return  # an answer to an earlier question
        self.data = data
        self.outcome_text.setText(self._outcome_lines(data["outcomes"]))
        self.cache_text.setText(self._cache_lines(data["cache"]))
        self.model_text.setText(self._model_lines(data["counterfactual"]))
        self._fill(data["outcomes"]["rows"])

    @staticmethod
    def _outcome_lines(outcomes: dict[str, Any]) -> str:
        total = outcomes["total"]
        if not total["sessions"]:
            return "No sessions in this period."
        lines = [
            f"{plural(total['commits'], 'commit')} · {total['lines_changed']:,} lines changed",
            f"{dollars(total['usd_per_commit'])} a commit · "
            f"{compact(total['tokens_per_commit'] or 0)} tokens a commit"
            if total["commits"]
            else "No commit from these sessions yet",
            f"{dollars(total['no_commit_usd'])} in sessions that committed nothing",
        ]
        if total["unknown_outcome_usd"]:
            lines.append(f"{dollars(total['unknown_outcome_usd'])} where no git repository")
        if outcomes["tiers"]:
            top = max(outcomes["tiers"], key=lambda t: t["tokens"])
            lines.append(f"Busiest day {top['day']}: {top['tier']} ({compact(top['tokens'])})")
        return "\n".join(lines)

    @staticmethod
    def _cache_lines(cache: dict[str, Any]) -> str:
        total = cache["total"]
        if not total["requests"]:
            return "No requests in this period."
        return "\n".join(
            (
                f"Hit ratio {share(total['hit_ratio'])} of prompt tokens",
                f"{dollars(total['unread_write_usd'])} on writes never read "
                f"({compact(total['unread_write_tokens'])} tokens)",
                f"{total['idle_misses']} rewrites after idle gaps: "
                f"{dollars(total['idle_miss_usd'])} extra",
            )
        )

    @staticmethod
    def _model_lines(versus: dict[str, Any]) -> str:
        if "error" in versus:
            return str(versus["error"])
        total = versus["total"]
        if not total["requests"]:
            return "No requests in this period."
        lines = [
            f"Spent {dollars(total['actual_usd'])}",
            f"As {versus['as_model']}: {dollars(total['alternative_usd'])}",
            f"Would have saved {dollars(total['saving_usd'])} ({share(total['saving_share'])})"
            if total["saving_usd"] >= 0
            else f"Would have cost {dollars(-total['saving_usd'])} more",
        ]
        if total["unpriced_requests"]:
            lines.append(f"{total['unpriced_requests']} unpriced requests left out")
        return "\n".join(lines)

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        rows = list(reversed(rows))  # the latest day first
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = (
                row["day"],
                folder_name(row["project"]),
                row["source"],
                row["model"],
                str(row["sessions"]),
                str(row["commits"]),
                f"{row['lines_changed']:,}",
                dollars(row["cost_usd"]),
                dollars(row["usd_per_commit"]),
                compact(row["tokens_per_commit"]) if row["tokens_per_commit"] else "–",
                dollars(row["no_commit_usd"]),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setToolTip(row["project"])
                if column >= 4:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(index, column, item)
        self.table.resizeColumnsToContents()
