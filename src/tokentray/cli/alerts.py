"""`tokentray alerts check` and `tokentray watch` (headless: ingest and alerts, no display).

``watch`` uses the same folder watcher as the tray: a changed file is read within a
fraction of a second, every folder is re-read every five minutes as a safety net,
and the rules are checked every ``--interval`` seconds and after each change."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from tokentray.alerts.engine import Alert, AlertEngine
from tokentray.alerts.notify import desktop_notify, post_webhook
from tokentray.cli.exits import EXIT_ERROR
from tokentray.cli.output import to_json
from tokentray.engine import Engine, local_zone
from tokentray.watcher import FolderWatcher

if TYPE_CHECKING:
    from tokentray.exporter import Exporter

log = logging.getLogger(__name__)


def alert_engine(engine: Engine, args: argparse.Namespace) -> AlertEngine:
    return AlertEngine(engine.store, engine.settings.rules(), args.tz or local_zone())


def check(engine: Engine, args: argparse.Namespace) -> int:
    """What the rules raise at ``--at`` (default now); nothing is recorded or sent."""
    if not args.no_scan:
        engine.ingestor.scan()
    alerts_at = args.at or datetime.now(UTC)
    rules = alert_engine(engine, args)
    alerts = rules.evaluate(alerts_at)
    if args.json:
        rows = [{**a.as_dict(), "already_notified": rules.was_fired(a)} for a in alerts]
        print(to_json({"at": alerts_at.isoformat(), "alerts": rows}))
        return 0
    if not alerts:
        print(f"No alert at {alerts_at.astimezone(local_zone()):%Y-%m-%d %H:%M}.")
    for alert in alerts:
        seen = " (already notified)" if rules.was_fired(alert) else ""
        print(
            f"{alert.level.upper()}: {alert.title}{seen}\n  "
            + alert.message().replace("\n", "\n  ")
        )
    return 0


def watch(engine: Engine, args: argparse.Namespace) -> int:
    """Ingest what changes as it changes, check the rules, print and post alerts; until
    stopped (or after one pass with ``--once``)."""
    stop = threading.Event()
    watcher = FolderWatcher()
    webhook = webhook_url(args.webhook)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_handler(stop))
    rules = alert_engine(engine, args)
    roots = [root for _source, root in engine.ingestor.roots()]
    exporter = _start_exporter(engine, args) if args.exporter else None
    if args.exporter and exporter is None:
        return EXIT_ERROR
    try:
        if args.once:
            print(f"tokentray watch: {len(rules.rules)} rules, one pass", flush=True)
            _watch_pass(engine, rules, None, webhook, args.desktop)
            return 0
        for problem in watcher.sync(roots):
            log.warning("%s", problem)
        print(
            f"tokentray watch: {len(rules.rules)} rules; watching {len(watcher.watched)} "
            f"folders; rules checked every {args.interval:g} s",
            flush=True,
        )
        next_full = 0.0
        changed: list[Path] | None = None
        while not stop.is_set():
            if time.monotonic() >= next_full:  # the safety net, and new folders
                for problem in watcher.sync(roots):
                    log.warning("%s", problem)
                changed, next_full = None, time.monotonic() + watcher.rescan_s
            _watch_pass(engine, rules, changed, webhook, args.desktop)
            wait = max(0.0, min(args.interval, next_full - time.monotonic()))
            changed = _wait_for_changes(watcher, stop, wait)
    finally:
        watcher.stop()
        if exporter is not None:
            exporter.stop()
    return 0


STOP_POLL_S = 0.5


def stop_handler(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """SIGINT/SIGTERM for ``watch``: only sets ``stop``. A handler runs in the main thread
    between any two of its steps, so it must not take a lock the main thread may be
    holding: waking the watcher's wait did (its event's lock), and a signal landing while
    the wait held it hung ``watch`` for good. The loop looks at ``stop`` instead."""

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()  # takes only stop's own lock, which the main thread never holds

    return stopping


def _wait_for_changes(watcher: FolderWatcher, stop: threading.Event, seconds: float) -> list[Path]:
    """The paths changed within ``seconds``, looking for a stop every ``STOP_POLL_S``."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        changed = watcher.wait(max(0.0, min(STOP_POLL_S, left)))
        if changed or left <= STOP_POLL_S:
            return changed
    return []


def _start_exporter(engine: Engine, args: argparse.Namespace) -> Exporter | None:
    """The Prometheus endpoint beside the watch: at --exporter's ADDRESS:PORT, or as the
    settings' [exporter] table says; None (and why, on stderr) when it cannot open."""
    from dataclasses import replace  # noqa: PLC0415

    from tokentray.exporter import ExporterError, exposure_warning, start_exporter  # noqa: PLC0415

    settings = engine.settings.exporter
    if isinstance(args.exporter, str):
        address, _, port = args.exporter.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            print(
                f"tokentray: --exporter wants ADDRESS:PORT, not {args.exporter!r}", file=sys.stderr
            )
            return None
        settings = replace(
            settings, address=address.strip("[]") or settings.address, port=int(port)
        )
    warning = exposure_warning(settings)
    if warning:
        print(f"tokentray: {warning}", file=sys.stderr)
    try:
        exporter = start_exporter(
            engine.store.path,
            settings,
            lambda: engine.settings.daily_budget_usd,
            args.tz or local_zone(),
            lambda: engine.settings.insight.moved,
            settle_first=True,
        )
    except ExporterError as exc:
        print(f"tokentray: {exc}", file=sys.stderr)
        return None
    print(f"tokentray watch: Prometheus metrics at {exporter.url}", flush=True)
    return exporter


def _watch_pass(
    engine: Engine,
    rules: AlertEngine,
    paths: list[Path] | None,
    webhook: str | None,
    desktop: bool,
) -> None:
    """Ingest ``paths`` (None: every folder), then send the alerts that are due."""
    engine.store.reopen_if_replaced()  # a repair says what it did in the log, on stderr
    if paths is None or paths:
        scan = engine.ingestor.scan(paths)
        for problem in scan.unreadable:
            log.warning("cannot read %s: %s", problem.path, problem.reason)
    for alert in rules.due(datetime.now(UTC)):
        send(alert, webhook, desktop=desktop)


class WebhookError(ValueError):
    """The webhook cannot be used as asked (one sentence for the user)."""


def webhook_url(requested: str | bool | None) -> str | None:
    """The stored webhook URL when ``--webhook`` is given alone. A URL typed on the command
    line is refused: every user of the machine sees it in ``ps`` and /proc."""
    if requested is None:
        return None
    if isinstance(requested, str):
        raise WebhookError(
            "a webhook URL on the command line is visible to every user of this machine; "
            "store it with `tokentray keys set webhook` (or TOKENTRAY_WEBHOOK_URL) "
            "and pass --webhook alone"
        )
    from tokentray.providers.http import ProviderError  # noqa: PLC0415
    from tokentray.providers.keys import WEBHOOK, KeyStore  # noqa: PLC0415

    try:
        url, _where = KeyStore(os.environ).get(WEBHOOK)
    except ProviderError as exc:  # no keyring: the message says how to fix it
        raise WebhookError(exc.message) from None
    if not url:
        raise WebhookError("no webhook is set: `tokentray keys set webhook` stores one")
    return url


def send(alert: Alert, webhook: str | None, desktop: bool = False) -> None:
    print(
        f"{alert.level.upper()}: {alert.title}\n  " + alert.message().replace("\n", "\n  "),
        flush=True,
    )
    if desktop:
        desktop_notify(alert)
    if webhook and not post_webhook(webhook, alert):
        print(f"tokentray: the webhook did not take the alert ({alert.rule.name})", file=sys.stderr)
