"""Claude Code transcripts and git repositories made to order, for the insight tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-1-20250805"


def ms(text: str) -> int:
    """Milliseconds of an ISO time in UTC ("2026-10-01T09:00")."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def request(
    session: str,
    cwd: str,
    at: str,
    *,
    model: str = SONNET,
    branch: str | None = "main",
    input_tokens: int = 10,
    output_tokens: int = 100,
    cache_read: int = 0,
    write_5m: int = 0,
    write_1h: int = 0,
    n: int = 0,
) -> dict[str, object]:
    """One finished assistant response of a Claude Code transcript."""
    message_id = f"msg_{session[:8]}_{n}_{at}"
    record: dict[str, object] = {
        "type": "assistant",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.0",
        "uuid": f"{message_id}-u",
        "requestId": f"req_{message_id}",
        "timestamp": iso(ms(at)),
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "done"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": write_5m + write_1h,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": write_5m,
                    "ephemeral_1h_input_tokens": write_1h,
                },
            },
        },
    }
    if branch is not None:
        record["gitBranch"] = branch
    return record


def write_session(claude_home: Path, session: str, records: list[dict[str, object]]) -> Path:
    folder = claude_home / "projects" / "-made-for-tests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


class Repo:
    """A git repository built commit by commit, with author times chosen by the test."""

    def __init__(self, folder: Path, email: str = "me@example.com") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", email)
        self.git("config", "user.name", "Me")

    def git(self, *args: str, at: str | None = None, email: str | None = None) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.folder.parent)}
        if at:
            stamp = f"@{ms(at) // 1000} +0000"
            env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        if email:
            env |= {"GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email}
        done = subprocess.run(
            ["git", "-C", str(self.folder), *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(
        self, at: str, lines: int, *, name: str = "file.txt", email: str | None = None
    ) -> str:
        """A commit adding ``lines`` lines to ``name``; returns its sha."""
        path = self.folder / name
        old = path.read_text() if path.exists() else ""
        path.write_text(old + "".join(f"line {at} {i}\n" for i in range(lines)))
        self.git("add", name)
        self.git("commit", "-q", "-m", f"change at {at}", at=at, email=email)
        return self.git("rev-parse", "HEAD")

    def state(self) -> dict[str, bytes]:
        """Every file under .git with its bytes: a read-only look leaves it equal."""
        return {
            str(p.relative_to(self.folder)): p.read_bytes()
            for p in sorted((self.folder / ".git").rglob("*"))
            if p.is_file()
        }


class Cli:
    """`tokentray` as a process over the test's store (``tmp_path/data``), reading only
    the Claude folder given, with no Codex folder and a home of its own."""

    def __init__(self, tmp_path: Path, claude: Path, config: Path | None = None) -> None:
        self.env = {
            **os.environ,
            "CLAUDE_CONFIG_DIR": str(claude),
            "CODEX_HOME": str(tmp_path / "none"),
            "HOME": str(tmp_path / "home"),
        }
        self.command = [
            sys.executable,
            "-m",
            "tokentray.cli",
            "--data-dir",
            str(tmp_path / "data"),
            "--config",
            str(config or tmp_path / "none.toml"),
        ]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], env=self.env, capture_output=True, text=True, check=check
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.command, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
