"""Render reports as JSON, CSV or an 80-column table."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import PurePath
from typing import Any

import orjson

from tokentray.aggregate import Report, Row, Totals
from tokentray.events import ScanReport

NUMBER_COLUMNS = ("Input", "Output", "Cache W", "Cache R", "Total", "Cost")
CSV_FIELDS = (
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_usd",
    "requests",
    "unpriced_requests",
    "estimated_requests",
    "reported_requests",
)


def to_json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def report_json(report: Report) -> str:
    return to_json(report.as_dict())


def report_csv(report: Report, breakdown: bool) -> str:
    extra_keys = sorted({k for row in report.rows for k in row.extra})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", *extra_keys, "model", *CSV_FIELDS, "unpriced_models"])
    for row in report.rows:
        extras = [_csv_value(row.extra.get(k)) for k in extra_keys]
        parts = sorted(row.models.items()) if breakdown else [("", row.totals)]
        for model, totals in parts:
            values = totals.as_dict()
            writer.writerow(
                [
                    row.period,
                    *extras,
                    model,
                    *(values[f] for f in CSV_FIELDS),
                    ";".join(values["unpriced_models"]),
                ]
            )
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return "" if value is None else value


def compact(n: float) -> str:
    """1234 -> 1.23k, 4_560_000 -> 4.56M: readable in a narrow column."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            value = n / limit
            return f"{value:.3g}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n:.0f}"


def money(totals: Totals) -> str:
    cost = totals.cost_usd
    text = f"${cost:,.0f}" if cost >= 1000 else "<$0.01" if 0 < cost < 0.005 else f"${cost:,.2f}"
    if totals.estimated_requests or totals.reported_requests:
        text = "~" + text
    if totals.unpriced_requests:
        text += "*"
    return text


def _label(report: Report, row: Row) -> str:
    if report.kind == "session":
        project = PurePath(str(row.extra.get("project") or "")).name
        return f"{row.period[:8]} {project}"[:20]
    if report.kind == "blocks":
        label = str(row.extra.get("start", row.period))[:16].replace("T", " ")
        return label + (" ●" if row.extra.get("active") else "")
    return row.period


def report_table(report: Report, breakdown: bool) -> str:
    """A table that fits 80 columns; ``*`` marks unpriced spend, ``~`` estimated."""
    titles = {
        "daily": "Day",
        "weekly": "Week of",
        "monthly": "Month",
        "session": "Session  Project",
        "blocks": "5-hour block",
    }
    rows: list[tuple[str, Totals]] = []
    for row in report.rows:
        rows.append((_label(report, row), row.totals))
        if breakdown:
            rows += [(f"  {model}", t) for model, t in sorted(row.models.items())]
    rows.append(("Total", report.totals))
    title = titles.get(report.kind, "Period")
    width = max(10, len(title) + 1, *(len(label) + 1 for label, _ in rows))
    width = min(width, 80 - 6 * 9 - 1)
    header = f"{title:<{width}}" + "".join(f"{c:>9}" for c in NUMBER_COLUMNS)
    lines = [header, "─" * len(header)]
    for index, (label, t) in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("─" * len(header))
        cells = (t.input_tokens, t.output_tokens, t.cache_write_tokens, t.cache_read_tokens)
        lines.append(
            f"{_fit(label, width)}"
            + "".join(f"{compact(v):>9}" for v in (*cells, t.total_tokens))
            + f"{money(t):>9}"
        )
    lines += _footnotes(report)
    return "\n".join(lines)


def _fit(label: str, width: int) -> str:
    return label.ljust(width) if len(label) <= width else label[: width - 1] + "…"


def _footnotes(report: Report) -> list[str]:
    totals = report.totals
    notes = [f"Times in {report.timezone}. Cache W/R: cache writes and reads."]
    if totals.unpriced_models:
        notes.append(
            f"* {totals.unpriced_requests} requests of models with no known price are not "
            f"in the cost: {', '.join(sorted(totals.unpriced_models))}"
        )
        notes.append("  Add a price under [pricing.models] in the config file (see README).")
    if totals.estimated_requests:
        notes.append(f"~ {totals.estimated_requests} requests are priced from estimates.")
    if totals.reported_requests:
        notes.append(
            f"~ {totals.reported_requests} requests of models with no list price carry the "
            "agent's own cost figure (reported), not a list price."
        )
    return [
        "",
        *(wrapped for note in notes for wrapped in textwrap.wrap(note, 79, subsequent_indent="  ")),
    ]


def scan_summary(scan: ScanReport, verbose: bool) -> str:
    lines = [
        f"Read {scan.files_read} of {scan.files_seen} files, {scan.bytes_read / 1e6:.1f} MB, "
        f"{scan.lines_read} lines in {scan.seconds:.2f} s: {scan.events_stored} usage "
        f"events stored.",
    ]
    if scan.files_reset:
        lines.append(f"{scan.files_reset} rewritten or truncated files were read again.")
    if scan.files_missing:
        lines.append(
            f"{scan.files_missing} files were deleted by their agent; their usage is kept."
        )
    if scan.pending_partial_lines:
        lines.append(
            f"{scan.pending_partial_lines} files end in an incomplete line, read when complete."
        )
    if scan.skipped_lines:
        lines.append(f"Skipped {scan.skipped_lines} unreadable lines:")
        shown = scan.problems if verbose else scan.problems[:5]
        lines += [f"  {p.path}:{p.line_no}: {p.reason}" for p in shown]
        if len(shown) < scan.skipped_lines:
            lines.append(f"  … and {scan.skipped_lines - len(shown)} more (use --verbose)")
    for problem in scan.unreadable:
        lines.append(f"Could not read {problem.path}: {problem.reason}")
    return "\n".join(lines)


def scan_json(scan: ScanReport) -> str:
    return to_json(
        {
            "files_seen": scan.files_seen,
            "files_read": scan.files_read,
            "files_reset": scan.files_reset,
            "files_missing": scan.files_missing,
            "bytes_read": scan.bytes_read,
            "lines_read": scan.lines_read,
            "events_stored": scan.events_stored,
            "skipped_lines": scan.skipped_lines,
            "pending_partial_lines": scan.pending_partial_lines,
            "seconds": round(scan.seconds, 4),
            "problems": [
                {"path": p.path, "line": p.line_no, "reason": p.reason} for p in scan.problems
            ],
            "unreadable": [{"path": p.path, "reason": p.reason} for p in scan.unreadable],
        }
    )
