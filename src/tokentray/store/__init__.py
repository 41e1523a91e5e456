"""The SQLite store. It is the only part of tokentray that runs SQL on the usage database:
``core`` opens, migrates, repairs and writes; ``reads`` answers the engine's questions."""

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
