"""OpenAI organisation Usage (completions) and Costs APIs, parsed leniently."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tokentray.providers.base import (
    FetchResult,
    Provider,
    ProviderRow,
    as_int,
    buckets,
    day_start,
    iso_day,
    results,
)
from tokentray.providers.http import ApiClient, ProviderError

DAY_S = 86_400


class OpenAIProvider(Provider):
    name = "openai"
    display_name = "OpenAI"
    bills = ("codex",)
    env_var = "TOKENTRAY_OPENAI_ADMIN_KEY"
    base_url = "https://api.openai.com"
    key_prefix = "sk-admin-"
    key_help = (
        "This needs an OpenAI Admin key (sk-admin-…), not a project key: an organisation "
        "owner creates one under Settings → Organization → Admin keys."
    )

    def fetch(self, client: ApiClient, first_day: str, last_day: str) -> FetchResult:
        start = int(day_start(first_day).timestamp())
        end = int(day_start(last_day).timestamp()) + DAY_S
        window = {"start_time": start, "end_time": end, "bucket_width": "1d"}
        return FetchResult(self._usage(client, window) + self._cost(client, window))

    def _usage(self, client: ApiClient, window: dict[str, Any]) -> list[ProviderRow]:
        rows = []
        params = {**window, "group_by": "model", "limit": 31}
        for page in client.pages("/v1/organization/usage/completions", params):
            for bucket in buckets(page, "start_time"):
                day = iso_day(bucket["start_time"])
                for result in results(bucket):
                    cached = as_int(result.get("input_cached_tokens"))
                    written = as_int(result.get("input_cache_write_tokens"))
                    uncached = result.get("input_uncached_tokens")
                    if not isinstance(uncached, int):
                        uncached = as_int(result.get("input_tokens")) - cached - written
                    rows.append(
                        ProviderRow(
                            provider=self.name,
                            day=day,
                            model=str(result.get("model") or "(unknown)"),
                            kind="usage",
                            input_tokens=max(uncached, 0),
                            output_tokens=as_int(result.get("output_tokens")),
                            cache_read_tokens=cached,
                            cache_write_5m_tokens=written,
                        )
                    )
        return rows

    def _cost(self, client: ApiClient, window: dict[str, Any]) -> list[ProviderRow]:
        dollars: dict[tuple[str, str], float] = defaultdict(float)
        params = {**window, "group_by": "line_item", "limit": 180}
        for page in client.pages("/v1/organization/costs", params):
            for bucket in buckets(page, "start_time"):
                day = iso_day(bucket["start_time"])
                for result in results(bucket):
                    amount = result.get("amount")
                    value = amount.get("value") if isinstance(amount, dict) else None
                    if not isinstance(value, int | float):
                        raise ProviderError("malformed", f"costs: amount {amount!r}")
                    line = str(result.get("line_item") or "(other)")
                    dollars[(day, line.split(",", maxsplit=1)[0].strip())] += float(value)
        return [
            ProviderRow(self.name, day, model, "cost", cost_usd=value)
            for (day, model), value in sorted(dollars.items())
        ]
