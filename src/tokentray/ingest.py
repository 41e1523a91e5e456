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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tokentray.events import LineError, Problem, ScanReport, UsageEvent
from tokentray.pricing import Pricer
from tokentray.sources.base import LineParser, Source
from tokentray.store import Checkpoint, PricedEvent, Store

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
HEAD_BYTES = 4096
TAIL_BYTES = 256
BATCH_EVENTS = 2_000
BATCH_BYTES = 16 << 20
MAX_REPORTED_PROBLEMS = 200


@dataclass(slots=True)
class _FileTask:
    source: Source
    root: Path
    path: Path
    stat: os.stat_result


@dataclass(slots=True)
class _Batch:
    """Events parsed since the last commit of one file."""

    priced: list[PricedEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bytes: int = 0


def _hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _read_at(handle: BinaryIO, start: int, length: int) -> bytes:
    handle.seek(start)
    return handle.read(length)


def _fingerprints(handle: BinaryIO, offset: int) -> tuple[bytes, bytes]:
    """Hashes of the file's head and of the bytes just before ``offset``."""
    head = _hash(_read_at(handle, 0, min(HEAD_BYTES, offset)))
    tail_start = max(0, offset - TAIL_BYTES)
    tail = _hash(_read_at(handle, tail_start, offset - tail_start))
    return head, tail


class Ingestor:
    """Reads new log bytes of every enabled source into the store."""

    def __init__(
        self,
        store: Store,
        sources: Iterable[Source],
        pricer: Pricer,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.pricer = pricer
        self.env = dict(os.environ if env is None else env)
        self.home = home or Path.home()

    # -- discovery --------------------------------------------------------------

    def roots(self) -> list[tuple[Source, Path]]:
        """Every (source, folder) pair, existing or not."""
        return [(s, root) for s in self.sources for root in s.roots(self.env, self.home)]

    def _discover(self, report: ScanReport) -> list[_FileTask]:
        tasks: list[_FileTask] = []
        for source, root in self.roots():
            if not root.is_dir():
                continue
            for path in source.files(root):
                task = self._task(source, root, path, report)
                if task is not None:
                    tasks.append(task)
        return tasks

    def _task(self, source: Source, root: Path, path: Path, report: ScanReport) -> _FileTask | None:
        try:
            return _FileTask(source, root, path, path.stat())
        except FileNotFoundError:
            return None
        except OSError as exc:
            report.unreadable.append(Problem(str(path), 0, f"cannot stat: {exc.strerror}"))
            return None

    def _locate(self, paths: Iterable[Path], report: ScanReport) -> list[_FileTask]:
        """Tasks for specific paths (watcher events), matched to their source and root."""
        tasks: list[_FileTask] = []
        roots = self.roots()
        for raw in paths:
            path = Path(raw)
            for source, root in roots:
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
        self.reprice_if_needed()
        tasks = self._discover(report) if paths is None else self._locate(paths, report)
        # Older files first: a resumed session's copy of a request keeps the original session.
        tasks.sort(key=lambda t: (t.stat.st_mtime_ns, str(t.path)))
        checkpoints = self.store.checkpoints()
        for task in tasks:
            report.merge(self._ingest_file(task, checkpoints.get(str(task.path))))
        if paths is None:
            seen = {str(t.path) for t in tasks}
            gone = [p for p, cp in checkpoints.items() if p not in seen and cp.status != "missing"]
            gone = [p for p in gone if not Path(p).exists()]
            self.store.mark_missing(gone)
            report.files_missing = len(gone)
        report.files_seen = len(tasks)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, task: _FileTask, cp: Checkpoint | None) -> ScanReport:
        report = ScanReport()
        st = task.stat
        if cp is not None and _unchanged(cp, st):
            report.pending_partial_lines = int(cp.size > cp.offset)
            return report
        try:
            with open(task.path, "rb") as handle:
                return self._read_new_bytes(task, cp, handle)
        except FileNotFoundError:
            self.store.mark_missing([str(task.path)])
        except OSError as exc:
            report.unreadable.append(Problem(str(task.path), 0, f"cannot read: {exc.strerror}"))
            log.warning("cannot read %s: %s", task.path, exc)
        return report

    def _read_new_bytes(
        self, task: _FileTask, cp: Checkpoint | None, handle: BinaryIO
    ) -> ScanReport:
        report = ScanReport(files_read=1)
        st = os.fstat(handle.fileno())
        if cp is not None and _was_rewritten(cp, st, handle):
            log.info("%s was truncated or rewritten: reading it again from the start", task.path)
            report.files_reset = 1
            cp = None
        if cp is None:
            cp = Checkpoint(
                path=str(task.path),
                source=task.source.name,
                device=st.st_dev,
                inode=st.st_ino,
                size=0,
                mtime_ns=0,
                offset=0,
                line_no=0,
                head_hash=b"",
                tail_hash=b"",
                parser_state={},
            )
        parser = task.source.parser(task.path, task.root, cp.parser_state or None)
        handle.seek(cp.offset)
        batch = _Batch()
        remainder = b""
        while chunk := handle.read(CHUNK_BYTES):
            report.bytes_read += len(chunk)
            data = remainder + chunk if remainder else chunk
            lines = data.split(b"\n")
            remainder = lines.pop()
            for line in lines:
                cp.line_no += 1
                cp.offset += len(line) + 1
                batch.bytes += len(line) + 1
                report.lines_read += 1
                self._parse_line(parser, line, cp, batch, report)
            if len(batch.priced) >= BATCH_EVENTS or batch.bytes >= BATCH_BYTES:
                self._commit(cp, st, parser, batch, handle, report)
                batch = _Batch()
        report.pending_partial_lines = int(bool(remainder.strip()))
        self._commit(cp, st, parser, batch, handle, report)
        return report

    def _parse_line(
        self,
        parser: LineParser,
        line: bytes,
        cp: Checkpoint,
        batch: _Batch,
        report: ScanReport,
    ) -> None:
        try:
            events = parser.parse(line, cp.line_no)
        except LineError as exc:
            problem = Problem(cp.path, cp.line_no, str(exc))
            batch.problems.append(problem)
            cp.skipped += 1
            report.skipped_lines += 1
            if len(report.problems) < MAX_REPORTED_PROBLEMS:
                report.problems.append(problem)
            return
        for event in events:
            batch.priced.append(self.pricer.price(event))
            cp.events += 1
            cp.last_event_ms = max(cp.last_event_ms or 0, event.timestamp_ms)

    def _commit(
        self,
        cp: Checkpoint,
        st: os.stat_result,
        parser: LineParser,
        batch: _Batch,
        handle: BinaryIO,
        report: ScanReport,
    ) -> None:
        """Store a batch and the checkpoint that covers it, in one transaction."""
        position = handle.tell()
        cp.head_hash, cp.tail_hash = _fingerprints(handle, cp.offset)
        handle.seek(position)
        cp.size = max(st.st_size, cp.offset)
        cp.mtime_ns = st.st_mtime_ns
        cp.device, cp.inode = st.st_dev, st.st_ino
        cp.parser_state = parser.state()
        cp.status = "ok"
        with self.store.transaction():
            report.events_stored += self.store.upsert_events(batch.priced)
            self.store.add_problems(batch.problems)
            self.store.save_checkpoint(cp)

    # -- prices -----------------------------------------------------------------

    def reprice_if_needed(self) -> int:
        """Re-price every stored event when prices or overrides changed since last time."""
        if self.store.get_meta("pricing_fingerprint") == self.pricer.fingerprint:
            return 0
        return self.reprice()

    def reprice(self) -> int:
        """Re-price every stored event with the current prices; returns how many."""
        rows = self.store.query(
            "SELECT id, source, session_id, project, model, ts_ms, input_tokens, output_tokens, "
            "reasoning_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
            "service_tier, estimated FROM events"
        )
        updates = []
        for row in rows:
            event = UsageEvent(
                source=row[1],
                key="",
                session_id=row[2],
                project=row[3],
                model=row[4],
                timestamp_ms=row[5],
                input_tokens=row[6],
                output_tokens=row[7],
                reasoning_tokens=row[8],
                cache_read_tokens=row[9],
                cache_write_5m_tokens=row[10],
                cache_write_1h_tokens=row[11],
                service_tier=row[12],
                estimated=bool(row[13]),
            )
            priced = self.pricer.price(event)
            updates.append((priced.cost_usd, priced.cost_status, row[0]))
        with self.store.transaction():
            self.store.db.executemany(
                "UPDATE events SET cost_usd = ?, cost_status = ? WHERE id = ?", updates
            )
            self.store.set_meta("pricing_fingerprint", self.pricer.fingerprint)
        if updates:
            log.info("re-priced %d events", len(updates))
        return len(updates)


def _unchanged(cp: Checkpoint, st: os.stat_result) -> bool:
    return (
        cp.status == "ok"
        and cp.inode == st.st_ino
        and cp.device == st.st_dev
        and cp.size == st.st_size
        and cp.mtime_ns == st.st_mtime_ns
    )


def _was_rewritten(cp: Checkpoint, st: os.stat_result, handle: BinaryIO) -> bool:
    """Whether the bytes already consumed are no longer what the file holds."""
    if (cp.device, cp.inode) != (st.st_dev, st.st_ino) or st.st_size < cp.offset:
        return True
    return _fingerprints(handle, cp.offset) != (cp.head_hash, cp.tail_hash)
