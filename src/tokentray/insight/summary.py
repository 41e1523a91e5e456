"""The insight figures together, as plain data: what `tokentray report outcomes|cache|
counterfactual` prints, what the graph window's Insight tab shows, and the tray's badge."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.insight.tiers import tier_for
from tokentray.numbers import plural
from tokentray.pricing import Pricer
from tokentray.store import EventFilter, Store

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class InsightRequest:
    """The days to look at (the last ``days`` local days including today; None: all)
    and the model to price the same requests as."""

    days: int | None
    model: str

    def start_ms(self, today_start_ms: int) -> int | None:
        return None if self.days is None else today_start_ms - (self.days - 1) * DAY_MS


def outcomes_data(
    store: Store, where: EventFilter, tz: ZoneInfo, moved: dict[str, str]
) -> dict[str, Any]:
    """The outcomes report with each day's tier beside it."""
    from tokentray.insight.outcomes import outcomes  # noqa: PLC0415

    found = outcomes(store, where, tz, moved)
    data = found.as_dict(tz)
    daily: dict[str, int] = {}
    for row in found.rows:
        daily[row.day] = daily.get(row.day, 0) + row.tokens
    data["tiers"] = [
        {"day": day, "tokens": tokens, "tier": tier_for(tokens).name}
        for day, tokens in sorted(daily.items())
    ]
    return data


def cache_data(store: Store, where: EventFilter, tz: ZoneInfo, pricer: Pricer) -> dict[str, Any]:
    from tokentray.insight.cache import cache_report  # noqa: PLC0415

    report = cache_report(
        store, where, tz, lambda e: pricer.rates(e.model, e.timestamp_ms, e.service_tier)
    )
    return report.as_dict()


def counterfactual_data(
    store: Store, where: EventFilter, tz: ZoneInfo, pricer: Pricer, model: str
) -> dict[str, Any]:
    """UnknownModelError when ``model`` has no price."""
    from tokentray.insight.counterfactual import check_model, counterfactual  # noqa: PLC0415

    check_model(pricer, model, int(time.time() * 1000))
    return counterfactual(store, where, tz, pricer, model).as_dict()


def insight_figures(
    store: Store,
    pricer: Pricer,
    request: InsightRequest,
    today_start_ms: int,
    tz: ZoneInfo,
    moved: dict[str, str],
) -> dict[str, Any]:
    """The Insight tab's three parts for one request; a model with no price gives an
    ``error`` in its part, not an exception."""
    from tokentray.insight.counterfactual import UnknownModelError  # noqa: PLC0415

    where = EventFilter(start_ms=request.start_ms(today_start_ms))
    found: dict[str, Any] = {
        "request": request,
        "outcomes": outcomes_data(store, where, tz, moved),
        "cache": cache_data(store, where, tz, pricer),
    }
    try:
        found["counterfactual"] = counterfactual_data(store, where, tz, pricer, request.model)
    except UnknownModelError as exc:
        found["counterfactual"] = {"error": str(exc)}
    return found


@dataclass(frozen=True, slots=True)
class OutcomeBadge:
    """Today's tier, always with what today's spend bought."""

    tier: str
    tokens: int
    commits: int
    lines_changed: int
    usd_per_commit: float | None
    no_commit_usd: float
    in_repositories: bool  # some session today ran in a readable git repository

    def text(self) -> str:
        """``Expert tier · 3 commits today · $4.10 a commit``."""
        head = f"{self.tier} tier"
        if not self.in_repositories:
            return f"{head} · commits unknown (no git repository)"
        if not self.commits:
            return f"{head} · no commit yet today (${self.no_commit_usd:,.2f} spent)"
        commits = plural(self.commits, "commit")
        return f"{head} · {commits} today · ${self.usd_per_commit:,.2f} a commit"


def outcome_badge(store: Store, tz: ZoneInfo, start_ms: int, moved: dict[str, str]) -> OutcomeBadge:
    """The badge for the local day that starts at ``start_ms``."""
    from tokentray.insight.outcomes import outcomes  # noqa: PLC0415

    found = outcomes(store, EventFilter(start_ms=start_ms), tz, moved)
    total = found.total()
    return OutcomeBadge(
        tier=tier_for(total.tokens).name,
        tokens=total.tokens,
        commits=total.commits,
        lines_changed=total.lines_changed,
        usd_per_commit=total.usd_per_commit,
        no_commit_usd=total.no_commit_usd,
        in_repositories=any(s.known for s in found.sessions),
    )
