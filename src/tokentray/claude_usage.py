"""Claude's plan windows from the usage endpoint Claude Code's ``/usage`` reads (opt-in).

``GET https://api.anthropic.com/api/oauth/usage`` with Claude Code's own access token as
Bearer and ``anthropic-beta: oauth-2025-04-20`` answers one object per window
(``five_hour``, ``seven_day``, ``seven_day_opus``, ``seven_day_sonnet``, … each with
``utilization`` 0-100 and ``resets_at``; unknown windows are kept under their own name)
and ``extra_usage`` (money in minor units: cents).

The token is read fresh before each poll from Claude Code's credentials file
(``$CLAUDE_CONFIG_DIR`` or ``~/.claude``: ``.credentials.json``; on macOS the
``Claude Code-credentials`` keychain item). tokentray never refreshes, copies or writes
it: an expired token, or a 401, means "sign in again in Claude Code", and the last
figures stay, marked stale by their age. Polls come at most every 3 minutes, and back off
on 429 (honouring Retry-After) and on server errors.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tokentray.events import PlanSample, plausible_plan
from tokentray.plans import moment_ms
from tokentray.store import Store

log = logging.getLogger(__name__)

USAGE_URL = "https://api.anthropic.com/api/oauth/usage"
BETA_HEADER = "oauth-2025-04-20"
URL_VARIABLE = "TOKENTRAY_CLAUDE_USAGE_URL"  # a stand-in server (tests, proxies)
MIN_INTERVAL_S = 180
MAX_BACKOFF_S = 3600
STATE_KEY = "claude_usage_state"
SIGN_IN_AGAIN = "sign in again in Claude Code (its sign-in has expired or was revoked)"
_MINUTES = {"five_hour": 300}
KEYCHAIN_SERVICE = "Claude Code-credentials"


class SignedOut(Exception):  # noqa: N818 - a state, said to the user as it is
    """No usable Claude Code sign-in: the message says what to do."""


@dataclass(slots=True)
class UsageState:
    status: str = "not checked"  # ok, signed out, rate limited, error, not checked
    message: str = ""
    last_ok_ms: int | None = None
    next_poll_ms: int = 0
    failures: int = 0

    @property
    def stale(self) -> bool:
        return self.status != "ok"


def access_token(env: Mapping[str, str], home: Path, platform: str = sys.platform) -> str:
    """Claude Code's current access token, read now; SignedOut when there is none usable."""
    raw = _credentials(env, home, platform)
    oauth = raw.get("claudeAiOauth") if isinstance(raw, dict) else None
    token = oauth.get("accessToken") if isinstance(oauth, dict) else None
    if not isinstance(token, str) or not token:
        raise SignedOut("Claude Code is not signed in with a Claude subscription here")
    expires = oauth.get("expiresAt") if isinstance(oauth, dict) else None
    if isinstance(expires, int | float) and expires < time.time() * 1000:
        raise SignedOut(SIGN_IN_AGAIN)
    return token


def _credentials(env: Mapping[str, str], home: Path, platform: str) -> Any:
    configured = [p for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    folders = [Path(p.strip()).expanduser() for p in configured] or [home / ".claude"]
    for folder in folders:
        path = folder / ".credentials.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise SignedOut(f"Claude Code's credentials file {path} cannot be read: {exc}") from exc
    if platform == "darwin":
        return _keychain()
    raise SignedOut("Claude Code's credentials were not found (sign in with `claude` first)")


def _keychain() -> Any:
    try:
        done = subprocess.run(
            ["security", "find-generic-password", "-s", KEYCHAIN_SERVICE, "-w"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SignedOut(f"the macOS keychain could not be read: {exc}") from exc
    if done.returncode != 0:
        raise SignedOut("Claude Code's sign-in was not found in the keychain")
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise SignedOut("Claude Code's keychain item is not what was expected") from exc


def parse_usage(body: Any, now_ms: int) -> list[PlanSample]:
    """The windows in an answer; ValueError when it is not a usage answer at all."""
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    if any(not isinstance(body.get(k), dict | None) for k in ("five_hour", "seven_day")):
        raise ValueError("its windows are not objects")
    samples = []
    for name, window in body.items():
        if not isinstance(window, dict) or not isinstance(name, str):
            continue  # null windows: not on this plan
        if name == "extra_usage":
            sample = _extra_usage(window, now_ms)
        else:
            used = window.get("utilization")
            if not isinstance(used, int | float) or isinstance(used, bool):
                continue
            sample = PlanSample(
                "claude-code",
                name,
                now_ms,
                float(used),
                moment_ms(window.get("resets_at")),
                _MINUTES.get(name, 7 * 1440 if name.startswith("seven_day") else None),
                "usage endpoint",
            )
        if sample is not None and plausible_plan(sample):
            samples.append(sample)
    if not samples and not any(k in body for k in ("five_hour", "seven_day")):
        raise ValueError("the answer has no usage windows")
    return samples


def _extra_usage(window: dict[str, Any], now_ms: int) -> PlanSample | None:
    """Paid usage beyond the plan: its share of the monthly limit (amounts are cents)."""
    if not window.get("is_enabled"):
        return None
    used, limit = window.get("used_credits"), window.get("monthly_limit")
    share = window.get("utilization")
    if not isinstance(share, int | float):
        if not isinstance(used, int | float) or not isinstance(limit, int | float) or limit <= 0:
            return None
        share = 100.0 * used / limit
    return PlanSample(
        "claude-code", "extra_usage", now_ms, float(share), None, None, "usage endpoint"
    )


class ClaudeUsagePoller:
    """Polls when due, records the windows, keeps its state in the store's meta table (so a
    restart honours the interval and the back-off)."""

    def __init__(
        self,
        store: Store,
        env: Mapping[str, str],
        home: Path | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        platform: str = sys.platform,
    ) -> None:
        self.store = store
        self.env = dict(env)
        self.home = home or Path.home()
        self.clock = clock
        self.timeout = timeout
        self.platform = platform
        self.url = self.env.get(URL_VARIABLE) or USAGE_URL

    def state(self) -> UsageState:
        raw = self.store.get_meta(STATE_KEY)
        try:
            return UsageState(**json.loads(raw)) if raw else UsageState()
        except (TypeError, ValueError):
            return UsageState()

    def poll_due(self, force: bool = False) -> UsageState:
        state = self.state()
        now_ms = int(self.clock() * 1000)
        if not force and now_ms < state.next_poll_ms:
            return state
        try:
            token = access_token(self.env, self.home, self.platform)
        except SignedOut as exc:
            return self._save(state, "signed out", str(exc), now_ms + MIN_INTERVAL_S * 1000)
        return self._fetch(state, token, now_ms)

    def _fetch(self, state: UsageState, token: str, now_ms: int) -> UsageState:
        headers = {
            "Authorization": f"Bearer {token}",
            "anthropic-beta": BETA_HEADER,
            "Accept": "application/json",
            "User-Agent": "tokentray",
        }
        try:
            response = httpx.get(self.url, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return self._failed(state, "error", f"could not reach it ({type(exc).__name__})")
        if response.status_code in (401, 403):
            return self._save(state, "signed out", SIGN_IN_AGAIN, now_ms + MIN_INTERVAL_S * 1000)
        if response.status_code == 429:
            wait = _retry_after(response.headers.get("retry-after"))
            return self._failed(state, "rate limited", "asked to slow down", wait)
        if response.status_code >= 400:
            return self._failed(state, "error", f"answered HTTP {response.status_code}")
        try:
            samples = parse_usage(response.json(), now_ms)
        except ValueError as exc:
            return self._failed(state, "error", f"answered something unexpected ({exc})")
        with self.store.transaction():
            self.store.record_plan_samples(samples)
        state.failures, state.last_ok_ms = 0, now_ms
        return self._save(state, "ok", f"{len(samples)} windows", now_ms + MIN_INTERVAL_S * 1000)

    def _failed(
        self, state: UsageState, status: str, message: str, wait_s: float | None = None
    ) -> UsageState:
        state.failures += 1
        backoff = wait_s or min(MAX_BACKOFF_S, MIN_INTERVAL_S * 2 ** (state.failures - 1))
        backoff = max(backoff, MIN_INTERVAL_S)
        now_ms = int(self.clock() * 1000)
        log.info("Claude usage check: %s", message)
        return self._save(state, status, message, now_ms + int(backoff * 1000))

    def _save(self, state: UsageState, status: str, message: str, next_ms: int) -> UsageState:
        state.status, state.message, state.next_poll_ms = status, message, next_ms
        with self.store.transaction():
            self.store.set_meta(STATE_KEY, json.dumps(asdict(state)))
        return state


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF_S, float(value)) if value else None
    except ValueError:
        return None
