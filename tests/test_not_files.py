"""Files that are not files: FIFOs, devices, endless lines. None may block or exhaust a scan."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import EngineFactory
from tokentray import ingest


def _line(message_id: str) -> bytes:
    return (
        b'{"type":"assistant","cwd":"/p","timestamp":"2026-10-05T10:00:00Z",'
        b'"message":{"id":"' + message_id.encode() + b'","model":"claude-sonnet-4-5-20250929",'
        b'"usage":{"input_tokens":10,"output_tokens":100}}}\n'
    )


def _scan_within(engine, seconds: float):  # type: ignore[no-untyped-def]
    """Run a scan on a thread; fail (instead of hanging the suite) if it blocks."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(engine.ingestor.scan()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the scan blocked"
    return result[0]


def test_a_fifo_and_a_device_named_like_logs_are_skipped(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    home = tmp_path / "claude"
    folder = home / "projects" / "-p"
    folder.mkdir(parents=True)
    (folder / "good.jsonl").write_bytes(_line("m1"))
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    engine = make_engine(claude=home)
    scan = _scan_within(engine, 20)
    assert engine.store.count_events() == 1
    reasons = {Path(p.path).name: p.reason for p in scan.unreadable}
    assert reasons == {
        "pipe.jsonl": "not a regular file: skipped",
        "zero.jsonl": "not a regular file: skipped",
    }


def test_a_regular_file_swapped_for_a_fifo_after_the_walk_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(OSError, match="not a regular file"):
        ingest._open_regular(tmp_path / "pipe.jsonl")


def test_an_endless_line_is_skipped_and_the_next_line_counted(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_LINE_BYTES", 1 << 20)
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 256 << 10)
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_line("m1") + b'{"x":"' + b"z" * (5 << 20) + b'"}\n' + _line("m2"))
    engine = make_engine(claude=home)
    scan = engine.ingestor.scan()
    assert engine.store.count_events() == 2
    assert [p.reason for p in scan.problems] == ["line longer than 1 MiB: skipped"]
    assert [p.line_no for p in scan.problems] == [2]
    (cp,) = engine.store.checkpoints().values()
    assert cp.offset == log.stat().st_size
    assert engine.ingestor.scan().files_read == 0  # nothing left over to read again


def _walked(source: object, root: Path) -> list[Path]:
    """The listing as ``os.walk`` gives it (links to folders not followed)."""
    found = []
    for folder, _dirs, names in os.walk(root):
        found += [Path(folder) / n for n in names if source.wants(Path(folder) / n)]  # type: ignore[attr-defined]
    return sorted(found)


def test_the_walk_lists_what_os_walk_does(tmp_path: Path) -> None:
    """Every pass lists the agents' folders with its own walk: nested folders, logs beside
    other files, links to logs (listed), links to folders and broken links (not
    followed), FIFOs (listed: the pass refuses them), as ``os.walk`` would."""
    from tokentray.sources import source_by_name

    source = source_by_name("claude-code")
    root = tmp_path / "claude" / "projects"
    outside = tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "x.jsonl").write_text("{}\n")
    for depth in range(4):
        folder = root.joinpath(*[f"d{i}" for i in range(depth)])
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("a.jsonl", "b.json", "c.jsonl.bak", ".hidden.jsonl"):
            (folder / name).write_text("{}\n")
    (root / "d0" / "empty").mkdir()
    (root / "linked-folder").symlink_to(outside)
    (root / "d0" / "linked.jsonl").symlink_to(outside / "deep" / "x.jsonl")
    (root / "d0" / "broken.jsonl").symlink_to(tmp_path / "gone.jsonl")
    os.mkfifo(root / "d0" / "pipe.jsonl")

    listed = sorted(source.files(root))
    assert listed == _walked(source, root)
    assert root / "d0" / "linked.jsonl" in listed and len(listed) == 11
    assert not any("elsewhere" in str(path) or "linked-folder" in str(path) for path in listed)
