"""OpenRouter: ``/key`` (any key: spend today, this week, this month, limits) and
``/activity`` (a management key: per day and model, the last 30 completed days)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokentray.providers.base import FetchResult, Provider, ProviderRow, as_int
from tokentray.providers.http import ApiClient, ProviderError

ACTIVITY_DAYS = 30


class OpenRouterProvider(Provider):
    name = "openrouter"
    display_name = "OpenRouter"
    env_var = "TOKENTRAY_OPENROUTER_KEY"
    base_url = "https://openrouter.ai"
    key_prefix = "sk-or-"
    key_help = (
        "Any OpenRouter key (sk-or-v1-…) shows its own spend; a management key also gives "
        "per-model daily activity. Keys are made at openrouter.ai under Settings → Keys."
    )

    def fetch(self, client: ApiClient, first_day: str, last_day: str) -> FetchResult:
        key = client.get_json("/api/v1/key")
        data = key.get("data") if isinstance(key, dict) else None
        if not isinstance(data, dict):
            raise ProviderError("malformed", "/api/v1/key: no data object")
        info = {
            f: data.get(f)
            for f in (
                "usage",
                "usage_daily",
                "usage_weekly",
                "usage_monthly",
                "limit",
                "limit_remaining",
                "limit_reset",
                "is_management_key",
            )
        }
        today = datetime.now(UTC).date().isoformat()
        rows = []
        if isinstance(data.get("usage_daily"), int | float):
            rows.append(
                ProviderRow(
                    self.name, today, "(this key)", "cost", cost_usd=float(data["usage_daily"])
                )
            )
        if data.get("is_management_key") or data.get("is_provisioning_key"):
            rows += self._activity(client, first_day, last_day)
        return FetchResult(rows, info)

    def _activity(self, client: ApiClient, first_day: str, last_day: str) -> list[ProviderRow]:
        oldest = datetime.now(UTC).date() - timedelta(days=ACTIVITY_DAYS)
        day = max(date.fromisoformat(first_day), oldest)
        usage: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
        while day <= date.fromisoformat(last_day):
            answer = client.get_json("/api/v1/activity", {"date": day.isoformat()})
            for row in _rows(answer):
                model = str(row.get("model_permaslug") or row.get("model") or "(unknown)")
                totals = usage[(str(row.get("date") or day.isoformat()), model)]
                totals[0] += as_int(row.get("prompt_tokens"))
                totals[1] += as_int(row.get("completion_tokens"))
                totals[2] += _money(row.get("usage")) + _money(row.get("byok_usage_inference"))
            day += timedelta(days=1)
        rows = []
        for (row_day, model), (prompt, completion, cost) in sorted(usage.items()):
            rows.append(
                ProviderRow(
                    self.name,
                    row_day,
                    model,
                    "usage",
                    input_tokens=int(prompt),
                    output_tokens=int(completion),
                )
            )
            rows.append(ProviderRow(self.name, row_day, model, "cost", cost_usd=cost))
        return rows


def _rows(answer: Any) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        raise ProviderError("malformed", "/api/v1/activity: no data list")
    return [r for r in data if isinstance(r, dict)]


def _money(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
