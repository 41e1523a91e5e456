"""Commits per session: what the spend bought, where the project is a git repository.

A commit belongs to a session of the same repository when its author time falls between
the session's first request and ``GRACE_MS`` after its last (people commit what the agent
wrote a little after it stops), when it is on a branch the session worked on (as the
agent logged it; any branch when none was logged, or when the branch is gone), and when
its author is the repository's configured ``user.email`` (when one is set), so a
colleague's pushed work is not counted. A commit that fits two sessions goes to the one
that made a request most recently before it; each commit counts once.

A session counts on the local day of its first request and under its main model (the
one that cost most); the spend of its other models is included in that row.
"""

from __future__ import annotations

import heapq
import logging
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.insight import add_fields
from tokentray.insight.git_history import OK, Commit, RepoHistory, locate, open_history
from tokentray.store import EventFilter, Store

log = logging.getLogger(__name__)

GRACE_MS = 30 * 60 * 1000


@dataclass(slots=True)
class SessionOutcome:
    source: str
    session_id: str
    project: str
    model: str  # the model that cost most
    first_ms: int
    last_ms: int
    tokens: int = 0
    cost_usd: float = 0.0
    model_cost: dict[str, float] = field(default_factory=dict)
    repo: str = ""  # the repository's top folder, when there is one
    status: str = ""  # OK, or why commits could not be looked for
    branches: list[str] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.status == OK

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "source": self.source,
            "session": self.session_id,
            "project": self.project,
            "repository": self.repo or None,
            "status": self.status,
            "model": self.model,
            "branches": self.branches,
            "start": _iso(self.first_ms, tz),
            "end": _iso(self.last_ms, tz),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "commits": [c.sha for c in self.commits],
            "lines_added": sum(c.added for c in self.commits),
            "lines_deleted": sum(c.deleted for c in self.commits),
        }


_SUMMED = (
    "sessions",
    "sessions_with_commits",
    "commits",
    "lines_added",
    "lines_deleted",
    "tokens",
    "cost_usd",
    "no_commit_usd",
    "unknown_usd",
)


@dataclass(slots=True)
class OutcomeRow:
    """One day, project, agent and main model: what was spent and what was committed."""

    day: str
    project: str
    source: str
    model: str
    sessions: int = 0
    sessions_with_commits: int = 0
    commits: int = 0
    lines_added: int = 0
    lines_deleted: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    no_commit_usd: float = 0.0  # sessions in a repository that committed nothing
    unknown_usd: float = 0.0  # sessions whose folder is no repository (or is gone)

    def add(self, session: SessionOutcome) -> None:
        self.sessions += 1
        self.tokens += session.tokens
        self.cost_usd += session.cost_usd
        self.commits += len(session.commits)
        self.lines_added += sum(c.added for c in session.commits)
        self.lines_deleted += sum(c.deleted for c in session.commits)
        if not session.known:
            self.unknown_usd += session.cost_usd
        elif session.commits:
            self.sessions_with_commits += 1
        else:
            self.no_commit_usd += session.cost_usd

    def merge(self, other: OutcomeRow) -> None:
        add_fields(self, other, _SUMMED)

    @property
    def usd_per_commit(self) -> float | None:
        """Spend in repositories over their commits (sessions with no repository aside)."""
        return self.known_usd / self.commits if self.commits else None

    @property
    def tokens_per_commit(self) -> float | None:
        return self.tokens / self.commits if self.commits else None

    @property
    def known_usd(self) -> float:
        return self.cost_usd - self.unknown_usd

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "project": self.project,
            "source": self.source,
            "model": self.model,
            "sessions": self.sessions,
            "sessions_with_commits": self.sessions_with_commits,
            "commits": self.commits,
            "lines_added": self.lines_added,
            "lines_deleted": self.lines_deleted,
            "lines_changed": self.lines_changed,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "usd_per_commit": _round(self.usd_per_commit),
            "tokens_per_commit": _round(self.tokens_per_commit, 1),
            "no_commit_usd": round(self.no_commit_usd, 6),
            "unknown_outcome_usd": round(self.unknown_usd, 6),
        }


@dataclass(slots=True)
class Outcomes:
    rows: list[OutcomeRow]
    sessions: list[SessionOutcome]
    repositories: dict[str, str]  # project folder -> OK or why there are no commits

    def total(self) -> OutcomeRow:
        total = OutcomeRow("", "", "", "")
        for row in self.rows:
            total.merge(row)
        return total

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "report": "outcomes",
            "grace_minutes": GRACE_MS // 60_000,
            "total": {
                k: v
                for k, v in self.total().as_dict().items()
                if k not in ("day", "project", "source", "model")
            },
            "rows": [row.as_dict() for row in self.rows],
            "sessions": [s.as_dict(tz) for s in self.sessions],
            "repositories": [
                {"project": project, "status": status}
                for project, status in sorted(self.repositories.items())
            ],
        }


def outcomes(
    store: Store, where: EventFilter, tz: ZoneInfo, moved: dict[str, str] | None = None
) -> Outcomes:
    """Sessions in ``where`` with the commits they made, summed per day, project, agent
    and main model. ``moved`` maps a project's old folder to where it is now."""
    sessions = _sessions(store, where)
    branches = store.session_branches()
    repositories: dict[str, str] = {}
    located: dict[str, tuple[str, str]] = {}
    by_repo: dict[str, list[SessionOutcome]] = {}
    for session in sessions:
        session.branches = branches.get((session.source, session.session_id), [])
        if session.project not in located:
            located[session.project] = locate(_relocated(session.project, moved or {}))
        folder, session.status = located[session.project]
        session.repo = folder if session.known else ""
        repositories[session.project] = session.status
        if session.known:
            by_repo.setdefault(session.repo, []).append(session)
    for folder, members in by_repo.items():
        history = open_history(
            folder,
            min(s.first_ms for s in members),
            max(s.last_ms for s in members) + GRACE_MS,
            {b for s in members for b in s.branches},
        )
        if history.status != OK:
            log.info("no commits for %s: %s", folder, history.status)
            for session in members:
                session.status = repositories[session.project] = history.status
            continue
        attribute(history, members, lambda s: _request_times(store, s))
    return Outcomes(_rows(sessions, tz), sessions, repositories)


def attribute(
    history: RepoHistory,
    sessions: list[SessionOutcome],
    request_times: Callable[[SessionOutcome], list[int]],
) -> None:
    """Give each commit of ``history`` to at most one of ``sessions`` (see the module).
    Commits and sessions are swept in time order, so a long history costs the sessions
    open at each commit, not every session for every commit."""
    times: dict[int, list[int]] = {}
    waiting = sorted(sessions, key=lambda s: s.first_ms)
    started = 0
    open_now: list[tuple[int, int, SessionOutcome]] = []  # (ends, tie-break, session) heap
    for commit in sorted(history.commits, key=lambda c: c.time_ms):
        while started < len(waiting) and waiting[started].first_ms <= commit.time_ms:
            session = waiting[started]
            heapq.heappush(open_now, (session.last_ms + GRACE_MS, started, session))
            started += 1
        while open_now and open_now[0][0] < commit.time_ms:
            heapq.heappop(open_now)
        if history.user_email and commit.email != history.user_email:
            continue
        candidates = [s for _, _, s in open_now if _could_have_made(s, commit, history)]
        if not candidates:
            continue
        if len(candidates) > 1:
            for s in candidates:
                if id(s) not in times:
                    times[id(s)] = request_times(s)
            candidates.sort(
                key=lambda s: (_last_before(times[id(s)], commit.time_ms), s.first_ms, s.session_id)
            )
        candidates[-1].commits.append(commit)


def _could_have_made(session: SessionOutcome, commit: Commit, history: RepoHistory) -> bool:
    if not session.first_ms <= commit.time_ms <= session.last_ms + GRACE_MS:
        return False
    on_branches = [history.on_branch(b) for b in session.branches]
    known = [shas for shas in on_branches if shas is not None]
    return not known or any(commit.sha in shas for shas in known)


def _last_before(times: list[int], moment_ms: int) -> int:
    index = bisect_right(times, moment_ms)
    return times[index - 1] if index else -1


def _request_times(store: Store, session: SessionOutcome) -> list[int]:
    return sorted(ts for ts, _, _ in store.session_requests(session.source, session.session_id))


def _sessions(store: Store, where: EventFilter) -> list[SessionOutcome]:
    found: dict[tuple[str, str], SessionOutcome] = {}
    for source, session_id, model, project, first, last, *sums in store.sums_by_session_and_model(
        where
    ):
        key = (source, session_id)
        outcome = found.get(key)
        if outcome is None:
            outcome = found[key] = SessionOutcome(source, session_id, project, model, first, last)
        outcome.first_ms, outcome.last_ms = min(outcome.first_ms, first), max(outcome.last_ms, last)
        outcome.tokens += int(sums[5])
        cost = float(sums[6] or 0)
        outcome.cost_usd += cost
        outcome.model_cost[model] = outcome.model_cost.get(model, 0.0) + cost
        outcome.model = max(outcome.model_cost, key=lambda m: (outcome.model_cost[m], m))
    return sorted(found.values(), key=lambda s: (s.first_ms, s.source, s.session_id))


def _relocated(project: str, moved: dict[str, str]) -> str:
    """Where a project folder is now, by the longest old prefix the user mapped."""
    for old in sorted(moved, key=len, reverse=True):
        stripped = old.rstrip("/")
        if project == stripped or project.startswith(stripped + "/"):
            return moved[old].rstrip("/") + project[len(stripped) :]
    return project


def _rows(sessions: Iterable[SessionOutcome], tz: ZoneInfo) -> list[OutcomeRow]:
    rows: dict[tuple[str, str, str, str], OutcomeRow] = {}
    for session in sessions:
        day = datetime.fromtimestamp(session.first_ms / 1000, tz).date().isoformat()
        project = session.repo if session.known else session.project
        key = (day, project, session.source, session.model)
        rows.setdefault(key, OutcomeRow(*key)).add(session)
    return [rows[key] for key in sorted(rows)]


def _iso(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
