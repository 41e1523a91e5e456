"""Wires the engine together: settings, store, pricer, sources and ingestor."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.ingest import Ingestor
from tokentray.paths import database_path
from tokentray.pricing import Pricer
from tokentray.settings import Settings, load_settings
from tokentray.sources import Source, available_sources
from tokentray.store import Checkpoint, Integrity, Store


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """What one agent folder gave: shown by ``scan`` and in Preferences."""

    source: str
    display_name: str
    root: Path
    found: bool
    files: int
    events: int
    skipped: int
    last_event_ms: int | None
    last_parse_ms: int | None = None  # the last time a file here gave usage
    problems: tuple[str, ...] = ()  # the first skipped lines, "file:line: reason"


@dataclass(slots=True)
class Engine:
    settings: Settings
    store: Store
    pricer: Pricer
    ingestor: Ingestor

    def folder_status(self) -> list[FolderStatus]:
        stats, updated = self._folder_stats()
        return [folder.status(updated) for folder in stats]

    def _folder_stats(self, problem_limit: int = 500) -> tuple[list[_FolderStats], dict[str, int]]:
        """Every agent folder with the checkpoints and skipped lines under it; each path
        is matched by walking up its own parents, so the cost is files times depth."""
        stats = [_FolderStats(source, root) for source, root in self.ingestor.roots()]
        by_root: dict[str, list[_FolderStats]] = {}
        for folder in stats:
            by_root.setdefault(str(folder.root), []).append(folder)
        by_directory: dict[str, list[_FolderStats]] = {}  # files share a few directories
        for path, cp in self.store.checkpoints(with_state=False).items():
            directory, _sep, _name = path.rpartition(os.sep)
            holders = by_directory.get(directory)
            if holders is None:
                holders = by_directory[directory] = _folders_holding(directory, by_root)
            for folder in (*by_root.get(path, ()), *holders):
                folder.checkpoints.append(cp)
        for problem in self.store.problems(problem_limit):
            for folder in _folders_holding(problem.path, by_root):
                folder.problems.append(
                    f"{Path(problem.path).name}:{problem.line_no}: {problem.reason}"
                )
        return stats, self.store.file_update_times()

    def doctor(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """Per agent: its folders, what was read, the last event and parse, skipped lines
        with the first reasons, and a warning when files are read but give no usage."""
        now_ms = now_ms or int(time.time() * 1000)
        folders: dict[str, list[_FolderStats]] = {}
        stats, updated = self._folder_stats(problem_limit=200)
        for folder in stats:
            folders.setdefault(folder.source.name, []).append(folder)
        report = []
        for source in self.ingestor.sources:
            mine_folders = folders.get(source.name, [])
            unique = {cp.path: cp for f in mine_folders for cp in f.checkpoints}
            mine = list(unique.values())
            last_event = max((cp.last_event_ms or 0 for cp in mine), default=0) or None
            last_parse = max((updated.get(cp.path, 0) for cp in mine if cp.events), default=0)
            problems = list(dict.fromkeys(p for f in mine_folders for p in f.problems))[:5]
            entry: dict[str, Any] = {
                "agent": source.display_name,
                "source": source.name,
                "folders": [{"path": str(f.root), "found": f.root.is_dir()} for f in mine_folders],
                "files": len(mine),
                "events": sum(cp.events for cp in mine),
                "skipped_lines": sum(cp.skipped for cp in mine),
                "first_problems": problems,
                "last_event": _iso_ms(last_event),
                "last_successful_parse": _iso_ms(last_parse or None),
                "warning": _silence_warning(source.display_name, mine, updated, now_ms),
                "unread": [
                    {"path": cp.path, "offset": cp.offset, "size": size}
                    for cp in mine
                    if (size := _unread_size(cp)) is not None
                    and not source.whole_file(Path(cp.path))
                ],
            }
            report.append(entry)
        return report


@dataclass(slots=True)
class _FolderStats:
    """One agent folder and what the store knows of the files under it."""

    source: Source
    root: Path
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def status(self, updated: dict[str, int]) -> FolderStatus:
        mine = self.checkpoints
        last = [cp.last_event_ms for cp in mine if cp.last_event_ms]
        parsed = [updated.get(cp.path, 0) for cp in mine if cp.events]
        return FolderStatus(
            source=self.source.name,
            display_name=self.source.display_name,
            root=self.root,
            found=self.root.is_dir(),
            files=len(mine),
            events=sum(cp.events for cp in mine),
            skipped=sum(cp.skipped for cp in mine),
            last_event_ms=max(last) if last else None,
            last_parse_ms=max(parsed) if parsed else None,
            problems=tuple(self.problems[:3]),
        )


def _folders_holding(path: str, by_root: dict[str, list[_FolderStats]]) -> list[_FolderStats]:
    """The folders a path lies in (itself or any parent is a root), walked up as text:
    pathlib's parents cost 20 times more with thousands of files."""
    found: list[_FolderStats] = list(by_root.get(path, ()))
    cut = len(path)
    while (cut := path.rfind(os.sep, 0, cut)) > 0:
        found += by_root.get(path[:cut], ())
    return found


SILENT_AFTER_MS = 24 * 3_600_000
# How far past a checkpoint's offset doctor looks for a complete line nobody read.
UNREAD_PROBE_BYTES = 1 << 20


def _unread_size(cp: Checkpoint) -> int | None:
    """The file's size when complete lines lie after the checkpoint's offset (bytes that
    were never read; a trailing line still being written does not count), else None."""
    if cp.status != "ok":
        return None
    try:
        if os.stat(cp.path).st_size <= cp.offset:  # the usual case: no open needed
            return None
        with open(cp.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(cp.offset)
            unread = handle.read(UNREAD_PROBE_BYTES)
    except OSError:
        return None
    return size if b"\n" in unread else None


def _iso_ms(ms: int | None) -> str | None:
    return None if not ms else datetime.fromtimestamp(ms / 1000).isoformat(timespec="minutes")


def _silence_warning(
    name: str, checkpoints: list[Checkpoint], updated: dict[str, int], now_ms: int
) -> str | None:
    """Files keep coming but none gives usage: the agent probably changed its format."""
    fresh = [cp for cp in checkpoints if updated.get(cp.path, 0) and cp.status == "ok"]
    if not fresh:
        return None
    last_event = max((cp.last_event_ms or 0 for cp in checkpoints), default=0)
    silent = [cp for cp in fresh if not cp.events and updated[cp.path] > last_event]
    if len(silent) < 3:
        return None
    since = min(updated[cp.path] for cp in silent)
    if now_ms - since < SILENT_AFTER_MS and last_event:
        return None
    days = max(1, round((now_ms - since) / 86_400_000))
    return (
        f"{name}: 0 requests found in {len(silent)} new files since {days} days — "
        "its log format may have changed; please report it"
    )


def open_engine(
    data_dir: str | os.PathLike[str] | None = None,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    sources: Sequence[Source] | None = None,
    settings: Settings | None = None,
    integrity: Integrity = "always",
    busy_timeout_s: float = 30.0,
) -> Engine:
    """The engine over one store, with ``settings`` (read from ``config_file`` when not
    given): they disable agents, add folders and override prices.
    ``integrity="daily"`` lets a short command skip the store's integrity check when it
    ran in the last day."""
    settings = settings if settings is not None else load_settings(config_file)
    store = Store(database_path(data_dir), integrity=integrity, busy_timeout_s=busy_timeout_s)
    pricer = Pricer(settings.pricing, store)
    chosen = [s for s in sources or available_sources() if s.name not in settings.disabled_sources]
    ingestor = Ingestor(
        store, chosen, pricer, env=env, home=home, extra_roots=settings.extra_roots()
    )
    return Engine(settings, store, pricer, ingestor)


def local_zone() -> ZoneInfo:
    """The machine's IANA time zone (tzlocal reads it on every OS); UTC when unknown."""
    import tzlocal  # noqa: PLC0415

    try:
        zone = tzlocal.get_localzone()
    except (ValueError, LookupError, OSError):
        return ZoneInfo("UTC")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))
