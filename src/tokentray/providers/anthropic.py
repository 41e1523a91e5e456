"""Anthropic Admin API: the messages usage report and the cost report (amounts in cents)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal, InvalidOperation
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


class AnthropicProvider(Provider):
    name = "anthropic"
    display_name = "Anthropic"
    bills = ("claude-code",)
    env_var = "TOKENTRAY_ANTHROPIC_ADMIN_KEY"
    base_url = "https://api.anthropic.com"
    key_prefix = "sk-ant-admin"
    key_help = (
        "This needs an Admin API key (sk-ant-admin…), not an ordinary API key: an organisation "
        "admin creates one in the Claude Console under Settings → Admin keys."
    )

    def headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}

    def fetch(self, client: ApiClient, first_day: str, last_day: str) -> FetchResult:
        window = {
            "starting_at": _rfc3339(first_day),
            "ending_at": _rfc3339((day_start(last_day) + timedelta(days=1)).date().isoformat()),
            "bucket_width": "1d",
            "limit": 31,
        }
        rows = self._usage(client, window) + self._cost(client, window)
        info: dict[str, Any] = {}
        try:
            rows += self._claude_code(client, first_day, last_day)
        except ProviderError as exc:
            if exc.kind in ("auth", "rate_limited"):
                raise
            # Optional: organisations without Claude Code analytics still get the rest.
            info["claude_code"] = f"Claude Code analytics unavailable: {exc.message}"
        return FetchResult(rows, info)

    def _usage(self, client: ApiClient, window: dict[str, Any]) -> list[ProviderRow]:
        rows = []
        params = {**window, "group_by[]": "model"}
        for page in client.pages("/v1/organizations/usage_report/messages", params):
            for bucket in buckets(page, "starting_at"):
                day = iso_day(bucket["starting_at"])
                for result in results(bucket):
                    creation = result.get("cache_creation") or {}
                    rows.append(
                        ProviderRow(
                            provider=self.name,
                            day=day,
                            model=str(result.get("model") or "(unknown)"),
                            kind="usage",
                            input_tokens=as_int(result.get("uncached_input_tokens")),
                            output_tokens=as_int(result.get("output_tokens")),
                            cache_read_tokens=as_int(result.get("cache_read_input_tokens")),
                            cache_write_5m_tokens=as_int(creation.get("ephemeral_5m_input_tokens")),
                            cache_write_1h_tokens=as_int(creation.get("ephemeral_1h_input_tokens")),
                        )
                    )
        return rows

    def _cost(self, client: ApiClient, window: dict[str, Any]) -> list[ProviderRow]:
        cents: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        params = {**window, "group_by[]": "description"}
        for page in client.pages("/v1/organizations/cost_report", params):
            for bucket in buckets(page, "starting_at"):
                day = iso_day(bucket["starting_at"])
                for result in results(bucket):
                    try:
                        amount = Decimal(str(result.get("amount", "0")))
                    except InvalidOperation:
                        raise ProviderError(
                            "malformed", f"cost_report: amount {result.get('amount')!r}"
                        ) from None
                    model = str(result.get("model") or result.get("cost_type") or "(other)")
                    cents[(day, model)] += amount
        return [
            ProviderRow(self.name, day, model, "cost", cost_usd=float(amount / 100))
            for (day, model), amount in sorted(cents.items())
        ]

    def _claude_code(self, client: ApiClient, first_day: str, last_day: str) -> list[ProviderRow]:
        """Claude Code analytics: one UTC day per call, per user; summed per day and model.

        Its costs are Anthropic's estimates (in cents), kept apart as kind ``claude_code``.
        """
        totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 5)
        day = day_start(first_day)
        while day <= day_start(last_day):
            params = {"starting_at": day.date().isoformat(), "limit": 1000}
            for page in client.pages("/v1/organizations/usage_report/claude_code", params):
                for part in _model_breakdowns(page):
                    key = (day.date().isoformat(), str(part.get("model") or "(unknown)"))
                    tokens = part.get("tokens") or {}
                    cost = (part.get("estimated_cost") or {}).get("amount")
                    fields = ("input", "output", "cache_read", "cache_creation")
                    for i, value in enumerate([*(tokens.get(f) for f in fields), cost]):
                        if isinstance(value, int | float) and not isinstance(value, bool):
                            totals[key][i] += Decimal(str(value))
            day += timedelta(days=1)
        return [
            ProviderRow(
                self.name,
                day_key,
                model,
                "claude_code",
                input_tokens=int(v[0]),
                output_tokens=int(v[1]),
                cache_read_tokens=int(v[2]),
                cache_write_5m_tokens=int(v[3]),  # the report does not split 5m and 1h
                cost_usd=float(v[4] / 100),
            )
            for (day_key, model), v in sorted(totals.items())
        ]


def _model_breakdowns(page: dict[str, Any]) -> list[dict[str, Any]]:
    records = page.get("data")
    if not isinstance(records, list):
        raise ProviderError("malformed", "claude_code report without a data list")
    parts: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, dict):
            parts += [p for p in record.get("model_breakdown") or [] if isinstance(p, dict)]
    return parts


def _rfc3339(day: str) -> str:
    return f"{day}T00:00:00Z"
