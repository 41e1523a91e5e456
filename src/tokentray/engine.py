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
from tokentray.sources import Source, available_sources
from tokentray.store import Store


@dataclass(slots=True)
class Engine:
    config: Config
    store: Store
    pricer: Pricer
    ingestor: Ingestor

    def source_status(self) -> list[str]:
        """One line per agent folder: found or not, files and events read from it."""
        checkpoints = self.store.checkpoints()
        lines = []
        for source, root in self.ingestor.roots():
            if not root.is_dir():
                lines.append(f"{source.display_name}: {root} not found")
                continue
            mine = [cp for path, cp in checkpoints.items() if Path(path).is_relative_to(root)]
            events = sum(cp.events for cp in mine)
            lines.append(f"{source.display_name}: {root}: {len(mine)} files, {events} usage lines")
        return lines


def open_engine(
    data_dir: str | os.PathLike[str] | None = None,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    sources: Sequence[Source] | None = None,
) -> Engine:
    config = load_config(config_file)
    store = Store(database_path(data_dir))
    pricer = Pricer(config.pricing, store)
    ingestor = Ingestor(store, sources or available_sources(), pricer, env=env, home=home)
    return Engine(config, store, pricer, ingestor)


def local_zone() -> ZoneInfo:
    """The machine's IANA time zone (tzlocal reads it on every OS); UTC when unknown."""
    import tzlocal  # noqa: PLC0415

    try:
        zone = tzlocal.get_localzone()
    except (ValueError, LookupError, OSError):
        return ZoneInfo("UTC")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))
