"""The daily backup and integrity check, out of the way of what the user is waiting for.

A pass over every folder (the tray's, ``scan``, ``report``) finds the backup due once a
day. A small store is checked and copied there and then (tens of milliseconds). Copying a
big one takes seconds (8 to 30 s for the 1.9 GB store of a 3 GB
history), and checking it 6 s, which would hold up the report being asked for or the
tray's live updates; so a store past ``BACKGROUND_UPKEEP_BYTES`` is handed to ``tokentray
backup``, a process of its own, at low priority, that the pass does not wait for. It checks
the store first and copies only a sound one; damage it finds is left for the next opening
of the store to repair. The store's backup lock keeps it to one at a time, whoever starts
it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokentray.store import Store

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 10


def upkeep_when_due(store: Store) -> None:
    """The daily integrity check and backup, when due: here for a small store, else in
    the background. Damage found is marked for the store's next opening (or its user's
    next pass, ``Store.reopen_if_replaced``) to repair."""
    from tokentray.store.core import (  # noqa: PLC0415
        BACKGROUND_UPKEEP_BYTES,
        backup_folder,
        backup_running,
        store_bytes,
    )

    if not (store.backup_due() or store.integrity_due()):
        return
    if store_bytes(store.path) < BACKGROUND_UPKEEP_BYTES:
        store.daily_upkeep()
    elif not backup_running(backup_folder(store.path)):
        start_backup_process(store.path.parent)


def start_backup_process(data_dir: Path) -> subprocess.Popen[bytes]:
    """``tokentray --data-dir DATA_DIR backup --background``, detached: it goes on if
    this process ends first (a report's does)."""
    from tokentray.desktop.resources import launch_command  # noqa: PLC0415

    command = [*launch_command(), "--data-dir", str(data_dir), "backup", "--background"]
    log.info("backing up the usage store in the background")
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        **_detached(),
    )


def _detached() -> dict[str, Any]:
    if sys.platform == "win32":
        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        return {"creationflags": flags | subprocess.BELOW_NORMAL_PRIORITY_CLASS}
    return {"start_new_session": True}


def run(args: Sequence[str]) -> int:
    """``tokentray backup [--now]``: make the daily backup if it is due (``--now``: in any
    case) and say where it went. ``--background`` is how a pass starts it: at low priority,
    logging instead of printing."""
    from tokentray.cli import EXIT_OK, EXIT_STORE, option_value  # noqa: PLC0415
    from tokentray.paths import database_path  # noqa: PLC0415
    from tokentray.store import StoreError  # noqa: PLC0415

    background = "--background" in args
    if background:  # nobody reads its output: what goes wrong goes to the log file
        from tokentray.logfile import start_file_log  # noqa: PLC0415

        start_file_log(level=logging.INFO)
        if hasattr(os, "nice"):
            os.nice(BACKGROUND_NICENESS)
    try:
        with Store(
            database_path(option_value(args, "--data-dir")), integrity="never", recover=False
        ) as store:
            if store.read_only is not None:
                raise StoreError(f"the usage store is read-only ({store.read_only})")
            damage, made = store.daily_upkeep(force="--now" in args)
    except (StoreError, OSError, sqlite3.Error) as exc:
        _say(background, f"tokentray: could not back up the usage store: {exc}")
        return EXIT_STORE
    if damage is not None:
        _say(
            background,
            f"tokentray: the usage store is damaged ({damage[:200]}); it is repaired from "
            "its backup and the logs when tokentray next opens it. No backup was made.",
        )
        return EXIT_STORE
    if background:
        return EXIT_OK  # the store logs the backup it made (in the log file)
    if made is not None:
        print(f"backed up the usage store to {made}")
    else:
        print("no backup made: the last one is less than a day old, or one is being made")
    return EXIT_OK


def _say(background: bool, message: str) -> None:
    """A failure: in the log file from the background, else on stderr."""
    if background:
        log.warning("%s", message)
    else:
        print(message, file=sys.stderr)
