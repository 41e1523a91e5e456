"""Parity with ccusage, run by hand: `python bench/parity.py [--since YYYY-MM-DD]`.

For every agent both tools read, runs `ccusage <agent> daily --json --offline` beside
`tokentray report daily --json --source <agent> --tz UTC` on this machine's logs (or on the
folders the usual environment variables point at) and prints the per-day differences in
tokens and cost. ccusage is found on PATH or in bench/out/node (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
# tokentray source name -> ccusage command
AGENTS = {
    "claude-code": "claude",
    "codex": "codex",
    "gemini": "gemini",
    "opencode": "opencode",
    "amp": "amp",
    "qwen": "qwen",
    "goose": "goose",
    "copilot": "copilot",
    "droid": "droid",
    "kimi": "kimi",
    "codebuff": "codebuff",
    "pi": "pi",
    "kilo-code": "kilo",
}


def _ccusage() -> str | None:
    local = OUT / "node" / "node_modules" / ".bin" / "ccusage"
    return shutil.which("ccusage") or (str(local) if local.exists() else None)


def _ccusage_days(binary: str, agent: str, since: str | None) -> dict[str, dict[str, float]]:
    command = [binary, agent, "daily", "--json", "--offline", "--timezone", "UTC"]
    if since:
        command += ["--since", since.replace("-", "")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"ccusage {agent} failed")
    data = json.loads(result.stdout or "{}")
    days: dict[str, dict[str, float]] = {}
    for row in data.get("daily", []):
        tokens = sum(
            row.get(k, 0) or 0
            for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
        )
        days[str(row.get("date") or row.get("period"))] = {
            "tokens": tokens,
            "cost": float(row.get("totalCost") or row.get("costUSD") or 0.0),
        }
    return days


def _tokentray_days(agent: str, since: str | None, data_dir: Path) -> dict[str, dict[str, float]]:
    command = [
        sys.executable,
        "-m",
        "tokentray.cli",
        "--data-dir",
        str(data_dir),
        "report",
        "daily",
        "--json",
        "--source",
        agent,
        "--tz",
        "UTC",
    ]
    if since:
        command += ["--since", since]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    report: dict[str, Any] = json.loads(result.stdout or '{"rows": []}')
    return {
        row["period"]: {"tokens": row["total_tokens"], "cost": row["cost_usd"]}
        for row in report["rows"]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--since", help="first day, YYYY-MM-DD")
    args = parser.parse_args()
    binary = _ccusage()
    if binary is None:
        print("ccusage is not installed: see bench/README.md")
        return 1
    data_dir = Path(tempfile.mkdtemp(prefix="tokentray-parity-"))
    print(
        f"{'agent':<12}{'day':<12}{'tokentray':>14}{'ccusage':>14}{'Δ tokens':>12}"
        f"{'tokentray $':>13}{'ccusage $':>11}{'Δ $':>10}"
    )
    for agent, command in AGENTS.items():
        try:
            theirs = _ccusage_days(binary, command, args.since)
        except (RuntimeError, json.JSONDecodeError) as exc:
            print(f"{agent:<12}ccusage: {exc}")
            continue
        ours = _tokentray_days(agent, args.since, data_dir)
        days = sorted(set(theirs) | set(ours))
        if not days:
            print(f"{agent:<12}no usage in either")
        for day in days:
            a = ours.get(day, {"tokens": 0, "cost": 0.0})
            b = theirs.get(day, {"tokens": 0, "cost": 0.0})
            print(
                f"{agent:<12}{day:<12}{a['tokens']:>14,.0f}{b['tokens']:>14,.0f}"
                f"{a['tokens'] - b['tokens']:>12,.0f}{a['cost']:>13.4f}{b['cost']:>11.4f}"
                f"{a['cost'] - b['cost']:>10.4f}"
            )
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
