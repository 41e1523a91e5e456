"""Fuzz every JSON log format through parser → pricer → store → report.

Seeds are real-shaped files of each agent (``tests/fixtures/fuzz/home``, a home folder).
Each line format gets MUTATIONS mutated copies of its own lines appended to its files; each
document format gets MUTATIONS mutated records in one document (or mutated documents).
Nothing may escape the per-record boundary, every stored number stays inside the event
model's bounds, reports add up, and lines that are garbage add no token at all.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tokentray import aggregate, ingest
from tokentray.engine import Engine, open_engine
from tokentray.events import EARLIEST_MS, LATEST_MS, MAX_TOKENS_PER_FIELD, ScanReport
from tokentray.sources.base import Source

FIXTURE = Path(__file__).parent / "fixtures" / "fuzz" / "home"
MUTATIONS = 10_000
UTC = ZoneInfo("UTC")

Mutator = Callable[[random.Random, bytes], bytes]

ODD_NUMBERS: list[Any] = [2**63, 2**64 + 1, -1, -(2**63), 1e30, 1e308, 1e-300, 2**62, 0.5, -0.0]
ODD_TIMES: list[Any] = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    1e20,
    -5000,
    253_402_300_800_000,
    "2026-13-45T99:99:99Z",
    "",
    "2026-10-01",
    None,
    [],
]
ODD_TEXT = ["\ud800", "\x00", "\u202e\u0301", "🦜" * 50, "\ufeff", "a" * 5000, "\udfff\ud800"]
ODD_VALUES: list[Any] = [None, True, "12", [], {}, [1, 2], {"input_tokens": "x"}, 3.5, "NaN"]


def _tree(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _slots(value: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found.append((value, key))
        _slots(child, found)
    return found


def _tree_mutator(change: Callable[[random.Random, Any, Any], None]) -> Mutator:
    def mutate(rng: random.Random, line: bytes) -> bytes:
        tree = _tree(line)
        slots = _slots(tree, []) if tree is not None else []
        if not slots:
            return line[: rng.randrange(len(line) or 1)]
        container, key = rng.choice(slots)
        change(rng, container, key)
        return json.dumps(tree, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")

    return mutate


def _delete(rng: random.Random, container: Any, key: Any) -> None:
    del container[key]


def _wrong_type(rng: random.Random, container: Any, key: Any) -> None:
    container[key] = rng.choice(ODD_VALUES)


def _odd_number(rng: random.Random, container: Any, key: Any) -> None:
    numbers = [(c, k) for c, k in _slots(container, []) if isinstance(c[k], int | float)]
    target, slot = rng.choice(numbers) if numbers else (container, key)
    target[slot] = rng.choice(ODD_NUMBERS)


def _odd_time(rng: random.Random, container: Any, key: Any) -> None:
    root_slots = [(c, k) for c, k in _slots(container, []) if "time" in str(k).lower() or k == "ts"]
    target, slot = rng.choice(root_slots) if root_slots else (container, key)
    target[slot] = rng.choice(ODD_TIMES)


def _deep(rng: random.Random, container: Any, key: Any) -> None:
    value: Any = container[key]
    for _ in range(rng.choice([300, 900])):
        value = {"a": value} if rng.random() < 0.5 else [value]
    container[key] = value


def _odd_text(rng: random.Random, container: Any, key: Any) -> None:
    strings = [(c, k) for c, k in _slots(container, []) if isinstance(c[k], str)]
    target, slot = rng.choice(strings) if strings else (container, key)
    target[slot] = rng.choice(ODD_TEXT) + str(target[slot])


def _flip(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data).replace(b"\n", b" ")


def _invalid_utf8(rng: random.Random, line: bytes) -> bytes:
    quote = line.find(b'":"')
    if quote < 0:
        return line
    return (
        line[: quote + 3]
        + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf"])
        + line[quote + 3 :]
    )


# Mutations that leave a line unreadable: they may never add a token.
def _truncate(rng: random.Random, line: bytes) -> bytes:
    return line[: rng.randrange(1, max(2, len(line) - 1))]


def _nan(rng: random.Random, line: bytes) -> bytes:
    return line.replace(b":", b":NaN,", 1) if b":" in line else b"NaN"


def _too_deep(rng: random.Random, line: bytes) -> bytes:
    return b"[" * 1100 + line + b"]" * 1100


MUTATORS: list[Mutator] = [
    _flip,
    _invalid_utf8,
    _tree_mutator(_delete),
    _tree_mutator(_wrong_type),
    _tree_mutator(_odd_number),
    _tree_mutator(_odd_time),
    _tree_mutator(_deep),
    _tree_mutator(_odd_text),
    _truncate,
]
GARBAGE: list[Mutator] = [_truncate, _nan, _too_deep]


def _engine(home: Path, data: Path) -> Engine:
    env = {"CLAUDE_CONFIG_DIR": str(home / ".claude"), "CODEX_HOME": str(home / ".codex")}
    return open_engine(data, home / "no-config.toml", env=env, home=home)


def _seed(tmp_path: Path) -> tuple[Path, Engine, dict[str, int]]:
    home = tmp_path / "home"
    shutil.copytree(FIXTURE, home)
    engine = _engine(home, tmp_path / "data")
    engine.ingestor.scan()
    return home, engine, _per_source(engine)


def _per_source(engine: Engine) -> dict[str, int]:
    rows = engine.store.query("SELECT source, SUM(total_tokens) FROM events GROUP BY source")
    return dict(rows)


def _files(engine: Engine) -> dict[Source, list[Path]]:
    by_name = {s.name: s for s in engine.ingestor.sources}
    files: dict[Source, list[Path]] = defaultdict(list)
    for path, cp in sorted(engine.store.checkpoints().items()):
        files[by_name[cp.source]].append(Path(path))
    return files


def _fuzz_lines(
    rng: random.Random, source: Source, paths: list[Path], mutators: list[Mutator]
) -> None:
    seeds = [(p, line) for p in paths for line in p.read_bytes().splitlines() if line.strip()]
    extra: dict[Path, list[bytes]] = defaultdict(list)
    for _ in range(MUTATIONS):
        path, line = rng.choice(seeds)
        extra[path].append(rng.choice(mutators)(rng, line).replace(b"\n", b" "))
    for path, lines in extra.items():
        with open(path, "ab") as handle:
            handle.write(b"\n".join(lines) + b"\n")


def _fuzz_documents(
    rng: random.Random, engine: Engine, source: Source, paths: list[Path], mutators: list[Mutator]
) -> ScanReport:
    """Mutated documents through the engine's own per-file path, committed in batches."""
    root_of = {
        str(path): root
        for s, root in engine.ingestor.roots()
        if s is source
        for path in paths
        if path.is_relative_to(root)
    }
    report = ScanReport()
    batch = ingest._Batch()
    originals = {p: p.read_bytes() for p in paths}
    for index in range(MUTATIONS // 10):  # each document carries several records
        path = rng.choice(paths)
        document = originals[path]
        mutated = rng.choice(mutators)(rng, document)
        path.write_bytes(mutated)
        ingest.read_file(source, root_of[str(path)], path, None, batch, report, None)
        if index % 50 == 0:
            engine.ingestor._commit(batch, report)
    engine.ingestor._commit(batch, report)
    for path, content in originals.items():
        path.write_bytes(content)
    return report


TREE_CHANGES = [_delete, _wrong_type, _odd_number, _odd_time, _deep, _odd_text]


def _records(document: Any) -> list[Any] | None:
    """The list of records inside a chat document, where it has one."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("messages", "events"):
            if isinstance(document.get(key), list):
                return document[key]  # type: ignore[no-any-return]
    return None


def _fuzz_records(rng: random.Random, engine: Engine, source: Source, paths: list[Path]) -> int:
    """One document per file holding MUTATIONS structurally mutated copies of its records
    (the document stays JSON, so every record reaches the source's per-record boundary)."""
    done = 0
    for path in paths:
        original = path.read_bytes()
        document = json.loads(original)
        records = _records(document)
        if not records:
            continue
        seeds = [json.dumps(r) for r in records]
        mutated = []
        for _ in range(MUTATIONS):
            record = json.loads(rng.choice(seeds))
            slots = _slots(record, [])
            if slots:
                container, key = rng.choice(slots)
                rng.choice(TREE_CHANGES)(rng, container, key)
            mutated.append(record)
        records[:] = mutated
        text = json.dumps(document).encode("utf-8", "surrogatepass")
        path.write_bytes(text)
        report = engine.ingestor.scan([path])
        path.write_bytes(original)
        # A fault that reached the file boundary (line 0) lost the whole document: the
        # record boundary inside the source must catch it.
        lost = [p.reason for p in report.problems if p.line_no == 0]
        assert not lost, (source.name, lost[:3])
        done += 1
    return done


def _check_store(engine: Engine) -> None:
    (row,) = engine.store.query(
        "SELECT MIN(input_tokens), MAX(input_tokens), MIN(output_tokens), MAX(output_tokens), "
        "MIN(cache_read_tokens), MAX(cache_read_tokens), MIN(cache_write_5m_tokens), "
        "MAX(cache_write_5m_tokens), MIN(cache_write_1h_tokens), MAX(cache_write_1h_tokens), "
        "MIN(ts_ms), MAX(ts_ms), SUM(total_tokens) FROM events"
    )
    *counts, first, last, total = row
    assert all(0 <= c <= MAX_TOKENS_PER_FIELD for c in counts)
    assert first >= EARLIEST_MS and last < LATEST_MS
    for kind in ("daily", "monthly"):
        report = aggregate.period_report(engine.store, kind, UTC, aggregate.Filters())
        assert report.totals.total_tokens == total
    sessions = aggregate.session_report(engine.store, UTC, aggregate.Filters())
    assert sum(r.totals.total_tokens for r in sessions.rows) == total


def test_fixture_home_gives_usage_for_every_seeded_agent(tmp_path: Path) -> None:
    _, engine, clean = _seed(tmp_path)
    with engine.store:
        assert len(clean) >= 15, sorted(clean)
        assert all(total > 0 for total in clean.values())


@pytest.mark.parametrize("garbage", [False, True], ids=["all-mutations", "garbage-only"])
def test_fuzzed_logs_never_escape_and_never_add_phantom_tokens(
    tmp_path: Path, garbage: bool
) -> None:
    rng = random.Random(20261122 + garbage)
    _home, engine, clean = _seed(tmp_path)
    mutators = GARBAGE if garbage else MUTATORS
    with engine.store:
        files = _files(engine)
        documents = record_documents = 0
        for source, paths in files.items():
            whole = [p for p in paths if source.whole_file(p) and p.suffix == ".json"]
            lines = [p for p in paths if not source.whole_file(p)]
            if lines:
                _fuzz_lines(rng, source, lines, mutators)
            if whole:
                documents += 1
                _fuzz_documents(rng, engine, source, whole, mutators)
                if not garbage:
                    record_documents += _fuzz_records(rng, engine, source, whole)
        scan = engine.ingestor.scan()
        assert documents >= 5
        assert garbage or record_documents >= 5
        assert scan.skipped_lines > MUTATIONS  # the broken lines are counted, not lost
        assert not scan.unreadable, scan.unreadable[:3]
        _check_store(engine)
        if garbage:
            assert _per_source(engine) == clean
