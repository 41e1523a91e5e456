"""A stand-in coding agent for the guardrail tests: appends a Claude Code usage line to its
transcript every 50 ms, as an agent working would, and runs a child process (a tool).

    fake_agent.py TRANSCRIPT SESSION [--hold] [--stubborn-child]

--hold keeps the transcript open (as Codex does); without it each line is appended with
open/close (as Claude Code does). --stubborn-child makes the child ignore SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime


def line(session: str, n: int) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "sessionId": session,
            "cwd": os.getcwd(),
            "message": {
                "id": f"msg_{session}_{n}_{time.monotonic_ns()}",
                "model": "claude-sonnet-4-5",
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        }
    )


def main() -> None:
    transcript, session = sys.argv[1], sys.argv[2]
    child_code = "import time\nwhile True: time.sleep(0.05)"
    if "--stubborn-child" in sys.argv:
        child_code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + (
            "while True: time.sleep(0.05)"
        )
    child = subprocess.Popen([sys.executable, "-c", child_code])
    signal.signal(signal.SIGTERM, lambda *_: (child.terminate(), sys.exit(0)))
    held = open(transcript, "a") if "--hold" in sys.argv else None  # noqa: SIM115
    print("ready", child.pid, flush=True)
    for n in itertools.count():
        if held is not None:
            held.write(line(session, n) + "\n")
            held.flush()
        else:
            with open(transcript, "a") as handle:
                handle.write(line(session, n) + "\n")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
