"""The SQLite store. It is the only part of tokentray that runs SQL on the usage database:
``core`` opens, migrates, repairs and writes; ``reads`` answers the engine's questions;
``quick`` serves the commands that run on every prompt of an agent (the status line, the
guard hook), which must not pay for importing the rest.

Names are loaded on first use, so that importing ``tokentray.store.quick`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentray.store.core import (
        Checkpoint,
        Integrity,
        Store,
        StoreError,
        StoreWriteError,
        backup_folder,
        describe_store_error,
        event_key_digest,
        latest_backup,
        state_json,
    )
    from tokentray.store.reads import EventFilter

_HOME = {
    "Checkpoint": "core",
    "Integrity": "core",
    "Store": "core",
    "StoreError": "core",
    "StoreWriteError": "core",
    "backup_folder": "core",
    "describe_store_error": "core",
    "event_key_digest": "core",
    "latest_backup": "core",
    "state_json": "core",
    "EventFilter": "reads",
}

__all__ = [
    "Checkpoint",
    "EventFilter",
    "Integrity",
    "Store",
    "StoreError",
    "StoreWriteError",
    "backup_folder",
    "describe_store_error",
    "event_key_digest",
    "latest_backup",
    "state_json",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tokentray.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tokentray.store.{home}"), name)
    globals()[name] = value
    return value
