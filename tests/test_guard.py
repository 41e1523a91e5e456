"""`tokentray guard` as a Claude Code hook: the JSON Claude Code sends, the exit codes it
acts on (2 blocks the tool call and shows stderr), and the transcript read on the spot."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tokentray.guard import EXIT_BLOCK, EXIT_FAILED, EXIT_GO, run


def _response(session: str, n: int, input_tokens: int) -> str:
    stamp = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": stamp,
            "sessionId": session,
            "cwd": "/home/dev/app",
            "message": {
                "id": f"msg_{session}_{n}",
                "model": "claude-opus-4-1-20250805",
                "usage": {"input_tokens": input_tokens, "output_tokens": 10},
            },
        }
    )


class Setup:
    def __init__(self, tmp_path: Path, rules: str = "") -> None:
        self.root = tmp_path
        self.projects = tmp_path / "claude" / "projects" / "-home-dev-app"
        self.projects.mkdir(parents=True)
        self.config = tmp_path / "config.toml"
        self.config.write_text("[budget]\ndaily_usd = 1.0\n" + rules)
        self.env = {
            "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
            "CODEX_HOME": str(tmp_path / "none"),
            "HOME": str(tmp_path / "home"),
        }

    def transcript(self, session: str, *input_tokens: int) -> Path:
        path = self.projects / f"{session}.jsonl"
        lines = [_response(session, n, tokens) for n, tokens in enumerate(input_tokens)]
        path.write_text("\n".join(lines) + "\n")
        return path

    def hook(self, session: str, event: str = "PreToolUse", **env: str) -> tuple[int, str]:
        payload = {
            "session_id": session,
            "transcript_path": str(self.projects / f"{session}.jsonl"),
            "cwd": "/home/dev/app",
            "hook_event_name": event,
            "tool_name": "Bash",
            "tool_input": {"command": "make test"},
        }
        err = io.StringIO()
        argv = ["--data-dir", str(self.root / "data"), "--config", str(self.config), "guard"]
        code = run(argv, io.StringIO(json.dumps(payload)), err, {**self.env, **env})
        return code, err.getvalue()


def test_under_the_budget_the_tool_call_goes_ahead(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.transcript("s1", 1000)  # opus input at $15/M: $0.015
    assert setup.hook("s1") == (EXIT_GO, "")


def test_over_the_daily_budget_the_agent_is_told_to_stop(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.transcript("s1", 100_000)  # $1.50: over the $1 budget, read by the guard itself
    code, said = setup.hook("s1")
    assert code == EXIT_BLOCK
    assert said.count("\n") == 1  # one line
    assert said.startswith("tokentray guard: Daily budget is over its limit: $1.5")
    assert "TOKENTRAY_GUARD_OFF=1" in said


def test_never_blocks_where_exit_2_means_something_else(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.transcript("s1", 100_000)
    # On a Stop hook, 2 would keep the agent going: the opposite of a guard.
    assert setup.hook("s1", event="Stop") == (EXIT_GO, "")
    assert setup.hook("s1", event="UserPromptSubmit")[0] == EXIT_BLOCK
    assert setup.hook("s1", TOKENTRAY_GUARD_OFF="1") == (EXIT_GO, "")


def test_a_per_session_rule_stops_only_that_session(tmp_path: Path) -> None:
    rule = (
        '[[alerts.rules]]\nid = "session-cap"\nname = "Session cap"\nkind = "total"\n'
        'metric = "usd"\nthreshold = 0.5\nscope = "session"\nwindow = "day"\n'
    )
    setup = Setup(tmp_path, rule.replace("[budget]", ""))
    setup.config.write_text("[budget]\ndaily_usd = 0\n" + rule)
    setup.transcript("big", 50_000)  # $0.75
    setup.transcript("small", 1000)
    code, said = setup.hook("big")
    assert code == EXIT_BLOCK and "Session cap" in said
    assert setup.hook("small") == (EXIT_GO, "")


@pytest.mark.parametrize("stdin", ["not json", "[]"])
def test_input_that_is_not_a_hook_is_said_and_never_blocks(tmp_path: Path, stdin: str) -> None:
    err = io.StringIO()
    code = run(["guard"], io.StringIO(stdin), err, {})
    assert code == EXIT_FAILED and err.getvalue().startswith("tokentray guard: the hook input")


def test_guard_as_claude_code_runs_it(tmp_path: Path) -> None:
    """The real command in its own process, with the JSON a PreToolUse hook gets."""
    setup = Setup(tmp_path)
    setup.transcript("s1", 100_000)
    payload = {
        "session_id": "s1",
        "transcript_path": str(setup.projects / "s1.jsonl"),
        "cwd": "/home/dev/app",
        "hook_event_name": "PreToolUse",
        "tool_name": "Edit",
        "tool_input": {"file_path": "/home/dev/app/x.py"},
    }
    script = Path(sys.executable).with_name("tokentray")
    done = subprocess.run(
        [str(script), "--data-dir", str(tmp_path / "data"), "--config", str(setup.config), "guard"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**setup.env, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Daily budget is over its limit" in done.stderr
    assert done.stdout == ""
