"""Parity with ccusage, run by hand: `python bench/parity.py [--real [--since YYYY-MM-DD]]`.

By default, for every fixture in tests/fixtures that has a hand-computed answer
(``expected.json``), prints per agent and day the answer, tokentray's figure and
ccusage's (`ccusage <agent> daily --json --offline --timezone UTC`), tokens and cost, and
marks each figure that differs from the answer. With ``--real`` it compares the two tools
on this machine's own logs instead (there is no hand answer there).

ccusage is found on PATH or in bench/out/node (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUT = Path(__file__).resolve().parent / "out"
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# tokentray source name -> ccusage command, for --real
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
    "openclaw": "openclaw",
    "antigravity": "antigravity",
}


@dataclass(frozen=True)
class Case:
    """A fixture folder, the agent it is, and how both tools are pointed at it."""

    fixture: str
    agent: str
    variable: str = ""  # CLAUDE_CONFIG_DIR or CODEX_HOME; else the folder is a home
    home_subfolder: str = ""  # copied under a temporary home at this path

    def environment(self, scratch: Path) -> dict[str, str]:
        folder = FIXTURES / self.fixture
        home = scratch / "home"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(scratch / "config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "CLAUDE_CONFIG_DIR": str(scratch / "none"),
            "CODEX_HOME": str(scratch / "none"),
        }
        if self.variable:
            env[self.variable] = str(folder)
            home.mkdir(parents=True, exist_ok=True)
        elif self.home_subfolder:
            shutil.copytree(folder / Path(self.home_subfolder).name, home / self.home_subfolder)
        else:
            shutil.copytree(folder, home, ignore=shutil.ignore_patterns("expected.json"))
        return env


CASES = (
    Case("formats/claude-code", "claude-code", "CLAUDE_CONFIG_DIR"),
    Case("claude-subagent-progress", "claude-code", "CLAUDE_CONFIG_DIR"),
    Case("sonnet-4-long-context", "claude-code", "CLAUDE_CONFIG_DIR"),
    Case("formats/codex", "codex", "CODEX_HOME"),
    Case("codex-forks", "codex", "CODEX_HOME"),
    Case("amp", "amp"),
    Case("openclaw", "openclaw"),
    Case("kimi", "kimi"),
    Case("pi", "pi"),
    Case("antigravity", "antigravity", home_subfolder=".gemini/antigravity-cli"),
)


def _ccusage() -> str | None:
    local = OUT / "node" / "node_modules" / ".bin" / "ccusage"
    return shutil.which("ccusage") or (str(local) if local.exists() else None)


def _ccusage_days(
    binary: str, agent: str, env: dict[str, str], since: str | None = None
) -> dict[str, dict[str, float]]:
    command = [binary, AGENTS[agent], "daily", "--json", "--offline", "--timezone", "UTC"]
    if since:
        command += ["--since", since.replace("-", "")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[:200] or f"ccusage {agent} failed")
    data = json.loads(result.stdout or "{}")
    days: dict[str, dict[str, float]] = {}
    for row in data.get("daily", []) if isinstance(data, dict) else []:
        tokens = sum(
            row.get(k, 0) or 0
            for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
        )
        days[str(row.get("date") or row.get("period"))] = {
            "tokens": tokens,
            "cost": float(row.get("totalCost") or row.get("costUSD") or 0.0),
        }
    return days


def _tokentray_days(
    agent: str, env: dict[str, str], data_dir: Path, since: str | None = None
) -> dict[str, dict[str, float]]:
    base = [sys.executable, "-m", "tokentray.cli", "--data-dir", str(data_dir)]
    report = [*base, "report", "daily", "--json", "--source", agent, "--tz", "UTC"]
    if since:
        report += ["--since", since]
    subprocess.run([*base, "scan"], capture_output=True, check=False, env=env)
    result = subprocess.run(report, capture_output=True, text=True, check=False, env=env)
    parsed: dict[str, Any] = json.loads(result.stdout or '{"rows": []}')
    return {
        row["period"]: {
            "tokens": sum(row[f] for f in TOKEN_FIELDS),
            "cost": row["cost_usd"],
        }
        for row in parsed["rows"]
    }


def _answer(case: Case) -> dict[str, dict[str, float | None]]:
    days = json.loads((FIXTURES / case.fixture / "expected.json").read_text())["days"]
    return {
        day: {
            "tokens": sum(want.get(f, 0) for f in TOKEN_FIELDS) if "input_tokens" in want else None,
            "cost": want["cost_usd"],
        }
        for day, want in days.items()
    }


def _cell(value: float | None, answer: float | None, money: bool) -> str:
    if value is None:
        return f"{'-':>13}"
    text = f"{value:.6f}" if money else f"{value:,.0f}"
    differs = answer is not None and abs(value - answer) > (1e-6 if money else 0.5)
    return f"{text + (' ✗' if differs else '  '):>13}"


def fixtures(binary: str | None) -> int:
    print("Per day: the hand-computed answer, tokentray, ccusage. ✗ marks a figure off the answer.")
    print(
        f"{'fixture':<26}{'day':<11}{'tokens: hand':>13}{'tokentray':>13}{'ccusage':>13}"
        f"{'$: hand':>13}{'tokentray':>13}{'ccusage':>13}"
    )
    for case in CASES:
        scratch = Path(tempfile.mkdtemp(prefix="tokentray-parity-"))
        try:
            env = case.environment(scratch)
            answer = _answer(case)
            ours = _tokentray_days(case.agent, env, scratch / "data")
            theirs: dict[str, dict[str, float]] = {}
            note = ""
            if binary:
                try:
                    theirs = _ccusage_days(binary, case.agent, env)
                except (RuntimeError, json.JSONDecodeError) as exc:
                    note = f"  (ccusage: {exc})"
            for day in sorted(set(answer) | set(ours) | set(theirs)):
                hand = answer.get(day, {"tokens": 0, "cost": 0.0})
                a, b = ours.get(day, {}), theirs.get(day, {})
                read = bool(binary) and not note  # else ccusage's column stays empty
                print(
                    f"{case.fixture:<26}{day:<11}"
                    f"{_cell(hand['tokens'], None, False)}"
                    f"{_cell(a.get('tokens', 0), hand['tokens'], False)}"
                    f"{_cell(b.get('tokens') if read else None, hand['tokens'], False)}"
                    f"{_cell(hand['cost'], None, True)}"
                    f"{_cell(a.get('cost', 0.0), hand['cost'], True)}"
                    f"{_cell(b.get('cost') if read else None, hand['cost'], True)}"
                    f"{note}"
                )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def real(binary: str, since: str | None) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="tokentray-parity-"))
    env = dict(os.environ)
    print(
        f"{'agent':<12}{'day':<12}{'tokentray':>14}{'ccusage':>14}{'Δ tokens':>12}"
        f"{'tokentray $':>13}{'ccusage $':>11}{'Δ $':>10}"
    )
    for agent in AGENTS:
        try:
            theirs = _ccusage_days(binary, agent, env, since)
        except (RuntimeError, json.JSONDecodeError) as exc:
            print(f"{agent:<12}ccusage: {exc}")
            continue
        ours = _tokentray_days(agent, env, data_dir, since)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--real", action="store_true", help="this machine's logs, not fixtures")
    parser.add_argument("--since", help="first day, YYYY-MM-DD (with --real)")
    args = parser.parse_args()
    binary = _ccusage()
    if args.real:
        if binary is None:
            print("ccusage is not installed: see bench/README.md")
            return 1
        return real(binary, args.since)
    if binary is None:
        print("ccusage is not installed (see bench/README.md): its column stays empty")
    return fixtures(binary)


if __name__ == "__main__":
    sys.exit(main())
