"""Guardrails on real processes: a stand-in agent that appends to its transcript, with a
child, next to decoys. Pause, resume and stop must act on exactly the session's processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from conftest import EngineFactory
from tokentray import guardrails
from tokentray.cli import main
from tokentray.engine import Engine

HELPER = Path(__file__).parent / "helpers" / "fake_agent.py"
SESSION = "aaaaaaaa-1111-4111-8111-111111111111"
OTHER = "bbbbbbbb-2222-4222-8222-222222222222"


class Agent:
    def __init__(self, process: subprocess.Popen[str], child_pid: int) -> None:
        self.process = process
        self.child = child_pid

    @property
    def pids(self) -> set[int]:
        return {self.process.pid, self.child}


def _status(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def _wait_for(check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Agent] = []

    def start(project: Path, session: str, *flags: str, program: Path | None = None) -> Agent:
        project.mkdir(parents=True, exist_ok=True)
        folder = tmp_path / "claude" / "projects" / "-p"
        folder.mkdir(parents=True, exist_ok=True)
        transcript = folder / f"{session}.jsonl"
        command = [str(program)] if program else [sys.executable, str(HELPER)]
        process = subprocess.Popen(
            [*command, str(transcript), session, *flags],
            cwd=project,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = process.stdout.readline().split() if process.stdout else []
        assert ready and ready[0] == "ready"
        agent = Agent(process, int(ready[1]))
        started.append(agent)
        assert _wait_for(lambda: transcript.exists() and transcript.stat().st_size > 0)
        return agent

    yield start
    for agent in started:
        for pid in agent.pids:
            for number in (signal.SIGCONT, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, number)
        agent.process.wait(5)


def _engine(make_engine: EngineFactory, tmp_path: Path) -> Engine:
    engine = make_engine(claude=tmp_path / "claude")
    engine.ingestor.scan()
    return engine


def _as_claude(tmp_path: Path) -> Path:
    """The stand-in agent as a program named ``claude`` (its process name)."""
    program = tmp_path / "bin" / "claude"
    program.parent.mkdir(exist_ok=True)
    program.write_text(f"#!{sys.executable}\n" + HELPER.read_text())
    program.chmod(0o755)
    return program


def test_pause_and_resume_act_on_exactly_the_sessions_processes(
    tmp_path: Path,
    spawn,
    make_engine: EngineFactory,  # type: ignore[no-untyped-def]
) -> None:
    project = tmp_path / "work" / "app"
    agent = spawn(project, SESSION, "--hold")
    decoy_same_folder = spawn(project, OTHER, "--hold")  # another session, same folder
    engine = _engine(make_engine, tmp_path)

    result = guardrails.perform(engine.store, "pause", "claude-code", SESSION)
    assert set(result.acted) == agent.pids, result.summary()
    assert all(_status(pid) == psutil.STATUS_STOPPED for pid in agent.pids)
    assert all(_status(pid) != psutil.STATUS_STOPPED for pid in decoy_same_folder.pids)
    transcript = tmp_path / "claude" / "projects" / "-p" / f"{SESSION}.jsonl"
    size = transcript.stat().st_size
    time.sleep(0.3)
    assert transcript.stat().st_size == size  # the agent no longer writes
    assert [p.session_id for p in guardrails.paused(engine.store)] == [SESSION]
    assert "has the session's transcript open" in result.agent.describe()

    resumed = guardrails.perform(engine.store, "resume", "claude-code", SESSION)
    assert set(resumed.acted) == agent.pids
    assert _wait_for(lambda: transcript.stat().st_size > size)
    assert guardrails.paused(engine.store) == []


def test_stop_ends_the_agent_and_kills_what_ignores_sigterm(
    tmp_path: Path,
    spawn,
    make_engine: EngineFactory,  # type: ignore[no-untyped-def]
) -> None:
    project = tmp_path / "work" / "app"
    agent = spawn(project, SESSION, "--hold", "--stubborn-child")
    decoy = spawn(tmp_path / "work" / "other", OTHER, "--hold")
    engine = _engine(make_engine, tmp_path)
    guardrails.perform(engine.store, "pause", "claude-code", SESSION)  # stop works when paused

    result = guardrails.perform(engine.store, "stop", "claude-code", SESSION, grace_s=1.0)
    assert set(result.acted) == agent.pids
    assert result.killed == [agent.child]  # it ignored SIGTERM
    agent.process.wait(5)
    assert _wait_for(lambda: all(_status(p) in ("gone", "zombie") for p in agent.pids))
    assert all(_status(pid) not in ("gone", "stopped") for pid in decoy.pids)


def test_found_by_program_name_and_folder_when_the_transcript_is_not_held(
    tmp_path: Path,
    spawn,
    make_engine: EngineFactory,  # type: ignore[no-untyped-def]
) -> None:
    """Claude Code opens its transcript only to append: a process named claude working
    in the session's folder is it."""
    program = _as_claude(tmp_path)
    agent = spawn(tmp_path / "work" / "app", SESSION, program=program)
    engine = _engine(make_engine, tmp_path)
    found = guardrails.locate(engine.store, "claude-code", SESSION)
    assert found.found, found.problem
    assert {p.pid for p in found.processes} == agent.pids
    assert found.processes[0].name == "claude"
    assert "running in the session's folder" in found.processes[0].why


def test_two_candidates_and_no_transcript_held_means_nothing_is_done(
    tmp_path: Path,
    spawn,
    make_engine: EngineFactory,  # type: ignore[no-untyped-def]
) -> None:
    program = _as_claude(tmp_path)
    project = tmp_path / "work" / "app"
    first = spawn(project, SESSION, program=program)
    second = spawn(project, OTHER, program=program)
    engine = _engine(make_engine, tmp_path)
    result = guardrails.perform(engine.store, "pause", "claude-code", SESSION)
    assert result.acted == [] and not result.ok
    assert "cannot be told" in result.summary()
    assert all(_status(pid) != psutil.STATUS_STOPPED for pid in first.pids | second.pids)


def test_a_program_merely_named_like_an_agent_elsewhere_is_left_alone(
    tmp_path: Path,
    spawn,
    make_engine: EngineFactory,  # type: ignore[no-untyped-def]
) -> None:
    """A session whose agent has ended: the claude working in another folder (another
    session) is not it, however alike its name."""
    program = _as_claude(tmp_path)
    other = spawn(tmp_path / "work" / "elsewhere", OTHER, program=program)
    ended = tmp_path / "claude" / "projects" / "-p" / f"{SESSION}.jsonl"
    ended.write_text(
        '{"type":"assistant","timestamp":"2026-11-30T10:00:00Z","sessionId":"s",'
        f'"cwd":"{tmp_path / "work" / "app"}","message":{{"id":"m1","model":"claude-sonnet-4-5",'
        '"usage":{"input_tokens":1,"output_tokens":1}}}\n'
    )
    engine = _engine(make_engine, tmp_path)
    result = guardrails.perform(engine.store, "pause", "claude-code", SESSION)
    assert not result.ok and "no process of yours" in result.summary()
    assert all(_status(pid) != psutil.STATUS_STOPPED for pid in other.pids)


def test_the_command_line_shows_the_processes_before_acting(
    tmp_path: Path,
    spawn,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = spawn(tmp_path / "work" / "app", SESSION, "--hold")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    data = ["--data-dir", str(tmp_path / "data")]
    # Without a terminal and without --yes nothing is done.
    assert main([*data, "agents", "pause", SESSION[:8]]) == 6
    out = capsys.readouterr()
    assert f"pid {agent.process.pid}" in out.out and "add --yes" in out.err
    assert _status(agent.process.pid) != psutil.STATUS_STOPPED
    assert main([*data, "agents", "pause", SESSION[:8], "--yes"]) == 0
    assert capsys.readouterr().out.strip().endswith("and 1 child process")
    assert _status(agent.process.pid) == psutil.STATUS_STOPPED
    assert main([*data, "agents", "list"]) == 0
    assert "(paused)" in capsys.readouterr().out
    assert main([*data, "agents", "resume", SESSION]) == 0
    assert _status(agent.process.pid) != psutil.STATUS_STOPPED
