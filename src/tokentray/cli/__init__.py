"""The command line: ``parser`` reads the arguments, ``main`` dispatches, one module per
group of commands calls the engine, and ``output`` formats everything printed.

``statusline`` and ``guard`` run on every prompt or tool call of an agent, and ``backup``
in the background of a pass: they skip the argument parser and the engine's imports (see
``quick_command``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tokentray.cli.exits import EXIT_OK, EXIT_STORE, EXIT_UNREADABLE, EXIT_USAGE

QUICK_COMMANDS = ("statusline", "guard", "backup")

__all__ = ["EXIT_OK", "EXIT_STORE", "EXIT_UNREADABLE", "EXIT_USAGE", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    quick = quick_command(args)
    if quick == "statusline":
        from tokentray.statusline import run  # noqa: PLC0415

        return run(args)
    if quick == "guard":
        from tokentray.guard import run as run_guard  # noqa: PLC0415

        return run_guard(args)
    if quick == "backup":
        from tokentray.backup import run as run_backup  # noqa: PLC0415

        return run_backup(args)
    from tokentray.cli.dispatch import main as full_main  # noqa: PLC0415

    return full_main(args)


def option_value(args: Sequence[str], name: str) -> str | None:
    """``--name VALUE`` or ``--name=VALUE`` anywhere in ``args`` (the quick commands read
    their few options without the argument parser)."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def quick_command(args: Sequence[str]) -> str | None:
    """``statusline``, ``guard`` or ``backup`` when that is the command (after ``--data-dir
    DIR``, ``--config FILE`` or ``--verbose``), and no ``--help`` is asked for; else None."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("--data-dir", "--config"):
            index += 2
            continue
        if arg.startswith(("--data-dir=", "--config=")) or arg in ("-v", "--verbose"):
            index += 1
            continue
        if arg in QUICK_COMMANDS and not {"-h", "--help"} & set(args):
            return arg
        return None
    return None
