"""The command line's arguments: every command, its options and their checks."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokentray import __version__

REPORT_KINDS = (
    "daily",
    "weekly",
    "monthly",
    "session",
    "blocks",
    "reconcile",
    "limits",
    "outcomes",
    "cache",
    "counterfactual",
)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None


MOMENT_WORDS = {"now": timedelta(0), "yesterday": timedelta(days=1), "today": timedelta(0)}


def parse_moment(text: str) -> datetime:
    """``--at``: an ISO date or time (local when it has no offset), or now, today (this
    moment) or yesterday (this moment a day ago)."""
    word = text.strip().lower()
    if word in MOMENT_WORDS:
        return datetime.now(UTC) - MOMENT_WORDS[word]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a moment: give an ISO time such as 2026-10-15T03:00, "
            "or now, today or yesterday"
        ) from None
    if moment.tzinfo is None:
        from tokentray.engine import local_zone  # noqa: PLC0415

        moment = moment.replace(tzinfo=local_zone())
    return moment


class Parser(argparse.ArgumentParser):
    """Bad input is one sentence on stderr and exit code 2, with no usage dump."""

    def error(self, message: str) -> NoReturn:
        print(f"tokentray: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from tokentray.sources import source_names  # noqa: PLC0415

    parser = Parser(prog="tokentray", description="See what your AI coding agents burn.")
    parser.add_argument("--version", action="version", version=f"tokentray {__version__}")
    parser.add_argument("--data-dir", help="folder of the usage store (default: user data dir)")
    parser.add_argument("--config", type=Path, help="config file (default: user config dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    parser.add_argument(
        "--demo", action="store_true", help="run the tray on synthetic agents (no real logs read)"
    )
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    snapshot = commands.add_parser("snapshot", help="render the icon and windows to PNG files")
    snapshot.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    snapshot.add_argument("--dark", action="store_true", help="in a dark desktop theme")

    scan = commands.add_parser("scan", help="ingest new agent log lines now")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")
    scan.add_argument(  # also after the command; SUPPRESS keeps a -v given before it
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say more"
    )

    report = commands.add_parser("report", help="usage and cost by period, session or block")
    report.add_argument("kind", choices=REPORT_KINDS)
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON output")
    output.add_argument("--csv", action="store_true", help="CSV output")
    report.add_argument("--since", type=parse_date, help="first day, YYYY-MM-DD (in --tz)")
    report.add_argument("--until", type=parse_date, help="last day, YYYY-MM-DD (in --tz)")
    report.add_argument("--tz", type=parse_zone, help="IANA time zone (default: local)")
    report.add_argument("--source", choices=source_names(), help="only this agent")
    report.add_argument("--breakdown", action="store_true", help="per-model rows")
    report.add_argument("--no-scan", action="store_true", help="do not ingest new data first")
    report.add_argument(
        "--as",
        dest="as_model",
        metavar="MODEL",
        help="counterfactual: the model to price the same requests as "
        "(default: [insight] compare_model)",
    )

    commands.add_parser("reprice", help="re-price every stored event with current prices")
    backup = commands.add_parser(
        "backup",
        help="make the daily backup of the usage store if it is due (passes start it)",
    )
    backup.add_argument("--now", action="store_true", help="make one even if it is not due")
    backup.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser(
        "statusline",
        help="Claude Code's status line: reads its JSON on stdin, prints today's $, this "
        "session's $, plan windows and the burn (see the README)",
    )
    commands.add_parser(
        "guard",
        help="a Claude Code hook: exits 2 with a reason when a budget or plan rule is over "
        "its critical level, so an unattended agent stops itself (see the README)",
    )
    agents = commands.add_parser(
        "agents", help="the processes behind a session: list, pause, resume or stop them"
    )
    agents.add_argument("action", choices=("list", "pause", "resume", "stop"))
    agents.add_argument("session", nargs="?", help="a session id, or the start of one")
    agents.add_argument("--source", choices=source_names(), help="the session's agent")
    agents.add_argument("--yes", action="store_true", help="act without asking")
    agents.add_argument(
        "--grace", type=float, default=10.0, help="stop: seconds between SIGTERM and SIGKILL"
    )
    agents.add_argument("--json", action="store_true", help="JSON output")
    desktop = commands.add_parser(
        "install-desktop",
        help="add tokentray to the desktop's application menu (entry, icons, metainfo)",
    )
    desktop.add_argument("--remove", action="store_true", help="take them away again")
    autostart = commands.add_parser("autostart", help="start tokentray when you log in")
    autostart.add_argument("action", choices=("on", "off", "status"))
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
    check.add_argument(
        "--at",
        type=parse_moment,
        help="ISO time (local if no offset), or now, today or yesterday (default now)",
    )
    check.add_argument("--json", action="store_true", help="JSON output")
    check.add_argument("--tz", type=parse_zone, help="IANA time zone of the rules' windows")
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
    watch.add_argument("--tz", type=parse_zone, help="IANA time zone of the rules' windows")
    watch.add_argument("--once", action="store_true", help="one pass, then exit")
    watch.add_argument(
        "--exporter",
        nargs="?",
        const=True,
        default=None,
        metavar="ADDRESS:PORT",
        help="also serve Prometheus metrics (default: the [exporter] settings, 127.0.0.1:9788)",
    )

    prices = commands.add_parser("prices", help="show the rates used for models")
    prices.add_argument("models", nargs="*")
    prices.add_argument(
        "--used", action="store_true", help="every model in your history, with its provenance"
    )
    prices.add_argument("--date", type=parse_date, help="price date (default: today)")
    return parser
