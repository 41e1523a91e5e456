"""`tokentray keys …`, `tokentray providers …` and `tokentray report reconcile`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime

from tokentray.engine import Engine
from tokentray.events import ProviderState
from tokentray.providers import ALL_PROVIDERS, provider_by_name
from tokentray.providers.base import Provider
from tokentray.providers.http import ProviderError
from tokentray.providers.keys import WEBHOOK, KeyStore, Secret
from tokentray.providers.poll import NEVER, ProviderPoller
from tokentray.reconcile import reconcile
from tokentray.reporting import compact, to_json

EXIT_OK, EXIT_PROBLEM = 0, 5


def poller(engine: Engine) -> ProviderPoller:
    """Base URLs can be pointed elsewhere (a proxy, a test server): TOKENTRAY_<NAME>_BASE_URL."""
    bases = {
        cls.name: os.environ[f"TOKENTRAY_{cls.name.upper()}_BASE_URL"]
        for cls in ALL_PROVIDERS
        if os.environ.get(f"TOKENTRAY_{cls.name.upper()}_BASE_URL")
    }
    providers = [cls() for cls in ALL_PROVIDERS]
    return ProviderPoller(engine.store, providers, KeyStore(os.environ), bases)


def _chosen(args: argparse.Namespace) -> list[Provider]:
    if args.provider == WEBHOOK.name:
        return []
    if args.provider:
        return [provider_by_name(args.provider)]
    return [cls() for cls in ALL_PROVIDERS]


def run(engine: Engine, args: argparse.Namespace) -> int:
    try:
        if args.command == "keys":
            return _keys(args)
        return _providers(engine, args)
    except ProviderError as exc:
        print(f"tokentray: {exc.message}", file=sys.stderr)
        return EXIT_PROBLEM


def _keys(args: argparse.Namespace) -> int:
    keys = KeyStore(os.environ)
    if args.action == "status":
        chosen: list[Provider | Secret] = [*_chosen(args)]
        if args.provider in (None, WEBHOOK.name):
            chosen.append(WEBHOOK)
        for provider in chosen:
            key, where = keys.get(provider)
            shown = f"set ({where})" if key else f"not set (keyring or {provider.env_var})"
            print(f"{provider.display_name}: {shown}")  # never the key itself
        return EXIT_OK
    if not args.provider:
        print("tokentray: name the provider", file=sys.stderr)
        return EXIT_PROBLEM
    provider = WEBHOOK if args.provider == WEBHOOK.name else provider_by_name(args.provider)
    if args.action == "delete":
        keys.delete(provider)
        print(f"{provider.display_name} key removed from the keyring.")
        return EXIT_OK
    key = (
        getpass.getpass(f"{provider.display_name} key: ")
        if sys.stdin.isatty()
        else sys.stdin.readline()
    )
    key = key.strip()
    if not key:
        print("tokentray: no key given", file=sys.stderr)
        return EXIT_PROBLEM
    problem = provider.key_problem(key)
    if problem:
        print(f"tokentray: {problem}", file=sys.stderr)
        return EXIT_PROBLEM
    keys.set(provider, key)
    print(f"{provider.display_name} key stored in the keyring.")
    return EXIT_OK


def _providers(engine: Engine, args: argparse.Namespace) -> int:
    polling = poller(engine)
    chosen = _chosen(args)
    if args.action == "status":
        states = [polling.state(p.name) for p in chosen]
    else:
        states = [polling.poll(p, force=args.action == "test") for p in chosen]
    if args.json:
        print(to_json([_state_dict(s) for s in states]))
    else:
        for state in states:
            print(describe(state))
    failed = args.action == "test" and any(s.status != "ok" for s in states)
    return EXIT_PROBLEM if failed else EXIT_OK


def describe(state: ProviderState) -> str:
    when = ""
    if state.last_ok_ms:
        when = f", as of {datetime.fromtimestamp(state.last_ok_ms / 1000):%Y-%m-%d %H:%M}"
    return f"{provider_by_name(state.provider).display_name}: {state.status}{when}. {state.message}"


def _state_dict(state: ProviderState) -> dict[str, object]:
    return {
        "provider": state.provider,
        "status": state.status,
        "message": state.message,
        "last_ok": None
        if state.last_ok_ms is None
        else datetime.fromtimestamp(state.last_ok_ms / 1000, UTC).isoformat(),
        "next_poll": None
        if state.next_poll_ms >= NEVER
        else datetime.fromtimestamp(state.next_poll_ms / 1000, UTC).isoformat(),
        "info": state.info,
    }


def reconcile_report(engine: Engine, args: argparse.Namespace) -> int:
    since = args.since.isoformat() if args.since else None
    until = args.until.isoformat() if args.until else None
    rows = reconcile(engine.store, since, until)
    if args.json:
        print(
            to_json({"report": "reconcile", "timezone": "UTC", "rows": [r.as_dict() for r in rows]})
        )
        return EXIT_OK
    print(
        f"{'Day (UTC)':<11}{'Provider':<11}{'Local':>9}{'Billed':>9}{'Local $':>10}{'Billed $':>10}"
    )
    for row in rows:
        billed = "—" if row.billed_tokens is None else compact(row.billed_tokens)
        cost = "—" if row.billed_cost_usd is None else f"${row.billed_cost_usd:,.2f}"
        print(
            f"{row.day:<11}{row.provider:<11}{compact(row.local_tokens):>9}{billed:>9}"
            f"{f'${row.local_cost_usd:,.2f}':>10}{cost:>10}"
        )
        for reason in row.reasons:
            print(f"  · {reason}")
    return EXIT_OK
