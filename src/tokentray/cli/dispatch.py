"""Every command but the per-prompt ones: parse, open the engine once, dispatch to the command's
module. Exit codes are in ``exits``."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tokentray.cli.exits import EXIT_OK, EXIT_STORE, EXIT_USAGE
from tokentray.cli.parser import build_parser
from tokentray.store import StoreError, describe_store_error

if TYPE_CHECKING:
    from tokentray.engine import Engine

log = logging.getLogger("tokentray")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or bad input already said in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
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

        for path in render_all(args.out, args.data_dir, args.config, dark=args.dark):
            print(path)
        return EXIT_OK
    if args.command in ("install-desktop", "autostart"):
        from tokentray.cli import desktop  # noqa: PLC0415

        if args.command == "autostart":
            return desktop.autostart(args)
        return desktop.install_desktop(args)
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
    with engine.store:
        if command in ("scan", "report", "doctor", "reprice", "prices"):
            from tokentray.cli import usage  # noqa: PLC0415

            command_of: Callable[[Engine, argparse.Namespace], int] = getattr(usage, command)
            return command_of(engine, args)
        if command in ("alerts", "watch"):
            from tokentray.cli import alerts  # noqa: PLC0415

            try:
                return (
                    alerts.check(engine, args)
                    if command == "alerts"
                    else alerts.watch(engine, args)
                )
            except alerts.WebhookError as exc:
                print(f"tokentray: {exc}", file=sys.stderr)
                return EXIT_USAGE
        if command == "agents":
            from tokentray.cli import agents  # noqa: PLC0415

            return agents.run(engine, args)
        if command in ("keys", "providers"):
            from tokentray.cli import providers  # noqa: PLC0415

            return providers.run(engine, args)
    return EXIT_USAGE
