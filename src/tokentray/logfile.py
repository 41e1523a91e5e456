"""The tray's log file, and what happens to an error nobody caught.

The log rotates (1 MB, three old files kept) in the user log folder, owner-only. Every
record passes ``logsafe``'s redaction, so key-shaped text and URL paths never reach it;
the engine never puts a log line's text (a prompt) into a message, only why it was
skipped. An uncaught exception, in the GUI or on any thread, is written there with its
type and traceback (the frames: our own source lines) but not its message, which can
carry anything it was handed (a prompt, a key); it goes to ``report`` once per place it
happened: the tray says it once and carries on. A folder that cannot be written
(read-only, full) leaves logging on stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tokentray.logsafe import protect_logs
from tokentray.paths import log_dir, make_private

log = logging.getLogger(__name__)

LOG_FILE = "tokentray.log"
MAX_BYTES = 1_000_000
BACKUPS = 3


def start_file_log(folder: Path | None = None, level: int = logging.INFO) -> Path | None:
    """Log to the rotating file (and keep stderr for warnings); the file, or None when it
    cannot be written (then why is said on stderr)."""
    folder = folder or log_dir()
    path = folder / LOG_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        make_private(path)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False
        )
    except OSError as exc:
        logging.getLogger().warning(
            "tokentray: no log file in %s (%s); logging to the terminal only",
            folder,
            exc.strerror or exc,
        )
        return None
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    )
    handler.setLevel(level)
    handler.set_name("tokentray-file")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "tokentray-file"]:
        root.removeHandler(old)
        old.close()
    before = root.level or logging.WARNING
    for other in root.handlers:  # the terminal keeps saying only what it said before
        if other.level == logging.NOTSET:
            other.setLevel(before)
    root.addHandler(handler)
    root.setLevel(min(before, level))
    protect_logs()  # redacts on every handler of the root logger, this file's included
    return path


def crash_summary(kind: type[BaseException], trace: TracebackType | None) -> str:
    """``ValueError in worker.py:210``: the type and the place, never the message."""
    return f"{kind.__name__} in {_where(trace)}"


def _where(trace: TracebackType | None) -> str:
    frames = traceback.extract_tb(trace)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno}"


def install_crash_hooks(report: Callable[[str], None]) -> Callable[[], None]:
    """Log every uncaught exception (main thread, Qt slots, other threads) and ``report``
    each place once; returns a function that puts the previous hooks back."""
    seen: set[tuple[str, str]] = set()
    lock = threading.Lock()
    previous_sys, previous_threading = sys.excepthook, threading.excepthook

    def handle(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous_sys(kind, error, trace)
            return
        summary = crash_summary(kind, trace)
        frames = "".join(traceback.format_tb(trace))
        log.error("uncaught %s\nTraceback (most recent call last):\n%s", summary, frames)
        key = (kind.__name__, _where(trace))
        with lock:
            first = key not in seen
            seen.add(key)
        if first:
            try:
                report(
                    f"tokentray hit an error and carried on ({summary}). Details are in the log."
                )
            except Exception:
                log.exception("could not report an error")

    def on_thread(args: threading.ExceptHookArgs) -> None:
        handle(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    sys.excepthook = handle
    threading.excepthook = on_thread

    def restore() -> None:
        sys.excepthook, threading.excepthook = previous_sys, previous_threading

    return restore
