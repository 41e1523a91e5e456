"""What the spend bought and where it leaked: commits per session (``outcomes``), cache
use (``cache``), the same requests on a cheaper model (``counterfactual``) and the
industry's daily-token tiers (``tiers``). Plain Python over the store, no Qt: the CLI,
the tray's worker and the Prometheus exporter all call these."""

from __future__ import annotations

from collections.abc import Iterable


def add_fields(into: object, other: object, names: Iterable[str]) -> None:
    """Add ``other``'s numeric fields ``names`` to ``into``'s: figures summed over rows."""
    for name in names:
        setattr(into, name, getattr(into, name) + getattr(other, name))
