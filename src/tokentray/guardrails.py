"""Guardrails on sessions: what the store knows of a session (its folder, its transcript)
handed to ``agents`` to find its processes, the action recorded, and which agents are
paused now. Used by the tray (alert actions, notification buttons, the sessions table)
and by ``tokentray agents``."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from tokentray import agents
from tokentray.agents import Action, ActionResult, AgentProcess, SessionAgent
from tokentray.store import Store


@dataclass(frozen=True, slots=True)
class PausedAgent:
    source: str
    session_id: str
    pids: tuple[int, ...]
    summary: str
    paused_ms: int


def locate(store: Store, source: str, session_id: str) -> SessionAgent:
    """The processes behind a session, as the store describes the session."""
    return agents.find(
        source,
        session_id,
        store.session_project(source, session_id),
        store.session_files(source, session_id),
    )


def perform(
    store: Store,
    action: Action,
    source: str,
    session_id: str,
    grace_s: float = 10.0,
    rule_id: str = "",
) -> ActionResult:
    """Pause, resume or stop a session's agent, and remember it. A resume acts on the
    processes the pause stopped (a stopped process can no longer be matched by what it
    is doing)."""
    agent = _paused_processes(store, source, session_id) if action == "resume" else None
    agent = agent or locate(store, source, session_id)
    result = agents.act(action, agent, grace_s)
    if result.acted:
        with store.transaction():
            store.record_agent_action(
                source, session_id, action, result.acted, result.summary(), rule_id
            )
    return result


def paused(store: Store) -> list[PausedAgent]:
    """Agents a guardrail paused that are still stopped."""
    found = []
    for source, session, action, pids, summary, when in store.last_agent_actions():
        if action == "pause" and agents.is_paused(pids):
            found.append(PausedAgent(source, session, tuple(pids), summary, when))
    return found


def _paused_processes(store: Store, source: str, session_id: str) -> SessionAgent | None:
    for src, session, action, pids, _summary, _when in store.last_agent_actions():
        if (src, session, action) != (source, session_id, "pause"):
            continue
        agent = SessionAgent(source, session_id, store.session_project(source, session_id))
        for index, pid in enumerate(pids):  # recorded as the pause acted: the agent first
            try:
                name = agents.program(psutil.Process(pid))
            except psutil.Error:
                continue
            why = "paused by tokentray" if index == 0 else f"child of {pids[0]}"
            agent.processes.append(AgentProcess(pid, name, "", "", why))
        return agent if agent.processes else None
    return None
