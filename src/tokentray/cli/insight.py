"""`tokentray report outcomes|cache|counterfactual`: what the spend bought and where it
leaked, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.cli.exits import EXIT_OK, EXIT_USAGE
from tokentray.engine import Engine
from tokentray.numbers import compact, dollars, plural, share
from tokentray.paths import folder_name

INSIGHT_KINDS = ("outcomes", "cache", "counterfactual")


def insight_report(engine: Engine, args: argparse.Namespace, tz: ZoneInfo) -> int:
    from tokentray import aggregate  # noqa: PLC0415
    from tokentray.insight import summary  # noqa: PLC0415

    where = aggregate.Filters(since=args.since, until=args.until, source=args.source).events(tz)
    store, pricer = engine.store, engine.pricer
    if args.kind == "outcomes":
        data = summary.outcomes_data(store, where, tz, engine.settings.insight.moved)
    elif args.kind == "cache":
        data = summary.cache_data(store, where, tz, pricer)
    else:
        from tokentray.insight.counterfactual import UnknownModelError  # noqa: PLC0415

        model = args.as_model or engine.settings.insight.compare_model
        try:
            data = summary.counterfactual_data(store, where, tz, pricer, model)
        except UnknownModelError as exc:
            print(f"tokentray: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        from tokentray.cli.output import to_json  # noqa: PLC0415

        print(to_json(data))
    elif args.csv:
        print(_csv(data["rows"] if args.kind == "outcomes" else data["days"]), end="")
    else:
        print(TABLES[args.kind](data))
    return EXIT_OK


def _count(value: float | None) -> str:
    return "–" if value is None else compact(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    rows = [list(header), *map(list, rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def outcomes_table(data: dict[str, Any]) -> str:
    if not data["rows"]:
        return "No sessions in this period."
    lines = _table(
        (
            "day / project · agent · model",
            "sessions",
            "commits",
            "lines",
            "spend",
            "$/commit",
            "tok/commit",
            "no commit",
        ),
        (
            (
                f"{r['day']} {folder_name(r['project'])} · {r['source']} · {r['model']}",
                str(r["sessions"]),
                str(r["commits"]),
                str(r["lines_changed"]),
                dollars(r["cost_usd"]),
                dollars(r["usd_per_commit"]),
                _count(r["tokens_per_commit"]),
                dollars(r["no_commit_usd"]),
            )
            for r in data["rows"]
        ),
    )
    total = data["total"]
    lines.append(
        f"Total: {plural(total['commits'], 'commit')}, {total['lines_changed']} lines, "
        f"{dollars(total['cost_usd'])} ({dollars(total['usd_per_commit'])} a commit); "
        f"{dollars(total['no_commit_usd'])} in sessions that committed nothing."
    )
    if total["unknown_outcome_usd"]:
        lines.append(
            f"{dollars(total['unknown_outcome_usd'])} was spent where no repository could be "
            "read (see `--json` → repositories; [insight.moved] maps moved folders)."
        )
    if data["tiers"]:
        last = data["tiers"][-1]
        lines.append(f"Tier on {last['day']}: {last['tier']} ({_count(last['tokens'])} tokens).")
    return "\n".join(lines)


def cache_table(data: dict[str, Any]) -> str:
    if not data["days"]:
        return "No requests in this period."
    lines = _table(
        ("day", "hit ratio", "cache read", "cache write", "unread writes", "idle misses", "wasted"),
        (
            (
                d["day"],
                share(d["hit_ratio"]),
                _count(d["cache_read_tokens"]),
                _count(d["cache_write_tokens"]),
                dollars(d["unread_write_usd"]),
                f"{d['idle_misses']} · {dollars(d['idle_miss_usd'])}",
                dollars(d["wasted_usd"]),
            )
            for d in data["days"]
        ),
    )
    total = data["total"]
    lines.append(
        f"Total: hit ratio {share(total['hit_ratio'])}; {dollars(total['wasted_usd'])} "
        f"on cache writes never read ({dollars(total['unread_write_usd'])}) and on "
        f"rewrites after idle gaps ({dollars(total['idle_miss_usd'])})."
    )
    return "\n".join(lines)


def counterfactual_table(data: dict[str, Any]) -> str:
    if not data["days"]:
        return "No requests in this period."
    model = data["as_model"]
    lines = _table(
        ("day", "requests", "spent", f"as {model}", "saving"),
        (
            (
                d["day"],
                str(d["requests"]),
                dollars(d["actual_usd"]),
                dollars(d["alternative_usd"]),
                f"{dollars(d['saving_usd'])} ({share(d['saving_share'])})",
            )
            for d in data["days"]
        ),
    )
    total = data["total"]
    lines.append(
        f"Total: {dollars(total['actual_usd'])} spent; {dollars(total['alternative_usd'])} "
        f"as {model}, {dollars(total['saving_usd'])} less ({share(total['saving_share'])})."
    )
    if total["unpriced_requests"]:
        lines.append(f"{total['unpriced_requests']} requests had no price and are left out.")
    return "\n".join(lines)


TABLES = {"outcomes": outcomes_table, "cache": cache_table, "counterfactual": counterfactual_table}


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()
