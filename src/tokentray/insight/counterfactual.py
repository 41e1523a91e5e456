"""What the same requests would have cost on another model the user picks.

Each request is priced again, one by one, with the other model's rates on the request's
own day (its long-context tier decided by its own prompt, as for the real price), and set
beside what it was billed. Requests whose own model has no price are counted apart, so a
saving is never claimed on a cost that is not known.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.events import event_from_row
from tokentray.insight import add_fields
from tokentray.pricing import Pricer
from tokentray.store import EventFilter, Store


class UnknownModelError(ValueError):
    """The model to compare with has no price."""


@dataclass(slots=True)
class Comparison:
    requests: int = 0
    actual_usd: float = 0.0
    alternative_usd: float = 0.0
    already_on_it: int = 0  # requests already made on the other model
    unpriced_requests: int = 0  # no price of their own: left out of both sums

    @property
    def saving_usd(self) -> float:
        return self.actual_usd - self.alternative_usd

    @property
    def saving_share(self) -> float | None:
        return self.saving_usd / self.actual_usd if self.actual_usd else None

    def merge(self, other: Comparison) -> None:
        add_fields(self, other, self.__slots__)

    def as_dict(self) -> dict[str, Any]:
        share = self.saving_share
        return {
            "requests": self.requests,
            "actual_usd": round(self.actual_usd, 6),
            "alternative_usd": round(self.alternative_usd, 6),
            "saving_usd": round(self.saving_usd, 6),
            "saving_share": None if share is None else round(share, 6),
            "already_on_model": self.already_on_it,
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(slots=True)
class CounterfactualReport:
    model: str
    total: Comparison
    days: dict[str, Comparison]
    sessions: dict[tuple[str, str, str, str], Comparison]  # (source, session, project, model)

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": "counterfactual",
            "as_model": self.model,
            "total": self.total.as_dict(),
            "days": [{"day": day, **c.as_dict()} for day, c in sorted(self.days.items())],
            "sessions": [
                {
                    "source": source,
                    "session": session,
                    "project": project,
                    "model": model,
                    **c.as_dict(),
                }
                for (source, session, project, model), c in sorted(
                    self.sessions.items(), key=lambda item: -item[1].saving_usd
                )
            ],
        }


def counterfactual(
    store: Store, where: EventFilter, tz: ZoneInfo, pricer: Pricer, model: str
) -> CounterfactualReport:
    """Every request in ``where`` priced as ``model``; UnknownModelError when it has no price."""
    report = CounterfactualReport(model, Comparison(), {}, {})
    sessions: dict[tuple[str, str], Comparison] = {}
    main_model: dict[tuple[str, str], dict[str, float]] = {}
    projects: dict[tuple[str, str], str] = {}
    for row in store.requests(where):
        event, actual = event_from_row(row), row[14]
        share = Comparison(requests=1)
        if actual is None:
            share.unpriced_requests = 1
        else:
            rates = pricer.rates(model, event.timestamp_ms, event.service_tier)
            if rates is None and event.service_tier:  # no such tier there: its list price
                rates = pricer.rates(model, event.timestamp_ms)
            if rates is None:
                raise UnknownModelError(f"no price is known for {model!r}")
            share.actual_usd = float(actual)
            share.alternative_usd = rates.cost(replace(event, model=model))
            share.already_on_it = int(event.model == model)
        day = datetime.fromtimestamp(event.timestamp_ms / 1000, tz).date().isoformat()
        report.days.setdefault(day, Comparison()).merge(share)
        key = (event.source, event.session_id)
        sessions.setdefault(key, Comparison()).merge(share)
        costs = main_model.setdefault(key, {})
        costs[event.model] = costs.get(event.model, 0.0) + float(actual or 0)
        projects[key] = event.project
        report.total.merge(share)
    for key, comparison in sessions.items():
        top = max(main_model[key], key=lambda m: (main_model[key][m], m))
        report.sessions[(*key, projects[key], top)] = comparison
    return report


def check_model(pricer: Pricer, model: str, at_ms: int) -> None:
    """UnknownModelError, said plainly, when ``model`` has no price on that day."""
    if pricer.rates(model, at_ms) is None:
        raise UnknownModelError(
            f"no price is known for {model!r}; `tokentray prices {model}` shows what is "
            "known, and [pricing] overrides can add one"
        )
