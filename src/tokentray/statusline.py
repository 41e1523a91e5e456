"""``tokentray statusline``: a command for Claude Code's ``statusLine`` setting.

Claude Code pipes a JSON object on stdin at every refresh of its prompt (session id,
model, cwd, its own cost estimate, and for subscribers ``rate_limits.five_hour`` and
``seven_day`` with ``used_percentage`` and ``resets_at``; any field may be missing). This
records the plan readings in the store and prints one short line:

    $12.40 today · $3.10 session · 5h 42% ↻1h50m · $4.20/h

It runs on every refresh, so it imports little, reads a few rows, never scans logs and
never waits for a busy store. It always prints a line and exits 0: a failing status line
would blank Claude Code's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from tokentray.events import PlanSample, plausible_plan
from tokentray.plans import PlanWindow, moment_ms, short_duration

SOURCE = "claude-code"
BURN_WINDOW_MS = 15 * 60_000  # as the tray's (dashboard.live; a test holds them equal)
MAX_INPUT_BYTES = 1 << 20
_SHORT = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d Opus"}
_MINUTES = {"five_hour": 300, "seven_day": 7 * 1440}


def plan_samples(payload: Mapping[str, Any], now_ms: int) -> list[PlanSample]:
    """The plan windows in a status line payload (none for API-key users)."""
    limits = payload.get("rate_limits")
    if not isinstance(limits, dict):
        return []
    samples = []
    for name, window in limits.items():
        if not isinstance(window, dict) or not isinstance(name, str):
            continue
        used = window.get("used_percentage", window.get("utilization"))
        if not isinstance(used, int | float) or isinstance(used, bool):
            continue
        sample = PlanSample(
            source=SOURCE,
            window=name,
            observed_ms=now_ms,
            used_pct=float(used),
            resets_ms=moment_ms(window.get("resets_at")),
            window_minutes=_MINUTES.get(name),
            origin="statusline",
        )
        if plausible_plan(sample):
            samples.append(sample)
    return samples


def local_midnight_ms(now_ms: int) -> int:
    moment = time.localtime(now_ms / 1000)
    return int(time.mktime((*moment[:3], 0, 0, 0, 0, 0, -1)) * 1000)


def money(usd: float) -> str:
    return f"${usd:,.2f}" if usd < 1000 else f"${usd:,.0f}"


def window_part(sample: PlanSample, now_ms: int) -> str:
    """``5h 42% ↻1h50m``, with ``⚠ out in 40m`` when the pace empties it before the reset."""
    window = PlanWindow(sample, now_ms)
    name = _SHORT.get(sample.window, sample.window.replace("_", " "))
    if window.has_reset:
        return f"{name} reset"
    text = f"{name} {window.used_pct:.0f}%"
    out = window.runs_out_in_ms
    if out is not None and window.used_pct < 100:
        text += f" ⚠ out in {short_duration(out)}"
    elif window.reset_in_ms is not None:
        text += f" ↻{short_duration(window.reset_in_ms)}"
    return text


def compose(
    payload: Mapping[str, Any],
    now_ms: int,
    figures: Mapping[str, Any] | None,
    samples: Sequence[PlanSample],
) -> str:
    """The line: today, this session, the fullest plan window, the burn now."""
    parts = []
    session_cost = None
    if figures is not None:
        parts.append(f"{money(figures['today'])} today")
        if figures["session_requests"]:
            session_cost = money(figures["session"])
    if session_cost is None:  # not ingested yet: Claude Code's own estimate, marked
        own = payload.get("cost")
        total = own.get("total_cost_usd") if isinstance(own, dict) else None
        if type(total) in (int, float) and 0 <= total < 1e7:  # type: ignore[operator]
            session_cost = "~" + money(float(total))  # type: ignore[arg-type]
    if session_cost is not None:
        parts.append(f"{session_cost} session")
    windows = list(samples)
    if figures is not None:
        known = {s.window for s in windows}
        windows += [s for s in figures["plans"] if s.source == SOURCE and s.window not in known]
    shown = [s for s in windows if s.window in ("five_hour", "seven_day")]
    shown.sort(key=lambda s: s.window)  # 5-hour first
    parts += [window_part(s, now_ms) for s in shown]
    if figures is not None and figures["burn"] > 0:
        parts.append(f"{money(figures['burn'])}/h")
    return " · ".join(parts) if parts else "tokentray: no usage yet"


def run(argv: Sequence[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Read the payload, record its plan readings, print the line. Always exits 0."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    now_ms = int(time.time() * 1000)
    payload = read_payload(stdin)
    samples = plan_samples(payload, now_ms)
    figures = None
    problem = ""
    try:
        figures = exchange(data_folder(argv), payload, samples, now_ms)
    except Exception as exc:
        problem = str(exc)
    try:
        line = compose(payload, now_ms, figures, samples)
    except Exception as exc:
        line, problem = "tokentray", f"cannot show this ({type(exc).__name__})"
    if problem and figures is None and "no usage store" not in problem:
        line += f" · tokentray: {problem[:80]}"
    stdout.write(line + "\n")
    return 0


def read_payload(stdin: TextIO) -> dict[str, Any]:
    try:
        text = stdin.read(MAX_INPUT_BYTES)
        payload = json.loads(text) if text.strip() else {}
    except (ValueError, OSError):
        return {}
    return payload if isinstance(payload, dict) else {}


def data_folder(argv: Sequence[str]) -> Path:
    """``--data-dir`` from the arguments, else where tokentray keeps its store."""
    from tokentray.cli import option_value  # noqa: PLC0415
    from tokentray.paths import data_dir  # noqa: PLC0415

    return data_dir(option_value(argv, "--data-dir"))


def exchange(
    folder: Path, payload: Mapping[str, Any], samples: Sequence[PlanSample], now_ms: int
) -> dict[str, Any]:
    """Record the readings, read today's figures: one short connection."""
    from tokentray.store.quick import QuickStore  # noqa: PLC0415

    session_id = payload.get("session_id")
    with QuickStore(folder / "usage.sqlite3") as store:
        store.record_plans(samples)
        cost, requests = (
            store.session(SOURCE, session_id)
            if isinstance(session_id, str) and session_id
            else (0.0, 0)
        )
        return {
            "today": store.cost_since(local_midnight_ms(now_ms), now_ms),
            "session": cost,
            "session_requests": requests,
            "burn": store.cost_between(now_ms - BURN_WINDOW_MS, now_ms + 1)
            * 3_600_000
            / BURN_WINDOW_MS,
            "plans": store.latest_plans(),
        }
