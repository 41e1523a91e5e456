"""The one entry point for "ingest what is new": the CLI, the watcher and tests call it.

Each log file has a checkpoint: its identity (device, inode), size, mtime, how
many bytes were consumed, fingerprints of its head and of the bytes just
before the offset, and the parser's state. A pass reads only bytes after the
offset; a trailing line without newline stays unread until it is complete.
A file that shrank, changed identity or changed before the offset is read
again from the start: event keys make that idempotent, and events already
stored are never removed, even when the agent deletes its logs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tokentray.events import (
    Activity,
    Found,
    LineError,
    PlanSample,
    PricedEvent,
    Problem,
    ScanReport,
    UsageEvent,
    check_event,
    event_from_row,
)
from tokentray.pricing import Pricer, Resolved
from tokentray.sources.base import (
    DocumentSource,
    LineParser,
    LineSource,
    Source,
    WholeRead,
    describe_failure,
    document_source,
    line_source,
    walk,
)
from tokentray.store import Checkpoint, Store, StoreError
from tokentray.store.core import (
    ROW_REPLAYED,
    ROW_TIMESTAMP,
    ROW_TOTAL_TOKENS,
    activity_row,
    event_row,
)

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
HEAD_BYTES = 4096
TAIL_BYTES = 256
# A rewrite before the offset is looked for in this many evenly spaced blocks (64 KiB in
# all, so a changed file costs at most that much reading to verify).
SAMPLE_BLOCKS = 16
SAMPLE_BLOCK_BYTES = 4096
BATCH_EVENTS = 2_000
BULK_BATCH_EVENTS = 20_000  # a large first scan commits less often
BATCH_BYTES = 16 << 20
MAX_REPORTED_PROBLEMS = 200
PARALLEL_MIN_FILES = 8
PARALLEL_MIN_BYTES = 48 << 20
BULK_MIN_BYTES = 48 << 20  # a backlog this large is written in bulk (Store.bulk_writes)
PARALLEL_MAX_FILE_BYTES = 256 << 20
IN_FLIGHT_BYTES_PER_WORKER = 16 << 20  # log bytes parsed ahead of what is being stored
JOB_BYTES = 4 << 20  # small files go to a worker together, this many bytes at a time
# A line longer than this is skipped (with its reason) instead of being held in memory:
# it is no usage line, or the file is not a log (a symlink to /dev/zero ends up here too).
MAX_LINE_BYTES = 32 << 20
# count_lines: lines shorter than this on average are counted by bytes.count, as found
# out every this many lines.
SHORT_LINE_BYTES = 256
SHORT_LINES_CHECK = 64
# A JSON document (a chat file) read whole is refused past this size.
MAX_DOCUMENT_BYTES = 256 << 20


@dataclass(slots=True)
class _FileTask:
    source: Source
    root: Path
    path: Path
    stat: os.stat_result


@dataclass(slots=True)
class _Batch:
    """What one transaction will store: events (one per key) and the checkpoints they reach.

    Streaming snapshots of one request arrive as several lines; only the copy
    the store would keep (the one nearest the original, then the largest) is priced.
    Small files share a transaction; a big file is committed in parts.
    """

    events: dict[str, UsageEvent] = field(default_factory=dict)
    activity: list[Activity] = field(default_factory=list)
    # What a worker sends back instead of ``events`` and ``activity``: the events priced,
    # both as the store's rows (see ``pack``), events by their key's digest.
    event_rows: dict[bytes, tuple[Any, ...]] = field(default_factory=dict)
    activity_rows: list[tuple[Any, ...]] = field(default_factory=list)
    plans: list[PlanSample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    bytes: int = 0
    limit: int = BATCH_EVENTS  # events per transaction

    def add(self, event: UsageEvent) -> None:
        held = self.events.get(event.key)
        if held is None or supersedes(event, held):
            self.events[event.key] = event

    def add_row(self, row: tuple[Any, ...]) -> None:
        held = self.event_rows.get(row[0])
        if held is None or supersedes_row(row, held):
            self.event_rows[row[0]] = row

    def merge(self, other: _Batch) -> None:
        for event in other.events.values():
            self.add(event)
        for row in other.event_rows.values():
            self.add_row(row)
        self.activity += other.activity
        self.activity_rows += other.activity_rows
        self.plans += other.plans
        self.problems += other.problems
        self.checkpoints.update(other.checkpoints)
        self.bytes += other.bytes

    def full(self) -> bool:
        return len(self.events) + len(self.event_rows) >= self.limit or self.bytes >= BATCH_BYTES

    def pack(self, pricer: Pricer) -> None:
        """Price the events and turn them and the activity into the store's rows: what a
        worker sends back crosses the pipe as plain tuples, several times faster than
        objects rebuilt by their constructors."""
        for event in self.events.values():
            self.add_row(event_row(event, *pricer.cost(event)))
        self.activity_rows += [activity_row(a) for a in self.activity]
        self.events.clear()
        self.activity.clear()

    def timestamps(self) -> list[int]:
        """When each event in the batch happened."""
        stamps = [event.timestamp_ms for event in self.events.values()]
        return stamps + [row[ROW_TIMESTAMP] for row in self.event_rows.values()]

    def close_file(self, cp: Checkpoint, parser: LineParser, file: _FileBytes) -> None:
        """Record how far this file is read, as of the events now in the batch.

        The recorded size is the bytes this pass has examined, never the size on disk:
        a pass cut short between two batches of a big file (a kill) must leave a
        checkpoint that the next pass sees as unfinished.
        """
        handle = file.handle
        examined = handle.tell()
        st = os.fstat(handle.fileno())
        cp.head_hash, cp.tail_hash, cp.sample_hash = _fingerprints(file, cp.offset)
        handle.seek(examined)
        self.checkpoints[cp.path] = cp.read_to(examined, st, parser.state())

    def price(self, pricer: Pricer) -> list[PricedEvent]:
        return [pricer.price(event) for event in self.events.values()]

    def clear(self) -> None:
        self.events.clear()
        self.activity.clear()
        self.event_rows.clear()
        self.activity_rows.clear()
        self.plans.clear()
        self.problems.clear()
        self.checkpoints.clear()
        self.bytes = 0


def supersedes(new: UsageEvent, old: UsageEvent) -> bool:
    """The store's rule for two copies of one request (see store._UPSERT): the copy
    nearer the original wins; between equals, the larger (a later streaming snapshot),
    then the earlier (so the kept copy does not depend on the order files are read)."""
    if new.replayed != old.replayed:
        return new.replayed < old.replayed
    if new.total_tokens != old.total_tokens:
        return new.total_tokens > old.total_tokens
    return new.timestamp_ms < old.timestamp_ms


def supersedes_row(new: tuple[Any, ...], old: tuple[Any, ...]) -> bool:
    """``supersedes`` for two ``event_row`` rows of one request."""
    if new[ROW_REPLAYED] != old[ROW_REPLAYED]:
        return bool(new[ROW_REPLAYED] < old[ROW_REPLAYED])
    if new[ROW_TOTAL_TOKENS] != old[ROW_TOTAL_TOKENS]:
        return bool(new[ROW_TOTAL_TOKENS] > old[ROW_TOTAL_TOKENS])
    return bool(new[ROW_TIMESTAMP] < old[ROW_TIMESTAMP])


def _hash(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass(slots=True)
class _FileBytes:
    """Reads a file's bytes for its fingerprints, from the block of it still in memory
    when that block covers them (a file read in one chunk is not read a second time)."""

    handle: BinaryIO
    window_start: int = 0
    window: bytes = b""

    def read_at(self, start: int, length: int) -> bytes | memoryview:
        offset = start - self.window_start
        if offset >= 0 and offset + length <= len(self.window):
            return memoryview(self.window)[offset : offset + length]
        self.handle.seek(start)
        return self.handle.read(length)


def _fingerprints(file: _FileBytes, offset: int) -> tuple[bytes, bytes, bytes]:
    """Hashes of the file's head, of the bytes just before ``offset``, and of blocks
    sampled evenly over ``[0, offset)`` (all of it when that is small)."""
    head = _hash(file.read_at(0, min(HEAD_BYTES, offset)))
    tail_start = max(0, offset - TAIL_BYTES)
    tail = _hash(file.read_at(tail_start, offset - tail_start))
    return head, tail, _sample_hash(file, offset)


def _sample_hash(file: _FileBytes, offset: int) -> bytes:
    if offset <= SAMPLE_BLOCKS * SAMPLE_BLOCK_BYTES:
        return _hash(file.read_at(0, offset))
    digest = hashlib.blake2b(digest_size=16)
    span = offset - SAMPLE_BLOCK_BYTES
    for index in range(SAMPLE_BLOCKS):
        digest.update(file.read_at(span * index // (SAMPLE_BLOCKS - 1), SAMPLE_BLOCK_BYTES))
    return digest.digest()


class Ingestor:
    """Reads new log bytes of every enabled source into the store."""

    def __init__(
        self,
        store: Store,
        sources: Iterable[Source],
        pricer: Pricer,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        extra_roots: Mapping[str, list[Path]] | None = None,
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.pricer = pricer
        self.env = dict(os.environ if env is None else env)
        self.home = home or Path.home()
        self.extra_roots = dict(extra_roots or {})

    # -- discovery --------------------------------------------------------------

    def roots(self) -> list[tuple[Source, Path]]:
        """Every (source, folder) pair, existing or not: the agents' own, then the user's.

        Folders are absolute: a file's path is its key in the store, and a folder given
        relative (``CLAUDE_CONFIG_DIR=.claude``) would otherwise name every file a second
        time when given absolute, and have all of it read again."""
        pairs: list[tuple[Source, Path]] = []
        for source in self.sources:
            roots = source.roots(self.env, self.home)
            for folder in self.extra_roots.get(source.name, []):
                roots += source.roots_for_folder(folder)
            pairs += [(source, root) for root in dict.fromkeys(r.absolute() for r in roots)]
        return pairs

    def _discover(
        self, report: ScanReport, known: Mapping[str, tuple[Any, ...]]
    ) -> tuple[list[_FileTask], list[str]]:
        """Tasks for the files that are new or changed since their checkpoint; and the
        paths of those exactly as the last pass left them (``known`` says how that was).
        An untouched append-only log costs a stat: it is recognised by its path string
        before a Path is made or its agent asked whether it wants it."""
        tasks: list[_FileTask] = []
        untouched: list[str] = []
        for source, root in self.roots():
            if not root.is_dir():
                continue
            if not _plain_logs(source):
                for path in source.files(root):
                    task = self._task(source, root, path, report)
                    if task is not None:
                        tasks.append(task)
                continue
            for name in walk(root):
                signature = known.get(name)
                if (
                    signature is not None
                    and signature[7] == source.name
                    and _untouched(name, signature)
                ):
                    untouched.append(name)
                    report.pending_partial_lines += int(signature[6])
                    continue
                path = Path(name)
                if source.wants(path):
                    task = self._task(source, root, path, report)
                    if task is not None:
                        tasks.append(task)
        return tasks, untouched

    def _task(self, source: Source, root: Path, path: Path, report: ScanReport) -> _FileTask | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            report.unreadable.append(Problem(str(path), 0, f"cannot stat: {exc.strerror}"))
            return None
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the scan; a device never ends
            report.unreadable.append(Problem(str(path), 0, "not a regular file: skipped"))
            return None
        return _FileTask(source, root, path, st)

    def _locate(self, paths: Iterable[Path], report: ScanReport) -> list[_FileTask]:
        """Tasks for specific paths (watcher events), matched to their source and root."""
        tasks: list[_FileTask] = []
        roots = self.roots()
        for raw in paths:
            for source, root in roots:
                path = source.owner(Path(raw).absolute())
                if path.is_relative_to(root) and source.wants(path):
                    task = self._task(source, root, path, report)
                    if task is None:
                        self.store.mark_missing([str(path)])
                    else:
                        tasks.append(task)
                    break
        return tasks

    # -- the pass ---------------------------------------------------------------

    def scan(self, paths: Iterable[Path] | None = None) -> ScanReport:
        """Ingest what is new: everywhere, or only in ``paths``."""
        started = time.perf_counter()
        report = ScanReport()
        self.store.writable()
        self.reprice_if_needed()
        known = self.store.file_signatures()
        if paths is None:
            tasks, untouched = self._discover(report, known)
        else:
            tasks, untouched = self._locate(paths, report), []
        changed: list[_FileTask] = []
        for task in tasks:
            signature = known.get(str(task.path))
            if (
                signature is not None
                and not task.source.whole_file(task.path)
                and _unchanged(signature, task.stat)
            ):
                report.pending_partial_lines += int(signature[6])
            else:
                changed.append(task)
        # Older files first: a resumed session's copy of a request keeps the original session.
        changed.sort(key=lambda t: (t.stat.st_mtime_ns, str(t.path)))
        checkpoints = self.store.checkpoints_of([str(t.path) for t in changed])
        work = [(task, checkpoints.get(str(task.path))) for task in changed]
        bulk = _backlog(work) >= BULK_MIN_BYTES
        batch = _Batch(limit=BULK_BATCH_EVENTS if bulk else BATCH_EVENTS)
        with self.store.bulk_writes() if bulk else nullcontext():
            if _worth_parallel(work):
                self._ingest_parallel(work, batch, report)
            else:
                for task, cp in work:
                    self._ingest_file(task, cp, batch, report)
            self._commit(batch, report)
        self.pricer.save_memo()
        if paths is None:
            seen = {str(t.path) for t in tasks}.union(untouched)
            gone = [p for p, sig in known.items() if p not in seen and sig[0] != "missing"]
            # A relative path was recorded before folders were made absolute: that file
            # is known by its absolute path now, and the old row is let go.
            self.store.forget_files([p for p in gone if not Path(p).is_absolute()])
            gone = [p for p in gone if Path(p).is_absolute() and not Path(p).exists()]
            self.store.mark_missing(gone)
            report.files_missing = len(gone)
            self._backup()
        report.files_seen = len(tasks) + len(untouched)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(
        self, task: _FileTask, cp: Checkpoint | None, batch: _Batch, report: ScanReport
    ) -> None:
        def flush() -> None:
            self._commit(batch, report)

        if read_file(task.source, task.root, task.path, cp, batch, report, flush):
            self.store.mark_missing([str(task.path)])
        if batch.full():
            self._commit(batch, report)

    def _ingest_parallel(
        self, work: list[tuple[_FileTask, Checkpoint | None]], batch: _Batch, report: ScanReport
    ) -> None:
        """Parse files in worker processes; this process prices and stores them in order."""
        import multiprocessing  # noqa: PLC0415 - only a large first scan uses workers
        from concurrent.futures import Future, ProcessPoolExecutor  # noqa: PLC0415

        method = _start_method()
        workers = min(_worker_count(), len(work))
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_start_worker,
            initargs=(os.getpid(), self.pricer.detached()),
        ) as pool:
            # A bounded window of bytes in flight, taken in order: results left waiting
            # would pile up (3 GB of memory for a 3 GB history without a bound), and too
            # small a window leaves the workers idle while this process stores.
            pending: deque[tuple[list[tuple[_FileTask, Checkpoint | None]], int, Future[Any]]]
            pending = deque()
            queued = _jobs(work)
            in_flight = 0
            while True:
                while in_flight < workers * IN_FLIGHT_BYTES_PER_WORKER:
                    job, size = next(queued, ([], 0))
                    if not job:
                        break
                    in_flight += size
                    files = [(t.source.name, t.root, t.path, cp) for t, cp in job]
                    pending.append((job, size, pool.submit(_read_files_in_worker, files)))
                if not pending:
                    break
                job, size, future = pending.popleft()
                in_flight -= size
                results, resolved = future.result()
                self.pricer.learn(resolved)
                for (task, _cp), (file_batch, file_report, missing) in zip(
                    job, results, strict=True
                ):
                    if missing:
                        self.store.mark_missing([str(task.path)])
                    batch.merge(file_batch)
                    report.merge(file_report)
                if batch.full():
                    self._commit(batch, report)

    def _commit(self, batch: _Batch, report: ScanReport) -> None:
        """Store the batch and the checkpoints that cover it, in one transaction."""
        if not batch.checkpoints:
            return
        if stamps := batch.timestamps():
            report.note_changes(min(stamps), max(stamps))
        with self.store.transaction():  # rates resolved while pricing are cached in it too
            priced = batch.price(self.pricer)
            self.pricer.save_learned()
            report.events_stored += self.store.upsert_events(priced)
            report.events_stored += self.store.upsert_event_rows(list(batch.event_rows.values()))
            self.store.add_activity(batch.activity)
            self.store.add_activity_rows(batch.activity_rows)
            self.store.record_plan_samples(batch.plans)
            self.store.add_problems(batch.problems)
            self.store.save_checkpoints(batch.checkpoints.values())
        batch.clear()

    def _backup(self) -> None:
        """The daily backup (a big store's in the background); a failure is logged, never
        a reason to stop ingesting."""
        from tokentray.backup import upkeep_when_due  # noqa: PLC0415

        try:
            upkeep_when_due(self.store)
        except (OSError, sqlite3.Error, subprocess.SubprocessError) as exc:
            log.warning("could not back up the usage store: %s", exc)

    # -- prices -----------------------------------------------------------------

    def reprice_if_needed(self) -> int:
        """Re-price every stored event when prices or overrides changed since last time."""
        if self.store.get_meta("pricing_fingerprint") == self.pricer.fingerprint:
            return 0
        return self.reprice()

    def reprice(self) -> int:
        """Re-price every stored event with the current prices; returns how many."""
        rows = self.store.events_for_repricing()
        updates = []
        for row in rows:
            event = event_from_row(row[1:])
            priced = self.pricer.price(event)
            updates.append((priced.cost_usd, priced.cost_status, row[0]))
        self.store.set_costs(updates, self.pricer.fingerprint)
        self.pricer.save_memo()
        if updates:
            log.info("re-priced %d events", len(updates))
        return len(updates)


def read_file(
    source: Source,
    root: Path,
    path: Path,
    cp: Checkpoint | None,
    batch: _Batch,
    report: ScanReport,
    flush: Callable[[], None] | None,
) -> bool:
    """Read the new bytes of one file into ``batch``; True when the file is gone.

    ``flush`` stores a full batch in the middle of a big file; without it
    the whole rest of the file goes into the batch.
    """
    try:
        document = document_source(source, path)
        if document is not None:
            _read_whole(document, root, path, cp, batch, report)
            return False
        lines = line_source(source, path)
        if lines is None:
            raise TypeError(f"{source.name} has no way to read {path.name}")
        with _open_regular(path) as handle:
            _read_new_bytes(lines, root, path, cp, handle, batch, report, flush)
    except FileNotFoundError:
        return True
    except OSError as exc:
        report.unreadable.append(Problem(str(path), 0, f"cannot read: {exc.strerror}"))
        log.warning("cannot read %s: %s", path, exc)
    except StoreError:
        raise  # the store, not this file, failed: stop the pass, nothing is half-stored
    except Exception as exc:  # one broken file must not stop the others
        report.unreadable.append(Problem(str(path), 0, describe_failure(exc)))
        log.warning("cannot read %s", path, exc_info=True)
    return False


def _open_regular(path: Path) -> BinaryIO:
    """Open for reading without blocking, and only a regular file: something swapped in
    since the directory walk (a FIFO, a device) is refused rather than waited on."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(0, "not a regular file", str(path))
    return os.fdopen(descriptor, "rb")


def _read_whole(
    source: DocumentSource,
    root: Path,
    path: Path,
    cp: Checkpoint | None,
    batch: _Batch,
    report: ScanReport,
) -> None:
    """A file rewritten whole: parsed again when its signature changed; events are upserted
    by identity, so nothing is counted twice and nothing that vanished is removed."""
    signature = source.signature(path)
    state = cp.parser_state if cp is not None else {}
    if cp is not None and state.get("signature") == signature:
        return
    st = path.stat()
    report.files_read += 1
    report.bytes_read += st.st_size
    try:
        if st.st_size > MAX_DOCUMENT_BYTES:
            raise OSError(0, f"larger than {MAX_DOCUMENT_BYTES >> 20} MiB: not read", str(path))
        result = source.read_whole(path, root, state)
    except LineError as exc:  # the document itself is unreadable: its one skipped record
        result = WholeRead(problems=[(0, str(exc))], state=dict(state))
    except Exception as exc:  # the file is reported; the others go on
        log.warning("cannot read %s", path, exc_info=True)
        result = WholeRead(problems=[(0, describe_failure(exc))], state=dict(state))
    if cp is None:
        cp = Checkpoint.new(str(path), source.name)
    for item in result.items:
        try:
            check_event(item)
        except ValueError as exc:
            result.problems.append((0, str(exc)))
            continue
        _take(item, cp, batch)
    for line_no, reason in result.problems:
        _skip(Problem(str(path), line_no, reason), cp, batch, report)
    cp.offset = st.st_size
    batch.checkpoints[cp.path] = cp.read_to(
        st.st_size, st, {**result.state, "signature": signature}
    )


def _read_new_bytes(
    source: LineSource,
    root: Path,
    path: Path,
    cp: Checkpoint | None,
    handle: BinaryIO,
    batch: _Batch,
    report: ScanReport,
    flush: Callable[[], None] | None,
) -> None:
    report.files_read += 1
    st = os.fstat(handle.fileno())
    if cp is not None and _was_rewritten(cp, st, handle):
        log.info("%s was truncated or rewritten: reading it again from the start", path)
        report.files_reset += 1
        cp = None
    if cp is None:
        cp = Checkpoint.new(str(path), source.name)
    parser = source.parser(path, root, cp.parser_state or None)
    handle.seek(cp.offset)
    file = _FileBytes(handle)
    remainder = b""
    skipping = False  # inside a line longer than MAX_LINE_BYTES
    while chunk := handle.read(CHUNK_BYTES):
        report.bytes_read += len(chunk)
        if skipping:
            chunk, skipping = _skip_long_line(chunk, cp, batch, report)
        data = remainder + chunk if remainder else chunk
        file.window_start, file.window = cp.offset, data
        consumed = _read_lines(data, source, parser, cp, batch, report)
        remainder = data[consumed:]
        batch.bytes += consumed
        if len(remainder) > MAX_LINE_BYTES:
            cp.offset += len(remainder)
            remainder, skipping = b"", True
        if flush is not None and batch.full():
            batch.close_file(cp, parser, file)
            flush()
    report.pending_partial_lines += int(bool(remainder.strip()))
    batch.close_file(cp, parser, file)


def _skip_long_line(
    chunk: bytes, cp: Checkpoint, batch: _Batch, report: ScanReport
) -> tuple[bytes, bool]:
    """Pass over the rest of an over-long line; returns what follows it, and whether the
    line goes on past this chunk."""
    newline = chunk.find(b"\n")
    if newline < 0:
        cp.offset += len(chunk)
        return b"", True
    cp.offset += newline + 1
    cp.line_no += 1
    reason = f"line longer than {MAX_LINE_BYTES >> 20} MiB: skipped"
    _skip(Problem(cp.path, cp.line_no, reason), cp, batch, report)
    return chunk[newline + 1 :], False


def _read_lines(
    data: bytes,
    source: LineSource,
    parser: LineParser,
    cp: Checkpoint,
    batch: _Batch,
    report: ScanReport,
) -> int:
    """Parse the complete lines of ``data``; returns how many bytes they take.

    A line reaches the parser when it contains one of the source's marks (and no skip
    mark, unless it also holds a keep mark), or when it does not look like a JSON object
    (so that the parser reports it). Lines are handed over as memoryviews: no copies.
    """
    view = memoryview(data)
    block = _read_block(parser, data, view, cp, batch, report)
    if block:
        return block
    marks, skip_marks, keep_marks = source.marks, source.skip_marks, source.keep_marks
    position = 0
    first_line = cp.line_no
    find, rfind = data.find, data.rfind
    while (newline := find(b"\n", position)) >= 0:
        end = newline - 1 if newline > position and data[newline - 1] == 13 else newline
        cp.line_no += 1
        if end > position and (
            data[position] != 123  # "{"
            or data[end - 1] != 125  # "}"
            or (
                any(rfind(mark, position, end) >= 0 for mark in marks)
                and not (
                    any(find(skip, position, end) >= 0 for skip in skip_marks)
                    and not any(find(keep, position, end) >= 0 for keep in keep_marks)
                )
            )
        ):
            _parse_line(parser, view[position:end], cp, batch, report)
        position = newline + 1
    report.lines_read += cp.line_no - first_line
    cp.offset += position
    return position


def _read_block(
    parser: LineParser,
    data: bytes,
    view: memoryview,
    cp: Checkpoint,
    batch: _Batch,
    report: ScanReport,
) -> int:
    """All complete lines of ``data`` at once, through the parser's ``parse_block`` when it
    has one and it takes them; returns the bytes they take, or 0 to read them line by line."""
    parse_block = getattr(parser, "parse_block", None)
    end = data.rfind(b"\n") + 1
    if parse_block is None or not end:
        return 0
    lines = count_lines(data, end)
    found = parse_block(view[:end], lines)
    if found is None:
        return 0
    cp.line_no += lines
    report.lines_read += lines
    cp.offset += end
    for item in found:
        _take(item, cp, batch)
    return end


def count_lines(data: bytes, end: int) -> int:
    """The newlines in ``data[:end]``. ``bytes.count`` looks at every byte; ``find`` jumps
    to the next newline (memchr), ten times faster over transcripts' lines of kilobytes, but
    slower over short ones: where lines turn out short, ``count`` does the rest."""
    find = data.find
    lines = 0
    newline = find(b"\n", 0, end)
    while newline >= 0:
        lines += 1
        if not lines % SHORT_LINES_CHECK and newline < lines * SHORT_LINE_BYTES:
            return lines + data.count(b"\n", newline + 1, end)
        newline = find(b"\n", newline + 1, end)
    return lines


def _parse_line(
    parser: LineParser, line: memoryview, cp: Checkpoint, batch: _Batch, report: ScanReport
) -> None:
    """The boundary of one record: whatever goes wrong with this line (a LineError, a
    parser fault, a value outside the event model's bounds) skips this line alone."""
    try:
        events = parser.parse(line, cp.line_no)
        for event in events:
            check_event(event)
    except Exception as exc:  # one bad line must not stop the rest
        _skip(Problem(cp.path, cp.line_no, describe_failure(exc)), cp, batch, report)
        return
    for event in events:
        _take(event, cp, batch)


def _take(item: Found, cp: Checkpoint, batch: _Batch) -> None:
    if isinstance(item, Activity):
        batch.activity.append(item)
        return
    if isinstance(item, PlanSample):
        batch.plans.append(item)
        return
    batch.add(item)
    cp.events += 1
    cp.last_event_ms = max(cp.last_event_ms or 0, item.timestamp_ms)


def _skip(problem: Problem, cp: Checkpoint, batch: _Batch, report: ScanReport) -> None:
    batch.problems.append(problem)
    cp.skipped += 1
    report.skipped_lines += 1
    if len(report.problems) < MAX_REPORTED_PROBLEMS:
        report.problems.append(problem)


def _jobs(
    work: list[tuple[_FileTask, Checkpoint | None]],
) -> Iterator[tuple[list[tuple[_FileTask, Checkpoint | None]], int]]:
    """Consecutive files in groups of about ``JOB_BYTES`` (one worker call each), with the
    bytes each group has to read."""
    job: list[tuple[_FileTask, Checkpoint | None]] = []
    size = 0
    for item in work:
        job.append(item)
        size += _backlog([item])
        if size >= JOB_BYTES:
            yield job, size
            job, size = [], 0
    if job:
        yield job, size


# The worker process's own pricer, without the store (set by _start_worker).
_worker_pricer: Pricer | None = None


def _read_files_in_worker(
    jobs: list[tuple[str, Path, Path, Checkpoint | None]],
) -> tuple[list[tuple[_Batch, ScanReport, bool]], Resolved]:
    """Runs in a worker process: the whole rest of each file, parsed and priced; and what
    the worker had to resolve, for the store's price cache and the price memo."""
    from tokentray.sources import source_by_name  # noqa: PLC0415

    pricer = _worker_pricer
    results = []
    for source_name, root, path, cp in jobs:
        batch, report = _Batch(), ScanReport()
        missing = read_file(source_by_name(source_name), root, path, cp, batch, report, None)
        if pricer is not None:
            batch.pack(pricer)
        results.append((batch, report, missing))
    return results, pricer.hand_back() if pricer is not None else ({}, [])


def _start_worker(parent_pid: int, pricer: Pricer) -> None:
    global _worker_pricer  # noqa: PLW0603 - one per worker process, set once at its start
    _worker_pricer = pricer
    _die_with_parent(parent_pid)


def _die_with_parent(parent_pid: int) -> None:
    """Runs first in each worker: a worker must not outlive the process that started it
    (killed with SIGKILL, it cannot shut its pool down), or it would keep the caller's
    pipes open for good."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, 9, 0, 0, 0)  # SIGKILL when the parent thread exits
    if os.getppid() != parent_pid:
        os._exit(0)  # the parent is already gone

    def watch() -> None:  # everywhere (a safety net on Linux): look for the parent each second
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _start_method() -> str:
    """How to start workers: a fork starts at once with everything imported, but is safe
    only in a process with no other thread, Python's or native (Qt's, a watcher's): the
    command line on Linux, where /proc lists them all. Otherwise each worker starts a
    fresh interpreter."""
    if sys.platform.startswith("linux") and _only_thread():
        return "fork"
    return "spawn"


def _only_thread() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _worker_count() -> int:
    configured = os.environ.get("TOKENTRAY_WORKERS", "")
    if configured.isdigit():
        return int(configured)
    return min(os.cpu_count() or 1, 4)


def _worth_parallel(work: list[tuple[_FileTask, Checkpoint | None]]) -> bool:
    """Worker processes pay off for a large backlog of many files (a first scan)."""
    if _worker_count() < 2 or len(work) < PARALLEL_MIN_FILES:
        return False
    if any(t.stat.st_size > PARALLEL_MAX_FILE_BYTES for t, _ in work):
        return False  # a huge file is streamed in this process, in bounded batches
    if any(not _registered(t.source) for t, _ in work):
        return False
    return _backlog(work) >= PARALLEL_MIN_BYTES


def _backlog(work: list[tuple[_FileTask, Checkpoint | None]]) -> int:
    """Bytes this pass has to read."""
    return sum(t.stat.st_size - (cp.offset if cp else 0) for t, cp in work)


def _registered(source: Source) -> bool:
    from tokentray.sources import ALL_SOURCES  # noqa: PLC0415

    return type(source) in ALL_SOURCES


def _plain_logs(source: Source) -> bool:
    """Whether every file of ``source`` is an append-only log found by the plain walk (it
    has neither a ``files`` nor a ``whole_file`` of its own)."""
    kind = type(source)
    return kind.files is Source.files and kind.whole_file is Source.whole_file


def _untouched(name: str, signature: tuple[Any, ...]) -> bool:
    """Whether the file at ``name`` is a regular file exactly as its signature says. A
    file that cannot be stat'ed is not: the pass looks at it again and says why."""
    try:
        st = os.stat(name)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and _unchanged(signature, st)


def _unchanged(signature: tuple[Any, ...], st: os.stat_result) -> bool:
    """Whether the file is exactly as the last pass left it (no byte to read, none changed),
    from its ``Store.file_signatures`` entry.

    ctime is part of it: ``cp -p`` or ``touch -r`` can put an mtime back, not a ctime.
    """
    status, device, inode, size, mtime_ns, ctime_ns = signature[:6]
    return bool(
        status == "ok"
        and inode == st.st_ino
        and device == st.st_dev
        and size == st.st_size
        and mtime_ns == st.st_mtime_ns
        and ctime_ns == st.st_ctime_ns
    )


def _was_rewritten(cp: Checkpoint, st: os.stat_result, handle: BinaryIO) -> bool:
    """Whether the bytes already consumed are no longer what the file holds."""
    if (cp.device, cp.inode) != (st.st_dev, st.st_ino) or st.st_size < cp.offset:
        return True
    head, tail, sample = _fingerprints(_FileBytes(handle), cp.offset)
    if (head, tail) != (cp.head_hash, cp.tail_hash):
        return True
    # Checkpoints written before the sampled blocks existed have none to compare.
    return bool(cp.sample_hash) and sample != cp.sample_hash
