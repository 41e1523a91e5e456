"""Subscription plan windows (Claude Pro/Max, ChatGPT Plus/Pro): how much of each 5-hour
or weekly window is used, how fast, and whether it will run out before it resets.

Readings come from Codex's own logs (``rate_limits``), Claude Code's status line and,
opted in, the Claude usage endpoint; they are stored as ``PlanSample`` rows. This module
turns the latest reading of each window into what the tray, the status line, the
``report limits`` command and the alert rules show. No I/O but the store's reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from tokentray.events import PlanSample

# Windows by the vendors' own names; unknown names are shown as they are spelt.
_NAMED = {
    "five_hour": ("5-hour", 300),
    "seven_day": ("weekly", 7 * 1440),
    "seven_day_opus": ("weekly Opus", 7 * 1440),
    "seven_day_sonnet": ("weekly Sonnet", 7 * 1440),
    "seven_day_oauth_apps": ("weekly apps", 7 * 1440),
}
_AGENTS = {"codex": "Codex", "claude-code": "Claude"}
# A reading older than this, whose window has not reset, is shown as possibly stale.
STALE_AFTER_MS = 30 * 60_000


@dataclass(frozen=True, slots=True)
class PlanWindow:
    """The latest reading of one plan window, as seen at ``now_ms``."""

    sample: PlanSample
    now_ms: int

    @property
    def minutes(self) -> int | None:
        if self.sample.window_minutes:
            return self.sample.window_minutes
        named = _NAMED.get(self.sample.window)
        return named[1] if named else None

    @property
    def label(self) -> str:
        """``Claude 5-hour``, ``Codex weekly``: the agent and the window's span."""
        agent = _AGENTS.get(self.sample.source, self.sample.source)
        named = _NAMED.get(self.sample.window)
        if named:
            return f"{agent} {named[0]}"
        minutes = self.minutes
        if minutes:
            return f"{agent} {_span_name(minutes)}"
        return f"{agent} {self.sample.window.replace('_', ' ')}"

    @property
    def has_reset(self) -> bool:
        """The window reset after the reading: its percentage no longer holds."""
        resets = self.sample.resets_ms
        return resets is not None and resets <= self.now_ms

    @property
    def used_pct(self) -> float:
        """Used now: the reading, or 0 once the window has reset since."""
        return 0.0 if self.has_reset else self.sample.used_pct

    @property
    def stale(self) -> bool:
        return not self.has_reset and self.now_ms - self.sample.observed_ms > STALE_AFTER_MS

    @property
    def reset_in_ms(self) -> int | None:
        resets = self.sample.resets_ms
        return None if resets is None or self.has_reset else resets - self.now_ms

    @property
    def elapsed_pct(self) -> float | None:
        """How far through the window the reading was taken (0-100)."""
        minutes, resets = self.minutes, self.sample.resets_ms
        if not minutes or resets is None or self.has_reset:
            return None
        span = minutes * 60_000
        elapsed = self.sample.observed_ms - (resets - span)
        return min(100.0, max(0.0, 100.0 * elapsed / span))

    @property
    def pace(self) -> float | None:
        """Used against elapsed: 1.0 uses the window evenly, 2.0 twice as fast (shown 2.0x)."""
        elapsed = self.elapsed_pct
        if elapsed is None or elapsed < 1.0:  # the first minute says nothing of pace
            return None
        return self.used_pct / elapsed

    @property
    def projected_pct(self) -> float | None:
        """Where the window ends at the current pace (the reading if no pace is known)."""
        pace = self.pace
        return None if pace is None else pace * 100.0

    @property
    def runs_out_in_ms(self) -> int | None:
        """Time until 100% at the current pace, when that comes before the reset."""
        elapsed, reset_in = self.elapsed_pct, self.reset_in_ms
        if elapsed is None or elapsed < 1.0 or reset_in is None or self.used_pct <= 0:
            return None  # no pace yet (or a reset time past the window's own span)
        if self.used_pct >= 100:
            return 0
        span_ms = (self.minutes or 0) * 60_000
        per_ms = self.used_pct / (elapsed / 100.0 * span_ms)  # percent per ms so far
        until_full = int((100.0 - self.used_pct) / per_ms)
        remaining = until_full - (self.now_ms - self.sample.observed_ms)
        return max(0, remaining) if remaining < reset_in else None

    def summary(self) -> str:
        """``Claude 5-hour 42% · pace 1.3x · resets in 1 h 50 min`` (with a times sign)."""
        parts = [f"{self.label} {self.used_pct:.0f}%"]
        if self.has_reset:
            parts.append("reset since the last reading")
        else:
            if self.pace is not None:
                parts.append(f"pace {self.pace:.1f}×")
            if self.reset_in_ms is not None:
                parts.append(f"resets in {duration(self.reset_in_ms)}")
            out = self.runs_out_in_ms
            if out is not None:
                parts.append(f"runs out in {duration(out)}" if out else "used up")
            if self.stale:
                parts.append(f"as of {duration(self.now_ms - self.sample.observed_ms)} ago")
        return " · ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "agent": self.sample.source,
            "account": self.sample.account,
            "window": self.sample.window,
            "label": self.label,
            "used_pct": round(self.used_pct, 2),
            "reading_pct": round(self.sample.used_pct, 2),
            "observed_ms": self.sample.observed_ms,
            "resets_ms": self.sample.resets_ms,
            "reset_in_s": None if self.reset_in_ms is None else self.reset_in_ms // 1000,
            "window_minutes": self.minutes,
            "elapsed_pct": None if self.elapsed_pct is None else round(self.elapsed_pct, 2),
            "pace": None if self.pace is None else round(self.pace, 3),
            "projected_pct": None if self.projected_pct is None else round(self.projected_pct, 1),
            "runs_out_in_s": None if self.runs_out_in_ms is None else self.runs_out_in_ms // 1000,
            "has_reset": self.has_reset,
            "stale": self.stale,
            "origin": self.sample.origin,
        }


def windows(samples: list[PlanSample], now_ms: int) -> list[PlanWindow]:
    """The latest readings as windows, the one nearest its limit first."""
    found = [PlanWindow(sample, now_ms) for sample in samples]
    return sorted(found, key=_urgency, reverse=True)


def nearest(samples: list[PlanSample], now_ms: int) -> PlanWindow | None:
    """The window to show at a glance: the fullest (by its projection when it has one)."""
    found = windows(samples, now_ms)
    return found[0] if found and not found[0].has_reset else None


def _urgency(window: PlanWindow) -> tuple[bool, float, float]:
    projected = window.projected_pct or 0.0
    return (not window.has_reset, max(window.used_pct, min(projected, 100.0)), window.used_pct)


def _span_name(minutes: int) -> str:
    if minutes % (7 * 1440) == 0:
        weeks = minutes // (7 * 1440)
        return "weekly" if weeks == 1 else f"{weeks}-week"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}-day"
    if minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


def duration(ms: int) -> str:
    """``3 d 4 h``, ``1 h 50 min``, ``12 min``, ``under a minute``."""
    minutes = ms // 60_000
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def short_duration(ms: int) -> str:
    """``3d4h``, ``1h50m``, ``12m``: for the one-line status."""
    return duration(ms).replace(" min", "m").replace(" d", "d").replace(" h", "h").replace(" ", "")


def moment_ms(value: object) -> int | None:
    """Epoch seconds (or milliseconds), or an ISO 8601 time, as ms; None if unreadable."""
    if type(value) in (int, float):
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            return None
        return int(number if number > 1e11 else number * 1000)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None
