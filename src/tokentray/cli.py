"""Command line: argument parsing only; the work is done by the engine modules.

Exit codes: 0 success; 1 unexpected error; 2 bad arguments; 3 some log files
could not be read (everything else was ingested); 4 the store cannot be opened or
written (a report still shows what is stored).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokentray import __version__
from tokentray.events import ScanReport
from tokentray.store import StoreError, StoreWriteError, describe_store_error

if TYPE_CHECKING:
    from tokentray.engine import Engine

log = logging.getLogger("tokentray")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREADABLE, EXIT_STORE = 0, 1, 2, 3, 4
REPORT_KINDS = ("daily", "weekly", "monthly", "session", "blocks", "reconcile")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None


def build_parser() -> argparse.ArgumentParser:
    from tokentray.sources import source_names  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="tokentray", description="See what your AI coding agents burn."
    )
    parser.add_argument("--version", action="version", version=f"tokentray {__version__}")
    parser.add_argument("--data-dir", help="folder of the usage store (default: user data dir)")
    parser.add_argument("--config", type=Path, help="config file (default: user config dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    parser.add_argument(
        "--demo", action="store_true", help="run the tray on synthetic agents (no real logs read)"
    )
    commands = parser.add_subparsers(dest="command")

    snapshot = commands.add_parser("snapshot", help="render the icon and windows to PNG files")
    snapshot.add_argument("--out", type=Path, required=True, help="folder for the PNG files")

    scan = commands.add_parser("scan", help="ingest new agent log lines now")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")

    report = commands.add_parser("report", help="usage and cost by period, session or block")
    report.add_argument("kind", choices=REPORT_KINDS)
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON output")
    output.add_argument("--csv", action="store_true", help="CSV output")
    report.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (in --tz)")
    report.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (in --tz)")
    report.add_argument("--tz", type=_zone, help="IANA time zone (default: local)")
    report.add_argument("--source", choices=source_names(), help="only this agent")
    report.add_argument("--breakdown", action="store_true", help="per-model rows")
    report.add_argument("--no-scan", action="store_true", help="do not ingest new data first")

    commands.add_parser("reprice", help="re-price every stored event with current prices")
    doctor = commands.add_parser("doctor", help="per agent: folders, files, events, problems")
    doctor.add_argument("--json", action="store_true", help="JSON output")

    from tokentray.providers import provider_names  # noqa: PLC0415

    keys = commands.add_parser("keys", help="provider API keys in the OS keyring")
    keys.add_argument("action", choices=("set", "delete", "status"))
    keys.add_argument("provider", nargs="?", choices=[*provider_names(), "webhook"])
    providers = commands.add_parser("providers", help="fetch usage from provider APIs")
    providers.add_argument("action", choices=("poll", "test", "status"))
    providers.add_argument("provider", nargs="?", choices=provider_names())
    providers.add_argument("--json", action="store_true", help="JSON output")
    alerts = commands.add_parser("alerts", help="spend alerts")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    check = alert_commands.add_parser("check", help="evaluate every rule at a moment")
    check.add_argument("--at", help="ISO time (default now; local time if no offset)")
    check.add_argument("--json", action="store_true", help="JSON output")
    check.add_argument("--tz", type=_zone, help="IANA time zone of the rules' windows")
    check.add_argument("--no-scan", action="store_true", help="do not ingest new data first")
    watch = commands.add_parser("watch", help="headless: ingest and alert until stopped")
    watch.add_argument(
        "--webhook",
        nargs="?",
        const=True,
        default=None,
        help="POST each alert as JSON (Slack-compatible) to the webhook stored with "
        "`tokentray keys set webhook` (or TOKENTRAY_WEBHOOK_URL)",
    )
    watch.add_argument("--interval", type=float, default=30.0, help="seconds between passes")
    watch.add_argument("--desktop", action="store_true", help="also show desktop notifications")
    watch.add_argument("--tz", type=_zone, help="IANA time zone of the rules' windows")
    watch.add_argument("--once", action="store_true", help="one pass, then exit")

    prices = commands.add_parser("prices", help="show the rates used for models")
    prices.add_argument("models", nargs="*")
    prices.add_argument(
        "--used", action="store_true", help="every model in your history, with its provenance"
    )
    prices.add_argument("--date", type=_date, help="price date (default: today)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="tokentray: %(message)s",
    )
    from tokentray.logsafe import protect_logs  # noqa: PLC0415

    protect_logs()
    try:
        return _run(args)
    except BrokenPipeError:
        return EXIT_OK
    except StoreError as exc:
        print(f"tokentray: {exc}", file=sys.stderr)
        return EXIT_STORE
    except sqlite3.DatabaseError as exc:
        print(f"tokentray: {describe_store_error(exc)}", file=sys.stderr)
        return EXIT_STORE


def _run(args: argparse.Namespace) -> int:
    from tokentray.engine import open_engine  # noqa: PLC0415

    if args.command is None:
        from tokentray.ui.app import run  # noqa: PLC0415 - Qt only for the tray

        return run(args.data_dir, args.config, demo=args.demo)
    if args.command == "snapshot":
        from tokentray.ui.snapshot import render_all  # noqa: PLC0415

        for path in render_all(args.out, args.data_dir, args.config):
            print(path)
        return EXIT_OK
    from tokentray.settings import load_settings  # noqa: PLC0415

    command = args.command
    # The agents and folders chosen in Preferences apply to the command line too.
    long_lived = command in ("scan", "watch", "doctor")
    engine = open_engine(
        args.data_dir,
        settings=load_settings(args.config),
        integrity="always" if long_lived else "daily",
    )
    if engine.settings.error:
        print(f"tokentray: {engine.settings.error}", file=sys.stderr)
    if engine.store.notice:
        print(f"tokentray: {engine.store.notice}", file=sys.stderr)
    with engine.store:
        if command == "scan":
            return _scan(engine, args)
        if command == "report":
            return _report(engine, args)
        if command == "doctor":
            return _doctor(engine, args)
        if command == "reprice":
            count = engine.ingestor.reprice()
            print(f"Re-priced {count} events.")
            return EXIT_OK
        if command == "prices":
            return _prices(engine, args)
        if command in ("alerts", "watch"):
            from tokentray.alerts import cli as alerts_cli  # noqa: PLC0415

            try:
                return (
                    alerts_cli.check(engine, args)
                    if command == "alerts"
                    else alerts_cli.watch(engine, args)
                )
            except alerts_cli.WebhookError as exc:
                print(f"tokentray: {exc}", file=sys.stderr)
                return EXIT_USAGE
        if command in ("keys", "providers"):
            from tokentray import provider_cli  # noqa: PLC0415

            return provider_cli.run(engine, args)
    return EXIT_USAGE


def _exit_for(scan: ScanReport) -> int:
    return EXIT_UNREADABLE if scan.unreadable else EXIT_OK


def _scan(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray.reporting import scan_json, scan_summary  # noqa: PLC0415

    scan = engine.ingestor.scan()
    print(scan_json(scan) if args.json else scan_summary(scan, args.verbose))
    if not args.json:
        for line in engine.source_status():
            print(line)
    return _exit_for(scan)


def _report(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray import aggregate  # noqa: PLC0415
    from tokentray.engine import local_zone  # noqa: PLC0415
    from tokentray.reporting import (  # noqa: PLC0415
        report_csv,
        report_json,
        report_table,
        scan_summary,
    )

    scan, store_failed = ScanReport(), False
    if not args.no_scan:
        try:
            scan = engine.ingestor.scan()
        except StoreWriteError as exc:  # what is stored can still be reported
            print(f"tokentray: {exc}; showing what is stored", file=sys.stderr)
            store_failed = True
    if scan.skipped_lines or scan.unreadable:
        print(scan_summary(scan, args.verbose), file=sys.stderr)
    if args.kind == "reconcile":
        from tokentray.provider_cli import reconcile_report  # noqa: PLC0415

        return reconcile_report(engine, args) or _exit_for(scan)
    tz = args.tz or local_zone()
    source = args.source or ("claude-code" if args.kind == "blocks" else None)
    filters = aggregate.Filters(since=args.since, until=args.until, source=source)
    if args.kind in aggregate.PERIOD_KINDS:
        report = aggregate.period_report(engine.store, args.kind, tz, filters)
    elif args.kind == "session":
        report = aggregate.session_report(engine.store, tz, filters)
    else:
        report = aggregate.block_report(engine.store, tz, filters)
    if args.json:
        print(report_json(report))
    elif args.csv:
        print(report_csv(report, args.breakdown), end="")
    elif not report.rows:
        print("No usage recorded for this selection. Folders looked at:")
        for line in engine.source_status():
            print(f"  {line}")
    else:
        print(report_table(report, args.breakdown))
    return EXIT_STORE if store_failed else _exit_for(scan)


def _doctor(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray.reporting import to_json  # noqa: PLC0415

    scan = engine.ingestor.scan()
    report = engine.doctor()
    if args.json:
        print(to_json(report))
        return _exit_for(scan)
    for agent in report:
        found = [f["path"] for f in agent["folders"] if f["found"]]
        print(f"{agent['agent']}: " + (", ".join(found) if found else "no folder found"))
        if found:
            print(
                f"  {agent['files']} files, {agent['events']} usage events, "
                f"{agent['skipped_lines']} lines skipped; last event {agent['last_event'] or '—'}, "
                f"last successful parse {agent['last_successful_parse'] or '—'}"
            )
        for problem in agent["first_problems"]:
            print(f"  skipped {problem}")
        if agent["warning"]:
            print(f"  ! {agent['warning']}")
        for unread in agent["unread"]:
            print(
                f"  ! {unread['path']}: read to byte {unread['offset']:,} of {unread['size']:,};"
                " the rest was not read. Run `tokentray scan`; if this stays, please report it"
            )
    return _exit_for(scan)


def _prices(engine: Engine, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from tokentray.pricing import RATES_HEADER, audit, describe  # noqa: PLC0415

    if args.used:
        print("\n".join(audit(engine.store, engine.pricer)))
        return EXIT_OK
    if not args.models:
        print("tokentray: name one or more models, or give --used", file=sys.stderr)
        return EXIT_USAGE
    day = args.date or date.today()
    moment_ms = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000)
    print(RATES_HEADER)
    for model in args.models:
        head, *tiers = describe(engine.pricer.rates(model, moment_ms))
        print(f"{model}: {head}")
        for line in tiers:
            print(line)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
