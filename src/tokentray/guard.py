"""``tokentray guard``: a Claude Code hook that stops an unattended agent cleanly.

Set as a ``PreToolUse`` (or ``UserPromptSubmit``) hook, Claude Code runs it before every
tool call with a JSON object on stdin (``session_id``, ``transcript_path``, ``cwd``,
``hook_event_name``, ``tool_name``, …). It reads the session's transcript up to date,
evaluates the alert rules, and when one is at its critical level for everything or for
this session (a daily budget spent, a plan window full, this session running away) it
exits with code 2 and one line on stderr: Claude Code then refuses the tool call (or the
prompt) and shows the reason, and the agent stops itself instead of burning on.

Exit codes: 0 go on; 2 blocked, with the reason; 1 the check itself failed (Claude Code
shows the message and goes on: a broken guard never halts work silently).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tokentray.alerts.engine import Alert

EXIT_GO, EXIT_FAILED, EXIT_BLOCK = 0, 1, 2
# Events where exit 2 means "do not do this"; on others (Stop) it would mean the opposite.
BLOCKING_EVENTS = ("PreToolUse", "UserPromptSubmit")
OFF_VARIABLE = "TOKENTRAY_GUARD_OFF"
BUSY_TIMEOUT_S = 2.0  # the agent waits on this hook: a long write elsewhere is not awaited
MAX_INPUT_BYTES = 4 << 20

log = logging.getLogger(__name__)


def run(
    argv: Sequence[str],
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
    env: dict[str, str] | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    env = dict(os.environ if env is None else env)
    try:
        payload = _payload(stdin)
    except ValueError as exc:
        stderr.write(f"tokentray guard: {exc}\n")
        return EXIT_FAILED
    event = payload.get("hook_event_name", "PreToolUse")
    if event not in BLOCKING_EVENTS or env.get(OFF_VARIABLE):
        return EXIT_GO
    try:
        blocking = over_limits(argv, payload, env)
    except Exception as exc:
        stderr.write(f"tokentray guard: could not check the limits ({exc}); going on\n")
        return EXIT_FAILED
    if not blocking:
        return EXIT_GO
    stderr.write(reason(blocking[0], len(blocking)) + "\n")
    return EXIT_BLOCK


def _payload(stdin: TextIO) -> dict[str, Any]:
    text = stdin.read(MAX_INPUT_BYTES)
    try:
        payload = json.loads(text) if text.strip() else {}
    except ValueError:
        raise ValueError(
            "the hook input is not JSON (is this set as a Claude Code hook?)"
        ) from None
    if not isinstance(payload, dict):
        raise ValueError("the hook input is not a JSON object")
    return payload


def over_limits(argv: Sequence[str], payload: dict[str, Any], env: dict[str, str]) -> list[Alert]:
    """The critical alerts that concern this session: rules over everything (or an agent,
    project or model), and per-session rules about this session."""
    from tokentray.alerts.engine import AlertEngine  # noqa: PLC0415
    from tokentray.cli import option_value  # noqa: PLC0415
    from tokentray.engine import local_zone, open_engine  # noqa: PLC0415
    from tokentray.settings import load_settings  # noqa: PLC0415

    data_dir, config = option_value(argv, "--data-dir"), option_value(argv, "--config")
    settings = load_settings(Path(config) if config else None)
    engine = open_engine(
        data_dir, settings=settings, env=env, integrity="never", busy_timeout_s=BUSY_TIMEOUT_S
    )
    with engine.store:
        _read_transcript(engine, payload)
        session = str(payload.get("session_id") or "")
        alerts = AlertEngine(engine.store, settings.rules(), local_zone()).evaluate(
            datetime.now(UTC)
        )
    return [a for a in alerts if a.level == "critical" and _concerns(a, session)]


def _read_transcript(engine: Any, payload: dict[str, Any]) -> None:
    """Bring this session's own transcript up to date (the tray may not be running); a
    store busy with another writer is read as it stands."""
    transcript = payload.get("transcript_path")
    if not isinstance(transcript, str) or not transcript:
        return
    try:
        engine.ingestor.scan([Path(transcript)])
    except Exception as exc:
        log.info("guard: could not read %s: %s", transcript, exc)


def _concerns(alert: Alert, session: str) -> bool:
    per_session = alert.rule.scope == "session" or alert.rule.kind == "runaway"
    if not per_session:
        return True
    return bool(session) and alert.culprit.get("session") == session


def reason(alert: Alert, count: int) -> str:
    """One line Claude Code shows: what limit, the figure, what to do."""
    figure = alert.message().splitlines()[0]
    more = f" (and {count - 1} more)" if count > 1 else ""
    return (
        f"tokentray guard: {alert.rule.name} is over its limit{more}: {figure}. "
        "Stop here and tell the user; they can raise the limit in tokentray's Preferences "
        f"or set {OFF_VARIABLE}=1."
    )
