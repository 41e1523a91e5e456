"""The daily-token tiers of the industry's leaderboards (Sendbird's "AI God" scale).

Only the top bound is published (an "AI God" burns over 100 million tokens a day); the
steps below it are tokentray's, set a factor of two to five apart. A tier is always shown
beside what the tokens bought (commits, $ per commit), never alone: burn is not output.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    from_tokens: int  # tokens a day where the tier starts
    rank: int


TIERS: tuple[Tier, ...] = (
    Tier("Beginner", 0, 0),
    Tier("Intermediate", 1_000_000, 1),
    Tier("Expert", 5_000_000, 2),
    Tier("Architect", 20_000_000, 3),
    Tier("Catalyst", 50_000_000, 4),
    Tier("AI God", 100_000_000, 5),
)


def tier_for(tokens_per_day: float) -> Tier:
    found = TIERS[0]
    for tier in TIERS:
        if tokens_per_day >= tier.from_tokens:
            found = tier
    return found


def next_tier(tier: Tier) -> Tier | None:
    return TIERS[tier.rank + 1] if tier.rank + 1 < len(TIERS) else None
