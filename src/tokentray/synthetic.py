"""Realistic synthetic agent logs, for benchmarks, tests and the demo.

The files look like the real thing where it matters to the engine: line
sizes of 2-10 KB, a response written as several streaming lines, subagent
transcripts, resumed sessions that repeat earlier responses, and Codex
rollouts with re-emitted cumulative counters. ``expected`` totals are
computed alongside, from what was written, so tests can compare.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

CLAUDE_MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5")
CODEX_MODELS = ("gpt-5-codex", "gpt-5-mini")
_WORDS = [
    "the",
    "agent",
    "reads",
    "a",
    "file",
    "then",
    "edits",
    "the",
    "function",
    "and",
    "runs",
    "tests",
    "again",
    "until",
    "green",
]


@dataclass(slots=True)
class Expected:
    """What the generated logs bill: one entry per distinct request."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    bytes_written: int = 0
    files: list[Path] = field(default_factory=list)

    def add(self, inp: int, out: int, read: int, write: int) -> None:
        self.requests += 1
        self.input_tokens += inp
        self.output_tokens += out
        self.cache_read_tokens += read
        self.cache_write_tokens += write


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ClaudeWriter:
    """Writes Claude Code transcripts into ``<root>/projects``."""

    def __init__(self, root: Path, rng: random.Random, expected: Expected) -> None:
        self.projects = root / "projects"
        self.rng = rng
        self.expected = expected

    def assistant_lines(
        self, session: str, cwd: str, moment: datetime, model: str, sidechain: bool = False
    ) -> list[bytes]:
        """One API response as 1-3 streaming lines; the last carries the final usage."""
        rng = self.rng
        message_id = "msg_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        request_id = "req_" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        usage: dict[str, Any] = {
            "input_tokens": rng.randint(1, 40),
            "cache_creation_input_tokens": rng.randint(0, 8000),
            "cache_read_input_tokens": rng.randint(10_000, 180_000),
            "output_tokens": rng.randint(50, 3000),
            "service_tier": "standard",
        }
        steps = rng.randint(1, 3)
        lines = []
        for step in range(steps):
            final = step == steps - 1
            snapshot = dict(usage)
            if not final:
                snapshot["output_tokens"] = rng.randint(1, 8)
            record = {
                "parentUuid": None,
                "isSidechain": sidechain,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session,
                "version": "2.0.14",
                "gitBranch": "main",
                "type": "assistant",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": _text(rng, rng.randint(1500, 9000))}],
                    "stop_reason": "end_turn" if final else None,
                    "stop_sequence": None,
                    "usage": snapshot,
                },
                "requestId": request_id,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                "timestamp": _iso(moment + timedelta(milliseconds=200 * step)),
            }
            lines.append(orjson.dumps(record))
        self.expected.add(
            usage["input_tokens"],
            usage["output_tokens"],
            usage["cache_read_input_tokens"],
            usage["cache_creation_input_tokens"],
        )
        return lines

    def user_line(self, session: str, cwd: str, moment: datetime) -> bytes:
        record = {
            "type": "user",
            "cwd": cwd,
            "sessionId": session,
            "message": {"role": "user", "content": _text(self.rng, self.rng.randint(200, 2000))},
            "timestamp": _iso(moment),
        }
        return orjson.dumps(record)

    def session(self, start: datetime, turns: int) -> list[Path]:
        """A main transcript, maybe a subagent file, maybe a resumed copy."""
        rng = self.rng
        session = str(uuid.UUID(int=rng.getrandbits(128)))
        cwd = f"/home/dev/project-{rng.randint(1, 6)}"
        folder = self.projects / cwd.replace("/", "-")
        main = folder / f"{session}.jsonl"
        lines: list[bytes] = []
        moment = start
        for _ in range(turns):
            lines.append(self.user_line(session, cwd, moment))
            moment += timedelta(seconds=rng.randint(5, 90))
            lines += self.assistant_lines(session, cwd, moment, rng.choice(CLAUDE_MODELS))
        written = [self._write(main, lines)]
        if rng.random() < 0.4:
            sub = folder / session / "subagents" / f"agent-{rng.getrandbits(32):08x}.jsonl"
            sub_lines: list[bytes] = []
            for _ in range(max(1, turns // 3)):
                moment += timedelta(seconds=rng.randint(5, 60))
                sub_lines += self.assistant_lines(
                    session, cwd, moment, CLAUDE_MODELS[2], sidechain=True
                )
            written.append(self._write(sub, sub_lines))
        if rng.random() < 0.2:
            resumed = str(uuid.UUID(int=rng.getrandbits(128)))
            copy = lines[: len(lines) // 2]  # a resumed session repeats earlier lines
            moment += timedelta(minutes=30)
            copy += self.assistant_lines(resumed, cwd, moment, CLAUDE_MODELS[0])
            written.append(self._write(folder / f"{resumed}.jsonl", copy))
        return written

    def _write(self, path: Path, lines: list[bytes]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"\n".join(lines) + b"\n"
        with open(path, "ab") as handle:
            handle.write(data)
        self.expected.bytes_written += len(data)
        self.expected.files.append(path)
        return path


class CodexWriter:
    """Writes Codex rollouts into ``<root>/sessions/YYYY/MM/DD``."""

    def __init__(self, root: Path, rng: random.Random, expected: Expected) -> None:
        self.root = root
        self.rng = rng
        self.expected = expected

    def session(self, start: datetime, turns: int) -> Path:
        rng = self.rng
        session = str(uuid.UUID(int=rng.getrandbits(128)))
        folder = self.root / "sessions" / start.strftime("%Y/%m/%d")
        path = folder / f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{session}.jsonl"
        cwd = f"/home/dev/service-{rng.randint(1, 4)}"
        lines = [
            self._line(start, "session_meta", {"id": session, "cwd": cwd, "timestamp": _iso(start)})
        ]
        totals = [0, 0, 0, 0]
        moment = start
        for _ in range(turns):
            model = rng.choice(CODEX_MODELS)
            lines.append(self._line(moment, "turn_context", {"cwd": cwd, "model": model}))
            text = _text(rng, rng.randint(1500, 6000))
            lines.append(self._line(moment, "response_item", {"type": "message", "text": text}))
            inp = rng.randint(2000, 60000)
            cached = rng.randint(0, inp)
            out = rng.randint(100, 4000)
            reasoning = rng.randint(0, out)
            totals = [totals[0] + inp, totals[1] + cached, totals[2] + out, totals[3] + reasoning]
            moment += timedelta(seconds=rng.randint(5, 120))
            for _ in range(rng.randint(1, 2)):  # re-emitted with unchanged totals
                lines.append(self.token_count(moment, totals, (inp, cached, out, reasoning)))
            self.expected.add(inp - cached, out, cached, 0)
        data = b"\n".join(lines) + b"\n"
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.expected.bytes_written += len(data)
        self.expected.files.append(path)
        return path

    def _line(self, moment: datetime, kind: str, payload: dict[str, Any]) -> bytes:
        return _codex_line(moment, kind, payload)

    def token_count(
        self, moment: datetime, totals: list[int], last: tuple[int, int, int, int]
    ) -> bytes:
        def usage(v: tuple[int, ...] | list[int]) -> dict[str, int]:
            return {
                "input_tokens": v[0],
                "cached_input_tokens": v[1],
                "output_tokens": v[2],
                "reasoning_output_tokens": v[3],
                "total_tokens": v[0] + v[2],
            }

        info = {"total_token_usage": usage(totals), "last_token_usage": usage(last)}
        return self._line(moment, "event_msg", {"type": "token_count", "info": info})


def generate_corpus(
    root: Path,
    target_bytes: int,
    seed: int = 7,
    start: datetime | None = None,
    until: datetime | None = None,
    gap_minutes: tuple[int, int] = (10, 240),
) -> Expected:
    """Claude (``root/claude``) and Codex (``root/codex``) logs of about ``target_bytes``.

    Sessions start ``gap_minutes`` apart from ``start``; none starts after ``until``.
    """
    rng = random.Random(seed)
    expected = Expected()
    claude = ClaudeWriter(root / "claude", rng, expected)
    codex = CodexWriter(root / "codex", rng, expected)
    moment = start or datetime(2026, 10, 1, 8, tzinfo=UTC)
    while expected.bytes_written < target_bytes and (until is None or moment < until):
        if rng.random() < 0.75:
            claude.session(moment, rng.randint(5, 60))
        else:
            codex.session(moment, rng.randint(5, 40))
        moment += timedelta(minutes=rng.randint(*gap_minutes))
    return expected


def write_big_file(path: Path, target_bytes: int, seed: int = 11) -> Expected:
    """One Claude transcript of ``target_bytes``, written in a stream (for the 1 GB case)."""
    rng = random.Random(seed)
    expected = Expected()
    writer = ClaudeWriter(path.parent, rng, expected)
    session = path.stem
    moment = datetime(2026, 10, 1, 8, tzinfo=UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        _stream(handle, writer, session, moment, target_bytes, expected)
    expected.files.append(path)
    return expected


def _stream(
    handle: IO[bytes],
    writer: ClaudeWriter,
    session: str,
    moment: datetime,
    target_bytes: int,
    expected: Expected,
) -> None:
    while expected.bytes_written < target_bytes:
        moment += timedelta(seconds=writer.rng.randint(2, 30))
        for line in writer.assistant_lines(session, "/home/dev/big", moment, CLAUDE_MODELS[0]):
            handle.write(line + b"\n")
            expected.bytes_written += len(line) + 1


class LiveAgents:
    """Agents at work, for the demo: a week of history, then new requests on every step."""

    def __init__(self, root: Path, seed: int = 42, history_bytes: int = 30_000_000) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.expected = Expected()
        now = datetime.now(UTC)
        generate_corpus(
            root,
            history_bytes,
            seed=seed,
            start=now - timedelta(days=7),
            until=now - timedelta(hours=2),
            gap_minutes=(90, 360),
        )
        self.claude = ClaudeWriter(root / "claude", self.rng, self.expected)
        self.session = str(uuid.UUID(int=self.rng.getrandbits(128)))
        self.cwd = "/home/dev/demo-app"
        self.log = self.claude.projects / "-home-dev-demo-app" / f"{self.session}.jsonl"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.codex_log = root / "codex" / "sessions" / now.strftime("%Y/%m/%d")
        self.codex_log.mkdir(parents=True, exist_ok=True)
        self.codex_log = self.codex_log / f"rollout-{now:%Y-%m-%dT%H-%M-%S}-{uuid.uuid4()}.jsonl"
        self._codex_totals = [0, 0, 0, 0]
        meta = {"id": self.codex_log.stem[-36:], "cwd": "/home/dev/demo-api"}
        self._append(self.codex_log, [_codex_line(now, "session_meta", meta)])
        context = {"cwd": "/home/dev/demo-api", "model": "gpt-5-codex"}
        self._append(self.codex_log, [_codex_line(now, "turn_context", context)])

    def env(self) -> dict[str, str]:
        return {
            "CLAUDE_CONFIG_DIR": str(self.root / "claude"),
            "CODEX_HOME": str(self.root / "codex"),
        }

    def step(self) -> None:
        """One new Claude response, and now and then a Codex turn."""
        now = datetime.now(UTC)
        model = self.rng.choice(CLAUDE_MODELS)
        self._append(self.log, self.claude.assistant_lines(self.session, self.cwd, now, model))
        if self.rng.random() < 0.3:
            inp, out = self.rng.randint(2000, 30000), self.rng.randint(100, 2000)
            cached = self.rng.randint(0, inp)
            step = (inp, cached, out, out // 2)
            self._codex_totals = [a + b for a, b in zip(self._codex_totals, step, strict=True)]
            writer = CodexWriter(self.root / "codex", self.rng, self.expected)
            self._append(self.codex_log, [writer.token_count(now, self._codex_totals, step)])

    @staticmethod
    def _append(path: Path, lines: list[bytes]) -> None:
        with open(path, "ab") as handle:
            handle.write(b"\n".join(lines) + b"\n")


def _codex_line(moment: datetime, kind: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps({"timestamp": _iso(moment), "type": kind, "payload": payload})
