"""The interface every provider usage API implements, and what they return."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tokentray.providers.http import ApiClient, ProviderError


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """One provider-reported bucket: tokens (``kind`` usage) or dollars (``kind`` cost).

    Token buckets are disjoint like local events: ``input_tokens`` is uncached input.
    """

    provider: str
    day: str  # UTC day, YYYY-MM-DD
    model: str
    kind: str  # "usage" or "cost"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cost_usd: float | None = None


@dataclass(slots=True)
class FetchResult:
    rows: list[ProviderRow] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # e.g. OpenRouter's key limits


class Provider(ABC):
    """One provider's usage and cost API; ``fetch`` covers whole UTC days."""

    name = ""
    display_name = ""
    env_var = ""  # overrides the keyring, for headless use
    base_url = ""
    key_help = ""  # where to create the right kind of key
    key_prefix = ""  # every usable key starts so
    # The local agents whose requests this provider bills (compared in ``report reconcile``).
    bills: tuple[str, ...] = ()

    def headers(self, key: str) -> dict[str, str]:
        """The authentication headers for ``key``."""
        return {"Authorization": f"Bearer {key}"}

    def key_problem(self, key: str) -> str | None:
        """Why this key cannot work, judged from its shape; None when it may."""
        return None if key.startswith(self.key_prefix) else self.key_help

    @abstractmethod
    def fetch(self, client: ApiClient, first_day: str, last_day: str) -> FetchResult:
        """Usage and cost for the UTC days from ``first_day`` to ``last_day`` inclusive."""


def iso_day(timestamp: str | int | float) -> str:
    """The UTC day of an RFC 3339 string or Unix seconds."""
    if isinstance(timestamp, str):
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        return moment.astimezone(UTC).date().isoformat()
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def day_start(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def buckets(page: dict[str, Any], start_field: str) -> list[dict[str, Any]]:
    """The time buckets of a report page (``data``), each with its start."""
    data = page.get("data")
    if not isinstance(data, list):
        raise ProviderError("malformed", "a report page without a data list")
    return [b for b in data if isinstance(b, dict) and start_field in b]


def results(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    """A bucket's rows; OpenAI's first spec called the list ``result``."""
    rows = bucket.get("results") or bucket.get("result") or []
    return [r for r in rows if isinstance(r, dict)]


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
