"""Fetch provider usage on a schedule that respects each API, and store it.

- at most once a minute per provider (every 5 minutes normally); on 429 wait as long
  as Retry-After says, on 5xx, timeouts and garbage back off exponentially up to an hour;
- on 401/403 stop and say "key rejected" until the key changes;
- the first fetch backfills 31 days; later ones re-fetch from the day before the last
  success (the provider's recent buckets still change) to today, and replace those days.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import orjson

from tokentray.events import NEVER, ProviderState
from tokentray.providers.base import Provider, ProviderRow
from tokentray.providers.http import ApiClient, ProviderError
from tokentray.providers.keys import KeyStore, fingerprint
from tokentray.store import Store

log = logging.getLogger(__name__)

INTERVAL_S = 300
MIN_INTERVAL_S = 60
MAX_BACKOFF_S = 3600
BACKFILL_DAYS = 31


class ProviderPoller:
    def __init__(
        self,
        store: Store,
        providers: list[Provider],
        keys: KeyStore,
        base_urls: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 20.0,
    ) -> None:
        self.store = store
        self.providers = providers
        self.keys = keys
        self.base_urls = dict(base_urls or {})
        self.clock = clock
        self.timeout = timeout
        self._saved: dict[str, tuple[object, ...]] = {}  # the state row last written

    def poll_due(self) -> list[ProviderState]:
        """Poll every provider whose time has come; returns every provider's state."""
        return [self.poll(p) for p in self.providers]

    def poll(self, provider: Provider, force: bool = False) -> ProviderState:
        now_ms = int(self.clock() * 1000)
        state = self.state(provider.name)
        try:
            key, _where = self.keys.get(provider)
        except ProviderError as exc:
            # No keyring to look in: nothing was set up here (yet). Looked at again later,
            # in case a keyring or the key's variable appears; saved once, not every minute
            # (an idle tray writes nothing).
            if (state.status, state.message) == ("no key", exc.message):
                return state
            return self._save(state, "no key", exc.message, next_ms=now_ms + INTERVAL_S * 1000)
        if key is None:
            return self._save(state, "no key", f"No {provider.display_name} key set.", NEVER)
        changed_key = fingerprint(key) != state.key_fingerprint
        state.key_fingerprint = fingerprint(key)
        if not force and not changed_key and now_ms < state.next_poll_ms:
            return state
        problem = provider.key_problem(key)
        if problem:
            return self._save(state, "wrong key type", problem, NEVER)
        return self._fetch(provider, key, state, now_ms)

    def _fetch(
        self, provider: Provider, key: str, state: ProviderState, now_ms: int
    ) -> ProviderState:
        today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
        if state.last_ok_ms is None:
            first = today - timedelta(days=BACKFILL_DAYS - 1)
        else:
            last_ok = datetime.fromtimestamp(state.last_ok_ms / 1000, UTC).date()
            first = min(last_ok, today) - timedelta(days=1)
        base_url = self.base_urls.get(provider.name, provider.base_url)
        try:
            with ApiClient(base_url, provider.headers(key), key, self.timeout) as client:
                result = provider.fetch(client, first.isoformat(), today.isoformat())
            check_rows(result.rows)
        except ProviderError as exc:
            return self._failed(provider, state, exc, now_ms)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            # A 200 whose fields are not what the API documents (a bad date, a string
            # where a number belongs): malformed, backed off. The server's text is not
            # repeated, only the kind of fault.
            error = ProviderError(
                "malformed", f"the answer has an unexpected shape ({type(exc).__name__})"
            )
            return self._failed(provider, state, error, now_ms)
        self._store_rows(provider.name, first.isoformat(), today.isoformat(), result.rows, now_ms)
        state.failures = 0
        state.last_ok_ms = now_ms
        state.info = result.info or None
        message = f"{len(result.rows)} rows for {first} … {today}"
        return self._save(state, "ok", message, now_ms + INTERVAL_S * 1000)

    def _failed(
        self, provider: Provider, state: ProviderState, error: ProviderError, now_ms: int
    ) -> ProviderState:
        log.warning("%s: %s", provider.display_name, error.message)
        if error.kind == "auth":
            message = f"Key rejected: {error.message}. {provider.key_help}"
            return self._save(state, "key rejected", message, NEVER)
        state.failures += 1
        backoff = min(MIN_INTERVAL_S * 2 ** (state.failures - 1), MAX_BACKOFF_S)
        if error.kind == "rate_limited":
            wait = max(error.retry_after or backoff, MIN_INTERVAL_S)
            return self._save(state, "rate-limited", error.message, now_ms + int(wait * 1000))
        return self._save(state, "error", error.message, now_ms + int(backoff * 1000))

    def _store_rows(
        self, provider: str, first: str, last: str, rows: list[ProviderRow], now_ms: int
    ) -> None:
        """The provider's figures for these days replace what was stored for them."""
        self.store.replace_provider_rows(
            provider,
            first,
            last,
            [
                (
                    r.provider,
                    r.day,
                    r.model,
                    r.kind,
                    r.input_tokens,
                    r.output_tokens,
                    r.cache_read_tokens,
                    r.cache_write_5m_tokens,
                    r.cache_write_1h_tokens,
                    r.cost_usd,
                    now_ms,
                )
                for r in rows
                if first <= r.day <= last
            ],
        )

    # -- state -------------------------------------------------------------------

    def state(self, provider: str) -> ProviderState:
        return self.store.provider_state(provider) or ProviderState(provider)

    def _save(self, state: ProviderState, status: str, message: str, next_ms: int) -> ProviderState:
        state.status, state.message, state.next_poll_ms = status, message, next_ms
        row = (
            state.provider,
            status,
            message,
            state.last_ok_ms,
            next_ms,
            state.failures,
            state.key_fingerprint,
            orjson.dumps(state.info).decode(),
        )
        if self._saved.get(state.provider) != row:  # the same state is not written again
            self.store.save_provider_state(row)
            self._saved[state.provider] = row
        return state


# A day of one organisation's usage: generous, but finite and storable.
MAX_DAY_TOKENS = 10**15
MAX_DAY_COST_USD = 1e9


def check_rows(rows: list[ProviderRow]) -> None:
    """Refuse (as malformed) an answer whose figures cannot be real usage."""
    for row in rows:
        counts = (
            row.input_tokens,
            row.output_tokens,
            row.cache_read_tokens,
            row.cache_write_5m_tokens,
            row.cache_write_1h_tokens,
        )
        if any(not isinstance(c, int) or not 0 <= c <= MAX_DAY_TOKENS for c in counts):
            raise ProviderError("malformed", f"{row.day} {row.model}: token counts out of range")
        cost = row.cost_usd
        if cost is not None and not (
            isinstance(cost, int | float)
            and math.isfinite(cost)
            and -MAX_DAY_COST_USD < cost < MAX_DAY_COST_USD
        ):
            raise ProviderError("malformed", f"{row.day} {row.model}: cost out of range")
        if not isinstance(row.day, str) or len(row.day) != 10:
            raise ProviderError("malformed", "a row without a day")
