"""Guardrails: find the processes of the agent behind one session, and pause (SIGSTOP),
resume (SIGCONT) or stop (SIGTERM, then SIGKILL after a grace period) exactly those.

A session's agent is found by what ties a process to that session, never by a broad name
match: a process of the user's own that has the session's transcript open, or else the one
agent process (by its program name) whose working folder is the session's project. When
two agent processes share that folder and neither holds the transcript, nothing is done:
the caller is told which processes could be meant. The agent's children (shells, tools,
sub-agents) go with it. Other users' processes are never touched.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

log = logging.getLogger(__name__)

Action = Literal["pause", "resume", "stop"]

# Program names of each agent, as its process (or, for a Node program, its script) shows.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "claude-code": ("claude",),
    "codex": ("codex",),
    "gemini": ("gemini",),
    "qwen": ("qwen",),
    "opencode": ("opencode",),
    "copilot": ("copilot",),
    "copilot-otel": ("copilot",),
    "goose": ("goose",),
    "crush": ("crush",),
    "kimi": ("kimi",),
    "droid": ("droid",),
    "amp": ("amp",),
    "aider": ("aider",),
    "pi": ("pi",),
    "codebuff": ("codebuff",),
    "openclaw": ("openclaw",),
    "antigravity": ("antigravity",),
}
_INTERPRETERS = ("node", "bun", "deno", "python", "python3")


@dataclass(frozen=True, slots=True)
class AgentProcess:
    pid: int
    name: str
    command: str
    cwd: str
    why: str  # what ties it to the session, or "child of <pid>"

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}) in {self.cwd or '?'}: {self.why}"


@dataclass(slots=True)
class SessionAgent:
    """The processes one session's agent runs as, or why they cannot be told."""

    source: str
    session_id: str
    project: str
    processes: list[AgentProcess] = field(default_factory=list)  # roots first, then children
    problem: str = ""  # set when nothing may be acted on

    @property
    def found(self) -> bool:
        return bool(self.processes) and not self.problem

    def describe(self) -> str:
        if self.problem:
            return self.problem
        return "; ".join(p.describe() for p in self.processes)


@dataclass(slots=True)
class ActionResult:
    action: Action
    agent: SessionAgent
    acted: list[int] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)  # stop: those that needed SIGKILL
    gone: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.acted) and not self.refused

    def summary(self) -> str:
        verb = {"pause": "Paused", "resume": "Resumed", "stop": "Stopped"}[self.action]
        if not self.agent.found:
            return f"Nothing was {verb.lower()}: {self.agent.problem}"
        roots = [p for p in self.agent.processes if not p.why.startswith("child of")]
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in roots)
        children = len(self.agent.processes) - len(roots)
        kids = f" and {children} child process" + ("es" if children > 1 else "")
        text = f"{verb} {names}" + (kids if children else "")
        if self.killed:
            text += f"; {len(self.killed)} needed SIGKILL"
        if self.refused:
            text += f"; could not act on: {', '.join(self.refused)}"
        return text


def find(
    source: str,
    session_id: str,
    project: str,
    transcripts: Sequence[str],
    processes: Iterable[psutil.Process] | None = None,
) -> SessionAgent:
    """The processes behind one session (see the module's docstring)."""
    agent = SessionAgent(source, session_id, project)
    mine = [p for p in (processes or psutil.process_iter()) if _mine(p)]
    wanted = {os.path.realpath(t) for t in transcripts if t}
    holding = [p for p in mine if wanted and _holds(p, wanted)]
    if holding:
        roots = [(p, "has the session's transcript open") for p in _outermost(holding)]
    else:
        named = [p for p in mine if _is_agent(p, source) and _cwd(p) == project and project]
        outer = _outermost(named)
        if len(outer) > 1:
            agent.problem = (
                f"{len(outer)} {source} processes run in {project} and none holds the "
                f"session's transcript open, so which one is this session cannot be told: "
                + ", ".join(f"pid {p.pid}" for p in outer)
            )
            agent.processes = [_describe(p, "could be this session") for p in outer]
            return agent
        roots = [(p, f"{program(p)} running in the session's folder") for p in outer]
    if not roots:
        agent.problem = (
            f"no process of yours runs this {source} session (it may have ended, or run "
            "on another machine)"
        )
        return agent
    agent.processes = [_describe(p, why) for p, why in roots]
    seen = {p.pid for p, _why in roots}
    for root, _why in roots:
        for child in _children(root):
            if child.pid not in seen and _mine(child):
                seen.add(child.pid)
                agent.processes.append(_describe(child, f"child of {root.pid}"))
    return agent


def act(
    action: Action,
    agent: SessionAgent,
    grace_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ActionResult:
    """Pause, resume or stop the agent's processes (only those ``find`` returned), with
    psutil: SIGSTOP, SIGCONT, SIGTERM and SIGKILL on Linux and macOS, their equivalents on
    Windows."""
    result = ActionResult(action, agent)
    if not agent.found:
        return result
    roots = [p.pid for p in agent.processes if not p.why.startswith("child of")]
    children = [p.pid for p in agent.processes if p.why.startswith("child of")]
    if action == "pause":  # the parent first, so it cannot react to its children stopping
        _signal_all(roots + children, "suspend", result)
        _wait_until_stopped(result.acted, sleep)
    elif action == "resume":  # the children first, so the parent wakes to running tools
        _signal_all(list(reversed(roots + children)), "resume", result)
    else:
        _stop(roots + children, grace_s, sleep, result)
    return result


def _stop(
    pids: list[int], grace_s: float, sleep: Callable[[float], None], result: ActionResult
) -> None:
    _signal_all(pids, "terminate", result)
    for pid in pids:  # a paused process only sees SIGTERM once it runs again
        _call(pid, "resume")
    deadline = time.monotonic() + grace_s
    alive = list(result.acted)
    while alive and time.monotonic() < deadline:
        sleep(0.1)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:
        if _call(pid, "kill"):
            result.killed.append(pid)


def _wait_until_stopped(
    pids: list[int], sleep: Callable[[float], None], timeout_s: float = 2.0
) -> None:
    """A signal is delivered when the process next runs: a pause is done when it says so
    (a write under way finishes first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(_stopped_or_gone(pid) for pid in pids):
        sleep(0.01)


def _stopped_or_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True


def _signal_all(pids: list[int], method: str, result: ActionResult) -> None:
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if not _mine(process):
                raise psutil.AccessDenied(pid)
            getattr(process, method)()
        except psutil.NoSuchProcess:
            result.gone.append(pid)
        except psutil.AccessDenied:
            result.refused.append(f"pid {pid} (not yours)")
        else:
            result.acted.append(pid)


def _call(pid: int, method: str) -> bool:
    try:
        getattr(psutil.Process(pid), method)()
    except psutil.Error:
        return False
    return True


def _running(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_paused(pids: Iterable[int]) -> bool:
    """Whether any of these processes is still stopped (not resumed by someone else)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                return True
        except psutil.Error:
            continue
    return False


# -- matching ------------------------------------------------------------------------


def _mine(process: psutil.Process) -> bool:
    """A process of this user (by real uid; by account name where there are no uids)."""
    try:
        if process.pid == os.getpid():
            return False
        if hasattr(process, "uids"):
            return bool(process.uids().real == os.getuid())
        return bool(process.username() == psutil.Process().username())
    except psutil.Error:
        return False


def _holds(process: psutil.Process, wanted: set[str]) -> bool:
    try:
        return any(os.path.realpath(f.path) in wanted for f in process.open_files())
    except psutil.Error:
        return False


def _cwd(process: psutil.Process) -> str:
    try:
        return str(process.cwd())
    except psutil.Error:
        return ""


def program(process: psutil.Process) -> str:
    """The program a process runs: its name, or for an interpreter the script it runs."""
    try:
        name = process.name()
        if name.startswith(_INTERPRETERS):
            for arg in process.cmdline()[1:3]:
                if not arg.startswith("-"):
                    return Path(arg).name
        return name
    except psutil.Error:
        return ""


def _is_agent(process: psutil.Process, source: str) -> bool:
    runs = program(process).lower()
    names = PROGRAMS.get(source, ())  # editor extensions (Cline, Roo) have no process of their own
    return any(runs == name or runs.startswith(name + "-") for name in names)


def _outermost(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those whose parent is not in the list too (a wrapper and the agent it runs are one)."""
    pids = {p.pid for p in processes}
    outer = []
    for process in processes:
        try:
            ancestors = {a.pid for a in process.parents()}
        except psutil.Error:
            ancestors = set()
        if not ancestors & pids:
            outer.append(process)
    return outer


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []


def _describe(process: psutil.Process, why: str) -> AgentProcess:
    try:
        command = " ".join(process.cmdline())[:200]
    except psutil.Error:
        command = ""
    return AgentProcess(process.pid, program(process), command, _cwd(process), why)
