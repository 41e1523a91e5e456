"""The ``[pricing]`` table of the settings file: user price overrides and model aliases,
and the same format for the built-in overrides shipped in ``data/price_overrides.toml``.
Reading the file is ``settings``'s job; this module only validates the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tokentray.numbers import MAX_RATE_USD_PER_MILLION, out_of_range, shown

RATE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")


class PricingError(ValueError):
    """The ``[pricing]`` table cannot be used as written; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """User or built-in prices for one model, in USD per million tokens.

    Fields left out come from the price library; for a model the library does
    not know, cache prices default to Anthropic's ratios of the input price.
    ``long_context`` rates apply to a whole request whose prompt exceeds
    ``long_context_threshold`` tokens. ``since``/``until`` bound the dates
    (UTC, ``until`` exclusive) on which the override applies. ``service_tiers``
    limits it to requests made in those tiers (priority, fast); ``multiplier``
    scales every rate, tiers included, after the fields above are applied.
    """

    model: str
    rates: dict[str, float]
    long_context_threshold: int | None = None
    long_context: dict[str, float] = field(default_factory=dict)
    since: date | None = None
    until: date | None = None
    source: str = "user override"
    service_tiers: tuple[str, ...] = ()
    multiplier: float | None = None

    def applies_on(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (
            self.until is None or day < self.until
        )

    def applies_to_tier(self, tier: str) -> bool:
        return not self.service_tiers or tier in self.service_tiers


@dataclass(frozen=True, slots=True)
class PricingConfig:
    overrides: tuple[PriceOverride, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)


def parse_pricing(raw: Any, source: str) -> PricingConfig:
    """Parse a ``[pricing]`` table: ``aliases`` and ``models`` (one table or a list per model)."""
    if not isinstance(raw, dict):
        raise PricingError("[pricing] must be a table")
    aliases = raw.get("aliases", {})
    if not isinstance(aliases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()
    ):
        raise PricingError("[pricing.aliases] must map model names to model names")
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise PricingError("[pricing.models] must be a table of models")
    overrides: list[PriceOverride] = []
    for model, entries in models.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            overrides.append(_parse_override(model, entry, source))
    return PricingConfig(overrides=tuple(overrides), aliases=dict(aliases))


def _parse_override(model: str, entry: Any, default_source: str) -> PriceOverride:
    where = f"[pricing.models.{model!r}]"
    if not isinstance(entry, dict):
        raise PricingError(f"{where} must be a table")
    unknown = set(entry) - {
        *RATE_FIELDS,
        "long_context_threshold",
        "long_context",
        "since",
        "until",
        "source",
        "checked",
        "service_tiers",
        "multiplier",
    }
    if unknown:
        raise PricingError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    rates = _rates(entry, where)
    long_context = _rates(entry.get("long_context", {}), where + ".long_context")
    threshold = entry.get("long_context_threshold")
    if threshold is not None and (
        not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 < threshold < 10**9
    ):
        raise PricingError(
            f"{where}.long_context_threshold must be a positive whole number of tokens, "
            f"not {shown(threshold)}"
        )
    if long_context and threshold is None:
        raise PricingError(f"{where} has long_context rates but no long_context_threshold")
    return PriceOverride(
        model=model,
        rates=rates,
        long_context_threshold=threshold,
        long_context=long_context,
        since=_date(entry.get("since"), where + ".since"),
        until=_date(entry.get("until"), where + ".until"),
        source=str(entry.get("source", default_source)),
        service_tiers=_tiers(entry.get("service_tiers", []), where),
        multiplier=_multiplier(entry.get("multiplier"), where),
    )


def _tiers(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise PricingError(f"{where}.service_tiers must be a list of tier names")
    return tuple(value)


def _multiplier(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 100:
        raise PricingError(f"{where}.multiplier must be a number above 0, not {shown(value)}")
    return float(value)


def _rates(entry: Any, where: str) -> dict[str, float]:
    if not isinstance(entry, dict):
        raise PricingError(f"{where} must be a table")
    rates: dict[str, float] = {}
    for name in RATE_FIELDS:
        if name not in entry:
            continue
        value = entry[name]
        if out_of_range(value, 0, MAX_RATE_USD_PER_MILLION):
            raise PricingError(
                f"{where}.{name} must be a non-negative number up to "
                f"{MAX_RATE_USD_PER_MILLION:,.0f} (USD per 1M tokens), not {shown(value)}"
            )
        rates[name] = float(value)
    return rates


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PricingError(f"{where} must be a date (YYYY-MM-DD)")
