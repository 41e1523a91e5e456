"""genai-prices' answers, remembered on disk for every process on the machine.

Importing genai-prices and building its price snapshot costs about a quarter of a second
of CPU in each process that has to ask it something; a new store's first scan paid that
once per worker process. The library's answer for a model name, UTC day and service tier
depends only on the library's version and on how tokentray reads it, so the answers are
kept in the user cache folder, in one file per library version. The store's own price
cache (rates after overrides) stays the first place to look; this is the one behind it.

It is only a cache: a missing, unreadable, corrupt or unwritable file means asking the
library again, never a wrong price or an error for the user.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import orjson

from tokentray.paths import cache_dir

log = logging.getLogger(__name__)

MemoKey = tuple[str, str, str]  # the model name as the library is asked, UTC day, tier
FORMAT = 1


class LibraryMemo:
    """The library's rates (as ``Rates.to_json`` text, or None for no price) by key, in
    the file ``name`` of the cache folder (looked up on first use: a process that never
    prices never asks where that is)."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        self.name = name
        self.folder = folder
        self._known: dict[MemoKey, str | None] | None = None  # read on first use
        self._added: dict[MemoKey, str | None] = {}

    @property
    def path(self) -> Path:
        if self.folder is None:
            self.folder = cache_dir()
        return self.folder / self.name

    def lookup(self, key: MemoKey) -> tuple[bool, str | None]:
        """(found, rates text); a found None means the library has no price for it."""
        known = self._load()
        if key in known:
            return True, known[key]
        return False, None

    def add(self, key: MemoKey, rates: str | None) -> None:
        self._load()[key] = rates
        self._added[key] = rates

    def take_added(self) -> dict[MemoKey, str | None]:
        """What was added since the last call (a worker hands it to its parent)."""
        added, self._added = self._added, {}
        return added

    def merge(self, added: dict[MemoKey, str | None]) -> None:
        for key, rates in added.items():
            self.add(key, rates)

    def save(self) -> None:
        """Write what was added, merged with what other processes wrote meanwhile."""
        if not self._added:
            return
        merged = {**_read(self.path), **self._added}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write(self.path, merged)
        except OSError as exc:  # a full or read-only disk: next time asks the library again
            log.debug("could not save the price memo %s: %s", self.path, exc)
            return
        self._added.clear()

    def _load(self) -> dict[MemoKey, str | None]:
        if self._known is None:
            self._known = _read(self.path)
        return self._known


def _read(path: Path) -> dict[MemoKey, str | None]:
    try:
        raw = orjson.loads(_regular_file_bytes(path))
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        log.debug("ignoring the price memo %s: %s", path, exc)
        return {}
    entries = raw.get("rates") if isinstance(raw, dict) and raw.get("format") == FORMAT else None
    if not isinstance(entries, list):
        return {}
    known: dict[MemoKey, str | None] = {}
    for entry in entries:
        if (
            isinstance(entry, list)
            and len(entry) == 4
            and all(isinstance(part, str) for part in entry[:3])
            and (entry[3] is None or isinstance(entry[3], str))
        ):
            known[(entry[0], entry[1], entry[2])] = entry[3]
    return known


def _regular_file_bytes(path: Path) -> bytes:
    """The file's bytes; OSError for anything but a regular file (a FIFO left there would
    block a plain read for good)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read()


def _write(path: Path, known: dict[MemoKey, str | None]) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    entries = [[*key, rates] for key, rates in known.items()]
    body = orjson.dumps({"format": FORMAT, "rates": entries})
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
