"""The command line, end to end: JSON, CSV, tables, time zones, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load_expected
from tokentray.cli import EXIT_STORE, EXIT_UNREADABLE, main


@pytest.fixture
def agents(
    monkeypatch: pytest.MonkeyPatch, claude_home: Path, codex_home: Path, tmp_path: Path
) -> Path:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    monkeypatch.setenv("TOKENTRAY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no other agent's real logs
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_daily_json(agents: Path, capsys: pytest.CaptureFixture[str], shared: Path) -> None:
    code, out, _ = run(
        capsys, "--data-dir", str(agents), "report", "daily", "--json", "--tz", "UTC"
    )
    assert code == 0
    data = json.loads(out)
    claude = load_expected(shared, "claude-code")["days"]
    codex = load_expected(shared, "codex")["days"]
    rows = {r["period"]: r for r in data["rows"]}
    for day in claude:
        want = claude[day]["cost_usd"] + codex[day]["cost_usd"]
        assert rows[day]["cost_usd"] == pytest.approx(want, abs=1e-6)
        tokens = rows[day]["input_tokens"] + rows[day]["output_tokens"]
        tokens += rows[day]["cache_read_tokens"] + rows[day]["cache_write_tokens"]
        assert rows[day]["total_tokens"] == tokens
    assert rows["2026-10-02"]["unpriced_models"] == ["claude-experimental-x"]
    assert set(rows["2026-10-01"]["models"]) >= {"gpt-5-codex", "claude-opus-4-1-20250805"}
    assert data["totals"]["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in data["rows"]))


def test_source_filter_and_dates(agents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data-dir", str(agents), "report", "daily", "--json", "--tz", "UTC"]
    code, out, _ = run(capsys, *args, "--source", "codex", "--since", "2026-10-02")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["period"] for r in rows] == ["2026-10-02"]
    assert set(rows[0]["models"]) == {"gpt-5-codex"}


def test_time_zone_moves_a_request_to_the_next_day(
    agents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """msg_C at 23:59:59 UTC is on 2 October in Tokyo; India's +05:30 splits hours cleanly."""
    base = ["--data-dir", str(agents), "report", "daily", "--json", "--source", "claude-code"]
    _, utc, _ = run(capsys, *base, "--tz", "UTC")
    _, tokyo, _ = run(capsys, *base, "--tz", "Asia/Tokyo", "--no-scan")
    utc_rows = {r["period"]: r for r in json.loads(utc)["rows"]}
    tokyo_rows = {r["period"]: r for r in json.loads(tokyo)["rows"]}
    assert tokyo_rows["2026-10-02"]["cache_read_tokens"] == 250_000
    assert utc_rows["2026-10-01"]["cache_read_tokens"] == 288_500
    _, kolkata, _ = run(capsys, *base, "--tz", "Asia/Kolkata", "--no-scan")
    kolkata_rows = {r["period"]: r for r in json.loads(kolkata)["rows"]}
    # 2026-10-02T00:00:30Z.. all land on 2 Oct local; 23:59:59Z is 05:29:59 on 2 Oct.
    assert kolkata_rows["2026-10-02"]["cache_read_tokens"] == 250_000


def test_sessions_and_blocks(agents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data-dir", str(agents), "report"]
    _, out, _ = run(capsys, *base, "session", "--json", "--tz", "UTC")
    sessions = json.loads(out)["rows"]
    assert len(sessions) == 5  # 3 Claude Code + 2 Codex
    first = sessions[0]
    assert {"source", "project", "first", "last"} <= set(first)
    _, out, _ = run(capsys, *base, "blocks", "--json", "--tz", "UTC", "--no-scan")
    blocks = json.loads(out)["rows"]
    assert [b["start"] for b in blocks] == [
        "2026-10-01T09:00:07+00:00",
        "2026-10-01T23:59:59+00:00",
        "2026-10-02T08:00:00+00:00",
    ]
    assert all(
        set(b["models"])
        <= {
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805",
            "claude-3-5-haiku-20241022",
            "claude-experimental-x",
        }
        for b in blocks
    )
    assert blocks[0]["active"] is False and blocks[0]["tokens_per_minute"] > 0


def test_csv_breakdown(agents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--data-dir", str(agents), "report", "monthly", "--csv", "--breakdown"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["model"] for r in rows} >= {"gpt-5-mini", "claude-experimental-x"}
    unpriced = next(r for r in rows if r["model"] == "claude-experimental-x")
    assert unpriced["unpriced_models"] == "claude-experimental-x"


def test_table_fits_80_columns(agents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("daily", "weekly", "monthly", "session", "blocks"):
        code, out, _ = run(capsys, "--data-dir", str(agents), "report", kind, "--breakdown")
        assert code == 0
        assert max(len(line) for line in out.splitlines()) <= 80, kind
        assert "claude-experimental-x" in out or kind == "blocks"


def test_scan_summary_names_skipped_lines(agents: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data-dir", str(agents), "scan", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["skipped_lines"] == 2
    assert summary["pending_partial_lines"] == 1
    assert {Path(p["path"]).name for p in summary["problems"]} == {
        "11111111-1111-4111-8111-111111111111.jsonl",
        "rollout-2026-10-02T07-00-00-0199bbbb-0000-7000-8000-000000000002.jsonl",
    }
    code, out, _ = run(capsys, "--data-dir", str(agents), "scan")
    assert code == 0 and "Read 0 of 7 files" in out  # nothing new: nothing read


def test_unreadable_file_exit_code(
    agents: Path, capsys: pytest.CaptureFixture[str], claude_home: Path
) -> None:
    loop = claude_home / "projects" / "loop.jsonl"
    loop.symlink_to(loop)
    code, out, _ = run(capsys, "--data-dir", str(agents), "scan")
    assert code == EXIT_UNREADABLE
    assert f"Could not read {loop}" in out


def test_store_from_a_newer_version_is_refused(
    agents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents.mkdir(parents=True)
    db = sqlite3.connect(agents / "usage.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    code, _, err = run(capsys, "--data-dir", str(agents), "report", "daily")
    assert code == EXIT_STORE
    assert "newer tokentray" in err


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "daily", "--tz", "Mars/Olympus"]) == 2
    assert "not an IANA time zone" in capsys.readouterr().err


def test_report_process_does_not_import_qt_or_prices(agents: Path) -> None:
    """Start-up stays lean: a report on priced data imports neither Qt nor genai-prices, nor
    the HTTP client, tiktoken, tomlkit, importlib.metadata or multiprocessing (issue 13)."""
    env = dict(os.environ)
    subprocess.run(
        [sys.executable, "-m", "tokentray.cli", "--data-dir", str(agents), "scan"],
        env=env,
        check=True,
        capture_output=True,
    )
    probe = (
        "import sys; from tokentray.cli import main; "
        f"main(['--data-dir', {str(agents)!r}, 'report', 'daily', '--json']); "
        "print([m for m in ('PySide6', 'pyqtgraph', 'genai_prices', 'pydantic', 'httpx', "
        "'tiktoken', 'tomlkit', 'importlib.metadata', 'multiprocessing') "
        "if m in sys.modules], "
        "file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_folders_and_agents_from_preferences_apply(
    agents: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, shared: Path
) -> None:
    """Codex disabled, and a second Claude folder added by hand."""
    extra = tmp_path / "elsewhere"
    (extra / "projects" / "-x").mkdir(parents=True)
    (extra / "projects" / "-x" / "s.jsonl").write_text(
        '{"type":"assistant","cwd":"/x","timestamp":"2026-10-03T10:00:00Z",'
        '"message":{"id":"extra-1","model":"claude-sonnet-4-5-20250929",'
        '"usage":{"input_tokens":1,"output_tokens":1000}}}\n'
    )
    config = tmp_path / "prefs.toml"
    config.write_text(
        '[sources]\ndisabled = ["codex"]\n'
        f'[[sources.folders]]\nsource = "claude-code"\npath = "{extra}"\n'
    )
    code, out, _ = run(
        capsys, "--data-dir", str(agents), "--config", str(config), "report", "daily", "--json"
    )
    assert code == 0
    rows = {r["period"]: r for r in json.loads(out)["rows"]}
    assert rows["2026-10-03"]["output_tokens"] == 1000
    assert not any("gpt-5-codex" in r["models"] for r in rows.values())


def test_doctor_reports_each_agent_and_a_silent_format_change(
    agents: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chats = tmp_path / "home" / ".gemini" / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    for n in range(3):  # a Gemini CLI that renamed "tokens": nothing parses any more
        (chats / f"session-{n}.jsonl").write_text(
            json.dumps(
                {
                    "id": f"g{n}",
                    "type": "gemini",
                    "model": "gemini-3-pro",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "usage": {"in": 5},
                }
            )
            + "\n"
        )
    code, out, _ = run(capsys, "--data-dir", str(agents), "doctor", "--json")
    assert code == 0
    doctor = json.loads(out)
    assert doctor["versions"]["tokentray"] and {c["name"] for c in doctor["checks"]} >= {
        "System tray",
        "Notifications",
        "Keyring",
        "Usage store",
    }
    report = {agent["source"]: agent for agent in doctor["agents"]}
    claude = report["claude-code"]
    assert claude["events"] == 12 and claude["skipped_lines"] == 1
    assert claude["first_problems"][0].startswith("11111111-1111-4111-8111-111111111111.jsonl:6:")
    assert report["opencode"]["folders"][0]["found"] is False
    gemini = report["gemini"]
    assert gemini["files"] == 3 and gemini["events"] == 0
    assert gemini["warning"].startswith("Gemini CLI: 0 requests found in 3 new files")
    code, out, _ = run(capsys, "--data-dir", str(agents), "doctor")
    assert "! Gemini CLI: 0 requests found" in out and "OpenCode: no folder found" in out


def test_prices_used_lists_every_model_with_its_provenance(
    agents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--data-dir", str(agents), "scan")
    code, out, _ = run(capsys, "--data-dir", str(agents), "prices", "--used")
    assert code == 0
    assert "claude-code claude-sonnet-4-5-20250929 (" in out
    assert "[genai-prices anthropic/claude-sonnet-4-5]" in out
    assert "prompt > 200,000 tokens: 6 / 22.5 / 0.6 / 7.5 / 12" in out
    assert "claude-experimental-x" in out and "no list price" in out
    code, _, err = run(capsys, "--data-dir", str(agents), "prices")
    assert code == 2 and "--used" in err
