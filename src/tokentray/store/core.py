"""The SQLite store: usage events, per-file checkpoints, skipped lines, price cache.

Every write that belongs together (a batch of events and the checkpoint that
says they were read) happens in one transaction, so a process killed at any
moment leaves either all of a batch or none of it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import orjson

from tokentray.events import Activity, PlanSample, PricedEvent, Problem, UsageEvent
from tokentray.paths import make_private, sqlite_uri
from tokentray.store.quick import RECORD_PLAN, SUSPENDED_TRIGGERS, plan_row
from tokentray.store.reads import StoreReads

log = logging.getLogger(__name__)

# The hourly totals from the quarter-hours: schema 10 fills them so, and a big scan that
# set their triggers aside rebuilds them so (Store.restore_hourly_totals).
REBUILD_HOURS = (
    "INSERT INTO hours SELECT q / 4, source, model, SUM(input_tokens), SUM(output_tokens), "
    "SUM(reasoning_tokens), SUM(cache_write_tokens), SUM(cache_read_tokens), "
    "SUM(total_tokens), SUM(cost_usd), SUM(unpriced), SUM(estimated), SUM(requests), "
    "SUM(reported) FROM quarters GROUP BY 1, 2, 3"
)

# Each entry upgrades the schema by one version; never edit a released entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        key BLOB NOT NULL UNIQUE,
        source TEXT NOT NULL,
        session_id TEXT NOT NULL,
        project TEXT NOT NULL,
        model TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_5m_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        service_tier TEXT NOT NULL DEFAULT '',
        estimated INTEGER NOT NULL DEFAULT 0,
        replayed INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        cost_status TEXT NOT NULL
    );
    CREATE INDEX events_ts ON events (ts_ms);
    CREATE INDEX events_session ON events (source, session_id);
    CREATE TABLE files (
        path TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        device INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        line_no INTEGER NOT NULL,
        head_hash BLOB NOT NULL,
        tail_hash BLOB NOT NULL,
        parser_state TEXT NOT NULL,
        status TEXT NOT NULL,
        events INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        last_event_ms INTEGER,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE problems (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        line_no INTEGER NOT NULL,
        reason TEXT NOT NULL,
        seen_ms INTEGER NOT NULL,
        UNIQUE (path, line_no)
    );
    CREATE TABLE price_cache (
        model TEXT NOT NULL,
        day TEXT NOT NULL,
        tier TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        rates TEXT,
        PRIMARY KEY (model, day, tier, fingerprint)
    );
    """,
    """
    CREATE TABLE provider_rows (
        provider TEXT NOT NULL,
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_5m_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        cost_usd REAL,
        fetched_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, day, model, kind)
    );
    CREATE TABLE provider_state (
        provider TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        last_ok_ms INTEGER,
        next_poll_ms INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        key_fingerprint TEXT NOT NULL,
        info TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE activity (
        key BLOB PRIMARY KEY,
        source TEXT NOT NULL,
        session_id TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        fingerprint TEXT NOT NULL
    );
    CREATE INDEX activity_session ON activity (source, session_id, ts_ms);
    CREATE TABLE alert_state (
        rule_id TEXT NOT NULL,
        window_start_ms INTEGER NOT NULL,
        level TEXT NOT NULL,
        fired_ms INTEGER NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (rule_id, window_start_ms, level)
    );
    """,
    """
    ALTER TABLE events ADD COLUMN reported_cost_usd REAL;
    """,
    """
    ALTER TABLE files ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN sample_hash BLOB NOT NULL DEFAULT x'';
    """,  # Quarter-hour totals per agent and model, kept by triggers: a daily, weekly or
    # monthly report reads these, not every request (they are whole quarter-hours in
    # every time zone).
    """
    CREATE TABLE quarters (
        q INTEGER NOT NULL,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        unpriced INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        reported INTEGER NOT NULL,
        PRIMARY KEY (q, source, model)
    ) WITHOUT ROWID;
    INSERT INTO quarters
        SELECT ts_ms / 900000, source, model, SUM(events.input_tokens),
            SUM(events.output_tokens), SUM(events.reasoning_tokens),
            SUM(events.cache_write_5m_tokens + events.cache_write_1h_tokens),
            SUM(events.cache_read_tokens), SUM(events.total_tokens), SUM(COALESCE(events.cost_usd,
            0)), SUM(events.cost_status = 'unpriced'), SUM(events.cost_status = 'estimated'),
            SUM(1), SUM(events.cost_status = 'reported')
        FROM events GROUP BY 1, 2, 3;
    CREATE TRIGGER quarters_insert AFTER INSERT ON events BEGIN
        INSERT INTO quarters (q, source, model, input_tokens, output_tokens, reasoning_tokens,
            cache_write_tokens, cache_read_tokens, total_tokens, cost_usd, unpriced, estimated,
            requests, reported)
        VALUES (NEW.ts_ms / 900000, NEW.source, NEW.model, NEW.input_tokens, NEW.output_tokens,
            NEW.reasoning_tokens, NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens,
            NEW.cache_read_tokens, NEW.total_tokens, COALESCE(NEW.cost_usd, 0), NEW.cost_status =
            'unpriced', NEW.cost_status = 'estimated', 1, NEW.cost_status = 'reported')
        ON CONFLICT (q, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
    END;
    CREATE TRIGGER quarters_update AFTER UPDATE ON events BEGIN
        INSERT INTO quarters (q, source, model, input_tokens, output_tokens, reasoning_tokens,
            cache_write_tokens, cache_read_tokens, total_tokens, cost_usd, unpriced, estimated,
            requests, reported)
        VALUES (OLD.ts_ms / 900000, OLD.source, OLD.model, -(OLD.input_tokens),
            -(OLD.output_tokens), -(OLD.reasoning_tokens), -(OLD.cache_write_5m_tokens +
            OLD.cache_write_1h_tokens), -(OLD.cache_read_tokens), -(OLD.total_tokens),
            -(COALESCE(OLD.cost_usd, 0)), -(OLD.cost_status = 'unpriced'), -(OLD.cost_status =
            'estimated'), -(1), -(OLD.cost_status = 'reported'))
        ON CONFLICT (q, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
        INSERT INTO quarters (q, source, model, input_tokens, output_tokens, reasoning_tokens,
            cache_write_tokens, cache_read_tokens, total_tokens, cost_usd, unpriced, estimated,
            requests, reported)
        VALUES (NEW.ts_ms / 900000, NEW.source, NEW.model, NEW.input_tokens, NEW.output_tokens,
            NEW.reasoning_tokens, NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens,
            NEW.cache_read_tokens, NEW.total_tokens, COALESCE(NEW.cost_usd, 0), NEW.cost_status =
            'unpriced', NEW.cost_status = 'estimated', 1, NEW.cost_status = 'reported')
        ON CONFLICT (q, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
    END;
    CREATE TRIGGER quarters_delete AFTER DELETE ON events BEGIN
        INSERT INTO quarters (q, source, model, input_tokens, output_tokens, reasoning_tokens,
            cache_write_tokens, cache_read_tokens, total_tokens, cost_usd, unpriced, estimated,
            requests, reported)
        VALUES (OLD.ts_ms / 900000, OLD.source, OLD.model, -(OLD.input_tokens),
            -(OLD.output_tokens), -(OLD.reasoning_tokens), -(OLD.cache_write_5m_tokens +
            OLD.cache_write_1h_tokens), -(OLD.cache_read_tokens), -(OLD.total_tokens),
            -(COALESCE(OLD.cost_usd, 0)), -(OLD.cost_status = 'unpriced'), -(OLD.cost_status =
            'estimated'), -(1), -(OLD.cost_status = 'reported'))
        ON CONFLICT (q, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
    END;
    """,  # A session's requests in time order straight from the index: when a session
    # began costs one index lookup, not a read of every request it made.
    """
    DROP INDEX events_session;
    CREATE INDEX events_session ON events (source, session_id, ts_ms);
    """,  # Subscription windows (5-hour, weekly): readings over time, one a minute at most.
    """
    CREATE TABLE plan_samples (
        source TEXT NOT NULL,
        account TEXT NOT NULL,
        window TEXT NOT NULL,
        minute INTEGER NOT NULL,
        observed_ms INTEGER NOT NULL,
        used_pct REAL NOT NULL,
        resets_ms INTEGER,
        window_minutes INTEGER,
        origin TEXT NOT NULL,
        PRIMARY KEY (source, account, window, minute)
    ) WITHOUT ROWID;
    """,  # What guardrails did to agents' processes: paused until a resume says otherwise.
    """
    CREATE TABLE agent_actions (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        session_id TEXT NOT NULL,
        action TEXT NOT NULL,
        pids TEXT NOT NULL,
        summary TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        acted_ms INTEGER NOT NULL
    );
    CREATE INDEX agent_actions_session ON agent_actions (source, session_id, id);
    """,  # Hourly totals beside the quarter-hours, kept by triggers on them: a year of
    # daily reports reads 8,760 rows per model instead of 35,040 (in zones whose midnight is
    # a whole hour; the others read the quarter-hours).
    """
    CREATE TABLE hours (
        h INTEGER NOT NULL,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        unpriced INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        reported INTEGER NOT NULL,
        PRIMARY KEY (h, source, model)
    ) WITHOUT ROWID;
    """
    + REBUILD_HOURS
    + """;
    CREATE TRIGGER hours_insert AFTER INSERT ON quarters BEGIN
        INSERT INTO hours VALUES (NEW.q / 4, NEW.source, NEW.model, NEW.input_tokens,
            NEW.output_tokens, NEW.reasoning_tokens, NEW.cache_write_tokens, NEW.cache_read_tokens,
            NEW.total_tokens, NEW.cost_usd, NEW.unpriced, NEW.estimated, NEW.requests, NEW.reported)
        ON CONFLICT (h, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
    END;
    CREATE TRIGGER hours_update AFTER UPDATE ON quarters BEGIN
        INSERT INTO hours VALUES (NEW.q / 4, NEW.source, NEW.model, NEW.input_tokens -
            OLD.input_tokens, NEW.output_tokens - OLD.output_tokens, NEW.reasoning_tokens -
            OLD.reasoning_tokens, NEW.cache_write_tokens - OLD.cache_write_tokens,
            NEW.cache_read_tokens - OLD.cache_read_tokens, NEW.total_tokens - OLD.total_tokens,
            NEW.cost_usd - OLD.cost_usd, NEW.unpriced - OLD.unpriced, NEW.estimated - OLD.estimated,
            NEW.requests - OLD.requests, NEW.reported - OLD.reported)
        ON CONFLICT (h, source, model) DO UPDATE SET
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = cost_usd + excluded.cost_usd,
            unpriced = unpriced + excluded.unpriced,
            estimated = estimated + excluded.estimated,
            requests = requests + excluded.requests,
            reported = reported + excluded.reported;
    END;
    """,
)

EVENT_COLUMNS = (
    "key, source, session_id, project, model, ts_ms, input_tokens, output_tokens, "
    "reasoning_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "total_tokens, service_tier, estimated, replayed, cost_usd, cost_status, reported_cost_usd"
)
_UPSERT = f"""
INSERT INTO events ({EVENT_COLUMNS}) VALUES ({", ".join("?" * 19)})
ON CONFLICT (key) DO UPDATE SET
    source = excluded.source, session_id = excluded.session_id, project = excluded.project,
    model = excluded.model, ts_ms = excluded.ts_ms, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, reasoning_tokens = excluded.reasoning_tokens,
    cache_read_tokens = excluded.cache_read_tokens,
    cache_write_5m_tokens = excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = excluded.cache_write_1h_tokens,
    total_tokens = excluded.total_tokens, service_tier = excluded.service_tier,
    estimated = excluded.estimated, replayed = excluded.replayed,
    cost_usd = excluded.cost_usd, cost_status = excluded.cost_status,
    reported_cost_usd = excluded.reported_cost_usd
WHERE excluded.replayed < events.replayed
   OR (excluded.replayed = events.replayed AND (
        excluded.total_tokens > events.total_tokens
        OR (excluded.total_tokens = events.total_tokens AND excluded.ts_ms < events.ts_ms)))
"""

# The hourly totals' triggers, set aside during a big scan (see Store.bulk_writes).
HOURLY_TRIGGERS = ("hours_insert", "hours_update")
# Secondary indexes a first scan into an empty store builds at its end (bulk_writes).
DEFERRED_INDEXES = ("events_ts", "events_session", "activity_session")
DEFERRED_INDEXES_KEY = "deferred_indexes"

# SQLite's page cache (KiB): its default normally, and more for a large first scan.
DEFAULT_CACHE_KIB = 2_000
BULK_CACHE_KIB = 128 << 10

# A cap on remembered skipped lines, so a badly broken file cannot bloat the store.
MAX_PROBLEMS = 5_000


Integrity = Literal["always", "daily", "never"]


class StoreError(RuntimeError):
    """The store cannot be used (for example, a newer tokentray wrote it)."""


class StoreWriteError(StoreError):
    """The store can be read but not written (read-only, full disk, I/O error): what is
    stored stays; new usage waits in the logs until the store can be written again."""


# How many daily backups are kept (in ``backups/`` beside the store), and how often.
BACKUPS_KEPT = 3
BACKUP_EVERY_MS = 24 * 3_600_000
# The tray and short commands check the store's integrity at most this often; ``scan``,
# ``watch`` and ``doctor`` check it every time they open it.
INTEGRITY_EVERY_MS = 24 * 3_600_000
# A store bigger than this (with its -wal) has its daily backup and integrity check made by
# a process of its own in the background (``tokentray.backup``): on a 3 GB history they
# take 8-30 s and 6 s, in the way of the day's first report or the tray's start.
BACKGROUND_UPKEEP_BYTES = 64 << 20
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
_WRITE_FAILURES = ("readonly", "read-only", "unable to open", "disk i/o", "full", "locked")
_DAMAGE = ("malformed", "not a database", "corrupt")


def describe_store_error(exc: BaseException) -> str:
    """One sentence for a SQLite failure, naming what the user can do."""
    text = str(exc).lower()
    if "full" in text:
        return "the disk holding the usage store is full: free some space"
    if "readonly" in text or "read-only" in text:
        return "the usage store is read-only: check the permissions of the data folder"
    if "locked" in text:
        return "the usage store is busy (another tokentray is writing): try again"
    if "disk i/o" in text:
        return "the usage store could not be written (disk I/O error: is the disk full?)"
    if any(word in text for word in _DAMAGE):
        return "the usage store is damaged: run `tokentray doctor` to rebuild it"
    return f"the usage store cannot be used: {exc}"


@dataclass(slots=True)
class Checkpoint:
    """How far a file has been read, and how to recognise it is still the same file."""

    path: str
    source: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    offset: int
    line_no: int
    head_hash: bytes
    tail_hash: bytes
    parser_state: dict[str, Any]
    status: str = "ok"
    events: int = 0
    skipped: int = 0
    last_event_ms: int | None = None
    # ctime changes on every write and cannot be set back (unlike mtime); the sampled
    # blocks catch a same-size rewrite in the middle of the bytes already read.
    ctime_ns: int = 0
    sample_hash: bytes = b""

    @classmethod
    def new(cls, path: str, source: str) -> Checkpoint:
        """A file not read yet."""
        return cls(path, source, 0, 0, 0, 0, 0, 0, b"", b"", {})

    def read_to(self, size: int, st: os.stat_result, parser_state: dict[str, Any]) -> Checkpoint:
        """A copy saying the file is read (well) up to ``size`` bytes, as ``st`` found it."""
        self.size = size
        self.mtime_ns, self.ctime_ns = st.st_mtime_ns, st.st_ctime_ns
        self.device, self.inode = st.st_dev, st.st_ino
        self.parser_state = parser_state
        self.status = "ok"
        return replace(self)


# The columns of ``files`` in the order of Checkpoint's fields.
_CHECKPOINT_COLUMNS = ", ".join(f.name for f in fields(Checkpoint))


def _checkpoint(row: tuple[Any, ...], state: dict[str, Any]) -> Checkpoint:
    """A checkpoint from a row of ``_CHECKPOINT_COLUMNS``, with its parser state."""
    return Checkpoint(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        state,
        row[11],
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
    )


def event_key_digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class Store(StoreReads):
    """One SQLite database file in WAL mode."""

    def __init__(
        self,
        path: Path,
        *,
        integrity: Integrity = "always",
        recover: bool = True,
        busy_timeout_s: float = 30.0,
    ) -> None:
        """Open (or create) the store; a store that cannot be written is opened read-only
        (``read_only`` says why), and a damaged one is moved aside and rebuilt (``notice``
        says what happened). ``integrity`` is "always", "daily" (short commands) or
        "never" (a second connection beside one that checked). ``busy_timeout_s`` is how
        long a write waits for another writer (a hook that an agent waits on waits less)."""
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self.read_only: str | None = None
        self.notice: str | None = None
        _private_folder(path.parent)
        self._db = self._opened(integrity, recover)
        self._identity = file_identity(path)

    def _opened(self, integrity: Integrity, recover: bool) -> sqlite3.Connection:
        try:
            db = self._open_writable()
        except sqlite3.DatabaseError as exc:
            if any(word in str(exc).lower() for word in _DAMAGE):
                return self._recover_or_fail(str(exc), recover)
            if not any(word in str(exc).lower() for word in _WRITE_FAILURES):
                raise StoreError(describe_store_error(exc)) from exc
            db = self._open_read_only(str(exc))
        except OSError as exc:
            db = self._open_read_only(exc.strerror or str(exc))
        self._db = db
        damage = marked_damage(self.path) or self._integrity_problem(integrity)
        if damage is not None:
            db.close()
            return self._recover_or_fail(damage, recover)
        return db

    def reopen_if_replaced(self, *, repair: bool = True) -> bool:
        """Open the store again when its file is no longer the one this connection has
        open (another process repaired it and moved the damaged file aside, or it was
        deleted), and, with ``repair``, when a check in the background marked it damaged:
        this opening repairs it, and ``notice`` says how. A process that keeps the store
        open (the tray, ``watch``) asks before each pass; otherwise it would go on writing
        into a file nobody reads. True when the store was opened again."""
        marked = repair and marked_damage(self.path) is not None
        if not marked and file_identity(self.path) == self._identity:
            return False
        log.warning(
            "the usage store %s was %s: opening it again",
            self.path,
            "found damaged" if marked else "replaced",
        )
        self._db.close()
        self.read_only = self.notice = None
        self._db = self._opened("never", recover=repair)
        self._identity = file_identity(self.path)
        return True

    def _open_writable(self) -> sqlite3.Connection:
        if not self.path.exists():  # created private: SQLite gives -wal and -shm its mode
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
        make_private(self.path)
        db = sqlite3.connect(
            sqlite_uri(self.path, mode="rw"),
            uri=True,
            timeout=self._busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._db = db
            self._use_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            self.restore_deferred_indexes()  # a first scan that was killed half-way
            self.restore_hourly_totals()  # a big scan that was killed half-way
        except BaseException:
            db.close()
            raise
        for suffix in ("-wal", "-shm"):
            make_private(self.path.with_name(self.path.name + suffix))
        return db

    def _open_read_only(self, reason: str) -> sqlite3.Connection:
        """What is stored can still be reported: open it read-only (immutable when even
        SQLite's shared-memory file cannot be made)."""
        if not self.path.exists():
            raise StoreError(f"cannot create the usage store {self.path}: {reason}")
        for options in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
            try:
                db = sqlite3.connect(
                    sqlite_uri(self.path, **options),
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.DatabaseError:
                continue
            if version != len(MIGRATIONS):
                db.close()
                raise StoreError(f"{self.path} needs an upgrade but cannot be written ({reason})")
            lowered = reason.lower()
            cannot_write = "unable to open" in lowered or "readonly" in lowered
            self.read_only = "its file or folder cannot be written" if cannot_write else reason
            log.info("the usage store is opened read-only: %s", reason)
            return db
        raise StoreError(f"cannot open the usage store {self.path}: {reason}")

    def _integrity_problem(self, integrity: Integrity) -> str | None:
        """``PRAGMA quick_check`` (about 0.3 s per million stored requests)."""
        if integrity == "never":  # a second connection of a process that checked already
            return None
        if integrity == "daily" and self.read_only is None:
            if not self.integrity_due():
                return None
            if store_bytes(self.path) >= BACKGROUND_UPKEEP_BYTES:
                return None  # checked in the background (daily_upkeep), not in its way
        try:
            rows = self._db.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.OperationalError as exc:
            if any(word in str(exc).lower() for word in _DAMAGE):
                return str(exc)
            log.warning("the store's integrity check could not run: %s", exc)
            return None  # busy, locked, interrupted: not damage, checked next time
        except sqlite3.DatabaseError as exc:
            return str(exc)
        if rows != [("ok",)]:
            return "; ".join(str(row[0]) for row in rows)
        if self.read_only is None:
            self.set_meta("integrity_checked_ms", str(_now_ms()))
        return None

    def _recover_or_fail(self, damage: str, recover: bool) -> sqlite3.Connection:
        """Move the damaged store aside, restore the newest backup (or start empty),
        salvage the requests still readable in the damaged file, and say so."""
        if not recover or self.read_only is not None:
            raise StoreError(f"the usage store {self.path} is damaged ({damage})")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        damage_mark(self.path).unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                source.replace(aside.with_name(aside.name + suffix))
        backup = latest_backup(self.path)
        if backup is not None:
            shutil.copyfile(backup, self.path)
            make_private(self.path)
        fresh = Store(self.path, recover=False)
        salvaged = fresh.salvage_events(aside)
        self._db = fresh._db
        restored = (
            f"the backup {backup.name} was restored"
            if backup is not None
            else "no backup was found, so it starts empty"
        )
        self.notice = (
            f"The usage store was damaged ({damage[:120]}). It was moved to {aside}; "
            f"{restored}; {salvaged} requests were salvaged from the damaged file, and usage "
            "still in the agents' logs is read again. Requests only in the damaged part "
            "whose logs are gone are lost."
        )
        log.error("%s", self.notice)
        return self._db

    def close(self) -> None:
        self._db.close()

    def writable(self) -> None:
        """Raise StoreWriteError when this store was opened read-only."""
        if self.read_only is not None:
            raise StoreWriteError(
                f"the usage store is read-only ({self.read_only}): new usage is not recorded"
            )

    # -- backups and salvage ------------------------------------------------------

    def backup_due(self, now_ms: int | None = None) -> bool:
        """Whether the daily backup is due (never for a store opened read-only)."""
        return self._due("backup_ms", BACKUP_EVERY_MS, now_ms)

    def integrity_due(self, now_ms: int | None = None) -> bool:
        """Whether the daily integrity check is due (never for a store opened read-only)."""
        return self._due("integrity_checked_ms", INTEGRITY_EVERY_MS, now_ms)

    def _due(self, done_key: str, every_ms: int, now_ms: int | None) -> bool:
        """Whether ``every_ms`` have passed since the time kept in meta under ``done_key``."""
        if self.read_only is not None:
            return False
        last = self.get_meta(done_key)
        return last is None or (now_ms or _now_ms()) - int(last) >= every_ms

    def daily_upkeep(
        self, now_ms: int | None = None, *, force: bool = False, check: bool = True
    ) -> tuple[str | None, Path | None]:
        """(damage found, backup made): the integrity check when it is due (``check``),
        then the backup when it is due (``force``: in any case), never of a damaged store.
        The backup is a copy by SQLite's online backup into ``backups/``, the newest
        BACKUPS_KEPT kept: the agents delete their logs after about 30 days, so the store is
        the only copy of older history.
        Damage is left for the next opening of the store to repair (``mark_damage``): this
        may run beside a process using it. One process at a time: (None, None) while
        another does it."""
        now_ms = now_ms or _now_ms()
        check = check and self.integrity_due(now_ms)
        if self.read_only is not None or not (check or force or self.backup_due(now_ms)):
            return None, None
        folder = backup_folder(self.path)
        _private_folder(folder)
        with backup_lock(folder) as held:
            if not held:
                return None, None
            # Another process may have done it while this one waited for the lock.
            if check and self.integrity_due(now_ms):
                damage = self._integrity_problem("always")
                if damage is not None:
                    mark_damage(self.path, damage)
                    return damage, None
            if not (force or self.backup_due(now_ms)):
                return None, None
            for partial in folder.glob("usage-*.sqlite3.partial*"):  # left by a killed copy
                partial.unlink(missing_ok=True)
            return None, self._back_up(folder, now_ms)

    def _back_up(self, folder: Path, now_ms: int) -> Path:
        day = time.strftime("%Y%m%d-%H%M%S", time.localtime(now_ms / 1000))
        target = folder / f"usage-{day}.sqlite3"
        partial = target.with_name(target.name + ".partial")
        os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE))
        copy = sqlite3.connect(partial)
        try:
            self._db.backup(copy)
        finally:
            copy.close()
        partial.replace(target)
        for old in sorted(folder.glob("usage-*.sqlite3"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        self.set_meta("backup_ms", str(now_ms))
        log.info("backed up the usage store to %s", target)
        return target

    def salvage_events(self, damaged: Path) -> int:
        """Copy every request still readable in a damaged store that this one lacks."""
        try:
            source = sqlite3.connect(sqlite_uri(damaged, mode="ro"), uri=True)
        except sqlite3.DatabaseError:
            return 0
        copied, after, step = 0, -1, 500
        columns = EVENT_COLUMNS
        try:
            top = int(source.execute("SELECT MAX(id) FROM events").fetchone()[0] or 0)
        except sqlite3.DatabaseError:
            top = 0
        while after < top:
            try:
                rows = source.execute(
                    f"SELECT {columns} FROM events WHERE id > ? AND id <= ? ORDER BY id",
                    (after, after + step),
                ).fetchall()
            except sqlite3.DatabaseError:
                rows = []  # a damaged page: skip its range
            after += step
            if rows:
                with self.transaction():
                    cursor = self._db.executemany(
                        f"INSERT OR IGNORE INTO events ({columns}) VALUES ({', '.join('?' * 19)})",
                        rows,
                    )
                    copied += max(cursor.rowcount, 0)  # the rows themselves, not triggers'
        source.close()
        return copied

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _use_wal(self) -> None:
        """WAL mode (it stays set in the file); switching to it can meet a busy database,
        and SQLite does not wait for that on its own."""
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    # -- schema -----------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Apply missing migrations, each under the write lock (two processes or threads
        may open a new store at the same moment: the second finds the work done)."""
        while True:
            with self.transaction():
                current = self.schema_version
                if current > len(MIGRATIONS):
                    raise StoreError(
                        f"{self.path} was written by a newer tokentray (schema {current}); "
                        "upgrade tokentray or point --data-dir elsewhere"
                    )
                if current == len(MIGRATIONS):
                    return
                for statement in _statements(MIGRATIONS[current]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {current + 1}")
            log.info("store schema migrated to version %d", current + 1)

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """A large first scan: a page cache big enough for the request-key index (random
        inserts into it are most of a big scan's cost with SQLite's 2 MB default), handed
        back to the system afterwards."""
        self._db.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        self._suspend_hourly_totals()
        self._defer_indexes_of_a_first_scan()
        try:
            yield
        finally:
            self.restore_hourly_totals()
            # Sorting for the indexes takes as much memory as the page cache may: the
            # default cache, so a big first scan's peak memory does not double.
            self._db.execute(f"PRAGMA cache_size = -{DEFAULT_CACHE_KIB}")
            self.restore_deferred_indexes()
            self._db.execute("PRAGMA shrink_memory")

    def _suspend_hourly_totals(self) -> None:
        """The hourly totals' triggers cost a big scan a fifth of its time: they are set
        aside (and remembered in ``meta``) and the totals rebuilt from the quarter-hours at
        the end. Meanwhile reads use the quarter-hours; a scan killed half-way is made
        whole when the store is next opened."""
        with self.transaction():
            self._set_aside("trigger", HOURLY_TRIGGERS, SUSPENDED_TRIGGERS)

    def _defer_indexes_of_a_first_scan(self) -> None:
        """Into an empty store, the secondary indexes are built once at the end, from
        sorted rows: kept up row by row they double a large first scan's writes. They are
        remembered in ``meta``; a scan killed half-way has them built on the next open."""
        with self.transaction():
            if not self._db.execute("SELECT 1 FROM events LIMIT 1").fetchone():
                self._set_aside("index", DEFERRED_INDEXES, DEFERRED_INDEXES_KEY)

    def restore_deferred_indexes(self) -> None:
        """Build the indexes a first scan deferred, if it did."""
        self._put_back(DEFERRED_INDEXES_KEY)

    def restore_hourly_totals(self) -> None:
        """Rebuild the hourly totals and put their triggers back, if they were set aside."""
        self._put_back(SUSPENDED_TRIGGERS, first=("DELETE FROM hours", REBUILD_HOURS))

    def _set_aside(self, kind: Literal["trigger", "index"], names: Sequence[str], key: str) -> None:
        """Drop these triggers or indexes, their SQL kept in ``meta`` under ``key`` (inside
        the caller's transaction)."""
        found = self._db.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = ? AND name IN "
            f"({', '.join('?' * len(names))})",
            (kind, *names),
        ).fetchall()
        if not found:
            return
        self.set_meta(key, orjson.dumps(found).decode())
        for name, _sql in found:
            self._db.execute(f"DROP {kind.upper()} {name}")

    def _put_back(self, key: str, first: Sequence[str] = ()) -> None:
        """Create again what ``_set_aside`` kept under ``key``, after the statements
        ``first``, in one transaction; nothing when nothing was set aside."""
        if self.read_only:
            return
        saved = self.get_meta(key)
        if not saved:
            return
        with self.transaction():
            for statement in first:
                self._db.execute(statement)
            for _name, sql in orjson.loads(saved):
                self._db.execute(sql)
            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a write the disk refuses (full, read-only, I/O error)
        is rolled back whole and raised as StoreWriteError with a clear sentence."""
        self.writable()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if any(word in str(exc).lower() for word in _WRITE_FAILURES):
                raise StoreWriteError(describe_store_error(exc)) from exc
            raise

    def data_version(self) -> int:
        """Changes whenever another connection (another thread or process) commits."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    # -- meta -------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- checkpoints ------------------------------------------------------------

    def checkpoints(
        self, source: str | None = None, *, with_state: bool = True
    ) -> dict[str, Checkpoint]:
        """Every file's checkpoint; ``with_state=False`` leaves the parsers' states out
        (statistics need none, and reading thousands of them is most of the cost)."""
        query = f"SELECT {_CHECKPOINT_COLUMNS} FROM files" + (" WHERE source = ?" if source else "")
        cursor = self._db.execute(query, (source,) if source else ())
        if with_state:
            return {row[0]: _checkpoint(row, orjson.loads(row[10])) for row in cursor}
        return {row[0]: _checkpoint(row, {}) for row in cursor}

    def checkpoints_of(self, paths: Sequence[str]) -> dict[str, Checkpoint]:
        """The checkpoints (with parser states) of these files, where they have one."""
        found: dict[str, Checkpoint] = {}
        for offset in range(0, len(paths), 500):  # SQLite's bound on parameters
            chunk = paths[offset : offset + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM files WHERE path IN ({marks})", chunk
            )
            found.update((r[0], _checkpoint(r, orjson.loads(r[10]))) for r in rows)
        return found

    def file_signatures(self) -> dict[str, tuple[Any, ...]]:
        """Per file: (status, device, inode, size, mtime_ns, ctime_ns, has unread bytes,
        source), all a pass needs to pass over a file nothing has touched."""
        rows = self._db.execute(
            "SELECT path, status, device, inode, size, mtime_ns, ctime_ns, size > offset, source "
            "FROM files"
        )
        return {row[0]: row[1:] for row in rows}

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.save_checkpoints([cp])

    def save_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> None:
        """How far each file is read, in one statement (a first scan saves hundreds)."""
        now_ms = int(time.time() * 1000)
        self._db.executemany(
            """INSERT INTO files (path, source, device, inode, size, mtime_ns, offset, line_no,
                   head_hash, tail_hash, parser_state, status, events, skipped, last_event_ms,
                   updated_ms, ctime_ns, sample_hash)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (path) DO UPDATE SET source = excluded.source,
                   device = excluded.device, inode = excluded.inode, size = excluded.size,
                   mtime_ns = excluded.mtime_ns, offset = excluded.offset,
                   line_no = excluded.line_no, head_hash = excluded.head_hash,
                   tail_hash = excluded.tail_hash, parser_state = excluded.parser_state,
                   status = excluded.status, events = excluded.events,
                   skipped = excluded.skipped, last_event_ms = excluded.last_event_ms,
                   updated_ms = excluded.updated_ms, ctime_ns = excluded.ctime_ns,
                   sample_hash = excluded.sample_hash""",
            [
                (
                    cp.path,
                    cp.source,
                    cp.device,
                    cp.inode,
                    cp.size,
                    cp.mtime_ns,
                    cp.offset,
                    cp.line_no,
                    cp.head_hash,
                    cp.tail_hash,
                    state_json(cp.parser_state),
                    cp.status,
                    cp.events,
                    cp.skipped,
                    cp.last_event_ms,
                    now_ms,
                    cp.ctime_ns,
                    cp.sample_hash,
                )
                for cp in checkpoints
            ],
        )

    def forget_files(self, paths: Sequence[str]) -> None:
        """Checkpoints no pass will look at again (their events stay)."""
        if paths:
            with self.transaction():
                self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def mark_missing(self, paths: Iterable[str]) -> None:
        """Files an agent deleted: their events stay; the checkpoint remembers the loss."""
        self._db.executemany(
            "UPDATE files SET status = 'missing', updated_ms = ? WHERE path = ?",
            [(int(time.time() * 1000), p) for p in paths],
        )

    # -- events -----------------------------------------------------------------

    def upsert_events(self, priced: Sequence[PricedEvent]) -> int:
        """Store events; a key seen before keeps its largest usage. Returns rows changed."""
        if not priced:
            return 0
        return self.upsert_event_rows(
            [event_row(p.event, p.cost_usd, p.cost_status) for p in priced]
        )

    def upsert_event_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """``upsert_events`` of events already shaped by ``event_row`` (a worker's)."""
        if not rows:
            return 0
        # The cursor counts the events themselves; total_changes would add the running
        # totals the triggers keep.
        cursor = self._db.executemany(_UPSERT, rows)
        return max(cursor.rowcount, 0)

    def add_activity(self, activity: Sequence[Activity]) -> None:
        self.add_activity_rows([activity_row(a) for a in activity])

    def add_activity_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """``add_activity`` of activity already shaped by ``activity_row`` (a worker's)."""
        self._db.executemany("INSERT OR IGNORE INTO activity VALUES (?, ?, ?, ?, ?, ?)", rows)

    def record_plan_samples(self, samples: Sequence[PlanSample]) -> None:
        """Plan window readings; of several in one minute the latest is kept."""
        self._db.executemany(RECORD_PLAN, [plan_row(p) for p in samples])

    def record_agent_action(
        self,
        source: str,
        session_id: str,
        action: str,
        pids: Sequence[int],
        summary: str,
        rule_id: str = "",
    ) -> None:
        self._db.execute(
            "INSERT INTO agent_actions (source, session_id, action, pids, summary, rule_id, "
            "acted_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                session_id,
                action,
                orjson.dumps(list(pids)).decode(),
                summary,
                rule_id,
                int(time.time() * 1000),
            ),
        )

    def add_problems(self, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        now = int(time.time() * 1000)
        self._db.executemany(
            "INSERT INTO problems (path, line_no, reason, seen_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path, line_no) DO UPDATE SET reason = excluded.reason",
            [(p.path, p.line_no, p.reason, now) for p in problems],
        )
        self._db.execute(
            "DELETE FROM problems WHERE id <= (SELECT MAX(id) FROM problems) - ?", (MAX_PROBLEMS,)
        )

    def problems(self, limit: int = 50) -> list[Problem]:
        rows = self._db.execute(
            "SELECT path, line_no, reason FROM problems ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [Problem(path, line_no, reason) for path, line_no, reason in rows]

    def replace_provider_rows(
        self, provider: str, first_day: str, last_day: str, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """A provider's figures for these days replace what was stored for them; rows of
        one (day, model, kind) add up."""
        with self.transaction():
            self._db.execute(
                "DELETE FROM provider_rows WHERE provider = ? AND day BETWEEN ? AND ?",
                (provider, first_day, last_day),
            )
            self._db.executemany(
                "INSERT INTO provider_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, day, model, kind) DO UPDATE SET "
                "input_tokens = input_tokens + excluded.input_tokens, "
                "output_tokens = output_tokens + excluded.output_tokens, "
                "cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, "
                "cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens, "
                "cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens, "
                "cost_usd = COALESCE(cost_usd, 0) + COALESCE(excluded.cost_usd, 0)",
                rows,
            )

    def save_provider_state(self, row: tuple[Any, ...]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO provider_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row
        )

    def set_costs(self, updates: Sequence[tuple[Any, ...]], fingerprint: str) -> None:
        """New (cost, status, event id) after re-pricing, and the prices they came from."""
        with self.transaction():
            self._db.executemany(
                "UPDATE events SET cost_usd = ?, cost_status = ? WHERE id = ?", updates
            )
            self.set_meta("pricing_fingerprint", fingerprint)

    def record_alerts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(rule, window start, level, fired at, message) of alerts that fired."""
        self._db.executemany("INSERT OR IGNORE INTO alert_state VALUES (?, ?, ?, ?, ?)", rows)

    def remember_rates(
        self, model: str, day: str, tier: str, fingerprint: str, rates: str | None
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO price_cache (model, day, tier, fingerprint, rates) "
            "VALUES (?, ?, ?, ?, ?)",
            (model, day, tier, fingerprint, rates),
        )


# Where ``event_row`` puts what decides which of two copies of a request is kept.
ROW_TIMESTAMP, ROW_TOTAL_TOKENS, ROW_REPLAYED = 5, 12, 15


def event_row(e: UsageEvent, cost_usd: float | None, cost_status: str) -> tuple[Any, ...]:
    """An event as the store's row (``EVENT_COLUMNS``), its key digested."""
    return (
        event_key_digest(e.key),
        e.source,
        e.session_id,
        e.project,
        e.model,
        e.timestamp_ms,
        e.input_tokens,
        e.output_tokens,
        e.reasoning_tokens,
        e.cache_read_tokens,
        e.cache_write_5m_tokens,
        e.cache_write_1h_tokens,
        e.total_tokens,
        e.service_tier,
        int(e.estimated),
        int(e.replayed),
        cost_usd,
        cost_status,
        e.reported_cost_usd,
    )


def activity_row(a: Activity) -> tuple[Any, ...]:
    """An activity as the store's row, its key digested."""
    return (event_key_digest(a.key), a.source, a.session_id, a.timestamp_ms, a.kind, a.fingerprint)


def state_json(state: Any) -> str:
    """A parser's state as JSON. A string read from a broken log may hold a lone surrogate,
    which UTF-8 cannot carry: it is stored with "?" in its place (the state must be
    saved, or the file would be read again and again)."""
    try:
        return orjson.dumps(state).decode()
    except TypeError:
        return orjson.dumps(_valid_text(state)).decode()


def _valid_text(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_text(v) for v in value]
    return value


def backup_folder(database: Path) -> Path:
    return database.parent / "backups"


def store_bytes(database: Path) -> int:
    """The store's size on disk, with its -wal."""
    total = 0
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def file_identity(path: Path) -> tuple[int, int] | None:
    """The file's device and inode: which file a path names now (None: none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def damage_mark(database: Path) -> Path:
    return database.with_name(database.name + ".check-failed")


def mark_damage(database: Path, damage: str) -> None:
    """Leave word that a check in the background found the store damaged: the next
    opening repairs it (a background process must not move it from under its users)."""
    log.error("the daily check found the usage store damaged: %s", damage)
    mark = damage_mark(database)
    mark.write_text(damage[:500])
    make_private(mark)


def marked_damage(database: Path) -> str | None:
    """What a background check found, if it found the store damaged."""
    mark = damage_mark(database)
    try:
        if not stat.S_ISREG(os.lstat(mark).st_mode):
            return None
        with mark.open(errors="replace") as handle:
            return f"found by the daily check: {handle.read(500).strip() or 'damaged'}"
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", mark, exc)
        return None


BACKUP_LOCK = "backup.lock"
# A lock older than this is taken over, whoever holds it: no backup takes an hour.
BACKUP_LOCK_STALE_MS = 3_600_000


@contextmanager
def backup_lock(folder: Path) -> Iterator[bool]:
    """Whether this process may back up now: one backup at a time across processes, by a
    file made with O_EXCL that holds the process id. One left by a process that died, or
    older than an hour, is taken over."""
    lock = folder / BACKUP_LOCK
    held = _take_lock(lock)
    try:
        yield held
    finally:
        if held:
            lock.unlink(missing_ok=True)


def backup_running(folder: Path) -> bool:
    """Whether another process holds the backup lock."""
    lock = folder / BACKUP_LOCK
    return os.path.lexists(lock) and not _stale_lock(lock)


def _take_lock(lock: Path) -> bool:
    for _attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
        except FileExistsError:
            if not _stale_lock(lock):
                return False
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        return True
    return False


def _stale_lock(lock: Path) -> bool:
    """A lock nobody holds any more: not a regular file (never opened, so a FIFO cannot
    block), older than an hour, or naming a process that is gone."""
    try:
        st = os.lstat(lock)
        if not stat.S_ISREG(st.st_mode) or _now_ms() - st.st_mtime * 1000 > BACKUP_LOCK_STALE_MS:
            return True
        holder = lock.read_text().strip()
    except FileNotFoundError:
        return False  # let go meanwhile: the next attempt takes it
    except (OSError, UnicodeDecodeError):
        return True
    return holder.isdigit() and not _process_alive(int(holder))


def _process_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would end it there: the lock's age decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def latest_backup(database: Path) -> Path | None:
    backups = sorted(backup_folder(database).glob("usage-*.sqlite3"))
    return backups[-1] if backups else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _private_folder(folder: Path) -> None:
    """Create the folder 0700; tighten an existing one that tokentray owns."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    except OSError as exc:
        raise StoreError(
            f"cannot create the data folder {folder}: {exc.strerror or exc}. "
            "Choose another with --data-dir or TOKENTRAY_DATA_DIR"
        ) from exc
    make_private(folder, PRIVATE_FOLDER)


def _statements(script: str) -> list[str]:
    """The script's statements; a trigger's body (with its own semicolons) stays whole."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                statements.append(current.strip())
            current = ""
    return statements
