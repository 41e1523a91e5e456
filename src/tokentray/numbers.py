"""Numbers: limits on those a person types into the config (finite and within reason),
and the compact way they are shown.

TOML accepts ``nan`` and ``inf``; a NaN compares false with everything, so an
unchecked one silently zeroes costs or switches alerts off.
"""

from __future__ import annotations

import math

MAX_RATE_USD_PER_MILLION = 10_000.0  # the dearest models cost hundreds, not thousands
MAX_BUDGET_USD = 10_000_000.0
MAX_THRESHOLD_USD = 10_000_000.0
MAX_THRESHOLD_TOKENS = 10_000_000_000_000.0


def out_of_range(value: object, low: float, high: float, *, above_low: bool = False) -> bool:
    """Whether ``value`` is not a finite number in [low, high] (or (low, high])."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if not math.isfinite(value) or value > high:
        return True
    return value <= low if above_low else value < low


def shown(value: object) -> str:
    return repr(value) if not isinstance(value, str) else f"{value!r}"


def plural(count: int, word: str) -> str:
    """``1 commit``, ``3 commits``, ``1,200 requests``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def dollars(value: float | None) -> str:
    """``$1,234.50``; a dash for a figure that does not exist (no commit to divide by)."""
    return "–" if value is None else f"${value:,.2f}"


def share(value: float | None) -> str:
    """``43%``; a dash when there is nothing to be a share of."""
    return "–" if value is None else f"{value:.0%}"


def compact(n: float) -> str:
    """1234 -> 1.23k, 4_560_000 -> 4.56M: readable in a narrow column."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            value = n / limit
            return f"{value:.3g}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n:.0f}"
