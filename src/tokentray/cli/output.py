"""Everything the command line prints: reports as JSON, CSV or an 80-column table, scan
summaries, doctor, provider states and the billed-vs-local table."""

from __future__ import annotations

import csv
import io
import textwrap
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import orjson

from tokentray.aggregate import Report, Row, Totals
from tokentray.events import NEVER, ProviderState, ScanReport
from tokentray.numbers import compact
from tokentray.reconcile import ReconcileRow

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


def doctor_text(report: list[dict[str, Any]]) -> str:
    """What ``tokentray doctor`` prints for each agent."""
    lines: list[str] = []
    for agent in report:
        found = [f["path"] for f in agent["folders"] if f["found"]]
        lines.append(f"{agent['agent']}: " + (", ".join(found) if found else "no folder found"))
        if found:
            lines.append(
                f"  {agent['files']} files, {agent['events']} usage events, "
                f"{agent['skipped_lines']} lines skipped; last event {agent['last_event'] or '—'}, "
                f"last successful parse {agent['last_successful_parse'] or '—'}"
            )
        for problem in agent["first_problems"]:
            lines.append(f"  skipped {problem}")
        if agent["warning"]:
            lines.append(f"  ! {agent['warning']}")
        for unread in agent["unread"]:
            lines.append(
                f"  ! {unread['path']}: read to byte {unread['offset']:,} of {unread['size']:,};"
                " the rest was not read. Run `tokentray scan`; if this stays, please report it"
            )
    return "\n".join(lines)


def provider_line(state: ProviderState) -> str:
    from tokentray.providers import provider_by_name  # noqa: PLC0415 - HTTP clients load late

    when = ""
    if state.last_ok_ms:
        when = f", as of {datetime.fromtimestamp(state.last_ok_ms / 1000):%Y-%m-%d %H:%M}"
    return f"{provider_by_name(state.provider).display_name}: {state.status}{when}. {state.message}"


def state_json(state: ProviderState) -> dict[str, object]:
    return {
        "provider": state.provider,
        "status": state.status,
        "message": state.message,
        "last_ok": None
        if state.last_ok_ms is None
        else datetime.fromtimestamp(state.last_ok_ms / 1000, UTC).isoformat(),
        "next_poll": None
        if state.next_poll_ms >= NEVER
        else datetime.fromtimestamp(state.next_poll_ms / 1000, UTC).isoformat(),
        "info": state.info,
    }


def reconcile_table(rows: list[ReconcileRow]) -> str:
    """Billed vs local per UTC day and provider, with the likely reasons."""
    lines: list[str] = []
    lines.append(
        f"{'Day (UTC)':<11}{'Provider':<11}{'Local':>9}{'Billed':>9}{'Local $':>10}{'Billed $':>10}"
    )
    for row in rows:
        billed = "—" if row.billed_tokens is None else compact(row.billed_tokens)
        cost = "—" if row.billed_cost_usd is None else f"${row.billed_cost_usd:,.2f}"
        lines.append(
            f"{row.day:<11}{row.provider:<11}{compact(row.local_tokens):>9}{billed:>9}"
            f"{f'${row.local_cost_usd:,.2f}':>10}{cost:>10}"
        )
        for reason in row.reasons:
            lines.append(f"  · {reason}")
    return "\n".join(lines)
