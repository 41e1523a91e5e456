"""Plain data types shared by the engine: no I/O, no Qt."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal, TypeVar

# Sane bounds of the event model. A record outside them is corrupt (or hostile) and is
# skipped with its reason, never stored: one request never bills ten billion tokens in a
# bucket (the largest context windows hold a few million), and usage is dated between
# 2000 and 2100. Sums over many events stay far below SQLite's 64-bit integers.
MAX_TOKENS_PER_FIELD = 10_000_000_000
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
LATEST_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MAX_REPORTED_COST_USD = 1_000_000.0
MAX_PLAN_PCT = 1_000.0  # a window can run past 100% on extra usage, never this far
MAX_WINDOW_MINUTES = 366 * 24 * 60


_Record = TypeVar("_Record")


def _pickled_as_tuple(cls: type[_Record]) -> type[_Record]:
    """Pickle instances as the constructor and their field values: half the time of the
    default for slotted dataclasses, which matters when a first scan's workers send
    hundreds of thousands of them back."""
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def reduce(self: _Record) -> tuple[type[_Record], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[assignment,method-assign]
    return cls


@_pickled_as_tuple
@dataclass(slots=True)
class UsageEvent:
    """One billed request, normalised into disjoint token buckets.

    ``input_tokens`` is uncached input only; ``cache_read_tokens`` and the two
    cache-write buckets are separate; ``output_tokens`` includes reasoning, and
    ``reasoning_tokens`` is an informational subset of it.

    ``key`` identifies the request across files and copies (a resumed session
    or an archived rollout repeats it), so storing the same request twice
    keeps one row. ``replayed`` ranks copies of one request that live in other
    sessions' files: 0 is the original, n > 0 a copy n forks (or replays) away
    from it. Of two copies of one key the lower rank is kept, so a replay never
    displaces the original and counts once when the original is gone.
    """

    source: str
    key: str
    session_id: str
    project: str
    model: str
    timestamp_ms: int
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    service_tier: str = ""
    estimated: bool = False
    replayed: int = 0
    reported_cost_usd: float | None = None  # the agent's own cost figure, kept beside ours

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
        )

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read for this request (decides long-context tiers)."""
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
        )


def event_from_row(row: Sequence[Any]) -> UsageEvent:
    """A stored request back as an event (the store's ``_REQUEST_COLUMNS`` order), to price
    it again; its key is not needed for that and is left empty."""
    source, session, project, model, ts_ms, inp, out, reasoning, read, w5m, w1h = row[:11]
    tier, estimated, reported = row[11:14]
    return UsageEvent(
        source=source,
        key="",
        session_id=session,
        project=project,
        model=model,
        timestamp_ms=ts_ms,
        input_tokens=inp,
        output_tokens=out,
        reasoning_tokens=reasoning,
        cache_read_tokens=read,
        cache_write_5m_tokens=w5m,
        cache_write_1h_tokens=w1h,
        service_tier=tier,
        estimated=bool(estimated),
        reported_cost_usd=reported,
    )


CostStatus = Literal["priced", "unpriced", "estimated", "reported"]


@dataclass(slots=True)
class PricedEvent:
    """A request with its cost: ``estimated`` is priced from estimated counts or another
    tier's list price; ``reported`` is the agent's own figure for a model with no list
    price; ``unpriced`` has no cost at all (``cost_usd`` None), never $0."""

    event: UsageEvent
    cost_usd: float | None
    cost_status: CostStatus


@_pickled_as_tuple
@dataclass(slots=True)
class Activity:
    """A human turn or a tool call: no tokens, but what runaway detection needs."""

    source: str
    key: str
    session_id: str
    timestamp_ms: int
    kind: str  # "human" or "tool"
    fingerprint: str = ""  # for a tool call: its name and a hash of its input


@dataclass(slots=True)
class PlanSample:
    """How much of a subscription's usage window is used, as the agent or its vendor
    reported it at one moment (Codex's ``rate_limits``, Claude Code's status line, the
    Claude usage endpoint). ``window`` is the vendor's own name for it."""

    source: str  # the agent whose plan it is ("codex", "claude-code")
    window: str  # "five_hour", "seven_day", "seven_day_opus", "primary", ...
    observed_ms: int
    used_pct: float  # 0-100
    resets_ms: int | None = None
    window_minutes: int | None = None
    origin: str = ""  # where it was read: "log", "statusline", "usage endpoint"
    account: str = ""  # the plan or account it belongs to, when the source says


# What a log line can yield: a billed request, an activity, a plan reading.
Found = UsageEvent | Activity | PlanSample


class LineError(ValueError):
    """A line that should carry usage but cannot be read; it is skipped and counted."""


_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
_TEXT_FIELDS = ("source", "key", "session_id", "project", "model", "service_tier")
# One call each for the fast check (a getattr per field would cost a first scan seconds).
_token_counts = attrgetter(*_TOKEN_FIELDS)
_texts = attrgetter(*_TEXT_FIELDS)


def check_event(event: Found) -> None:
    """Hold an event to the bounds above (LineError names the first one broken), and
    replace unencodable characters (lone surrogates) in its text so SQLite can store it."""
    if isinstance(event, PlanSample):
        _check_plan(event)
        return
    _check_time(event.timestamp_ms)
    if isinstance(event, Activity):
        for name in ("source", "key", "session_id", "kind", "fingerprint"):
            value = getattr(event, name)
            if type(value) is not str or not value.isascii():  # ASCII: nothing to clean
                setattr(event, name, _text(name, value))
        return
    if _plainly_fine(event):
        return
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if type(value) is not str or not value.isascii():
            setattr(event, name, _text(name, value))
    for name in _TOKEN_FIELDS:
        value = getattr(event, name)
        if type(value) is not int:  # bool is a subclass of int, and is refused here too
            raise LineError(f"{name} is not a whole number")
        if not 0 <= value <= MAX_TOKENS_PER_FIELD:
            raise LineError(f"{name} {value} is outside 0..{MAX_TOKENS_PER_FIELD:,}")
    cost = event.reported_cost_usd
    if cost is not None and not (
        isinstance(cost, int | float) and math.isfinite(cost) and 0 <= cost <= MAX_REPORTED_COST_USD
    ):
        event.reported_cost_usd = None  # the agent's own figure is only a hint; ours stands


def _plainly_fine(e: UsageEvent) -> bool:
    """The common case at a glance: ASCII text, whole token counts in bounds, no cost
    figure (a first scan checks millions of events; the slow path names what is wrong)."""
    counts = _token_counts(e)
    try:
        text = "".join(_texts(e))
    except TypeError:
        return False
    return (
        text.isascii()
        and all(type(count) is int for count in counts)
        and min(counts) >= 0
        and max(counts) <= MAX_TOKENS_PER_FIELD
        and e.reported_cost_usd is None
    )


def plausible_plan(sample: PlanSample) -> bool:
    """Whether a plan reading is within bounds (its text is cleaned as a side effect)."""
    try:
        _check_plan(sample)
    except LineError:
        return False
    return True


def _check_plan(sample: PlanSample) -> None:
    _check_time(sample.observed_ms)
    pct = sample.used_pct
    if type(pct) not in (int, float) or not math.isfinite(pct) or not 0 <= pct <= MAX_PLAN_PCT:
        raise LineError(f"plan usage {pct!r} is not a percentage")
    sample.used_pct = float(pct)
    if sample.resets_ms is not None:
        _check_time(sample.resets_ms)
    minutes = sample.window_minutes
    if minutes is not None and (type(minutes) is not int or not 0 < minutes <= MAX_WINDOW_MINUTES):
        raise LineError(f"plan window of {minutes!r} minutes is out of range")
    for name in ("source", "window", "origin", "account"):
        value = getattr(sample, name)
        if type(value) is not str or not value.isascii():
            setattr(sample, name, _text(name, value))


def _check_time(timestamp_ms: object) -> None:
    if type(timestamp_ms) is not int:
        raise LineError("timestamp is not a number")
    if not EARLIEST_MS <= timestamp_ms < LATEST_MS:
        raise LineError(f"timestamp {timestamp_ms} ms is outside the years 2000-2099")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise LineError(f"{name} is not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


@dataclass(slots=True)
class Problem:
    """A skipped line or an unreadable file, reported to the user."""

    path: str
    line_no: int
    reason: str


@dataclass(slots=True)
class ScanReport:
    """What one ingest pass read."""

    files_seen: int = 0
    files_read: int = 0
    files_reset: int = 0
    files_missing: int = 0
    bytes_read: int = 0
    lines_read: int = 0
    events_stored: int = 0
    skipped_lines: int = 0
    pending_partial_lines: int = 0
    changed_from_ms: int | None = None  # the time span of the events stored, if any
    changed_to_ms: int | None = None
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    unreadable: list[Problem] = field(default_factory=list)
    started_at: datetime | None = None

    def merge(self, other: ScanReport) -> None:
        self.files_seen += other.files_seen
        self.files_read += other.files_read
        self.files_reset += other.files_reset
        self.files_missing += other.files_missing
        self.bytes_read += other.bytes_read
        self.lines_read += other.lines_read
        self.events_stored += other.events_stored
        self.skipped_lines += other.skipped_lines
        self.pending_partial_lines += other.pending_partial_lines
        self.note_changes(other.changed_from_ms, other.changed_to_ms)
        self.problems.extend(other.problems)
        self.unreadable.extend(other.unreadable)

    def note_changes(self, first_ms: int | None, last_ms: int | None) -> None:
        if first_ms is None or last_ms is None:
            return
        if self.changed_from_ms is None or first_ms < self.changed_from_ms:
            self.changed_from_ms = first_ms
        if self.changed_to_ms is None or last_ms > self.changed_to_ms:
            self.changed_to_ms = last_ms


NEVER = 2**62  # a provider's next poll when only a new key can help


@dataclass(slots=True)
class ProviderState:
    """Where one provider's usage API stands: kept in the store by the poller, read by
    ``providers status``, the snapshot (the tray's tooltip) and Preferences."""

    provider: str
    status: str = "no key"  # ok, no key, wrong key type, key rejected, rate-limited, error

    message: str = ""
    last_ok_ms: int | None = None
    next_poll_ms: int = 0
    failures: int = 0
    key_fingerprint: str = ""
    info: dict[str, object] | None = None

    @property
    def shown_status(self) -> str:
        """The status as a person reads it: a provider with no key is not set up."""
        return "not set up" if self.status == "no key" else self.status

    @property
    def needs_attention(self) -> bool:
        """A key that cannot work or an API that fails (not: no key, or a short wait)."""
        return self.status in ("wrong key type", "key rejected", "error")
