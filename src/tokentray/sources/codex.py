"""Codex CLI rollouts: ``$CODEX_HOME/sessions/**/rollout-*.jsonl`` and ``archived_sessions``.

Usage arrives as ``token_count`` events carrying a cumulative
``total_token_usage``. Each event that moves the cumulative vector bills the
difference since the previous one; re-emitted events (same vector) bill
nothing. The event key is the session id plus the cumulative vector, which is
the same in every copy of a rollout (active and archived), so copies count
once.

Forked sessions (and spawned sub-agent threads) start with a copy of the
parent's history, ``token_count`` rows included, often under rewritten
timestamps. A copy is recognised by its content, not by its time: the
cumulative counter runs on across a fork, so a row is keyed by the lineage's
root session plus its cumulative vector, and the parent's own row and every
copy of it share one key. Each copy is ranked by how many forks it lies from
the root; the store keeps the nearest, so the original wins when present and
a copy whose original is gone counts exactly once (however many siblings
carry it). Timestamps only decide, for a copy, which session it is shown
under until its original arrives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokentray.events import (
    MAX_TOKENS_PER_FIELD,
    Activity,
    Found,
    LineError,
    PlanSample,
    UsageEvent,
    plausible_plan,
)
from tokentray.sources.base import (
    LineSource,
    as_count,
    env_paths,
    load_object,
    parse_timestamp_ms,
    tool_fingerprint,
)

# Codex sessions that carry no model name were all gpt-5 era sessions.
FALLBACK_MODEL = "gpt-5"
# A replay burst: rows copied within this many ms of the fork are shown under the
# parent's session when its own file is missing (counting does not depend on it).
_REPLAY_WINDOW_MS = 2_000
# Ancestor chains longer than this are treated as cut (and a cycle cannot hang the reader).
_MAX_FORK_DEPTH = 64
# A cumulative total that falls by at most this share is a stale snapshot.
_STALE_REGRESSION = 0.02

Vector = tuple[int, int, int, int, int]  # input, cached, output, reasoning, total


def _plan_samples(payload: Mapping[str, Any], timestamp_ms: int) -> list[Found]:
    """The plan windows' percentages a ``token_count`` carries (``rate_limits`` may be
    null; older builds give ``resets_in_seconds`` instead of ``resets_at``)."""
    limits = payload.get("rate_limits")
    if not isinstance(limits, dict):
        return []
    account = limits.get("plan_type")
    samples: list[Found] = []
    for name in ("primary", "secondary"):
        window = limits.get(name)
        if not isinstance(window, dict) or not _is_number(window.get("used_percent")):
            continue
        resets_ms: int | None = None
        if _is_number(window.get("resets_at")):
            resets_ms = int(window["resets_at"] * 1000)
        elif _is_number(window.get("resets_in_seconds")):
            resets_ms = timestamp_ms + int(window["resets_in_seconds"] * 1000)
        minutes = window.get("window_minutes")
        sample = PlanSample(
            source=CodexSource.name,
            window=name,
            observed_ms=timestamp_ms,
            used_pct=window["used_percent"],
            resets_ms=resets_ms,
            window_minutes=minutes if type(minutes) is int else None,
            origin="log",
            account=account if isinstance(account, str) else "",
        )
        if plausible_plan(sample):  # a bad reading is dropped; the line's usage still counts
            samples.append(sample)
    return samples


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _vector(usage: Mapping[str, Any]) -> Vector:
    cached = max(
        as_count(usage.get("cached_input_tokens")), as_count(usage.get("cache_read_input_tokens"))
    )
    input_tokens = as_count(usage.get("input_tokens"))
    output = as_count(usage.get("output_tokens"))
    total = as_count(usage.get("total_tokens")) or input_tokens + output
    return (input_tokens, cached, output, as_count(usage.get("reasoning_output_tokens")), total)


class CodexLineParser:
    """Turns the cumulative counters of one rollout into per-turn deltas."""

    def __init__(self, path: Path, state: dict[str, Any] | None) -> None:
        state = state or {}
        self._path = path
        self.session_id: str = state.get("session_id") or _session_from_name(path)
        self.has_meta: bool = state.get("has_meta", False)
        self.parent_id: str = state.get("parent_id", "")
        self.fork_ms: int = state.get("fork_ms", 0)
        # Parents named by the ancestor session_meta lines embedded in a fork.
        self.ancestors: dict[str, str] = dict(state.get("ancestors") or {})
        self.project: str = state.get("project", "")
        self.model: str = state.get("model", "")
        self.tier: str = state.get("tier", "")
        previous = state.get("previous")
        self.previous: Vector | None = tuple(previous) if previous else None
        # A drop of the cumulative counter not yet confirmed as a reset:
        # [cumulative, last turn or None, timestamp ms].
        self.pending: list[Any] | None = state.get("pending")

    def state(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "has_meta": self.has_meta,
            "parent_id": self.parent_id,
            "fork_ms": self.fork_ms,
            "ancestors": self.ancestors,
            "project": self.project,
            "model": self.model,
            "tier": self.tier,
            "previous": list(self.previous) if self.previous else None,
            "pending": self.pending,
        }

    def parse(self, line: bytes | memoryview, line_no: int) -> list[Found]:
        record = load_object(line)
        payload = record.get("payload")
        if not isinstance(payload, dict):
            return []
        kind = record.get("type")
        if kind == "session_meta":
            return self._on_session_meta(payload, record)
        if kind == "turn_context":
            self._on_turn_context(payload)
        elif kind == "event_msg":
            return self._on_event(payload, record)
        elif kind == "response_item" and payload.get("type") == "function_call":
            return [*self._tool_call(payload, record)]
        return []

    def _replaying(self, timestamp_ms: int) -> bool:
        return bool(self.parent_id) and timestamp_ms - self.fork_ms <= _REPLAY_WINDOW_MS

    def _tool_call(
        self, payload: dict[str, Any], record: dict[str, Any]
    ) -> list[UsageEvent | Activity]:
        timestamp_ms = parse_timestamp_ms(record.get("timestamp"))
        call_id = payload.get("call_id") or payload.get("id")
        if self._replaying(timestamp_ms) or not call_id:
            return []
        fingerprint = tool_fingerprint(str(payload.get("name", "")), payload.get("arguments"))
        key = f"codex-tool:{self.session_id}:{call_id}"
        return [Activity(CodexSource.name, key, self.session_id, timestamp_ms, "tool", fingerprint)]

    def _on_session_meta(self, payload: dict[str, Any], record: dict[str, Any]) -> list[Found]:
        parent = _parent_of(payload)
        session_id = payload.get("id")
        if self.has_meta:
            # A later session_meta re-embeds an ancestor: remember whose child it is.
            if isinstance(session_id, str) and session_id and parent:
                self.ancestors[session_id] = parent
            return []
        self.has_meta = True
        if isinstance(session_id, str) and session_id:
            self.session_id = session_id
        cwd = payload.get("cwd")
        if isinstance(cwd, str):
            self.project = cwd
        if parent:
            self.parent_id = parent
            self.fork_ms = parse_timestamp_ms(payload.get("timestamp") or record.get("timestamp"))
        git = payload.get("git")
        branch = git.get("branch") if isinstance(git, dict) else None
        if not isinstance(branch, str) or not branch:
            return []
        timestamp_ms = parse_timestamp_ms(payload.get("timestamp") or record.get("timestamp"))
        key = f"codex-branch:{self.session_id}:{branch}"
        return [Activity(CodexSource.name, key, self.session_id, timestamp_ms, "branch", branch)]

    def _lineage(self) -> tuple[str, int]:
        """The root session of this file's fork lineage and how many forks away it is."""
        if not self.parent_id:
            return self.session_id, 0
        root, depth, seen = self.parent_id, 1, {self.session_id}
        while root in self.ancestors and root not in seen and depth < _MAX_FORK_DEPTH:
            seen.add(root)
            root, depth = self.ancestors[root], depth + 1
        return root, depth

    def _on_turn_context(self, payload: dict[str, Any]) -> None:
        model = payload.get("model")
        if isinstance(model, str) and model:
            self.model = model
        cwd = payload.get("cwd")
        if isinstance(cwd, str) and cwd and not self.project:
            self.project = cwd

    def _on_event(self, payload: dict[str, Any], record: dict[str, Any]) -> list[Found]:
        kind = payload.get("type")
        if kind == "user_message":
            timestamp_ms = parse_timestamp_ms(record.get("timestamp"))
            if self._replaying(timestamp_ms):
                return []
            text = str(payload.get("message", ""))
            digest = tool_fingerprint("turn", text)
            key = f"codex-turn:{self.session_id}:{timestamp_ms}:{digest}"
            return [Activity(CodexSource.name, key, self.session_id, timestamp_ms, "human")]
        if kind == "thread_settings_applied":
            settings = payload.get("thread_settings")
            if isinstance(settings, dict):
                tier = settings.get("service_tier")
                self.tier = tier if tier in ("fast", "priority") else ""
            return []
        if kind != "token_count":
            return []
        timestamp_ms = parse_timestamp_ms(record.get("timestamp"))
        plans = [] if self._replaying(timestamp_ms) else _plan_samples(payload, timestamp_ms)
        info = payload.get("info")
        if not isinstance(info, dict):
            return plans  # the first token_count of a session carries no usage
        return [*plans, *self._usage(info, timestamp_ms)]

    def _usage(self, info: dict[str, Any], timestamp_ms: int) -> list[UsageEvent | Activity]:
        total = info.get("total_token_usage")
        if not isinstance(total, dict):
            return []
        for field in ("model", "model_name"):
            if isinstance(info.get(field), str) and info[field] and not self.model:
                self.model = info[field]
        last = info.get("last_token_usage")
        current = _checked(_vector(total))
        last_turn = _checked(_vector(last)) if isinstance(last, dict) else None
        return [
            self._event(delta, cumulative, when)
            for delta, cumulative, when in self._advance(current, last_turn, timestamp_ms)
        ]

    def _advance(
        self, current: Vector, last: Vector | None, timestamp_ms: int
    ) -> list[tuple[Vector, Vector, int]]:
        """What this snapshot bills: (usage, the cumulative vector that keys it, when)."""
        previous = self.previous
        if previous is None:
            self.previous = current
            return [(current, current, timestamp_ms)]
        if current == previous:
            return []  # a re-emitted snapshot
        if _grows(previous, current):
            self.previous, self.pending = current, None  # an outlier before this is forgotten
            return [(_minus(current, previous), current, timestamp_ms)]
        if current[4] >= previous[4] * (1 - _STALE_REGRESSION):
            return []  # a stale, slightly older snapshot: wait for the total to move on
        return self._drop(current, last, timestamp_ms)

    def _drop(
        self, current: Vector, last: Vector | None, timestamp_ms: int
    ) -> list[tuple[Vector, Vector, int]]:
        """A large drop is a reset (resume, compaction, new thread) only on consistent
        evidence: the counter restarting at this very turn (cumulative = last turn), or a
        second snapshot that grows from the lower one. A single corrupted snapshot is held
        and, when the counter goes on from where it was, forgotten."""
        if last is not None and last[4] > 0 and current == last:
            self.previous, self.pending = current, None
            return [(last, current, timestamp_ms)]
        pending = self.pending
        self.pending = [list(current), list(last) if last else None, timestamp_ms]
        if pending is None:
            return []
        held: Vector = tuple(pending[0])
        if not _grows(held, current):
            return []
        self.previous, self.pending = current, None
        held_last: Vector | None = tuple(pending[1]) if pending[1] else None
        first = held_last if held_last is not None and held_last[4] > 0 else held
        billed = [(first, held, int(pending[2]))]
        if current != held:
            billed.append((_minus(current, held), current, timestamp_ms))
        return billed

    def _event(self, delta: Vector, cumulative: Vector, timestamp_ms: int) -> UsageEvent:
        input_total, cached, output, reasoning, _ = delta
        root, depth = self._lineage()
        owner = self.parent_id if self._replaying(timestamp_ms) else self.session_id
        vector = ",".join(str(v) for v in cumulative)
        return UsageEvent(
            source=CodexSource.name,
            key=f"codex:{root}:{vector}",
            session_id=owner,
            project=self.project,
            model=self.model or FALLBACK_MODEL,
            timestamp_ms=timestamp_ms,
            input_tokens=max(input_total - cached, 0),
            output_tokens=output,
            reasoning_tokens=reasoning,
            cache_read_tokens=min(cached, input_total) if input_total else cached,
            service_tier=self.tier,
            estimated=not self.model,
            replayed=depth,
        )


def _grows(before: Vector, after: Vector) -> bool:
    return all(a >= b for a, b in zip(after, before, strict=True))


def _minus(after: Vector, before: Vector) -> Vector:
    return tuple(a - b for a, b in zip(after, before, strict=True))  # type: ignore[return-value]


def _checked(vector: Vector) -> Vector:
    """A snapshot with a count past the event model's bound is corrupt: it must not
    become the baseline that later deltas are taken from."""
    if max(vector) > MAX_TOKENS_PER_FIELD:
        raise LineError(f"cumulative token count {max(vector)} is out of range")
    return vector


def _parent_of(payload: dict[str, Any]) -> str:
    """The session a fork (``forked_from_id``) or a spawned sub-agent thread
    (``source.subagent.thread_spawn.parent_thread_id``) copied its history from."""
    parent = payload.get("forked_from_id")
    if isinstance(parent, str) and parent:
        return parent
    source = payload.get("source")
    subagent = source.get("subagent") if isinstance(source, dict) else None
    spawn = subagent.get("thread_spawn") if isinstance(subagent, dict) else None
    parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
    return parent if isinstance(parent, str) else ""


def _session_from_name(path: Path) -> str:
    """Before the session_meta line is read: the UUID at the end of the file name."""
    stem = path.stem
    return stem[-36:] if len(stem) >= 36 else stem


class CodexSource(LineSource):
    name = "codex"
    display_name = "Codex"
    # Lines the parser needs; everything else is skipped without JSON parsing.
    marks = (
        b'"token_count"',
        b'"turn_context"',
        b'"session_meta"',
        b'"thread_settings_applied"',
        b'"user_message"',
        b'"function_call"',
    )

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        homes = env_paths(env, "CODEX_HOME") or [home / ".codex"]
        roots: list[Path] = []
        for codex_home in homes:
            roots += [codex_home / "sessions", codex_home / "archived_sessions"]
        return roots

    def roots_for_folder(self, folder: Path) -> list[Path]:
        """A Codex home holds ``sessions`` and ``archived_sessions``."""
        inside = [folder / "sessions", folder / "archived_sessions"]
        return [p for p in inside if p.is_dir()] or [folder]

    def wants(self, path: Path) -> bool:
        return path.suffix == ".jsonl" and path.name.startswith("rollout-")

    def parser(self, path: Path, root: Path, state: dict[str, Any] | None) -> CodexLineParser:
        return CodexLineParser(path, state)
