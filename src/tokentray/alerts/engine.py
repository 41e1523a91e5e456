"""Evaluate alert rules at a moment, and remember what fired.

Windows are computed in the local time zone with zoneinfo, then compared and
queried as UTC timestamps (aware datetimes in one zone subtract as wall-clock
times), so a night that loses or gains an hour to DST is simply shorter or
longer. Each rule fires at most once per window and level; that is stored in
SQLite, so a restart neither repeats a notification nor misses one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from tokentray.alerts.rules import Rule, parse_clock
from tokentray.store import EventFilter, Store
from tokentray.store.reads import Metric

log = logging.getLogger(__name__)

PAUSE_KEY = "alerts_paused_until_ms"
DIGEST_WITHIN = timedelta(hours=12)  # a digest is sent if its night ended this recently


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


@dataclass(slots=True)
class Alert:
    rule: Rule
    level: str  # "warning", "critical" or "digest"
    value: float
    threshold: float
    window: Window
    key: str  # rule id, plus the session for per-session rules
    culprit: dict[str, str] = field(default_factory=dict)  # session, project, model
    projection: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        if self.level == "digest":
            return f"tokentray: {self.rule.name} summary"
        return f"tokentray: {self.rule.name} — {self.level}"

    def message(self) -> str:
        """What happened against what limit, who did it, and what to do: no raw ids."""
        if self.level == "digest":
            return str(self.details.get("text", ""))
        if self.rule.metric == "plan_pct":
            return self._plan_message()
        lines = [self._figure()]
        who = self._who()
        if who:
            lines.append(who)
        if self.culprit.get("why"):
            lines.append(f"Why: {self.culprit['why']}")
        if self.projection is not None:
            end = self.window.end.strftime("%H:%M")
            lines.append(f"At this rate: {_amount(self.projection, self.rule)} by {end}")
        if self.details.get("acted"):
            lines.append(str(self.details["acted"]))
        else:
            lines.append(_ADVICE[self.rule.kind])
        return "\n".join(lines)

    def _plan_message(self) -> str:
        """``Claude 5-hour window: 84% used, 88% of the 95% limit`` and what to do."""
        plan = self.details.get("plan", "Plan window")
        limit = f"{self.threshold:g}%"
        if self.rule.kind == "projection":
            figure = (
                f"{plan} window: {self.value:.0f}% used, heading for "
                f"{self.projection or 0:.0f}% by its reset (limit {limit})"
            )
        elif self.level == "critical":
            figure = f"{plan} window: {self.value:.0f}% used, at or over the {limit} limit"
        else:
            figure = (
                f"{plan} window: {self.value:.0f}% used, "
                f"{self.value / self.threshold:.0%} of the {limit} limit"
            )
        summary = str(self.details.get("summary", ""))
        return "\n".join(
            [figure, summary, "Slow down or pause the agents you do not need until it resets."]
        )

    def _figure(self) -> str:
        """``$21.36/h: 85% of the $25/h limit`` — the figure against the threshold."""
        unit = _unit(self.rule)
        value = f"{_amount(self.value, self.rule)}{unit}"
        limit = f"{_amount(self.threshold, self.rule)}{unit}"
        compared = self.projection if self.rule.kind == "projection" else self.value
        share = (compared or 0.0) / self.threshold if self.threshold else 0.0
        if self.level == "critical":
            against = f"at or over the {limit} limit"
        else:
            against = f"{share:.0%} of the {limit} limit"
        if self.rule.kind == "projection":
            against = f"heading for {share:.0%} of the {limit} limit"
        return f"{value}: {against} ({self.rule.context()})"

    def _who(self) -> str:
        """The agent, the project and the model that weigh most."""
        from tokentray.sources import display_name  # noqa: PLC0415

        parts = []
        if self.culprit.get("project"):
            project = self.culprit["project"]
            parts.append(f"in {PurePath(project).name or project}")
        if self.culprit.get("source"):
            parts.append(display_name(self.culprit["source"]))
        if self.culprit.get("model"):
            parts.append(self.culprit["model"])
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "name": self.rule.name,
            "level": self.level,
            "value": round(self.value, 6),
            "threshold": self.threshold,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "key": self.key,
            "culprit": self.culprit,
            "projection": None if self.projection is None else round(self.projection, 6),
            "title": self.title,
            "text": self.message(),
        }


_ADVICE = {
    "total": "Pause or stop the agents you do not need, or raise the limit in Preferences.",
    "projection": "Slow down now to stay under it: pause the agents you do not need.",
    "burn": "Open the graphs (click) to see which sessions burn, and stop any that loop.",
    "runaway": "Check the session (click): stop it if nobody is working with it.",
}


def _unit(rule: Rule) -> str:
    return "/h" if rule.kind in ("burn", "runaway") else ""


def _amount(value: float, rule: Rule) -> str:
    return f"{value:,.0f} tokens" if rule.metric == "tokens" else f"${value:,.2f}"


# -- windows ----------------------------------------------------------------------


def window_at(rule: Rule, at: datetime, tz: ZoneInfo) -> Window | None:
    """The rule's window that contains ``at``; None outside a daily window."""
    local = at.astimezone(tz)
    if rule.window == "day":
        start = datetime.combine(local.date(), datetime.min.time(), tz)
        return Window(
            start, datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz)
        )
    if rule.window == "rolling":
        span = timedelta(minutes=rule.minutes)
        epoch = datetime(2000, 1, 1, tzinfo=UTC)  # in UTC: no wall-clock jumps
        periods = (at.astimezone(UTC) - epoch) // span  # non-overlapping: one firing each
        start = epoch + periods * span
        return Window(start.astimezone(tz), (start + span).astimezone(tz))
    for day in (local.date(), local.date() - timedelta(days=1)):
        window = daily_window(rule, day, tz)
        if window.start_ms <= at.timestamp() * 1000 < window.end_ms:
            return window if day.weekday() in rule.weekdays else None
    return None


def daily_window(rule: Rule, day: date, tz: ZoneInfo) -> Window:
    """The daily window that opens on ``day`` (it may close the next day)."""
    start_time, end_time = parse_clock(rule.start), parse_clock(rule.end)
    start = datetime.combine(day, start_time, tz)
    end_day = day + timedelta(days=1) if end_time <= start_time else day
    return Window(start, datetime.combine(end_day, end_time, tz))


def last_ended_window(rule: Rule, at: datetime, tz: ZoneInfo) -> Window | None:
    """The most recent daily window that has ended by ``at`` (for the morning digest)."""
    local = at.astimezone(tz).date()
    for back in range(0, 8):
        day = local - timedelta(days=back)
        window = daily_window(rule, day, tz)
        if window.end_ms <= at.timestamp() * 1000 and day.weekday() in rule.weekdays:
            return window
    return None


# -- evaluation -------------------------------------------------------------------


def _events(
    rule: Rule, start_ms: int, end_ms: int, source: str | None = None, session: str | None = None
) -> EventFilter:
    """The rule's scope (an agent, project or model, or everything) between two times."""
    scope = {rule.scope: rule.scope_value} if rule.scope in ("source", "project", "model") else {}
    if source is not None:
        scope["source"] = source
    return EventFilter(start_ms, end_ms, session_id=session, **scope)


def _metric(rule: Rule) -> Metric:
    return "usd" if rule.metric == "usd" else "tokens"


class AlertEngine:
    def __init__(self, store: Store, rules: list[Rule], tz: ZoneInfo) -> None:
        self.store = store
        self.rules = [r for r in rules if r.enabled]
        self.tz = tz

    # -- what fires --------------------------------------------------------------

    def evaluate(self, at: datetime) -> list[Alert]:
        """Every alert the rules raise at ``at``, fired before or not."""
        alerts: list[Alert] = []
        for rule in self.rules:
            try:
                alerts += self._evaluate(rule, at)
            except Exception:  # one broken rule must not silence the others
                log.exception("alert rule %s failed", rule.id)
        return alerts

    def _evaluate(self, rule: Rule, at: datetime) -> list[Alert]:
        if rule.metric == "plan_pct":
            return self._plan_windows(rule, at)
        window = window_at(rule, at, self.tz)
        found: list[Alert] = []
        if rule.window == "daily":
            found += self._digest(rule, at)
        if window is None:
            return found
        if rule.kind == "runaway":
            return found + self._runaways(rule, at, window)
        if rule.scope == "session":
            return found + self._per_session(rule, at, window)
        value, projection = self._measure(rule, at, window, "")
        level = self._level(rule, projection if rule.kind == "projection" else value)
        if level:
            alert = Alert(rule, level, value, rule.threshold, window, rule.id)
            alert.culprit = self._culprit(rule, at, window, "")
            alert.projection = projection
            found.append(alert)
        return found

    def _level(self, rule: Rule, value: float | None) -> str:
        if value is None:
            return ""
        if value >= rule.threshold:
            return "critical"
        return "warning" if value >= rule.threshold * rule.warning_share else ""

    def _sum(
        self, rule: Rule, start_ms: int, end_ms: int, source: str | None, session: str | None
    ) -> float:
        return self.store.sum_value(_metric(rule), _events(rule, start_ms, end_ms, source, session))

    def _measure(
        self, rule: Rule, at: datetime, window: Window, session: str
    ) -> tuple[float, float | None]:
        """(the value compared with the threshold, the projection at the window's end)."""
        only = session or None
        at_ms = int(at.timestamp() * 1000) + 1
        if rule.metric == "billed_usd":  # the providers' own figure for the current UTC day
            return self.store.billed_today(at_ms) or 0.0, None
        look_back = rule.minutes * 60_000
        burn = self._sum(rule, at_ms - look_back, at_ms, None, only) * 3_600_000 / look_back
        if rule.kind == "burn":
            return burn, None
        total = self._sum(rule, window.start_ms, min(at_ms, window.end_ms), None, only)
        if rule.window == "rolling":
            return total, None
        remaining_h = max(0.0, (window.end_ms - at_ms) / 3_600_000)
        return total, total + burn * remaining_h

    def _per_session(self, rule: Rule, at: datetime, window: Window) -> list[Alert]:
        alerts = []
        at_ms = int(at.timestamp() * 1000) + 1
        sessions = self.store.sessions_in(EventFilter(window.start_ms, at_ms))
        for session in dict.fromkeys(session for _source, session in sessions):
            value, projection = self._measure(rule, at, window, session)
            level = self._level(rule, projection if rule.kind == "projection" else value)
            if level:
                alert = Alert(rule, level, value, rule.threshold, window, f"{rule.id}:{session}")
                alert.culprit = self._culprit(rule, at, window, session)
                alert.projection = projection
                alerts.append(alert)
        return alerts

    def _runaways(self, rule: Rule, at: datetime, window: Window) -> list[Alert]:
        """Sessions burning over the threshold per hour with nobody at the keyboard,
        or calling the same tool again and again."""
        at_ms = int(at.timestamp() * 1000) + 1
        idle_ms = rule.minutes * 60_000
        alerts = []
        for source, session in self.store.sessions_in(EventFilter(at_ms - idle_ms, at_ms)):
            burn = self._sum(rule, at_ms - idle_ms, at_ms, source, session) * 3_600_000 / idle_ms
            last_human, humans, recorded = self.store.human_activity(source, session)
            # Unattended: its last prompt is old, or it runs on tools with no prompt at all
            # (a session read before tokentray recorded activity cannot be judged).
            unattended = bool(recorded) and (not humans or (last_human or 0) < at_ms - idle_ms)
            repeated = self._repeated_tool(rule, source, session, at_ms)
            reason = ""
            if burn >= rule.threshold and unattended:
                reason = f"no prompt for {rule.minutes} min"
            elif repeated and burn >= rule.threshold * rule.warning_share:
                reason = f"the same tool call {rule.repeat_count}× in a row ({repeated})"
            if not reason:
                continue
            key = f"{rule.id}:{source}:{session}"
            alert = Alert(rule, "critical", burn, rule.threshold, window, key)
            alert.culprit = self._culprit(rule, at, window, session)
            alert.culprit["why"] = reason
            alerts.append(alert)
        return alerts

    def _plan_windows(self, rule: Rule, at: datetime) -> list[Alert]:
        """Each plan window the rule watches, by how full it is now or, for a projection,
        how full it will be at its reset at the current pace. An alert's window is the
        plan window itself: it fires once per level until the window resets."""
        from tokentray.plans import windows  # noqa: PLC0415

        at_ms = int(at.timestamp() * 1000)
        alerts = []
        for plan in windows(self.store.plan_latest(), at_ms):
            sample = plan.sample
            if plan.has_reset or (rule.plan_window and sample.window != rule.plan_window):
                continue
            if rule.scope == "source" and sample.source != rule.scope_value:
                continue
            projection = plan.projected_pct if rule.kind == "projection" else None
            level = self._level(rule, projection if rule.kind == "projection" else plan.used_pct)
            if not level:
                continue
            span_ms = (plan.minutes or 0) * 60_000
            if sample.resets_ms is not None and span_ms:
                start_ms, end_ms = sample.resets_ms - span_ms, sample.resets_ms
            else:  # a window of unknown span: one firing per day
                start_ms = at_ms - at_ms % 86_400_000
                end_ms = start_ms + 86_400_000
            window = Window(
                datetime.fromtimestamp(start_ms / 1000, self.tz),
                datetime.fromtimestamp(end_ms / 1000, self.tz),
            )
            key = f"{rule.id}:{sample.source}:{sample.account}:{sample.window}"
            alert = Alert(rule, level, plan.used_pct, rule.threshold, window, key)
            alert.projection = projection
            alert.culprit = {"source": sample.source}
            alert.details = {"plan": plan.label, "summary": plan.summary()}
            alerts.append(alert)
        return alerts

    def _repeated_tool(self, rule: Rule, source: str, session: str, at_ms: int) -> str:
        if rule.repeat_count <= 1:
            return ""
        calls = self.store.last_tool_calls(source, session, at_ms, rule.repeat_count)
        return calls[0] if len(calls) == rule.repeat_count and len(set(calls)) == 1 else ""

    def _culprit(self, rule: Rule, at: datetime, window: Window, session: str) -> dict[str, str]:
        """The session, project and model that weigh most in the window."""
        where = _events(
            rule, window.start_ms, int(at.timestamp() * 1000) + 1, None, session or None
        )
        heaviest = self.store.heaviest(_metric(rule), where)
        if heaviest is None:
            return {}
        source, session_id, project, model = heaviest
        return {"source": source, "session": session_id, "project": project, "model": model}

    def _digest(self, rule: Rule, at: datetime) -> list[Alert]:
        """One summary when a daily (overnight) window has ended."""
        window = last_ended_window(rule, at, self.tz)
        since_end_ms = at.timestamp() * 1000 - window.end_ms if window else 0
        if window is None or since_end_ms > DIGEST_WITHIN.total_seconds() * 1000:
            return []
        row = self.store.window_totals(window.start_ms, window.end_ms)
        if not row[2]:
            return []  # a quiet night needs no summary
        top = self.store.top_by_cost("project", window.start_ms, window.end_ms)
        agent = self.store.top_by_cost("source", window.start_ms, window.end_ms)
        fired = self.store.alerts_fired_between(window.start_ms, window.end_ms)
        from tokentray.sources import display_name  # noqa: PLC0415

        limit = f" of the ${rule.threshold:,.2f} limit" if rule.metric != "tokens" else ""
        text = (
            f"{window.start:%a %H:%M}–{window.end:%H:%M}: ${row[0]:,.2f}{limit}, "
            f"{row[1]:,} tokens, {row[2]} sessions, mostly {top or 'unknown project'} "
            f"({display_name(agent)}); {fired} alerts fired."
        )
        alert = Alert(rule, "digest", row[0], rule.threshold, window, f"{rule.id}:digest")
        alert.details = {"text": text, "tokens": row[1], "sessions": row[2], "alerts": fired}
        return [alert]

    # -- firing state ------------------------------------------------------------

    def paused_until_ms(self) -> int:
        value = self.store.get_meta(PAUSE_KEY)
        return int(value) if value else 0

    def pause_until(self, until: datetime) -> None:
        self.store.set_meta(PAUSE_KEY, str(int(until.timestamp() * 1000)))

    def due(self, at: datetime) -> list[Alert]:
        """The alerts to send now: new for their window and level, and not paused.

        A critical alert also counts as its warning, so a warning never follows it.
        """
        if int(at.timestamp() * 1000) < self.paused_until_ms():
            return []
        new = []
        for alert in self.evaluate(at):
            levels = ["warning", "critical"] if alert.level == "critical" else [alert.level]
            if not self._fired(alert, alert.level):
                new.append(alert)
            self._record(alert, levels, at)
        return new

    def _fired(self, alert: Alert, level: str) -> bool:
        return self.store.alert_fired(alert.key, alert.window.start_ms, level)

    def _record(self, alert: Alert, levels: list[str], at: datetime) -> None:
        fired_ms = int(at.timestamp() * 1000)
        self.store.record_alerts(
            [
                (alert.key, alert.window.start_ms, level, fired_ms, alert.message())
                for level in levels
            ],
        )

    def was_fired(self, alert: Alert) -> bool:
        return self._fired(alert, alert.level)
