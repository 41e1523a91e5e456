"""genai-prices' answers, remembered on disk for every process on the machine.

Importing genai-prices and building its price snapshot costs about a quarter of a second
of CPU in each process that has to ask it something; a new store's first scan paid that
once per worker process. The library's answer for a model name, UTC day and service tier
depends only on the library's version and on how tokentray reads it, so the answers are
kept in the user cache folder, in one file per library version. The store's own price
cache (rates after overrides) stays the first place to look; this is the one behind it.

Each answer is kept with the days over which the library cannot answer otherwise: from the
start date of the model's dated price in force that day to the next one (either end open
when there is none). A new day, or a day never asked about, then needs no library either.

It is only a cache: a missing, unreadable, corrupt or unwritable file means asking the
library again, never a wrong price or an error for the user.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from datetime import date
from pathlib import Path

import orjson

from tokentray.paths import cache_dir

log = logging.getLogger(__name__)

MemoKey = tuple[str, str, str]  # the model name as the library is asked, UTC day, tier
# (name, tier, first day, day after the last, rates): the days are ISO dates, "" for an
# open end; the rates are ``Rates.to_json`` text, or None for no price.
MemoEntry = tuple[str, str, str, str, str | None]
_Windows = dict[tuple[str, str], dict[tuple[str, str], str | None]]
FORMAT = 2


class LibraryMemo:
    """The library's rates by model name and tier, each over the days it holds, in the
    file ``name`` of the cache folder (looked up on first use: a process that never
    prices never asks where that is)."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        self.name = name
        self.folder = folder
        self._known: _Windows | None = None  # read on first use
        self._added: list[MemoEntry] = []

    @property
    def path(self) -> Path:
        if self.folder is None:
            self.folder = cache_dir()
        return self.folder / self.name

    def lookup(self, key: MemoKey) -> tuple[bool, str | None]:
        """(found, rates text); a found None means the library has no price for it."""
        name, day, tier = key
        for (first, until), rates in self._load().get((name, tier), {}).items():
            if first <= day and (not until or day < until):
                return True, rates
        return False, None

    def add(self, entry: MemoEntry) -> None:
        _put(self._load(), entry)
        self._added.append(entry)

    def take_added(self) -> list[MemoEntry]:
        """What was added since the last call (a worker hands it to its parent)."""
        added, self._added = self._added, []
        return added

    def merge(self, added: list[MemoEntry]) -> None:
        for entry in added:
            self.add(entry)

    def save(self) -> None:
        """Write what was added, merged with what other processes wrote meanwhile."""
        if not self._added:
            return
        merged = _read(self.path)
        for entry in self._added:
            _put(merged, entry)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write(self.path, merged)
        except OSError as exc:  # a full or read-only disk: next time asks the library again
            log.debug("could not save the price memo %s: %s", self.path, exc)
            return
        self._added.clear()

    def _load(self) -> _Windows:
        if self._known is None:
            self._known = _read(self.path)
        return self._known


def _put(known: _Windows, entry: MemoEntry) -> None:
    """Add the entry; the library's answer replaces any entry over the same days (one
    found unreadable, say)."""
    name, tier, first, until, rates = entry
    windows = known.setdefault((name, tier), {})
    for other in [w for w in windows if _overlap(w, (first, until))]:
        del windows[other]
    windows[first, until] = rates


def _overlap(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Whether two stretches of days (first, day after the last; "" open) share a day."""
    return (not one[0] or not other[1] or one[0] < other[1]) and (
        not other[0] or not one[1] or other[0] < one[1]
    )


def _read(path: Path) -> _Windows:
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
    known: _Windows = {}
    for entry in entries:
        if _well_formed(entry):
            _put(known, tuple(entry))
    return known


def _well_formed(entry: object) -> bool:
    """Five parts: name, tier, two days (ISO dates, or "" for an open end), and the rates
    text or None. Anything else is passed over (asked again)."""
    if not (isinstance(entry, list) and len(entry) == 5):
        return False
    if not all(isinstance(part, str) for part in entry[:4]):
        return False
    if not (entry[4] is None or isinstance(entry[4], str)):
        return False
    try:
        for day in entry[2:4]:
            if day:
                date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _regular_file_bytes(path: Path) -> bytes:
    """The file's bytes; OSError for anything but a regular file (a FIFO left there would
    block a plain read for good)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read()


def _write(path: Path, known: _Windows) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    entries = [
        [name, tier, first, until, rates]
        for (name, tier), windows in known.items()
        for (first, until), rates in windows.items()
    ]
    body = orjson.dumps({"format": FORMAT, "rates": entries})
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
