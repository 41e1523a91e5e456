"""What the command line says to a person: bad input in one sentence, reports that name
what a ccusage user expects (session dates and models, block burn and projection, model
names that stay apart), one exit rule for keys and providers, one word for a request."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import keyring
import pytest
from keyring.backends import fail

from test_cli import agents, run  # noqa: F401 - the fixture is used by name
from tokentray.aggregate import Filters, block_report
from tokentray.cli.output import model_labels, reconcile_table, report_table, short_model
from tokentray.engine import open_engine
from tokentray.events import PricedEvent, UsageEvent
from tokentray.reconcile import NO_PROVIDER_DATA, ReconcileRow


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """main() sets up logging on the stderr it finds; an earlier test's is closed."""
    logging.getLogger().handlers.clear()


def test_a_bad_moment_is_one_sentence_and_exit_2(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--data-dir", str(agents), "alerts", "check", "--at", "soon")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tokentray: argument --at: 'soon' is not")
    assert "Traceback" not in err


def test_yesterday_today_and_now_are_moments(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    for word in ("yesterday", "today", "now"):
        code, out, _ = run(capsys, "--data-dir", str(agents), "alerts", "check", "--at", word)
        assert code == 0 and (out.startswith("No alert at") or "WARNING" in out or "CRIT" in out)
    code, out, _ = run(
        capsys, "--data-dir", str(agents), "alerts", "check", "--at", "yesterday", "--json"
    )
    at = datetime.fromisoformat(__import__("json").loads(out)["at"])
    assert abs((datetime.now(UTC) - timedelta(days=1) - at).total_seconds()) < 60


def test_since_after_until_is_refused(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--data-dir", str(agents), "report", "daily"]
    code, out, err = run(capsys, *args, "--since", "2026-10-05", "--until", "2026-10-01")
    assert code == 2 and out == ""
    assert err == "tokentray: --since 2026-10-05 is after --until 2026-10-01: nothing can match\n"
    code, out, err = run(capsys, *args, "--since", "2030-01-01")
    assert code == 0
    assert out.startswith("No usage in this selection; the last request recorded was on 2026-")


def test_model_names_are_shortened_but_never_alike() -> None:
    assert short_model("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert short_model("anthropic/claude-opus-4-1-20250805") == "claude-opus-4-1"
    assert short_model("gpt-5.1-2025-11-13") == "gpt-5.1"
    assert short_model("gpt-5-codex") == "gpt-5-codex"
    labels = model_labels(["claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20251201", "gpt-5"])
    assert labels == {  # two releases of one model keep their dates
        "claude-sonnet-4-5-20250929": "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5-20251201": "claude-sonnet-4-5-20251201",
        "gpt-5": "gpt-5",
    }


def test_breakdown_rows_show_whole_model_names(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--data-dir", str(agents), "report", "daily", "--breakdown")
    assert code == 0
    models = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert "claude-sonnet-4-5" in models and "claude-opus-4-1" in models
    assert not any(model.endswith("…") for model in models)
    assert len(models) == len(set(models)) or len(out) > 0


def _engine(tmp_path: Path, events: list[UsageEvent]):  # type: ignore[no-untyped-def]
    engine = open_engine(
        tmp_path / "data", env={"CLAUDE_CONFIG_DIR": "-", "CODEX_HOME": "-"}, home=tmp_path
    )
    with engine.store.transaction():
        engine.store.upsert_events([PricedEvent(e, 0.5, "priced") for e in events])
    return engine


def _event(key: str, at: datetime, model: str = "claude-sonnet-4-5-20250929") -> UsageEvent:
    return UsageEvent(
        source="claude-code",
        key=key,
        session_id="0f3e9a51-7b2c-4d8e-9a1f-2b3c4d5e6f70",
        project="/home/dev/webshop",
        model=model,
        timestamp_ms=int(at.timestamp() * 1000),
        input_tokens=100,
        output_tokens=1000,
    )


def test_session_rows_name_the_whole_id_dates_and_models(tmp_path: Path) -> None:
    from tokentray.aggregate import session_report

    start = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    engine = _engine(
        tmp_path,
        [
            _event("a", start),
            _event("b", start + timedelta(hours=3), "claude-opus-4-1-20250805"),
        ],
    )
    with engine.store:
        table = report_table(session_report(engine.store, ZoneInfo("UTC"), Filters()), False)
    assert "10-01 09:30 webshop" in table  # when it started, and where
    assert "0f3e9a51-7b2c-4d8e-9a1f-2b3c4d5e6f70 · claude-code" in table  # the whole id
    assert "last activity 10-01 12:30 · claude-opus-4-1, claude-sonnet-4-5" in table
    assert max(len(line) for line in table.splitlines()) <= 80


def test_an_active_block_shows_its_burn_and_projection(tmp_path: Path) -> None:
    start = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    engine = _engine(tmp_path, [_event("a", start), _event("b", start + timedelta(hours=1))])
    now = start + timedelta(hours=2)
    with engine.store:
        report = block_report(engine.store, ZoneInfo("UTC"), Filters(), now=now)
    table = report_table(report, False)
    # $1.00 over its first hour: $1.00/h; 3 h left at that rate: $4.00 by 14:00.
    assert "10-01 09:00 ●" in table
    assert "burn $1.00/h, 37 tok/min · projected by 14:00: $4.00, 8.8k tokens" in table


def test_reconcile_says_no_provider_data_once() -> None:
    rows = [ReconcileRow(f"2026-10-0{day}", "anthropic", 1000, 1.0) for day in (1, 2, 3)]
    for row in rows:
        row.reasons = [NO_PROVIDER_DATA]
    table = reconcile_table(rows)
    assert table.count("no data from anthropic") == 1
    assert "no provider data for this day" not in table


def test_keys_and_providers_status_follow_one_rule_without_a_keyring(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        keys_code, keys_out, _ = run(capsys, "--data-dir", str(agents), "keys", "status")
        poll_code, _, _ = run(capsys, "--data-dir", str(agents), "providers", "poll")
        code, out, _ = run(capsys, "--data-dir", str(agents), "providers", "status")
        set_code, _, set_err = run(capsys, "--data-dir", str(agents), "keys", "delete", "openai")
    finally:
        keyring.set_keyring(previous)
    assert (keys_code, poll_code, code) == (0, 0, 0)  # nothing set up is not a failure
    assert "Anthropic: not set (no keyring here; set TOKENTRAY_ANTHROPIC_ADMIN_KEY)" in keys_out
    assert "Anthropic: not set up." in out and "error" not in out
    assert set_code == 5 and "keyring" in set_err  # an action that cannot be done


def test_doctor_and_scan_count_requests(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--data-dir", str(agents), "doctor")
    assert code == 0 and "usage events" not in out
    assert "Claude Code: " in out and " requests, " in out
    code, out, _ = run(capsys, "--data-dir", str(agents), "scan")
    assert "usage lines" not in out and "usage events" not in out
    not_found = [line for line in out.splitlines() if "not found" in line]
    assert not_found == []  # summed up in one line
    assert sum(line.startswith("Not on this machine:") for line in out.splitlines()) == 1
    code, out, _ = run(capsys, "--data-dir", str(agents), "scan", "--verbose")
    assert "OpenCode: " in out and "not found" in out


def test_watch_once_says_one_pass(
    agents: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--data-dir", str(agents), "watch", "--once")
    assert code == 0 and "one pass" in out and "every" not in out.splitlines()[0]
