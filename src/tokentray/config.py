"""The user's config file (TOML in the user config dir), as far as the engine needs it.

A broken file never stops tokentray: it is reported, left untouched, and the
defaults apply.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tokentray.numbers import MAX_RATE_USD_PER_MILLION, out_of_range, shown
from tokentray.paths import config_dir, make_private

log = logging.getLogger(__name__)

RATE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")


class ConfigError(ValueError):
    """The config file cannot be used as written; the message says where and why."""


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


@dataclass(frozen=True, slots=True)
class Config:
    pricing: PricingConfig = field(default_factory=PricingConfig)
    path: Path | None = None
    error: str | None = None


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file; None when it does not exist; ConfigError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
        make_private(path)
        return tomllib.loads(text)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(exc)) from exc


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file gives defaults, a broken one defaults plus an error."""
    path = path or config_path()
    try:
        raw = read_toml(path)
        if raw is None:
            return Config(path=path)
        pricing = parse_pricing(raw.get("pricing", {}), source="user override")
    except ConfigError as exc:
        return _broken(path, str(exc))
    return Config(pricing=pricing, path=path)


def _broken(path: Path, reason: str) -> Config:
    message = f"config file {path} is not usable ({reason}); using defaults, file left as is"
    log.warning("%s", message)
    return Config(path=path, error=message)


def parse_pricing(raw: Any, source: str) -> PricingConfig:
    """Parse a ``[pricing]`` table: ``aliases`` and ``models`` (one table or a list per model)."""
    if not isinstance(raw, dict):
        raise ConfigError("[pricing] must be a table")
    aliases = raw.get("aliases", {})
    if not isinstance(aliases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()
    ):
        raise ConfigError("[pricing.aliases] must map model names to model names")
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError("[pricing.models] must be a table of models")
    overrides: list[PriceOverride] = []
    for model, entries in models.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            overrides.append(_parse_override(model, entry, source))
    return PricingConfig(overrides=tuple(overrides), aliases=dict(aliases))


def _parse_override(model: str, entry: Any, default_source: str) -> PriceOverride:
    where = f"[pricing.models.{model!r}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
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
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    rates = _rates(entry, where)
    long_context = _rates(entry.get("long_context", {}), where + ".long_context")
    threshold = entry.get("long_context_threshold")
    if threshold is not None and (
        not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 < threshold < 10**9
    ):
        raise ConfigError(
            f"{where}.long_context_threshold must be a positive whole number of tokens, "
            f"not {shown(threshold)}"
        )
    if long_context and threshold is None:
        raise ConfigError(f"{where} has long_context rates but no long_context_threshold")
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
        raise ConfigError(f"{where}.service_tiers must be a list of tier names")
    return tuple(value)


def _multiplier(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 100:
        raise ConfigError(f"{where}.multiplier must be a number above 0, not {shown(value)}")
    return float(value)


def _rates(entry: Any, where: str) -> dict[str, float]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    rates: dict[str, float] = {}
    for name in RATE_FIELDS:
        if name not in entry:
            continue
        value = entry[name]
        if out_of_range(value, 0, MAX_RATE_USD_PER_MILLION):
            raise ConfigError(
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
    raise ConfigError(f"{where} must be a date (YYYY-MM-DD)")
