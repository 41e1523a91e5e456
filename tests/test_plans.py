"""Plan windows: Codex's rate_limits as they are logged, Claude Code's status line JSON,
the pace and projection arithmetic, `report limits`, and plan_pct alert rules."""

from __future__ import annotations

import io
import json
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import EngineFactory
from tokentray.alerts.engine import AlertEngine
from tokentray.alerts.rules import Rule, RuleError
from tokentray.cli import main
from tokentray.events import PlanSample
from tokentray.plans import PlanWindow, nearest, windows
from tokentray.statusline import compose, plan_samples, run
from tokentray.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "codex-rate-limits"
HOUR_MS = 3_600_000


def _codex_home(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "codex"
    shutil.copytree(FIXTURE, target)
    return target


# -- Codex: recorded rate_limits lines --------------------------------------------------


def test_codex_rate_limits_are_recorded_as_they_were_logged(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    engine = make_engine(codex=_codex_home(tmp_path))
    report = engine.ingestor.scan()
    assert report.skipped_lines == 0
    latest = {(s.window, s.account): s for s in engine.store.plan_latest()}
    # The last reading of each window wins (12% then 31% of the 5-hour window).
    primary = latest[("primary", "")]
    assert primary.used_pct == 31.0
    assert primary.window_minutes == 300
    assert primary.resets_ms == 1_790_001_000_000
    assert primary.origin == "log"
    # An older build's resets_in_seconds counts from the line's time.
    secondary = latest[("secondary", "")]
    stamp = int(datetime(2026, 10, 1, 9, 2, tzinfo=UTC).timestamp() * 1000)
    assert secondary.resets_ms == stamp + 600_000_000
    # A plan name, when the build logs one, keeps accounts apart.
    assert latest[("primary", "pro")].used_pct == 50.0
    history = engine.store.plan_history(0, 2**62)
    assert [s.used_pct for s in history if s.window == "primary" and not s.account] == [12, 31]


def test_a_bad_rate_limits_reading_never_costs_the_lines_usage(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    engine = make_engine(codex=_codex_home(tmp_path))
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT SUM(input_tokens + cache_read_tokens), SUM(output_tokens) FROM events"
    )
    # Three turns (5000, 9000, 12000 cumulative input; 200, 500, 900 output): the third
    # line's rate_limits is garbage (used_percent 1e9, resets_at "soon"), its usage counts.
    assert rows == [(12000, 900)]
    assert all(s.used_pct <= 100 for s in engine.store.plan_history(0, 2**62))


# -- the arithmetic ------------------------------------------------------------------


def _sample(used: float, elapsed_h: float, span_h: float = 5, **extra: object) -> PlanSample:
    observed = 1_790_000_000_000
    resets = observed + int((span_h - elapsed_h) * HOUR_MS)
    values: dict[str, object] = {
        "source": "claude-code",
        "window": "five_hour",
        "observed_ms": observed,
        "used_pct": used,
        "resets_ms": resets,
        "window_minutes": int(span_h * 60),
        "origin": "statusline",
    }
    values.update(extra)
    return PlanSample(**values)  # type: ignore[arg-type]


def test_pace_projection_and_running_out() -> None:
    sample = _sample(used=60, elapsed_h=2)  # 60% in 40% of the window
    window = PlanWindow(sample, sample.observed_ms)
    assert window.elapsed_pct == pytest.approx(40)
    assert window.pace == pytest.approx(1.5)
    assert window.projected_pct == pytest.approx(150)
    # 30% an hour: the remaining 40% last 80 minutes, before the reset in 3 hours.
    assert window.runs_out_in_ms == pytest.approx(80 * 60_000, abs=1000)
    assert "runs out in 1 h 20 min" in window.summary()
    assert window.label == "Claude 5-hour"

    calm = PlanWindow(_sample(used=20, elapsed_h=2), sample.observed_ms)
    assert calm.pace == pytest.approx(0.5) and calm.runs_out_in_ms is None


def test_a_window_that_reset_since_its_reading_is_empty_not_stale() -> None:
    sample = _sample(used=90, elapsed_h=4)
    after_reset = PlanWindow(sample, (sample.resets_ms or 0) + 60_000)
    assert after_reset.has_reset and after_reset.used_pct == 0
    assert after_reset.pace is None and after_reset.runs_out_in_ms is None
    assert nearest([sample], (sample.resets_ms or 0) + 60_000) is None


def test_the_nearest_window_is_the_one_heading_for_its_limit() -> None:
    weekly_full = _sample(used=70, elapsed_h=120, span_h=168, window="seven_day")
    five_hour_racing = _sample(used=50, elapsed_h=1)  # pace 2.5: heading for 250%
    found = nearest([weekly_full, five_hour_racing], weekly_full.observed_ms)
    assert found is not None and found.sample.window == "five_hour"
    assert [w.sample.window for w in windows([weekly_full], weekly_full.observed_ms)] == [
        "seven_day"
    ]


# -- the status line -----------------------------------------------------------------

PAYLOAD_WITH_LIMITS = {
    "session_id": "sess-1",
    "transcript_path": "/tmp/none.jsonl",
    "cwd": "/home/dev/app",
    "model": {"id": "claude-opus-4-1", "display_name": "Opus"},
    "cost": {"total_cost_usd": 1.5, "total_duration_ms": 1000},
    "context_window": {"used_percentage": 40},
    "rate_limits": {
        "five_hour": {"used_percentage": 42.5, "resets_at": 1_790_006_600},
        "seven_day": {"used_percentage": 11, "resets_at": "2026-09-20T12:00:00+00:00"},
    },
}
PAYLOAD_API_KEY = {"session_id": "sess-2", "cost": {"total_cost_usd": 0.25}}


def test_statusline_readings_from_claude_codes_json() -> None:
    now_ms = 1_790_000_000_000
    found = {s.window: s for s in plan_samples(PAYLOAD_WITH_LIMITS, now_ms)}
    assert found["five_hour"].used_pct == 42.5
    assert found["five_hour"].resets_ms == 1_790_006_600_000
    assert found["five_hour"].window_minutes == 300
    assert found["seven_day"].resets_ms == int(
        datetime(2026, 9, 20, 12, tzinfo=UTC).timestamp() * 1000
    )
    assert plan_samples(PAYLOAD_API_KEY, now_ms) == []
    junk = {"rate_limits": {"five_hour": {"used_percentage": "lots"}, "x": 3}}
    assert plan_samples(junk, now_ms) == []


def test_statusline_line_without_a_store_uses_claude_codes_own_figures() -> None:
    now_ms = 1_790_000_000_000
    samples = plan_samples(PAYLOAD_WITH_LIMITS, now_ms)
    line = compose(PAYLOAD_WITH_LIMITS, now_ms, None, samples)
    assert line == "~$1.50 session · 5h 42% ↻1h50m · 7d reset"
    assert compose(PAYLOAD_API_KEY, now_ms, None, []) == "~$0.25 session"


def _statusline(data: Path, payload: object) -> tuple[int, str]:
    out = io.StringIO()
    text = payload if isinstance(payload, str) else json.dumps(payload)
    code = run(["--data-dir", str(data), "statusline"], io.StringIO(text), out)
    return code, out.getvalue()


def test_statusline_records_the_plan_and_reads_todays_figures(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    engine = make_engine(codex=_codex_home(tmp_path))
    engine.ingestor.scan()
    payload = dict(PAYLOAD_WITH_LIMITS)
    resets = int(time.time()) + 3600
    payload["rate_limits"] = {"five_hour": {"used_percentage": 42.5, "resets_at": resets}}
    code, line = _statusline(tmp_path / "data", payload)
    assert code == 0
    assert line.startswith("$0.00 today · ~$1.50 session · 5h 42% ↻")
    recorded = [s for s in engine.store.plan_latest() if s.source == "claude-code"]
    assert [(s.window, s.used_pct, s.origin) for s in recorded] == [
        ("five_hour", 42.5, "statusline")
    ]


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", '{"rate_limits": 5}'])
def test_statusline_prints_a_line_whatever_it_is_given(tmp_path: Path, stdin: str) -> None:
    code, line = _statusline(tmp_path / "none", stdin)
    assert code == 0 and line.strip()


def test_statusline_never_waits_on_a_busy_store(tmp_path: Path, make_engine: EngineFactory) -> None:
    make_engine().ingestor.scan()
    writer = sqlite3.connect(tmp_path / "data" / "usage.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the tray in the middle of a long write
    try:
        started = time.perf_counter()
        payload = {"rate_limits": {"five_hour": {"used_percentage": 42, "resets_at": 4e9}}}
        code, line = _statusline(tmp_path / "data", payload)
        assert time.perf_counter() - started < 1.0
        assert code == 0 and "5h 42%" in line
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with Store(tmp_path / "data" / "usage.sqlite3") as store:
        assert store.plan_latest() == []  # skipped, not queued: the next prompt brings more


def test_statusline_as_claude_code_runs_it(tmp_path: Path) -> None:
    """The real command, in its own process, as Claude Code's statusLine runs it."""
    script = Path(sys.executable).with_name("tokentray")
    done = subprocess.run(
        [str(script), "--data-dir", str(tmp_path / "data"), "statusline"],
        input=json.dumps(PAYLOAD_API_KEY),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout == "~$0.25 session\n"
    assert done.stderr == ""


# -- report limits ------------------------------------------------------------------


def test_report_limits_json_and_table(
    tmp_path: Path, make_engine: EngineFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    codex = _codex_home(tmp_path)
    make_engine(codex=codex)
    env_args = ["--data-dir", str(tmp_path / "data")]
    import os

    os.environ["CODEX_HOME"] = str(codex)
    os.environ["CLAUDE_CONFIG_DIR"] = str(tmp_path / "none")
    try:
        assert main([*env_args, "report", "limits", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        labels = sorted(w["label"] for w in data["windows"])
        assert labels == ["Codex 5-hour", "Codex 5-hour", "Codex weekly"]
        assert main([*env_args, "report", "limits"]) == 0
        table = capsys.readouterr().out
        assert "Codex 5-hour" in table
    finally:
        os.environ.pop("CODEX_HOME")
        os.environ.pop("CLAUDE_CONFIG_DIR")


# -- plan_pct rules -----------------------------------------------------------------


def test_plan_rules_fire_once_per_window_and_level(tmp_path: Path) -> None:
    now = datetime(2026, 10, 1, 12, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    with Store(tmp_path / "usage.sqlite3") as store:
        with store.transaction():
            store.record_plan_samples(
                [
                    PlanSample(
                        "claude-code",
                        "five_hour",
                        now_ms,
                        84.0,
                        now_ms + 3 * HOUR_MS,
                        300,
                        "statusline",
                    ),
                    PlanSample("codex", "secondary", now_ms, 10.0, now_ms + 100 * HOUR_MS, 10080),
                ]
            )
        used = Rule("plan", "Plan window", metric="plan_pct", threshold=95.0, warning_share=0.8)
        pace = Rule("pace", "Running out", kind="projection", metric="plan_pct", threshold=100)
        engine = AlertEngine(store, [used, pace], UTC)  # type: ignore[arg-type]
        due = {a.rule.id: a for a in engine.due(now)}
        assert due["plan"].level == "warning"  # 84% of a 95% limit
        assert "Claude 5-hour window: 84% used" in due["plan"].message()
        # 84% two hours into five: heading for 210% by the reset.
        assert due["pace"].level == "critical"
        assert "heading for 210%" in due["pace"].message()
        assert "codex" not in " ".join(a.key for a in due.values())
        assert engine.due(now) == []  # once per window and level


def test_plan_rules_refuse_what_cannot_work() -> None:
    with pytest.raises(RuleError, match="plan window rule"):
        Rule("x", "X", kind="burn", metric="plan_pct", threshold=90).validate()
    with pytest.raises(RuleError, match="name none"):
        Rule("x", "X", metric="plan_pct", threshold=90, action="pause").validate()
    with pytest.raises(RuleError, match="action"):
        Rule("x", "X", action="explode").validate()  # type: ignore[arg-type]


def _random_value(rng: random.Random, depth: int = 0) -> object:
    choices: list[object] = [
        None,
        True,
        -1,
        0,
        42.5,
        1e308,
        float("nan"),
        -1e20,
        "",
        "soon",
        "2026-13-45T99:00:00Z",
        "\ud800",
        2**70,
    ]
    if depth < 3:
        choices += [
            {k: _random_value(rng, depth + 1) for k in rng.sample(_KEYS, rng.randrange(4))},
            [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))],
        ]
    return rng.choice(choices)


_KEYS = [
    "rate_limits",
    "five_hour",
    "seven_day",
    "used_percentage",
    "resets_at",
    "cost",
    "total_cost_usd",
    "session_id",
    "utilization",
]


def test_statusline_fuzz_never_fails_and_always_prints(tmp_path: Path) -> None:
    import random

    rng = random.Random(14)
    for _ in range(400):
        payload = {k: _random_value(rng) for k in rng.sample(_KEYS, rng.randrange(1, 5))}
        try:
            text = json.dumps(payload, allow_nan=True)
        except (ValueError, UnicodeEncodeError):
            continue
        code, line = _statusline(tmp_path / "none", text)
        assert code == 0 and line.endswith("\n") and line.strip(), payload


def test_the_status_line_burns_over_the_trays_window() -> None:
    from tokentray import statusline
    from tokentray.dashboard import live

    assert statusline.BURN_WINDOW_MS == live.BURN_WINDOW_MS
