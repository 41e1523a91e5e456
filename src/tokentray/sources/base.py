"""The interface every agent log source implements.

A source knows where its agent writes logs, which files under those folders
carry usage, and how to turn one line into usage events. Reading bytes,
checkpoints, truncation and storage are the ingest engine's job, so adding an
agent means adding one module and its fixtures.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from tokentray.events import Activity, LineError, UsageEvent


class LineParser(Protocol):
    """Turns the lines of one file, in order, into usage events.

    A parser may carry state from line to line (the current model, the last
    cumulative counter). ``state()`` returns it as JSON-able data; the engine
    stores it with the file's checkpoint and hands it back to ``Source.parser``
    so that a later pass resumes exactly where this one stopped.
    """

    def parse(self, line: bytes | memoryview, line_no: int) -> list[UsageEvent | Activity]:
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


class Source(ABC):
    """One agent's local logs."""

    name: str = ""
    display_name: str = ""
    # A line that looks like a JSON object and contains none of these carries no usage
    # and is skipped without parsing.
    marks: tuple[bytes, ...] = ()
    # ...and a line that contains one of these is skipped too (e.g. tool results).
    skip_marks: tuple[bytes, ...] = ()

    @abstractmethod
    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Folders this agent writes to (existing or not), in priority order."""

    def whole_file(self, path: Path) -> bool:
        """Whether ``path`` is rewritten whole (a JSON document, a database) rather than
        appended to: such a file is parsed again entirely when it changes, and its
        events are matched by identity."""
        return False

    def read_whole(self, path: Path, root: Path, since: dict[str, Any]) -> WholeRead:
        """Everything in a whole file; ``since`` is what the previous read left in its state
        (a database source reads only rows changed after it)."""
        raise NotImplementedError(f"{self.name} has no whole-file format")

    def signature(self, path: Path) -> list[int]:
        """What changes when the file does (size, mtime and ctime, which a tool that puts
        the mtime back cannot reset; a database adds its -wal)."""
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def owner(self, path: Path) -> Path:
        """The file a watched path belongs to (a database's -wal belongs to the database)."""
        return path

    def roots_for_folder(self, folder: Path) -> list[Path]:
        """The roots to read for a folder the user added by hand."""
        return [folder]

    @abstractmethod
    def wants(self, path: Path) -> bool:
        """Whether a file below a root is a usage log of this agent."""

    @abstractmethod
    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> LineParser:
        """A parser for ``path`` (below ``root``), resumed from ``state`` when given."""

    def files(self, root: Path) -> Iterator[Path]:
        """Every usage log below ``root``; unreadable folders are skipped."""
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder, name)
                if self.wants(path):
                    yield path


def env_paths(env: Mapping[str, str], variable: str) -> list[Path] | None:
    """The comma-separated list of folders in ``variable``, or None when unset."""
    raw = env.get(variable, "").strip()
    if not raw:
        return None
    return [Path(part.strip()).expanduser() for part in raw.split(",") if part.strip()]


def load_object(line: bytes | memoryview) -> dict[str, Any]:
    """One JSON object from a line; LineError when the line is not one."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise LineError("not a JSON object")
    return record


def tool_fingerprint(name: str, arguments: object) -> str:
    """A tool call's name and a short hash of its input: equal calls, equal fingerprints."""
    data = (
        arguments
        if isinstance(arguments, str)
        else orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    )
    digest = hashlib.blake2b(data.encode() if isinstance(data, str) else data, digest_size=6)
    return f"{name}:{digest.hexdigest()}"


def parse_timestamp_ms(value: object) -> int:
    """ISO-8601 (with ``Z``) or epoch seconds/milliseconds to epoch milliseconds, UTC."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise LineError(f"bad timestamp {value!r}") from exc
        if parsed.tzinfo is None:
            raise LineError(f"timestamp without time zone {value!r}")
        return int(parsed.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value if value > 10**11 else value * 1000)
    raise LineError("missing timestamp")


def table(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def as_count(value: object) -> int:
    """A token count from JSON: a non-negative integer, else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value:  # noqa: PLR0124 - NaN check
        return max(int(value), 0)
    return 0
