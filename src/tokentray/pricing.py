"""Price each request on its own.

Rates come from the genai-prices library (offline data, historical prices,
5-minute and 1-hour cache writes, long-context tiers), corrected by built-in
and user overrides. A request whose prompt (uncached input + cache reads +
cache writes) crosses a long-context threshold is priced whole at the
long-context rates, as the providers bill it; that is why requests are priced
one by one and never as a day's total.

Resolved rates are cached per model, UTC day and service tier, in memory and
in the store, and the library's own answers in a file per library version in the
user cache folder (``price_memo``, each answer over the days it holds), so pricing a
new request rarely needs the library at all (it costs a quarter of a second to import).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from tokentray.events import CostStatus, PricedEvent, UsageEvent
from tokentray.price_memo import LibraryMemo, MemoEntry, MemoKey
from tokentray.price_overrides import RATE_FIELDS, PriceOverride, PricingConfig, parse_pricing
from tokentray.store import Store

log = logging.getLogger(__name__)

# Bump when the way rates are derived changes, so cached rates are rebuilt.
ALGORITHM_VERSION = "2"
# Anthropic's published ratios to the input price, used when no cache price is known.
DEFAULT_CACHE_RATIOS = {"cache_read": 0.1, "cache_write_5m": 1.25, "cache_write_1h": 2.0}

PRICED: CostStatus = "priced"
UNPRICED: CostStatus = "unpriced"
ESTIMATED: CostStatus = "estimated"
REPORTED: CostStatus = "reported"

Band = tuple[float, float, float, float, float]  # input, output, cache read, 5m write, 1h write


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens; ``tiers`` are (prompt threshold, band) in ascending order."""

    base: Band
    tiers: tuple[tuple[int, Band], ...] = ()
    origin: str = ""
    exact: bool = True  # False when a requested service tier had no price of its own

    def band_for(self, prompt_tokens: int) -> Band:
        band = self.base
        for threshold, tier_band in self.tiers:
            if prompt_tokens > threshold:
                band = tier_band
        return band

    def cost(self, event: UsageEvent) -> float:
        rate_in, rate_out, rate_read, rate_5m, rate_1h = self.band_for(event.prompt_tokens)
        return (
            event.input_tokens * rate_in
            + event.output_tokens * rate_out
            + event.cache_read_tokens * rate_read
            + event.cache_write_5m_tokens * rate_5m
            + event.cache_write_1h_tokens * rate_1h
        ) / 1_000_000

    def to_json(self) -> str:
        return orjson.dumps(
            {"base": self.base, "tiers": self.tiers, "origin": self.origin, "exact": self.exact}
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Rates:
        """Rates written by ``to_json``; ValueError for anything else."""
        raw = orjson.loads(text)
        try:
            rates = cls(
                base=_band(raw["base"]),
                tiers=tuple((_threshold(t), _band(b)) for t, b in raw["tiers"]),
                origin=raw["origin"],
                exact=raw["exact"],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a set of rates: {text[:80]}") from exc
        if not isinstance(rates.origin, str) or not isinstance(rates.exact, bool):
            raise ValueError(f"not a set of rates: {text[:80]}")
        return rates


def _band(values: Any) -> Band:
    band = tuple(values)
    if len(band) != 5 or not all(type(v) in (int, float) and v >= 0 for v in band):
        raise ValueError(f"not a band of five rates: {values!r:.80}")
    return band


def _threshold(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"not a token threshold: {value!r:.40}")
    return value


def builtin_overrides() -> PricingConfig:
    text = resources.files("tokentray").joinpath("data/price_overrides.toml").read_text()
    import tomllib  # noqa: PLC0415

    return parse_pricing(tomllib.loads(text)["pricing"], source="built-in override")


_SUFFIX = re.compile(r"\[[^\]]*\]$")  # Claude Code's "claude-sonnet-4-5[1m]"


def normalise_model(model: str, aliases: dict[str, str]) -> str:
    """The name to look a model up by: user alias first, then without display suffixes."""
    if model in aliases:
        return aliases[model]
    return _SUFFIX.sub("", model).strip()


def _library_version() -> str:
    """genai-prices' installed version, from its dist-info folder's name: importlib.metadata
    costs every short command some 15 ms of imports for the same answer."""
    for entry in sys.path:
        for info in Path(entry or ".").glob("genai_prices-*.dist-info"):
            return info.name.removeprefix("genai_prices-").removesuffix(".dist-info")
    import importlib.metadata  # noqa: PLC0415 - an unusual install layout

    try:
        return importlib.metadata.version("genai-prices")
    except importlib.metadata.PackageNotFoundError:
        return "none"


class Pricer:
    """Prices events with cached rates; unknown models are unpriced, never $0."""

    def __init__(self, config: PricingConfig | None = None, store: Store | None = None) -> None:
        self.config = config or PricingConfig()
        self.builtin = builtin_overrides()
        self.store = store
        self._memory: dict[tuple[str, int, str], Rates | None] = {}
        # Rates a pricer without a store (a worker's) had to resolve, by (model, day, tier):
        # the worker hands them back so that the store's price cache learns them.
        self.resolved: dict[tuple[str, str, str], Rates | None] = {}
        self._learned: dict[tuple[str, str, str], Rates | None] = {}
        self.library = _library_version()
        self.memo = LibraryMemo(f"prices-{self.library}-{ALGORITHM_VERSION}.json")
        self.fingerprint = self._fingerprint()

    def detached(self) -> Pricer:
        """A copy without the store (for a worker process, which must not touch it)."""
        detached = copy.copy(self)
        detached.store = None
        detached._memory, detached.resolved, detached._learned = dict(self._memory), {}, {}
        return detached

    def hand_back(self) -> Resolved:
        """What a worker's pricer resolved since the last call, for ``learn``."""
        resolved, self.resolved = self.resolved, {}
        return resolved, self.memo.take_added()

    def learn(self, handed: Resolved) -> None:
        """What another pricer resolved (a worker's): its rates are written to the store's
        price cache by ``save_learned``, inside the caller's next transaction; the library's
        answers go to the memo, written by ``save_memo``."""
        resolved, library = handed
        self._learned.update(resolved)
        self.memo.merge(library)

    def save_memo(self) -> None:
        self.memo.save()

    def save_learned(self) -> None:
        for key, rates in self._learned.items():
            self._remember(key, rates)
        self._learned.clear()

    def _fingerprint(self) -> str:
        digest = hashlib.sha256(
            repr((ALGORITHM_VERSION, self.library, self.builtin, self.config)).encode()
        )
        return digest.hexdigest()[:16]

    def price(self, event: UsageEvent) -> PricedEvent:
        return PricedEvent(event, *self.cost(event))

    def cost(self, event: UsageEvent) -> tuple[float | None, CostStatus]:
        """The event's cost and how it was priced."""
        rates = self.rates(event.model, event.timestamp_ms, event.service_tier)
        if rates is None:
            if event.reported_cost_usd is not None:  # no price of ours: the agent's own figure
                return event.reported_cost_usd, REPORTED
            return None, UNPRICED
        status = PRICED if rates.exact and not event.estimated else ESTIMATED
        return rates.cost(event), status

    def rates(self, model: str, timestamp_ms: int, tier: str = "") -> Rates | None:
        memory_key = (model, timestamp_ms // 86_400_000, tier)
        try:
            return self._memory[memory_key]
        except KeyError:
            pass
        day = datetime.fromtimestamp(timestamp_ms / 1000, UTC).date()
        key = (model, day.isoformat(), tier)
        found, rates = self._cached(key)
        if not found:
            rates = self._resolve(model, day, tier)
            self._remember(key, rates)
            if self.store is None:  # a worker's: handed back for the store's price cache
                self.resolved[key] = rates
        self._memory[memory_key] = rates
        return rates

    def _cached(self, key: tuple[str, str, str]) -> tuple[bool, Rates | None]:
        """(found, rates) from the store's price cache; rates None means known unpriced."""
        if self.store is None:
            return False, None
        found, rates = self.store.cached_rates(*key, self.fingerprint)
        try:
            return found, None if rates is None else Rates.from_json(rates)
        except ValueError as exc:  # a damaged entry is resolved again and overwritten
            log.warning("ignoring the price cache's entry for %s: %s", key, exc)
            return False, None

    def _remember(self, key: tuple[str, str, str], rates: Rates | None) -> None:
        if self.store is None:
            return
        self.store.remember_rates(
            *key, self.fingerprint, None if rates is None else rates.to_json()
        )

    def _resolve(self, model: str, day: date, tier: str) -> Rates | None:
        name = normalise_model(model, self.config.aliases)
        library = self._library_rates((name, day.isoformat(), tier))
        # An override names a model as the logs do, or as the library knows it
        # ("anthropic/claude-sonnet-4-0" covers every dated and aliased spelling).
        library_id = library.origin.removeprefix(LIBRARY_ORIGIN) if library else ""
        overrides = [
            o
            for o in (*self.builtin.overrides, *self.config.overrides)
            if o.model in (model, name, library_id)
            and o.applies_on(day)
            and o.applies_to_tier(tier)
        ]
        if library is None and not any("input" in o.rates for o in overrides):
            if overrides:
                log.warning("override for %s has no input price and the library has none", model)
            return None
        rates = library
        for override in overrides:  # built-in first, so the user's own win
            rates = apply_override(rates, override)
        return rates

    def _library_rates(self, key: MemoKey) -> Rates | None:
        """The library's rates, from the memo when it has them."""
        found, text = self.memo.lookup(key)
        if found:
            try:
                return None if text is None else Rates.from_json(text)
            except ValueError as exc:  # orjson's decode error is one too
                log.debug("price memo entry for %s unreadable: %s", key, exc)
        name, day, tier = key
        rates, (first, until) = library_answer(name, date.fromisoformat(day), tier)
        self.memo.add((name, tier, first, until, None if rates is None else rates.to_json()))
        return rates


# A worker pricer's rates for the store, and the library's answers for the memo.
Resolved = tuple[dict[tuple[str, str, str], "Rates | None"], list[MemoEntry]]

RATES_HEADER = "USD per million tokens: input / output / cache read / cache write 5m / 1h"


def describe(rates: Rates | None) -> list[str]:
    """The rates as a person reads them: base band, provenance, then each tier."""
    if rates is None:
        return ["no list price (add one under [pricing.models])"]
    lines = [f"{_band_text(rates.base)}  [{rates.origin}{'' if rates.exact else ', estimated'}]"]
    lines += [f"  prompt > {t:,} tokens: {_band_text(band)}" for t, band in rates.tiers]
    return lines


def _band_text(band: Band) -> str:
    return " / ".join(f"{v:g}" for v in band)


def audit(store: Store, pricer: Pricer) -> list[str]:
    """Every model in the store with the rates and provenance it is priced at, on its first
    and (when they differ) its last day: a wrong or missing rate is visible in one screen."""
    lines = [RATES_HEADER]
    for source, model, tier, first_ms, last_ms, requests, reported in store.models_used():
        first_day, last_day = (_day(ms) for ms in (first_ms, last_ms))
        span = first_day if first_day == last_day else f"{first_day}..{last_day}"
        named = f"{model} [{tier} tier]" if tier else model
        lines.append(f"{source} {named} ({requests} requests, {span})")
        first, last = pricer.rates(model, first_ms, tier), pricer.rates(model, last_ms, tier)
        lines += [f"  {line}" for line in describe(first)]
        if last != first:
            lines += [f"  from {last_day}: {line}" for line in describe(last)]
        if reported:
            lines.append(f"  {reported} requests priced at the agent's own figure (reported)")
    return lines


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def apply_override(rates: Rates | None, override: PriceOverride) -> Rates:
    """Overlay an override on library rates (or on nothing, for an unknown model)."""
    if rates is None:
        given = override.rates
        base_input = given["input"]
        rates = Rates(
            base=(
                base_input,
                given.get("output", 0.0),
                base_input * DEFAULT_CACHE_RATIOS["cache_read"],
                base_input * DEFAULT_CACHE_RATIOS["cache_write_5m"],
                base_input * DEFAULT_CACHE_RATIOS["cache_write_1h"],
            )
        )
    base = _overlay(rates.base, override.rates)
    tiers = tuple((t, _overlay(b, override.rates)) for t, b in rates.tiers)
    if override.long_context_threshold is not None:
        long_band = _overlay(base, override.long_context)
        tiers = (
            *((t, b) for t, b in tiers if t != override.long_context_threshold),
            (override.long_context_threshold, long_band),
        )
        tiers = tuple(sorted(tiers))
    if override.multiplier is not None:
        base = _scaled(base, override.multiplier)
        tiers = tuple((t, _scaled(b, override.multiplier)) for t, b in tiers)
    exact = rates.exact or bool(override.service_tiers)  # a tier override prices that tier
    return Rates(base, tiers, f"{rates.origin} + {override.source}".lstrip(" +"), exact)


def _scaled(band: Band, factor: float) -> Band:
    return tuple(round(v * factor, 6) for v in band)  # type: ignore[return-value]


def _overlay(band: Band, values: dict[str, float]) -> Band:
    return tuple(values.get(name, band[i]) for i, name in enumerate(RATE_FIELDS))  # type: ignore[return-value]


LIBRARY_ORIGIN = "genai-prices "


def library_rates(model: str, day: date, tier: str = "") -> Rates | None:
    """Rates from genai-prices for ``model`` on ``day``, or None when it has no price."""
    return library_answer(model, day, tier)[0]


def library_answer(model: str, day: date, tier: str = "") -> tuple[Rates | None, tuple[str, str]]:
    """``library_rates``, and the days over which the library gives that same answer: the
    first, and the day after the last (ISO dates, "" for an open end)."""
    from genai_prices import data_snapshot  # noqa: PLC0415 - heavy, import on demand

    try:
        provider, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None, ("", "")
    return _rates_of(provider, info, day, tier), _unchanging_days(info, day)


def _unchanging_days(info: Any, day: date) -> tuple[str, str]:
    """The days around ``day`` between two start dates of the model's dated prices (its
    conditional prices and its price variants). Nothing else in the library's answer
    depends on the day: a time-of-day price is read at noon UTC, as every day."""
    from genai_prices import types  # noqa: PLC0415

    conditions = [*(info.prices if isinstance(info.prices, list) else ())]
    conditions += info.price_variants or ()
    starts = {
        c.constraint.start_date
        for c in conditions
        if isinstance(c.constraint, types.StartDateConstraint)
    }
    first = max((start for start in starts if start <= day), default=None)
    until = min((start for start in starts if start > day), default=None)
    return (first.isoformat() if first else "", until.isoformat() if until else "")


def _rates_of(provider: Any, info: Any, day: date, tier: str) -> Rates | None:
    from genai_prices import types  # noqa: PLC0415

    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    context: dict[str, str] | None = {"service_tier": tier} if tier else None
    prices = info.get_prices(moment, context)
    exact = True
    if tier and prices == info.get_prices(moment, None):
        exact = False  # no price of its own for this service tier: list price, estimated
    fields = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
    values: list[Any] = [getattr(prices, f, None) for f in fields]
    one_hour = getattr(prices, "cache_write_1h_mtok", None)
    if values[0] is None:
        return None
    values[2] = values[2] if values[2] is not None else values[0]
    values[3] = values[3] if values[3] is not None else values[0]
    values.append(one_hour if one_hour is not None else values[3])
    thresholds = sorted(
        {t.start for v in values if isinstance(v, types.TieredPrices) for t in v.tiers}
    )

    def band(prompt: int) -> Band:
        return tuple(float(_tier_price(v, prompt, types)) for v in values)  # type: ignore[return-value]

    return Rates(
        base=band(0),
        tiers=tuple((t, band(t + 1)) for t in thresholds),
        origin=f"{LIBRARY_ORIGIN}{provider.id}/{info.id}",
        exact=exact,
    )


def _tier_price(value: Any, prompt: int, types: Any) -> Any:
    if not isinstance(value, types.TieredPrices):
        return value
    price = value.base
    for tier in value.tiers:
        if prompt > tier.start:
            price = tier.price
    return price
