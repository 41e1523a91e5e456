"""Checkpoints that survive a kill, and rewrites that nothing but the bytes reveal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import EngineFactory
from tokentray import ingest
from tokentray.cli import main
from tokentray.synthetic import write_big_file


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, not even ``except Exception``."""


def _totals(engine) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    (row,) = engine.store.query(
        "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) "
        "FROM events"
    )
    return row


def _big_transcript(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "claude"
    log = home / "projects" / "-big" / "big-session.jsonl"
    write_big_file(log, 2_000_000)
    return home, log


def test_a_checkpoint_never_claims_bytes_it_has_not_read(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch of a big file is committed, then the process dies: the next pass
    must read the rest, however equal size and mtime look."""
    home, log = _big_transcript(tmp_path)
    reference = make_engine(claude=home, data_dir=tmp_path / "reference")
    reference.ingestor.scan()
    expected = _totals(reference)
    assert expected[0] > 100

    monkeypatch.setattr(ingest, "BATCH_EVENTS", 20)
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 16_384)
    commits = 0
    real_commit = ingest.Ingestor._commit

    def commit_then_die(self, batch, report):  # type: ignore[no-untyped-def]
        nonlocal commits
        real_commit(self, batch, report)
        commits += 1
        if commits == 2:
            raise Killed

    monkeypatch.setattr(ingest.Ingestor, "_commit", commit_then_die)
    engine = make_engine(claude=home)
    with pytest.raises(Killed):
        engine.ingestor.scan()
    monkeypatch.setattr(ingest.Ingestor, "_commit", real_commit)

    (cp,) = engine.store.checkpoints().values()
    size = log.stat().st_size
    assert cp.offset < size
    assert cp.size < size  # the invariant: what is recorded was examined
    assert cp.size - cp.offset < ingest.CHUNK_BYTES  # at most a partial line beyond

    engine.ingestor.scan()
    assert _totals(engine) == expected


def test_doctor_flags_a_file_whose_offset_is_behind_its_size(
    make_engine: EngineFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint that claims the whole file with its offset mid-way (what older builds
    left after a kill) is shown by doctor, whatever the scan trusts."""
    home, log = _big_transcript(tmp_path)
    data = tmp_path / "data"
    engine = make_engine(claude=home, data_dir=data)
    engine.ingestor.scan()
    (cp,) = engine.store.checkpoints().values()
    cp.offset //= 2
    cp.line_no //= 2
    with engine.store.transaction():
        engine.store.save_checkpoint(cp)

    report = engine.doctor()
    (claude,) = [agent for agent in report if agent["source"] == "claude-code"]
    assert claude["unread"] == [{"path": str(log), "offset": cp.offset, "size": cp.size}]

    env = {"CLAUDE_CONFIG_DIR": str(home), "CODEX_HOME": str(tmp_path / "none")}
    for key, value in env.items():
        os.environ[key] = value
    try:
        main(["--data-dir", str(data), "--config", str(tmp_path / "none.toml"), "doctor"])
    finally:
        for key in env:
            del os.environ[key]
    assert "the rest was not read" in capsys.readouterr().out


def _line(message_id: str, output: int) -> bytes:
    return (
        b'{"type":"assistant","cwd":"/p","timestamp":"2026-10-05T10:00:00Z",'
        b'"message":{"id":"' + message_id.encode() + b'","model":"claude-sonnet-4-5-20250929",'
        b'"usage":{"input_tokens":10,"output_tokens":' + str(output).encode() + b"}}}\n"
    )


def _lines(count: int, changed: dict[int, tuple[str, int]] | None = None) -> bytes:
    changed = changed or {}
    return b"".join(_line(*changed.get(i, (f"msg_{i:05d}", 100 + i % 7))) for i in range(count))


@pytest.mark.parametrize("lines", [40, 3_000], ids=["small-file", "large-file"])
def test_same_size_rewrite_in_the_middle_with_the_mtime_put_back(
    make_engine: EngineFactory, tmp_path: Path, lines: int
) -> None:
    """``cp -p`` / ``rsync --inplace -t``: the size and mtime stay, a middle line changes."""
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_lines(lines))
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    before = _totals(engine)
    stat = log.stat()

    # A line in the middle of the file where a sampled block lies (a small file is
    # covered whole; in a large one a change between the samples stays invisible).
    line_size = len(_line("msg_00000", 100))
    span = stat.st_size - ingest.SAMPLE_BLOCK_BYTES
    middle = span * (ingest.SAMPLE_BLOCKS // 2) // (ingest.SAMPLE_BLOCKS - 1) // line_size + 1
    content = _lines(lines, {middle: ("msg_zzzzz", 100 + middle % 7)})
    assert len(content) == stat.st_size
    with open(log, "r+b") as handle:  # in place: same inode, same size
        handle.write(content)
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (log.stat().st_size, log.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    scan = engine.ingestor.scan()
    assert scan.files_reset == 1
    count, _, output = _totals(engine)
    assert count == before[0] + 1  # the new request; the old one stays (never removed)
    assert output == before[2] + 100 + middle % 7


def test_an_untouched_file_is_not_opened_again(make_engine: EngineFactory, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    log = home / "projects" / "-p" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(_lines(10))
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    scan = engine.ingestor.scan()
    assert (scan.files_read, scan.bytes_read) == (0, 0)
