"""`tokentray install-desktop` and `tokentray autostart`: no engine, only files in the
user's own folders (or, on Windows, the user's own Run key)."""

from __future__ import annotations

import argparse
import sys

from tokentray.cli.exits import EXIT_ERROR, EXIT_OK


def install_desktop(args: argparse.Namespace) -> int:
    from tokentray.desktop.resources import install_desktop, uninstall_desktop  # noqa: PLC0415

    try:
        paths = uninstall_desktop() if args.remove else install_desktop()
    except OSError as exc:
        print(f"tokentray: cannot write the desktop files: {exc}", file=sys.stderr)
        return EXIT_ERROR
    verb = "Removed" if args.remove else "Installed"
    print(f"{verb} {len(paths)} files:")
    for path in paths:
        print(f"  {path}")
    if not args.remove:
        print("tokentray is in the application menu (some desktops show it after a re-login).")
    return EXIT_OK


def autostart(args: argparse.Namespace) -> int:
    from tokentray.desktop.autostart import AutostartError, for_this_platform  # noqa: PLC0415
    from tokentray.desktop.resources import launch_command  # noqa: PLC0415

    entry = for_this_platform()
    try:
        if args.action == "on":
            entry.enable(launch_command())
        elif args.action == "off":
            entry.disable()
    except AutostartError as exc:
        print(f"tokentray: {exc}", file=sys.stderr)
        return EXIT_ERROR
    state = "on" if entry.is_enabled() else "off"
    print(f"Start at login: {state} ({entry.where})")
    return EXIT_OK
