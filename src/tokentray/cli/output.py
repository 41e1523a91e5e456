"""Everything the command line prints: reports as JSON, CSV or an 80-column table, scan
summaries, doctor, provider states and the billed-vs-local table."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import orjson

from tokentray.aggregate import Report, Row, Totals
from tokentray.engine import FolderStatus
from tokentray.events import NEVER, ProviderState, ScanReport
from tokentray.numbers import compact, plural
from tokentray.plans import PlanWindow
from tokentray.reconcile import NO_PROVIDER_DATA, ReconcileRow

if TYPE_CHECKING:
    from tokentray.system_check import Check

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


def folder_lines(folders: Sequence[FolderStatus], verbose: bool) -> list[str]:
    """The folders read, one line each; those not on this machine in one line (every one
    of them with ``verbose``)."""
    lines = [
        f"{f.display_name}: {f.root}: {plural(f.files, 'file')}, {plural(f.events, 'request')}"
        for f in folders
        if f.found
    ]
    missing = [f for f in folders if not f.found]
    if verbose:
        lines += [f"{f.display_name}: {f.root} not found" for f in missing]
    elif missing:
        agents = sorted({f.display_name for f in missing})
        lines += textwrap.wrap(
            f"Not on this machine: {len(missing)} folders of {len(agents)} agents "
            f"({', '.join(agents)}); --verbose lists them.",
            79,
            subsequent_indent="  ",
        )
    return lines


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


_MODEL_DATE = re.compile(r"-(?:20\d{6}|20\d\d-\d\d-\d\d)$")


def short_model(name: str) -> str:
    """A model's name without its provider prefix and release date: the family and version
    stay (``anthropic/claude-sonnet-4-5-20250929`` is ``claude-sonnet-4-5``)."""
    return _MODEL_DATE.sub("", name.rsplit("/", 1)[-1]) or name


def model_labels(models: Iterable[str]) -> dict[str, str]:
    """Short names, except where two models would look alike: those keep their full names."""
    names = sorted(set(models))
    short = {name: short_model(name) for name in names}
    taken = Counter(short.values())
    return {name: short[name] if taken[short[name]] == 1 else name for name in names}


def _when(iso: object) -> str:
    """``2026-10-01T09:30:00+02:00`` as ``10-01 09:30``."""
    text = str(iso or "")
    return text[5:16].replace("T", " ") if len(text) >= 16 else text


def _label(report: Report, row: Row) -> str:
    if report.kind == "session":
        project = PurePath(str(row.extra.get("project") or "")).name or "—"
        return f"{_when(row.extra.get('first'))} {project}"
    if report.kind == "blocks":
        label = _when(row.extra.get("start", row.period))
        return label + (" ●" if row.extra.get("active") else "")
    return row.period


def _details(report: Report, row: Row, labels: dict[str, str], breakdown: bool) -> list[str]:
    """The lines under a session or a block: what does not fit in the columns."""
    if report.kind == "session":
        last = f"last activity {_when(row.extra.get('last'))}"
        if not breakdown:  # with --breakdown each model has its own line below
            last += " · " + ", ".join(labels[m] for m in sorted(row.models))
        return [
            f"  {row.period} · {row.extra.get('source', '')}",
            *textwrap.wrap(last, 78, initial_indent="  ", subsequent_indent="    "),
        ]
    if report.kind == "blocks":
        burn = row.extra.get("cost_per_hour_usd")
        tokens = row.extra.get("tokens_per_minute")
        parts = [] if burn is None else [f"burn ${burn:,.2f}/h, {compact(tokens or 0)} tok/min"]
        projected = row.extra.get("projected")
        if projected:
            parts.append(
                f"projected by {_when(row.extra.get('end'))[6:]}: ${projected['cost_usd']:,.2f}, "
                f"{compact(projected['total_tokens'])} tokens"
            )
        return [f"  {' · '.join(parts)}"] if parts else []
    return []


def report_table(report: Report, breakdown: bool) -> str:
    """A table that fits 80 columns; ``*`` marks unpriced spend, ``~`` estimated. Sessions
    and blocks add a line or two each for what does not fit in the columns."""
    titles = {
        "daily": "Day",
        "weekly": "Week of",
        "monthly": "Month",
        "session": "Started  Project",
        "blocks": "5-hour block",
    }
    labels = model_labels(m for row in report.rows for m in row.models)
    rows: list[tuple[str, Totals | None]] = []
    for row in report.rows:
        rows.append((_label(report, row), row.totals))
        rows += [(line, None) for line in _details(report, row, labels, breakdown)]
        if breakdown:
            rows += [(f"  {labels[model]}", t) for model, t in sorted(row.models.items())]
    rows.append(("Total", report.totals))
    title = titles.get(report.kind, "Period")
    width = max(10, len(title) + 1, *(len(label) + 1 for label, t in rows if t is not None))
    width = min(width, 80 - 6 * 9 - 1)
    header = f"{title:<{width}}" + "".join(f"{c:>9}" for c in NUMBER_COLUMNS)
    lines = [header, "─" * len(header)]
    for index, (label, t) in enumerate(rows):
        if index == len(rows) - 1:
            lines.append("─" * len(header))
        if t is None:
            lines.append(_fit(label, len(header)).rstrip())
            continue
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
            f"* {plural(totals.unpriced_requests, 'request')} of models with no known price "
            f"{'is' if totals.unpriced_requests == 1 else 'are'} not in the cost: "
            f"{', '.join(sorted(totals.unpriced_models))}"
        )
        notes.append("  Add a price under [pricing.models] in the config file (see README).")
    if totals.estimated_requests:
        notes.append(f"~ {plural(totals.estimated_requests, 'request')} priced from estimates.")
    if totals.reported_requests:
        notes.append(
            f"~ {plural(totals.reported_requests, 'request')} of models with no list price "
            f"{'carries' if totals.reported_requests == 1 else 'carry'} the agent's own cost "
            "figure (reported), not a list price."
        )
    return [
        "",
        *(wrapped for note in notes for wrapped in textwrap.wrap(note, 79, subsequent_indent="  ")),
    ]


def scan_summary(scan: ScanReport, verbose: bool) -> str:
    lines = [
        f"Read {scan.files_read} of {scan.files_seen} files, {scan.bytes_read / 1e6:.1f} MB, "
        f"{scan.lines_read} lines in {scan.seconds:.2f} s: "
        f"{plural(scan.events_stored, 'request')} stored.",
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


MARKS = {"ok": "✓", "problem": "✗", "info": "·"}


def system_text(versions: dict[str, str], checks: Sequence[Check]) -> str:
    """The first part of ``tokentray doctor``: versions, then one line per check and the
    fix under each problem."""
    lines = [" · ".join(f"{name} {value}" for name, value in versions.items())]
    for check in checks:
        lines.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
        if check.status == "problem" and check.fix:
            lines += textwrap.wrap(
                check.fix, 88, initial_indent="    fix: ", subsequent_indent="         "
            )
    return "\n".join(lines)


def doctor_text(report: list[dict[str, Any]]) -> str:
    """What ``tokentray doctor`` prints for each agent."""
    lines: list[str] = []
    for agent in report:
        found = [f["path"] for f in agent["folders"] if f["found"]]
        lines.append(f"{agent['agent']}: " + (", ".join(found) if found else "no folder found"))
        if found:
            lines.append(
                f"  {plural(agent['files'], 'file')}, {plural(agent['events'], 'request')}, "
                f"{plural(agent['skipped_lines'], 'line')} skipped; last request "
                f"{agent['last_event'] or '—'}, last successful parse "
                f"{agent['last_successful_parse'] or '—'}"
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
    name = provider_by_name(state.provider).display_name
    return f"{name}: {state.shown_status}{when}. {state.message}"


def state_json(state: ProviderState) -> dict[str, object]:
    return {
        "provider": state.provider,
        "status": state.shown_status,
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
    unbilled: set[str] = set()
    for row in rows:
        billed = "—" if row.billed_tokens is None else compact(row.billed_tokens)
        cost = "—" if row.billed_cost_usd is None else f"${row.billed_cost_usd:,.2f}"
        lines.append(
            f"{row.day:<11}{row.provider:<11}{compact(row.local_tokens):>9}{billed:>9}"
            f"{f'${row.local_cost_usd:,.2f}':>10}{cost:>10}"
        )
        for reason in row.reasons:
            if reason == NO_PROVIDER_DATA:  # said once, below
                unbilled.add(row.provider)
            else:
                lines.append(f"  · {reason}")
    if unbilled:
        names = ", ".join(sorted(unbilled))
        lines += [
            "",
            f"— no data from {names} for those days: no key set, or not fetched yet. "
            "`tokentray keys set <provider>` stores an admin key; `tokentray providers poll` "
            "fetches.",
        ]
    return "\n".join(lines)


def limits_table(found: Sequence[PlanWindow]) -> str:
    """One line per plan window, the fullest first; how to get readings when none."""
    if not found:
        return (
            "No plan windows known yet. Codex logs them as it works; for Claude, set "
            "`tokentray statusline` as Claude Code's status line, or turn on the Claude "
            "usage check in Preferences → Plans (see the README)."
        )
    return "\n".join(window.summary() for window in found)


def limits_csv(found: Sequence[PlanWindow]) -> str:
    columns = [
        "agent",
        "window",
        "label",
        "used_pct",
        "pace",
        "projected_pct",
        "reset_in_s",
        "runs_out_in_s",
        "stale",
        "origin",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for window in found:
        row = window.as_dict()
        writer.writerow([_csv_value(row[c]) for c in columns])
    return buffer.getvalue()
