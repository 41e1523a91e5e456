"""The block reading of Claude Code transcripts (``claude_fast``) stores exactly what the
line-by-line reading stores: the same requests, activity, skipped lines and checkpoints,
on the fixtures, on the generated corpus and on fuzzed transcripts. It must also take
most clean blocks (or the test would pass by never using it)."""

from __future__ import annotations

import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.test_fuzz import MUTATORS, _tree

from conftest import EngineFactory
from tokentray.sources import claude_code, claude_fast
from tokentray.synthetic import generate_corpus

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_FIXTURES = [
    FIXTURES / "formats" / "claude-code" / "projects",
    FIXTURES / "claude-subagent-progress" / "projects",
    FIXTURES / "fuzz" / "home" / ".claude" / "projects",
]
TABLES = {
    "events": "SELECT * FROM events ORDER BY key",
    "activity": "SELECT * FROM activity ORDER BY key",
    "problems": "SELECT path, line_no, reason FROM problems ORDER BY path, line_no",
    "files": "SELECT path, offset, line_no, events, skipped, head_hash, tail_hash, "
    "sample_hash, parser_state, status FROM files ORDER BY path",
    "quarters": "SELECT * FROM quarters ORDER BY q, source, model",
}


class BlockSpy:
    """Counts the blocks the fast reading took and the ones it gave back."""

    def __init__(self) -> None:
        self.taken = 0
        self.given_up = 0

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = claude_fast.parse_block

        def counted(*args: Any) -> Any:
            found = original(*args)
            if found is None:
                self.given_up += 1
            else:
                self.taken += 1
            return found

        monkeypatch.setattr(claude_fast, "parse_block", counted)


def _store_contents(make_engine: EngineFactory, projects: Path, data: Path) -> dict[str, list[Any]]:
    engine = make_engine(claude=projects, data_dir=data)
    engine.ingestor.scan()
    return {name: engine.store.query(sql) for name, sql in TABLES.items()}


def _both_ways(
    make_engine: EngineFactory, projects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], BlockSpy]:
    """The store after reading ``projects`` in blocks, and after reading it line by line."""
    spy = BlockSpy()
    with monkeypatch.context() as patched:
        spy.wrap(patched)
        patched.setattr(claude_code, "FAST_BLOCK_BYTES", 0)  # every block is tried
        fast = _store_contents(make_engine, projects, tmp_path / "fast")
    with monkeypatch.context() as patched:
        patched.setattr(claude_code.ClaudeLineParser, "parse_block", lambda *_: None)  # never
        slow = _store_contents(make_engine, projects, tmp_path / "slow")
    return fast, slow, spy


def _assert_same(fast: dict[str, list[Any]], slow: dict[str, list[Any]]) -> None:
    for table in TABLES:
        assert fast[table] == slow[table], table


def _one_transcript_both_ways(
    make_engine: EngineFactory, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, list[Any]], BlockSpy]:
    """One transcript of ``text``, read both ways: they must store the same."""
    projects = tmp_path / "projects"
    path = projects / "-home-dev-app" / "s.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    fast, slow, spy = _both_ways(make_engine, projects, tmp_path, monkeypatch)
    _assert_same(fast, slow)
    return fast, spy


@pytest.mark.parametrize("fixture", CLAUDE_FIXTURES, ids=lambda p: p.parent.name)
def test_fixtures_read_in_blocks_store_what_lines_store(
    make_engine: EngineFactory, fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = tmp_path / "projects"
    shutil.copytree(fixture, projects)
    fast, slow, spy = _both_ways(make_engine, projects, tmp_path, monkeypatch)
    _assert_same(fast, slow)
    assert fast["events"], "the fixture has requests"
    assert spy.taken + spy.given_up == len(list(projects.rglob("*.jsonl")))


def test_generated_corpus_is_read_in_blocks(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_corpus(tmp_path / "corpus", 3_000_000, seed=11)
    projects = tmp_path / "corpus" / "claude" / "projects"
    fast, slow, spy = _both_ways(make_engine, projects, tmp_path, monkeypatch)
    _assert_same(fast, slow)
    assert spy.taken > 0 and spy.given_up == 0, vars(spy)
    assert len(fast["events"]) > 100


def _fuzzed_transcripts(rng: random.Random, projects: Path, files: int) -> Iterator[Path]:
    """Transcripts of fixture lines, some of them mutated, with blank, spaced and CRLF
    lines here and there: many files stay clean (read in blocks), many do not. The
    fixtures' own broken lines are left to the mutations."""
    seeds = [
        line
        for folder in CLAUDE_FIXTURES
        for path in folder.rglob("*.jsonl")
        for line in path.read_bytes().splitlines()
        if _tree(line) is not None
    ]
    for index in range(files):
        path = projects / f"-home-dev-p{index % 5}" / f"{index:08d}-0000-4000-8000-fuzz.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        dirty = rng.random() < 0.6
        lines = []
        for _ in range(rng.randint(3, 40)):
            line = rng.choice(seeds)
            if dirty and rng.random() < 0.15:
                line = rng.choice(MUTATORS)(rng, line).replace(b"\n", b" ")
            lines.append(line)
            if dirty and rng.random() < 0.03:
                lines.append(rng.choice([b"", b"   ", b"\t", b"\r"]))
        ending = b"\r\n" if rng.random() < 0.2 else b"\n"
        path.write_bytes(ending.join(lines) + ending)
        yield path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_transcripts_read_in_blocks_store_what_lines_store(
    make_engine: EngineFactory, seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = tmp_path / "projects"
    written = list(_fuzzed_transcripts(random.Random(seed), projects, 120))
    fast, slow, spy = _both_ways(make_engine, projects, tmp_path, monkeypatch)
    _assert_same(fast, slow)
    assert spy.taken + spy.given_up == len(written)
    assert spy.taken >= 30 and spy.given_up >= 10, vars(spy)
    assert fast["problems"], "the fuzzed lines are reported"


def test_a_block_given_up_leaves_the_parser_as_it_was(tmp_path: Path) -> None:
    """The remembered branch is put back, so the line reading records the branch too."""
    parser = claude_code.ClaudeLineParser("s1", "p")
    clean = (
        b'{"type":"assistant","timestamp":"2026-10-01T10:00:00Z","gitBranch":"feature",'
        b'"message":{"id":"m1","model":"claude-sonnet-4-5","usage":{"input_tokens":3}}}\n'
    )
    broken = clean + b"not json\n"
    assert claude_fast.parse_block(parser, memoryview(broken), 2) is None
    assert parser.branch == ""
    found = claude_fast.parse_block(parser, memoryview(clean), 1)
    assert found is not None
    assert [getattr(item, "kind", "request") for item in found] == ["request", "branch"]
    assert parser.branch == "feature"


def test_engine_reads_a_large_transcript_in_blocks(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without any patching of the threshold: a first scan of a big transcript takes the
    block reading. In a process that has not loaded the block decoder (a short command),
    a short append is read line by line."""
    generate_corpus(tmp_path / "corpus", 2_000_000, seed=3)
    projects = tmp_path / "corpus" / "claude" / "projects"
    biggest = max(projects.rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    assert biggest.stat().st_size > claude_code.FAST_BLOCK_BYTES
    spy = BlockSpy()
    spy.wrap(monkeypatch)
    make_engine(claude=projects).ingestor.scan()
    assert spy.taken > 0 and spy.given_up == 0
    parser = claude_code.ClaudeLineParser("s", "p")
    line = biggest.read_bytes().splitlines(keepends=True)[1]
    monkeypatch.delitem(sys.modules, "tokentray.sources.claude_fast")
    assert parser.parse_block(memoryview(line), 1) is None


@pytest.mark.parametrize(
    "timestamp", ["2100-01-01T00:00:00Z", "1999-12-31T23:59:59.999Z", "2099-12-31T23:59:59.999Z"]
)
def test_the_bounds_of_the_event_model_hold_in_blocks(
    make_engine: EngineFactory, timestamp: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value on the edge of the event model's bounds is decided as the line reading
    decides it (the first two are skipped lines, the last a request)."""
    line = (
        '{"type":"assistant","timestamp":"%s","message":{"id":"m1",'
        '"model":"claude-sonnet-4-5","usage":{"input_tokens":3,"output_tokens":%d}}}\n'
    )
    text = line % (timestamp, 5) + line.replace("m1", "m2") % ("2026-10-01T00:00:00Z", 7)
    fast, _spy = _one_transcript_both_ways(make_engine, text, tmp_path, monkeypatch)
    assert len(fast["events"]) == (2 if timestamp.startswith("2099") else 1)


def test_a_tool_input_naming_tool_result_is_decided_alike(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = (
        '{"type":"assistant","timestamp":"2026-10-01T10:00:00Z","message":{"id":"m1",'
        '"model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"t1","name":"Grep",'
        '"input":{"pattern":"tool_result"}}],"usage":{"input_tokens":3,"output_tokens":5}}}\n'
    )
    result = (
        '{"type":"user","timestamp":"2026-10-01T10:00:01Z","uuid":"u1","message":{"role":'
        '"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"usage"}]}}\n'
    )
    fast, spy = _one_transcript_both_ways(make_engine, response + result, tmp_path, monkeypatch)
    assert spy.taken == 1
    assert len(fast["events"]) == 1 and len(fast["activity"]) == 1


@pytest.mark.parametrize("name", ['"Bash"', "null", "0", None], ids=["text", "null", "0", "absent"])
def test_a_tool_call_is_fingerprinted_alike(
    make_engine: EngineFactory, name: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = "" if name is None else f'"name":{name},'
    text = (
        '{"type":"assistant","timestamp":"2026-10-01T10:00:00Z","message":{"id":"m1",'
        f'"model":"claude-sonnet-4-5","content":[{{"type":"tool_use","id":"t1",{named}'
        '"input":{"command":"make test","n":[1,2.5,null]}}],'
        '"usage":{"input_tokens":3,"output_tokens":5}}}\n'
    )
    fast, spy = _one_transcript_both_ways(make_engine, text, tmp_path, monkeypatch)
    assert spy.taken == 1
    assert len(fast["activity"]) == 1
