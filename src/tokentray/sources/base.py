"""The interfaces agent log sources implement, one per way of reading.

A source knows where its agent writes logs, which files under those folders
carry usage, and how to turn them into usage events. There are three ways to
read, and a source derives from the base of each it uses:

- ``LineSource``: an append-only log (JSONL); the engine reads only the new
  bytes and hands each line to the source's parser, which resumes from state.
- ``DocumentSource``: a file rewritten whole (a JSON chat, a task folder);
  it is read again entirely when its signature changes.
- ``SqliteSource``: a ``DocumentSource`` that is another program's SQLite
  database (read-only, never locking it; its -wal belongs to it).

Reading bytes, checkpoints, truncation and storage are the ingest engine's job,
so adding an agent means adding one module, a registry line and a fixture.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from tokentray.events import Activity, Found, LineError, UsageEvent
from tokentray.paths import sqlite_uri

DocumentT = TypeVar("DocumentT")


class LineParser(Protocol):
    """Turns the lines of one file, in order, into usage events.

    A parser may carry state from line to line (the current model, the last
    cumulative counter). ``state()`` returns it as JSON-able data; the engine
    stores it with the file's checkpoint and hands it back to ``Source.parser``
    so that a later pass resumes exactly where this one stopped.

    A parser may also have ``parse_block(block, line_count)``: every complete line of a
    chunk at once, returning what they yield (checked against the event model's bounds),
    or None to have the engine hand them over one by one as usual. It must decide
    exactly as ``parse`` does (see ``claude_fast`` and its tests).
    """

    def parse(self, line: bytes | memoryview, line_no: int) -> Sequence[Found]:
        """Events on this line; raise LineError for a line that cannot be read.

        The engine hands over only lines that contain one of the source's
        ``marks`` or that do not look like a JSON object (to be reported).
        """
        ...

    def state(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class WholeRead:
    """What one whole-file read found, and the state to resume from."""

    items: list[UsageEvent | Activity] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line or row, reason)
    state: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def record(self, index: int) -> Iterator[None]:
        """The boundary of one record (a message, a row): whatever fails inside it becomes
        that record's skipped line, and the records after it are still read."""
        try:
            yield
        except Exception as exc:  # one bad record must not stop the rest
            self.problems.append((index, describe_failure(exc)))


def read_only(path: Path) -> sqlite3.Connection:
    """A database another program writes (in WAL mode): read-only, never locking it."""
    return sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True, timeout=2)


def wal_signature(database: Path) -> list[int]:
    """Size and mtime of a database's -wal file (where recent writes sit), if it has one."""
    wal = database.with_name(database.name + "-wal")
    if not wal.exists():
        return []
    stat = wal.stat()
    return [stat.st_size, stat.st_mtime_ns]


DATABASE_SIDE_FILES = ("-wal", "-shm", "-journal")


def database_owner(path: Path) -> Path:
    """``x.db`` for its ``x.db-wal``, ``x.db-shm`` and ``x.db-journal``; any other path
    for itself."""
    for suffix in DATABASE_SIDE_FILES:
        if path.name.endswith(suffix):
            return path.with_name(path.name.removesuffix(suffix))
    return path


def describe_failure(exc: Exception) -> str:
    """A skipped record's reason: a LineError says it; anything else is named as a fault."""
    if isinstance(exc, LineError):
        return str(exc)
    return f"could not be read ({type(exc).__name__}: {str(exc)[:200]})"


class Source(ABC):
    """One agent's local logs: where they are and which files carry usage. A source is
    also a ``LineSource``, a ``DocumentSource`` or both (see the module's docstring)."""

    name: str = ""
    display_name: str = ""

    @abstractmethod
    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Folders this agent writes to (existing or not), in priority order."""

    @abstractmethod
    def wants(self, path: Path) -> bool:
        """Whether a file below a root is a usage log of this agent."""

    def whole_file(self, path: Path) -> bool:
        """Whether ``path`` is rewritten whole (a JSON document, a database) rather than
        appended to: such a file is parsed again entirely when it changes, and its
        events are matched by identity."""
        return False

    def signature(self, path: Path) -> list[int]:
        """What changes when the file does (size, mtime and ctime, which a tool that puts
        the mtime back cannot reset)."""
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def owner(self, path: Path) -> Path:
        """The file a watched path belongs to (a database's -wal belongs to the database)."""
        return path

    def roots_for_folder(self, folder: Path) -> list[Path]:
        """The roots to read for a folder the user added by hand."""
        return [folder]

    def files(self, root: Path) -> Iterator[Path]:
        """Every usage log below ``root`` (see ``walk``)."""
        for name in walk(root):
            path = Path(name)
            if self.wants(path):
                yield path


def walk(root: Path) -> Iterator[str]:
    """Every file below ``root``, as a path string: unreadable folders are skipped, and
    links to folders are not followed (as ``os.walk``, without its extra ``lstat`` and path
    parsing per folder: every pass lists 9,000 files of a heavy user's history, most of
    them known to the store by this very string)."""
    folders = [str(root)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                found = [(entry.path, _kind(entry)) for entry in entries]
        except OSError:
            continue
        for name, kind in found:
            if kind == "file":
                yield name
            elif kind == "folder":
                folders.append(name)


def _kind(entry: os.DirEntry[str]) -> str:
    """What the walk does with an entry: a "folder" is looked into, a "link" to a folder
    is not followed (as os.walk), anything else is a "file" (the pass checks that it is a
    regular one)."""
    try:
        if not entry.is_dir():
            return "file"
        return "link" if entry.is_symlink() else "folder"
    except OSError:
        return "file"


class LineSource(Source):
    """An append-only log read line by line from where the last pass stopped."""

    # A line that looks like a JSON object and contains none of these carries no usage
    # and is skipped without parsing.
    marks: tuple[bytes, ...] = ()
    # ...and a line that contains one of these is skipped too (e.g. tool results),
    skip_marks: tuple[bytes, ...] = ()
    # ...unless it also contains one of these (a response's usage: a tool's input may
    # hold the skip mark's very word).
    keep_marks: tuple[bytes, ...] = ()

    @abstractmethod
    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> LineParser:
        """A parser for ``path`` (below ``root``), resumed from ``state`` when given."""


class DocumentSource(Source):
    """Files rewritten whole, read again entirely when their signature changes."""

    def whole_file(self, path: Path) -> bool:
        return True

    @abstractmethod
    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        """Everything in a whole file; ``since`` is what the previous read left in its state
        (a database source reads only rows changed after it)."""


class SqliteSource(DocumentSource):
    """Another program's SQLite database: opened read-only, never locked; its -wal, -shm
    and -journal files belong to it, and recent writes in the -wal count as a change."""

    def owner(self, path: Path) -> Path:
        return database_owner(path)

    def signature(self, path: Path) -> list[int]:
        return super().signature(path) + wal_signature(path)

    def connect(self, path: Path) -> sqlite3.Connection:
        return read_only(path)


def line_source(source: Source, path: Path) -> LineSource | None:
    """``source`` when ``path`` is read line by line, else None (read whole)."""
    if source.whole_file(path) or not isinstance(source, LineSource):
        return None
    return source


def document_source(source: Source, path: Path) -> DocumentSource | None:
    """``source`` when ``path`` is read whole, else None."""
    if not source.whole_file(path) or not isinstance(source, DocumentSource):
        return None
    return source


def app_config_dir(env: Mapping[str, str], home: Path) -> Path:
    """Where desktop applications (VS Code and its forks) keep their user folders:
    Application Support on macOS, %APPDATA% on Windows, $XDG_CONFIG_HOME elsewhere."""
    if sys.platform == "darwin":
        return home / "Library" / "Application Support"
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def env_paths(env: Mapping[str, str], variable: str) -> list[Path] | None:
    """The comma-separated list of folders in ``variable``, or None when unset."""
    raw = env.get(variable, "").strip()
    if not raw:
        return None
    return [Path(part.strip()).expanduser() for part in raw.split(",") if part.strip()]


def load_object(line: bytes | memoryview) -> dict[str, Any]:
    """One JSON object from a line; LineError when the line is not one."""
    record = load_document(line)
    if not isinstance(record, dict):
        raise LineError("not a JSON object")
    return record


def read_document(path: Path, kind: type[DocumentT], what: str) -> DocumentT:
    """The JSON document in ``path``. Not JSON, or not a ``kind``: LineError, which the
    engine records as the file's one skipped record (``what`` says what it should be)."""
    document = load_document(path.read_bytes())
    if not isinstance(document, kind):
        raise LineError(what)
    return document


def load_document(data: bytes | memoryview | str) -> Any:
    """A JSON document (a line, a chat file, a text field holding JSON), read leniently."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return _load_leniently(data, exc)


def _load_leniently(data: bytes | memoryview | str, error: orjson.JSONDecodeError) -> Any:
    """What orjson refuses for its bytes rather than its shape: a UTF-8 byte-order mark,
    invalid UTF-8 inside a string, a lone surrogate escape. The text is decoded with
    replacement characters, so the numbers on the line survive; anything else that is not
    JSON (NaN included) stays refused."""
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    text = text.lstrip("\ufeff")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise LineError(f"not JSON: {error}") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def tool_fingerprint(name: str, arguments: object) -> str:
    """A tool call's name and a short hash of its input: equal calls, equal fingerprints."""
    if isinstance(arguments, str):
        data = arguments.encode("utf-8", "replace")
    else:
        try:
            data = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # nested deeper than the encoder goes, or not JSON data
            data = repr(arguments)[:65_536].encode("utf-8", "replace")
    digest = hashlib.blake2b(data, digest_size=6)
    return f"{name}:{digest.hexdigest()}"


def parse_timestamp_ms(value: object) -> int:
    """ISO-8601 (with ``Z``) or epoch seconds/milliseconds to epoch milliseconds, UTC."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise LineError(f"bad timestamp {value[:40]!r}") from exc
        if parsed.tzinfo is None:
            raise LineError(f"timestamp without time zone {value[:40]!r}")
        try:
            return int(parsed.timestamp() * 1000)
        except (OverflowError, ValueError) as exc:  # year 9999 with a negative offset
            raise LineError(f"timestamp out of range {value[:40]!r}") from exc
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise LineError("timestamp is not a finite number")
        return int(value if abs(value) > 10**11 else value * 1000)
    raise LineError("missing timestamp")


def table(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def as_count(value: object) -> int:
    """A token count from JSON: a non-negative integer, else 0."""
    if type(value) is int:  # the common case first
        return value if value > 0 else 0
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value):
        return max(int(value), 0)
    if isinstance(value, float) and value > 0:
        raise LineError("token count is infinite")
    return 0
