"""Wires the engine together: config, store, pricer, sources and ingestor."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from tokentray.config import Config, load_config
from tokentray.ingest import Ingestor
from tokentray.paths import database_path
from tokentray.pricing import Pricer
from tokentray.settings import Settings
from tokentray.sources import Source, available_sources
from tokentray.store import Store


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


@dataclass(slots=True)
class Engine:
    config: Config
    store: Store
    pricer: Pricer
    ingestor: Ingestor

    def folder_status(self) -> list[FolderStatus]:
        checkpoints = self.store.checkpoints()
        result = []
        for source, root in self.ingestor.roots():
            mine = [cp for path, cp in checkpoints.items() if Path(path).is_relative_to(root)]
            last = [cp.last_event_ms for cp in mine if cp.last_event_ms]
            result.append(
                FolderStatus(
                    source=source.name,
                    display_name=source.display_name,
                    root=root,
                    found=root.is_dir(),
                    files=len(mine),
                    events=sum(cp.events for cp in mine),
                    skipped=sum(cp.skipped for cp in mine),
                    last_event_ms=max(last) if last else None,
                )
            )
        return result

    def source_status(self) -> list[str]:
        """One line per agent folder: found or not, files and usage lines read from it."""
        lines = []
        for status in self.folder_status():
            if not status.found:
                lines.append(f"{status.display_name}: {status.root} not found")
            else:
                lines.append(
                    f"{status.display_name}: {status.root}: {status.files} files, "
                    f"{status.events} usage lines"
                )
        return lines


def open_engine(
    data_dir: str | os.PathLike[str] | None = None,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    sources: Sequence[Source] | None = None,
    settings: Settings | None = None,
) -> Engine:
    """The engine over one store; ``settings`` disable agents and add folders."""
    config = load_config(config_file)
    store = Store(database_path(data_dir))
    pricer = Pricer(config.pricing, store)
    chosen = list(sources or available_sources())
    extra: dict[str, list[Path]] = {}
    if settings is not None:
        chosen = [s for s in chosen if s.name not in settings.disabled_sources]
        extra = settings.extra_roots()
    ingestor = Ingestor(store, chosen, pricer, env=env, home=home, extra_roots=extra)
    return Engine(config, store, pricer, ingestor)


def local_zone() -> ZoneInfo:
    """The machine's IANA time zone (tzlocal reads it on every OS); UTC when unknown."""
    import tzlocal  # noqa: PLC0415

    try:
        zone = tzlocal.get_localzone()
    except (ValueError, LookupError, OSError):
        return ZoneInfo("UTC")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))
