"""The Claude usage endpoint (opt-in), against a real HTTP server on 127.0.0.1: the token
read fresh from Claude Code's credentials and never written, the windows recorded,
401 → sign in again with the last figures kept, 429 and 5xx backed off, garbage said."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tokentray.claude_usage import (
    MIN_INTERVAL_S,
    SIGN_IN_AGAIN,
    URL_VARIABLE,
    ClaudeUsagePoller,
    access_token,
    parse_usage,
)
from tokentray.store import Store

ANSWER = {
    "five_hour": {"utilization": 24.0, "resets_at": "2026-12-01T19:59:59.600956+00:00"},
    "seven_day": {"utilization": 36.0, "resets_at": "2026-12-08T06:59:59+00:00"},
    "seven_day_sonnet": {"utilization": 1.0, "resets_at": None},
    "seven_day_opus": None,
    "iguana_necktie": {"utilization": 7.5, "resets_at": "2026-12-03T00:00:00Z"},
    "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 1250},
}


class FakeAnthropic:
    def __init__(self) -> None:
        self.replies: list[tuple[int, Any, dict[str, str]]] = []
        self.seen: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.seen.append({"path": self.path, **dict(self.headers.items())})
                status, body, headers = fake.replies.pop(0) if fake.replies else (200, ANSWER, {})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/oauth/usage"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    yield fake
    fake.server.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _credentials(folder: Path, token: str, expires_ms: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".credentials.json"
    expires = expires_ms if expires_ms is not None else (time.time() + 3600) * 1000
    path.write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": token,
                    "refreshToken": "refresh-never-used",
                    "expiresAt": expires,
                    "subscriptionType": "max",
                }
            }
        )
    )
    return path


def _poller(tmp_path: Path, anthropic: FakeAnthropic, clock: Clock) -> ClaudeUsagePoller:
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), URL_VARIABLE: anthropic.url}
    store = Store(tmp_path / "usage.sqlite3")
    return ClaudeUsagePoller(store, env, home=tmp_path / "home", clock=clock, platform="linux")


def test_windows_are_recorded_and_the_token_is_only_read(
    tmp_path: Path, anthropic: FakeAnthropic
) -> None:
    credentials = _credentials(tmp_path / "claude", "token-1")
    before = (credentials.read_bytes(), credentials.stat().st_mtime_ns)
    clock = Clock()
    poller = _poller(tmp_path, anthropic, clock)
    state = poller.poll_due()
    assert state.status == "ok", state.message
    request = anthropic.seen[0]
    assert request["Authorization"] == "Bearer token-1"
    assert request["anthropic-beta"] == "oauth-2025-04-20"
    found = {s.window: s for s in poller.store.plan_latest()}
    assert found["five_hour"].used_pct == 24.0 and found["five_hour"].window_minutes == 300
    assert found["seven_day"].window_minutes == 10080
    assert found["seven_day_sonnet"].resets_ms is None
    assert found["iguana_necktie"].used_pct == 7.5  # an unknown window, kept by its name
    assert found["extra_usage"].used_pct == 25.0  # 1250 of 5000 cents
    assert "seven_day_opus" not in found
    assert (credentials.read_bytes(), credentials.stat().st_mtime_ns) == before
    assert not list(credentials.parent.glob("*.tmp*"))

    # At most every 3 minutes; the token is read again before the next poll.
    assert poller.poll_due().status == "ok" and len(anthropic.seen) == 1
    _credentials(tmp_path / "claude", "token-2")
    clock.now += MIN_INTERVAL_S
    poller.poll_due()
    assert anthropic.seen[-1]["Authorization"] == "Bearer token-2"


def test_a_401_says_sign_in_again_and_keeps_the_last_figures(
    tmp_path: Path, anthropic: FakeAnthropic
) -> None:
    _credentials(tmp_path / "claude", "token-1")
    clock = Clock()
    poller = _poller(tmp_path, anthropic, clock)
    poller.poll_due()
    anthropic.replies.append((401, {"error": "invalid token"}, {}))
    clock.now += MIN_INTERVAL_S
    state = poller.poll_due()
    assert state.status == "signed out" and state.message == SIGN_IN_AGAIN
    assert {s.window for s in poller.store.plan_latest()} >= {"five_hour", "seven_day"}


def test_an_expired_token_is_not_sent(tmp_path: Path, anthropic: FakeAnthropic) -> None:
    _credentials(tmp_path / "claude", "old", expires_ms=(time.time() - 60) * 1000)
    state = _poller(tmp_path, anthropic, Clock()).poll_due()
    assert state.status == "signed out" and "sign in again" in state.message
    assert anthropic.seen == []


def test_429_is_backed_off_as_asked_and_5xx_ever_longer(
    tmp_path: Path, anthropic: FakeAnthropic
) -> None:
    _credentials(tmp_path / "claude", "token-1")
    clock = Clock()
    poller = _poller(tmp_path, anthropic, clock)
    anthropic.replies.append((429, {"error": "rate"}, {"Retry-After": "900"}))
    state = poller.poll_due()
    assert state.status == "rate limited"
    assert state.next_poll_ms == pytest.approx(clock.now * 1000 + 900_000, abs=5)
    clock.now += 900
    anthropic.replies += [(500, b"oops", {}), (502, b"", {})]
    first = poller.poll_due().next_poll_ms - clock.now * 1000
    clock.now += first / 1000 + 1
    second = poller.poll_due().next_poll_ms - clock.now * 1000
    assert second > first >= MIN_INTERVAL_S * 1000
    # A restart keeps the back-off: the state is in the store.
    assert ClaudeUsagePoller(poller.store, {}, clock=clock).state().failures == 3


@pytest.mark.parametrize("body", [b"<html>login</html>", b"[]", b'{"five_hour": "lots"}'])
def test_garbage_is_said_and_stores_nothing(
    tmp_path: Path, anthropic: FakeAnthropic, body: bytes
) -> None:
    _credentials(tmp_path / "claude", "token-1")
    anthropic.replies.append((200, body, {}))
    poller = _poller(tmp_path, anthropic, Clock())
    state = poller.poll_due()
    assert state.status == "error" and "unexpected" in state.message
    assert poller.store.plan_latest() == []


def test_no_credentials_say_how_to_sign_in(tmp_path: Path) -> None:
    from tokentray.claude_usage import SignedOut

    with pytest.raises(SignedOut, match="sign in with `claude`"):
        access_token({}, tmp_path, platform="linux")
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text("{not json")
    with pytest.raises(SignedOut, match="cannot be read"):
        access_token({}, tmp_path, platform="linux")


def test_parse_refuses_what_is_not_a_usage_answer() -> None:
    with pytest.raises(ValueError):
        parse_usage({"error": {"type": "permission_error"}}, 0)
    assert parse_usage({"five_hour": None, "seven_day": None}, 0) == []
