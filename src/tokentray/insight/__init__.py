"""What the spend bought and where it leaked: commits per session (``outcomes``), cache
use (``cache``), the same requests on a cheaper model (``counterfactual``) and the
industry's daily-token tiers (``tiers``). Plain Python over the store, no Qt: the CLI,
the tray's worker and the Prometheus exporter all call these."""
