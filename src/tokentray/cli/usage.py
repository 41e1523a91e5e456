"""`tokentray scan`, `report`, `doctor`, `reprice` and `prices`: call the engine, print
through ``output``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from zoneinfo import ZoneInfo

from tokentray.cli.exits import EXIT_OK, EXIT_STORE, EXIT_UNREADABLE, EXIT_USAGE
from tokentray.engine import Engine
from tokentray.events import ScanReport
from tokentray.store import StoreWriteError


def exit_for(scan: ScanReport) -> int:
    return EXIT_UNREADABLE if scan.unreadable else EXIT_OK


def scan(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray.cli.output import folder_lines, scan_json, scan_summary  # noqa: PLC0415

    scan = engine.ingestor.scan()
    print(scan_json(scan) if args.json else scan_summary(scan, args.verbose))
    if not args.json:
        for line in folder_lines(engine.folder_status(), args.verbose):
            print(line)
    return exit_for(scan)


def limits_report(engine: Engine, args: argparse.Namespace) -> int:
    """The subscription windows: how full, how fast, when they reset."""
    import time  # noqa: PLC0415

    from tokentray import plans  # noqa: PLC0415
    from tokentray.cli.output import limits_csv, limits_table, to_json  # noqa: PLC0415

    found = plans.windows(engine.store.plan_latest(), int(time.time() * 1000))
    if args.source:
        found = [w for w in found if w.sample.source == args.source]
    if args.json:
        print(to_json({"report": "limits", "windows": [w.as_dict() for w in found]}))
    elif args.csv:
        print(limits_csv(found), end="")
    else:
        print(limits_table(found))
    return EXIT_OK


def report(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray import aggregate  # noqa: PLC0415
    from tokentray.cli.output import (  # noqa: PLC0415
        report_csv,
        report_json,
        report_table,
        scan_summary,
    )
    from tokentray.engine import local_zone  # noqa: PLC0415

    if args.since and args.until and args.since > args.until:
        print(
            f"tokentray: --since {args.since} is after --until {args.until}: nothing can match",
            file=sys.stderr,
        )
        return EXIT_USAGE
    scan, store_failed = ScanReport(), False
    if not args.no_scan:
        try:
            scan = engine.ingestor.scan()
        except StoreWriteError as exc:  # what is stored can still be reported
            print(f"tokentray: {exc}; showing what is stored", file=sys.stderr)
            store_failed = True
    if scan.skipped_lines or scan.unreadable:
        print(scan_summary(scan, args.verbose), file=sys.stderr)
    if args.kind == "limits":
        return limits_report(engine, args) or exit_for(scan)
    if args.kind == "reconcile":
        from tokentray.cli.providers import reconcile_report  # noqa: PLC0415

        return reconcile_report(engine, args) or exit_for(scan)
    tz = args.tz or local_zone()
    if args.kind in ("outcomes", "cache", "counterfactual"):
        from tokentray.cli.insight import insight_report  # noqa: PLC0415

        return insight_report(engine, args, tz) or (EXIT_STORE if store_failed else exit_for(scan))
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
        print(_nothing_to_report(engine, args, tz))
    else:
        print(report_table(report, args.breakdown))
    return EXIT_STORE if store_failed else exit_for(scan)


def doctor(engine: Engine, args: argparse.Namespace) -> int:
    """What works on this machine and what does not (each problem with its fix), the
    versions and paths, then every agent's folders and what was read from them."""
    from tokentray import system_check  # noqa: PLC0415
    from tokentray.cli.output import doctor_text, system_text, to_json  # noqa: PLC0415
    from tokentray.logfile import LOG_FILE  # noqa: PLC0415
    from tokentray.paths import log_dir  # noqa: PLC0415
    from tokentray.settings import config_path  # noqa: PLC0415

    scan = engine.ingestor.scan()
    agents = engine.doctor()
    exporter = engine.settings.exporter
    served = f"{exporter.address}:{exporter.port}" if exporter.enabled else "off"
    checks = [
        *system_check.system_checks(),
        *system_check.local_checks(
            engine.store.path.parent,
            engine.settings.path or config_path(),
            log_dir() / LOG_FILE,
        ),
        system_check.autostart_check(),
        system_check.Check("Prometheus endpoint", "info", served),
    ]
    versions = system_check.versions()
    if args.json:
        data = {"versions": versions, "checks": system_check.as_dicts(checks), "agents": agents}
        print(to_json(data))
    else:
        print(system_text(versions, checks))
        print()
        print(doctor_text(agents))
    return exit_for(scan)  # a problem found here is advice: the JSON says which


def prices(engine: Engine, args: argparse.Namespace) -> int:
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


def reprice(engine: Engine, args: argparse.Namespace) -> int:
    count = engine.ingestor.reprice()
    print(f"Re-priced {count} events.")
    return EXIT_OK


def _nothing_to_report(engine: Engine, args: argparse.Namespace, tz: ZoneInfo) -> str:
    """Why a report is empty: nothing in the chosen days or agent (and when the last
    request was), or nothing recorded at all (and where tokentray looked)."""
    from datetime import datetime  # noqa: PLC0415

    from tokentray.cli.output import folder_lines  # noqa: PLC0415

    last = engine.store.last_event_ms()
    if last is not None:
        when = datetime.fromtimestamp(last / 1000, tz).strftime("%Y-%m-%d %H:%M")
        return f"No usage in this selection; the last request recorded was on {when}."
    lines = ["No usage recorded yet. Folders looked at:"]
    lines += [f"  {line}" for line in folder_lines(engine.folder_status(), args.verbose)]
    return "\n".join(lines)
