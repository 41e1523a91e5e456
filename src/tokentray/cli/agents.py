"""``tokentray agents``: the processes behind a session, and pausing, resuming or stopping
them by hand (the same guardrails an alert rule can apply on its own)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from tokentray.cli.exits import EXIT_OK, EXIT_USAGE
from tokentray.cli.output import to_json
from tokentray.store import EventFilter

if TYPE_CHECKING:
    from tokentray.engine import Engine

RECENT_MS = 7 * 86_400_000  # a session named by the start of its id is looked for this far back
EXIT_NOTHING_DONE = 6


def run(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray import guardrails  # noqa: PLC0415

    engine.ingestor.scan()
    if args.action == "list":
        return _list(engine, args)
    if not args.session:
        print(f"tokentray: say which session to {args.action}", file=sys.stderr)
        return EXIT_USAGE
    found = _resolve(engine, args.session, args.source)
    if isinstance(found, str):
        print(f"tokentray: {found}", file=sys.stderr)
        return EXIT_USAGE
    source, session = found
    if args.action != "resume":
        agent = guardrails.locate(engine.store, source, session)
        print(f"{source} session {session}:")
        for process in agent.processes:
            print(f"  {process.describe()}")
        if not agent.found:
            print(f"tokentray: {agent.problem}", file=sys.stderr)
            return EXIT_NOTHING_DONE
        if not args.yes and not _confirm(args.action):
            print("Nothing done.")
            return EXIT_NOTHING_DONE
    result = guardrails.perform(engine.store, args.action, source, session, args.grace)
    print(result.summary())
    return EXIT_OK if result.ok else EXIT_NOTHING_DONE


def _list(engine: Engine, args: argparse.Namespace) -> int:
    from tokentray import guardrails  # noqa: PLC0415

    now_ms = int(time.time() * 1000)
    sessions = engine.store.sessions_in(EventFilter(now_ms - 30 * 60_000, now_ms + 1))
    located = [guardrails.locate(engine.store, source, s) for source, s in sessions]
    paused = {(p.source, p.session_id) for p in guardrails.paused(engine.store)}
    if args.json:
        rows = [
            {
                "source": a.source,
                "session": a.session_id,
                "project": a.project,
                "paused": (a.source, a.session_id) in paused,
                "processes": [asdict(p) for p in a.processes],
                "problem": a.problem,
            }
            for a in located
        ]
        print(to_json({"sessions": rows}))
        return EXIT_OK
    if not located:
        print("No session has written in the last 30 minutes.")
    for agent in located:
        state = " (paused)" if (agent.source, agent.session_id) in paused else ""
        print(f"{agent.source} {agent.session_id} in {agent.project or '?'}{state}")
        print(f"  {agent.describe()}")
    return EXIT_OK


def _resolve(engine: Engine, text: str, source: str | None) -> tuple[str, str] | str:
    now_ms = int(time.time() * 1000)
    sessions = engine.store.sessions_in(EventFilter(now_ms - RECENT_MS, now_ms + 1, source))
    exact = [s for s in sessions if s[1] == text]
    matches = exact or [s for s in sessions if s[1].startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return f"no session {text!r} in the last 7 days"
    return f"{text!r} could be {len(matches)} sessions: give more of its id"


def _confirm(action: str) -> bool:
    if not sys.stdin.isatty():
        print(f"tokentray: not asked (no terminal): add --yes to {action}", file=sys.stderr)
        return False
    answer = input(f"{action.capitalize()} these processes? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
