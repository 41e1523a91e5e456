"""Alert rules: what to watch, over which window, and when to warn.

A rule has a kind (total over the window, burn rate, projected total at the
window's end, or a runaway session), a metric (USD or tokens), a scope (all
usage, one agent, project or model, or each session on its own), a window
(the calendar day, a rolling number of minutes, or a daily time-of-day window
that may cross midnight, on chosen weekdays) and a threshold: the critical
level, with a warning at a share of it (80% unless set).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import time
from typing import Any, Literal, get_args

from tokentray.numbers import (
    MAX_THRESHOLD_TOKENS,
    MAX_THRESHOLD_USD,
    out_of_range,
    shown,
)

RuleKind = Literal["total", "burn", "projection", "runaway"]
# billed_usd: what the providers report as spent, per UTC day; plan_pct: how full a
# subscription window (5-hour, weekly) is, in percent
RuleMetric = Literal["usd", "tokens", "billed_usd", "plan_pct"]
# What an alert does besides notifying: pause (SIGSTOP) or stop (SIGTERM, then SIGKILL)
# the agent processes of the session it names. Opt-in, per rule.
RuleAction = Literal["notify", "pause", "stop"]
RuleScope = Literal["all", "source", "project", "model", "session"]
RuleWindow = Literal["day", "rolling", "daily"]
KINDS: tuple[RuleKind, ...] = get_args(RuleKind)
METRICS: tuple[RuleMetric, ...] = get_args(RuleMetric)
SCOPES: tuple[RuleScope, ...] = get_args(RuleScope)
WINDOWS: tuple[RuleWindow, ...] = get_args(RuleWindow)
ACTIONS: tuple[RuleAction, ...] = get_args(RuleAction)
MAX_PLAN_THRESHOLD = 1000.0  # percent: a window runs past 100% on extra usage, not this far
BUDGET_RULE_ID = "daily-budget"  # its threshold is the daily budget (settings), not its own
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class RuleError(ValueError):
    """A rule that cannot work as written; the message says which field and why."""


@dataclass(slots=True)
class Rule:
    id: str
    name: str
    kind: RuleKind = "total"
    metric: RuleMetric = "usd"
    threshold: float = 20.0  # the critical level: USD, or tokens (per hour for "burn")
    warning_share: float = 0.8
    scope: RuleScope = "all"
    scope_value: str = ""
    window: RuleWindow = "day"
    minutes: int = 60  # rolling window; burn-rate look-back; runaway: minutes without a human
    start: str = "22:00"  # daily window, local time
    end: str = "07:00"
    weekdays: list[int] = field(default_factory=lambda: list(range(7)))  # Monday = 0
    repeat_count: int = 0  # runaway: the same tool call this many times in a row (0: off)
    enabled: bool = True
    plan_window: str = ""  # plan_pct: the vendor's window name ("five_hour"), "" for any
    action: RuleAction = "notify"
    grace_seconds: int = 10  # stop: SIGTERM, then SIGKILL after this long

    def validate(self) -> None:
        where = f"rule {self.name or self.id!r}"
        if not self.id or not self.name.strip():
            raise RuleError(f"{where}: give the rule a name")
        for value, allowed, what in (
            (self.kind, KINDS, "kind"),
            (self.metric, METRICS, "metric"),
            (self.scope, SCOPES, "scope"),
            (self.window, WINDOWS, "window"),
            (self.action, ACTIONS, "action"),
        ):
            if value not in allowed:
                raise RuleError(f"{where}: {what} must be one of {', '.join(allowed)}")
        ceiling = {"tokens": MAX_THRESHOLD_TOKENS, "plan_pct": MAX_PLAN_THRESHOLD}.get(
            self.metric, MAX_THRESHOLD_USD
        )
        if out_of_range(self.threshold, 0, ceiling, above_low=True):
            raise RuleError(
                f"{where}: the threshold must be more than 0 and at most {ceiling:,.0f}, "
                f"not {shown(self.threshold)}"
            )
        if self.scope in ("source", "project", "model") and not self.scope_value.strip():
            raise RuleError(f"{where}: say which {self.scope} the rule watches")
        if out_of_range(self.warning_share, 0, 1, above_low=True):
            raise RuleError(f"{where}: warning_share must be above 0 and at most 1")
        if not isinstance(self.minutes, int) or not 0 < self.minutes <= 525_600:
            raise RuleError(f"{where}: minutes must be a whole number from 1 to 525,600")
        if self.window == "daily":
            start, end = parse_clock(self.start, where), parse_clock(self.end, where)
            if start == end:
                raise RuleError(f"{where}: the daily window {self.start}–{self.end} is empty")
            if not self.weekdays or any(d not in range(7) for d in self.weekdays):
                raise RuleError(f"{where}: choose at least one weekday (Monday = 0 … Sunday = 6)")
        if self.action != "notify" and self.metric in ("billed_usd", "plan_pct"):
            raise RuleError(
                f"{where}: pausing or stopping acts on the session an alert names; "
                "provider-billed and plan window alerts name none"
            )
        if self.metric == "billed_usd" and (self.kind != "total" or self.window != "day"):
            raise RuleError(
                f"{where}: provider-billed spend comes per day: use it with kind total, window day"
            )
        if self.kind == "projection" and self.window == "rolling":
            raise RuleError(f"{where}: a projection needs a window with an end (day or daily)")
        if self.kind == "runaway" and (self.scope != "session" or self.metric != "usd"):
            raise RuleError(
                f"{where}: a runaway is one session burning dollars: watch each session, in USD"
            )
        if self.kind == "runaway" and self.window == "day":
            raise RuleError(
                f"{where}: a runaway rule looks at the last minutes (rolling), or only in a "
                "daily time window"
            )
        if not isinstance(self.repeat_count, int) or not 0 <= self.repeat_count <= 100_000:
            raise RuleError(f"{where}: repeat_count must be a whole number from 0 to 100,000")
        if self.metric == "plan_pct" and (
            self.kind not in ("total", "projection") or self.scope not in ("all", "source")
        ):
            raise RuleError(
                f"{where}: a plan window rule is kind total (used now) or projection (at the "
                "current pace, by the reset), for all agents or one agent"
            )
        if not isinstance(self.grace_seconds, int) or not 0 <= self.grace_seconds <= 3600:
            raise RuleError(f"{where}: grace_seconds must be a whole number from 0 to 3,600")

    def describe(self) -> str:
        """When it fires, and what it does then besides notifying."""
        then = {
            "pause": "; then pauses the session's agent",
            "stop": "; then stops the session's agent",
        }.get(self.action, "")
        return self._describe_when() + then

    def _describe_when(self) -> str:
        if self.metric == "plan_pct":
            return self._describe_plan()
        unit = "$" if self.metric in ("usd", "billed_usd") else ""
        amount = f"{unit}{self.threshold:g}" + ("" if unit else " tokens")
        scope = (
            "everything"
            if self.scope == "all"
            else ("each session" if self.scope == "session" else f"{self.scope} {self.scope_value}")
        )
        window = {
            "day": "today",
            "rolling": f"in any {self.minutes} minutes",
            "daily": f"{self.start}–{self.end}",
        }[self.window]
        if self.kind == "burn":
            return f"{scope}: over {amount}/h over the last {self.minutes} min"
        if self.kind == "projection":
            return f"{scope}: heading for over {amount} by the end of {window}"
        if self.kind == "runaway":
            repeat = (
                f" or the same tool call {self.repeat_count}× in a row" if self.repeat_count else ""
            )
            return (
                f"a session burning {amount}/h or more with no prompt for {self.minutes} min"
                f"{repeat}"
            )
        billed = " billed by the providers" if self.metric == "billed_usd" else ""
        return f"{scope}: over {amount}{billed} {window}"

    def _describe_plan(self) -> str:
        which = self.plan_window.replace("_", " ") or "any plan window"
        who = f"{self.scope_value} " if self.scope == "source" else ""
        if self.kind == "projection":
            return f"{who}{which}: heading for over {self.threshold:g}% by its reset"
        return f"{who}{which}: over {self.threshold:g}% used"

    def context(self) -> str:
        """What the rule watches and when, without its threshold (the alert says that)."""
        if self.metric == "plan_pct":
            return "by its reset, at this pace" if self.kind == "projection" else "used now"
        scope = {
            "all": "all agents",
            "session": "one session",
        }.get(self.scope, f"{self.scope} {self.scope_value}")
        if self.kind == "runaway":
            return "one session"  # the alert says why (idle or looping)
        if self.kind == "burn":
            return f"{scope}, over the last {self.minutes} min"
        window = {
            "day": "today",
            "rolling": f"in {self.minutes} minutes",
            "daily": f"{self.start}–{self.end}",
        }[self.window]
        billed = ", billed by the providers" if self.metric == "billed_usd" else ""
        return f"{scope}, {window}{billed}"

    def suggested_name(self) -> str:
        """A name that says what the rule does (for a rule whose kind or window changed)."""
        when = ""
        if self.window == "daily":
            start = parse_clock(self.start)
            when = "overnight" if start.hour >= 18 or start.hour < 5 else "daytime"
        if self.metric == "plan_pct":
            name = "plan window running out" if self.kind == "projection" else "plan window"
        elif self.kind == "runaway":
            name = f"{when} runaway session"
        elif self.kind == "burn":
            name = f"{when} burn rate"
        else:
            what = {"usd": "spend", "tokens": "tokens", "billed_usd": "billed spend"}[self.metric]
            when = when or {"day": "daily", "rolling": f"{self.minutes}-minute"}[self.window]
            name = f"{when} {'projected ' if self.kind == 'projection' else ''}{what}"
        name = name.strip()
        return name[0].upper() + name[1:]

    def to_toml(self) -> dict[str, Any]:
        return asdict(self)


def parse_clock(text: str, where: str = "rule") -> time:
    match = _CLOCK.match(text)
    if not match:
        raise RuleError(f"{where}: {text!r} is not a time of day (HH:MM)")
    return time(int(match.group(1)), int(match.group(2)))


def rule_from_toml(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError("each [[alerts.rules]] entry must be a table")
    known = set(Rule.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise RuleError(f"[[alerts.rules]] has unknown keys: {', '.join(sorted(unknown))}")
    values = dict(raw)
    if "weekdays" in values:
        values["weekdays"] = [int(d) for d in values["weekdays"]]
    rule = Rule(**values)
    rule.validate()
    return rule


def default_rules(daily_budget_usd: float) -> list[Rule]:
    """What a new user gets: the night watch, the daily budget, burn rate, runaways."""
    rules = [
        Rule(
            "overnight",
            "Overnight spend",
            "total",
            "usd",
            20.0,
            window="daily",
            start="22:00",
            end="07:00",
        ),
        Rule("burn-rate", "Burn rate", "burn", "usd", 25.0, window="rolling", minutes=15),
        Rule(
            "runaway",
            "Runaway session",
            "runaway",
            "usd",
            10.0,
            scope="session",
            window="rolling",
            minutes=30,
            repeat_count=12,
        ),
    ]
    if daily_budget_usd > 0:
        rules.insert(1, Rule(BUDGET_RULE_ID, "Daily budget", "total", "usd", daily_budget_usd))
    return rules
