"""Billed vs local: per UTC day and provider, what the local logs say beside what the
provider reports, the difference, and the likely reason where one can be told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tokentray.store import Store

# A difference below this share is rounding and timing, not a reason to explain.
TOLERANCE = 0.05
NO_PROVIDER_DATA = "no provider data for this day (no key, or not fetched yet)"


@dataclass(slots=True)
class ReconcileRow:
    day: str
    provider: str
    local_tokens: int = 0
    local_cost_usd: float = 0.0
    billed_tokens: int | None = None
    billed_cost_usd: float | None = None
    claude_code_estimate_usd: float | None = None  # Anthropic's Claude Code analytics, all users
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.day,
            "provider": self.provider,
            "local_tokens": self.local_tokens,
            "local_cost_usd": round(self.local_cost_usd, 6),
            "billed_tokens": self.billed_tokens,
            "billed_cost_usd": None
            if self.billed_cost_usd is None
            else round(self.billed_cost_usd, 6),
            "token_difference": None
            if self.billed_tokens is None
            else self.billed_tokens - self.local_tokens,
            "cost_difference_usd": None
            if self.billed_cost_usd is None
            else round(self.billed_cost_usd - self.local_cost_usd, 6),
            "claude_code_estimate_usd": None
            if self.claude_code_estimate_usd is None
            else round(self.claude_code_estimate_usd, 6),
            "reasons": self.reasons,
        }


def reconcile(
    store: Store, since: str | None = None, until: str | None = None
) -> list[ReconcileRow]:
    from tokentray.providers import ALL_PROVIDERS  # noqa: PLC0415 - HTTP clients load late

    rows: dict[tuple[str, str], ReconcileRow] = {}
    for billing in ALL_PROVIDERS:
        for day, tokens, cost in store.local_daily_utc(billing.bills):
            rows[(day, billing.name)] = ReconcileRow(day, billing.name, tokens, cost)
    for provider, day, kind, tokens, billed in store.provider_daily():
        row = rows.setdefault((day, provider), ReconcileRow(day, provider))
        if kind == "usage":
            row.billed_tokens = tokens
        elif kind == "cost":
            row.billed_cost_usd = billed
        elif kind == "claude_code":
            row.claude_code_estimate_usd = billed
    today = datetime.now(UTC).date().isoformat()
    selected = [
        r
        for key, r in sorted(rows.items())
        if (since is None or key[0] >= since) and (until is None or key[0] <= until)
    ]
    for row in selected:
        row.reasons = _reasons(row, today)
    return selected


def _reasons(row: ReconcileRow, today: str) -> list[str]:
    if row.billed_tokens is None and row.billed_cost_usd is None:
        return [NO_PROVIDER_DATA]
    reasons = []
    if row.day >= today:
        reasons.append("today is not final at the provider (it lags minutes to an hour)")
    local, billed = row.local_tokens, row.billed_tokens
    if billed is not None:
        if billed > local * (1 + TOLERANCE):
            reasons.append(
                "the provider billed more tokens than this machine's agents used: other "
                "machines, other keys, or traffic outside coding agents"
            )
        elif local > billed * (1 + TOLERANCE):
            reasons.append(
                "this machine's agents used more tokens than this provider account billed: "
                "usage under a subscription plan or another organisation's key, or provider "
                "data still arriving"
            )
        elif row.billed_cost_usd is not None and abs(
            row.billed_cost_usd - row.local_cost_usd
        ) > max(0.01, TOLERANCE * row.billed_cost_usd):
            reasons.append(
                "tokens agree but cost differs: cache-write TTL (5m vs 1h), long-context or "
                "service-tier pricing, discounts, or tokentray's price list"
            )
    return reasons
