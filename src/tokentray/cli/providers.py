"""`tokentray keys …`, `tokentray providers …` and `tokentray report reconcile`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from tokentray.cli.exits import EXIT_OK, EXIT_PROBLEM
from tokentray.cli.output import provider_line, reconcile_table, state_json, to_json
from tokentray.engine import Engine
from tokentray.providers import ALL_PROVIDERS, provider_by_name
from tokentray.providers.base import Provider
from tokentray.providers.http import ProviderError
from tokentray.providers.keys import WEBHOOK, KeyStore, Secret
from tokentray.providers.poll import ProviderPoller
from tokentray.reconcile import reconcile


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
    """Status commands exit 0 unless something set up is broken (a key that cannot work,
    an API that fails): then 5, as does an action that cannot be done (no keyring to store
    a key in)."""
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
            try:
                key, where = keys.get(provider)
            except ProviderError:  # nothing set up, and nowhere to keep it: said, not failed
                print(f"{provider.display_name}: not set (no keyring here; set {provider.env_var})")
                continue
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
        print(to_json([state_json(s) for s in states]))
    else:
        for state in states:
            print(provider_line(state))
    # One rule for keys and providers: a problem to fix (a key that cannot work, an API
    # that fails, no keyring) is exit 5; ok and not set up are 0. A test asks for ok.
    failed = any(s.needs_attention for s in states)
    if args.action == "test":
        failed = any(s.status != "ok" for s in states)
    return EXIT_PROBLEM if failed else EXIT_OK


def reconcile_report(engine: Engine, args: argparse.Namespace) -> int:
    since = args.since.isoformat() if args.since else None
    until = args.until.isoformat() if args.until else None
    rows = reconcile(engine.store, since, until)
    if args.json:
        print(
            to_json({"report": "reconcile", "timezone": "UTC", "rows": [r.as_dict() for r in rows]})
        )
        return EXIT_OK
    print(reconcile_table(rows))
    return EXIT_OK
