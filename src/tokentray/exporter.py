"""The opt-in Prometheus endpoint: this machine's usage as counters and gauges, so a
team's Prometheus can scrape every member's tokentray and one Grafana dashboard can rank
them by spend and by what the spend bought.

Counters (``_total``) never go down while the store keeps its history: they are sums
over every request stored. They are read in two parts, so a scrape stays cheap on a
history of millions of requests: everything before yesterday's start is summed once an
hour (or when prices change), and the rest at each scrape. Commits come from git in the
background every ``OUTCOMES_EVERY_S``.

Served by prometheus-client's own HTTP server, on 127.0.0.1 unless the settings name
another address (then a warning is logged and shown: anyone who reaches the port sees
the figures, and the project names unless those labels are off).
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tokentray import __version__
from tokentray.paths import folder_name
from tokentray.settings import ExporterSettings
from tokentray.store import EventFilter, Store

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
BURN_WINDOW_MS = 15 * 60 * 1000  # the tray's burn rate: the last quarter-hour
SETTLED_EVERY_S = 3600.0
OUTCOMES_EVERY_S = 600.0
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


def exposure_warning(settings: ExporterSettings) -> str | None:
    """What the user must know when the endpoint is reachable beyond this machine."""
    if settings.loopback_only:
        return None
    names = "and project names " if settings.project_labels else ""
    return (
        f"The Prometheus endpoint listens on {settings.address}:{settings.port}: anyone who "
        f"can reach that address sees your token use, spend {names}(no prompts, no keys). "
        "Firewall it, or keep 127.0.0.1 and scrape through an SSH tunnel."
    )


def user_label(settings: ExporterSettings) -> str:
    if settings.user:
        return settings.user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unknown uid)
        return "unknown"


def project_label(project: str) -> str:
    """The project's folder name, never its whole path (which names the home folder)."""
    return folder_name(project) or "(none)"


Sums = dict[tuple[str, ...], list[float]]


@dataclass(frozen=True, slots=True)
class _Settled:
    """The sums of every request before ``cutoff`` (yesterday's local start), at the
    prices whose fingerprint is ``prices``."""

    cutoff: int
    prices: str
    summed_at: float
    sums: Sums


def _accumulate(into: Sums, key: tuple[str, ...], values: Sequence[float | None]) -> None:
    row = into.setdefault(key, [0.0] * len(values))
    for i, value in enumerate(values):
        row[i] += float(value or 0)


def _added(base: Sums, more: Sums) -> Sums:
    total: Sums = {key: list(values) for key, values in base.items()}
    for key, values in more.items():
        _accumulate(total, key, values)
    return total


@dataclass(slots=True)
class _Outcomes:
    """Commits and lines per agent and project, and spend by what it led to."""

    commits: dict[tuple[str, str], int] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    spend: dict[tuple[str, str, str], float] = field(default_factory=dict)
    refreshed_at: float = 0.0


class UsageCollector(Collector):
    """Reads the store at each scrape; its own connection, used under a lock."""

    def __init__(
        self,
        store: Store,
        settings: ExporterSettings,
        daily_budget_usd: Callable[[], float],
        tz: ZoneInfo,
        moved: Callable[[], dict[str, str]] = dict,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        """``background=False``: nothing runs on threads of its own (tests call
        ``settle`` and ``refresh_outcomes`` themselves)."""
        self.store = store
        self.settings = settings
        self.user = user_label(settings)
        self.daily_budget_usd = daily_budget_usd
        self.tz = tz
        self.moved = moved
        self.clock = clock
        self._lock = threading.Lock()
        self._settled: _Settled | None = None
        self._settling = False
        self._outcomes = _Outcomes()
        self._outcomes_running = False
        self._background = background
        self._threads: list[threading.Thread] = []

    # -- reading -------------------------------------------------------------------------

    def _labels(self, source: str, model: str, project: str) -> tuple[str, ...]:
        if self.settings.project_labels:
            return (self.user, source, model, project_label(project))
        return (self.user, source, model)

    def _cutoff(self, now_ms: int) -> int:
        from tokentray.dashboard.live import local_day_start_ms  # noqa: PLC0415

        return local_day_start_ms(now_ms, self.tz) - DAY_MS

    def _sums(self, now_ms: int) -> Sums | None:
        """Every request's sums by label; None until the history before yesterday has
        been summed (in the background: 15 s on 6 million requests)."""
        cutoff = self._cutoff(now_ms)
        prices = self.store.get_meta("pricing_fingerprint") or ""
        settled = self._settled
        if settled is not None and settled.prices == prices and settled.cutoff < cutoff:
            # The day turned: yesterday's start moves on by a day, whose sums are cheap.
            more = self._sum(self.store, EventFilter(start_ms=settled.cutoff, end_ms=cutoff))
            settled = _Settled(cutoff, prices, settled.summed_at, _added(settled.sums, more))
            self._settled = settled
        if settled is None or (settled.cutoff, settled.prices) != (cutoff, prices):
            self._settle_in_background()
            return None
        if self.clock() - settled.summed_at > SETTLED_EVERY_S:  # late old history, if any
            self._settle_in_background()
        return _added(settled.sums, self._sum(self.store, EventFilter(start_ms=cutoff)))

    def settle(self) -> None:
        """Sum the history before yesterday on a connection of its own (it can take
        seconds); scrapes meanwhile use the previous sums, or leave the counters out."""
        try:
            store = Store(self.store.path, integrity="never")
            try:
                cutoff = self._cutoff(int(self.clock() * 1000))
                prices = store.get_meta("pricing_fingerprint") or ""
                sums = self._sum(store, EventFilter(end_ms=cutoff))
            finally:
                store.close()
            self._settled = _Settled(cutoff, prices, self.clock(), sums)
        except Exception:
            log.exception("the exporter could not sum the history")
        finally:
            self._settling = False

    def _settle_in_background(self) -> None:
        if self._settling or not self._background:
            return
        self._settling = True
        self._start_thread(self.settle, "exporter-settle")

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Wait for the background reads, then close the store."""
        for thread in self._threads:
            thread.join(timeout=60)
        with self._lock:
            self.store.close()

    def _sum(self, store: Store, where: EventFilter) -> Sums:
        sums: Sums = {}
        for source, model, project, *values in store.sums_by_label(where):
            _accumulate(sums, self._labels(source, model, project), values)
        return sums

    # -- the metrics ---------------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected at scrape time only

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            try:
                metrics = self._collect()
            except Exception:
                log.exception("the exporter could not read the store")
                up = GaugeMetricFamily(
                    "tokentray_up", "1 when the store could be read", labels=["user"]
                )
                up.add_metric([self.user], 0)
                metrics = [up]
        self._maybe_refresh_outcomes()
        yield from metrics

    def _collect(self) -> list[Metric]:
        from tokentray import plans  # noqa: PLC0415
        from tokentray.dashboard.live import local_day_start_ms  # noqa: PLC0415
        from tokentray.insight.tiers import tier_for  # noqa: PLC0415

        now_ms = int(self.clock() * 1000)
        labels = ["user", "source", "model"] + (["project"] if self.settings.project_labels else [])
        tokens = CounterMetricFamily(
            "tokentray_tokens", "Tokens used, by kind", labels=[*labels, "kind"]
        )
        cost = CounterMetricFamily(
            "tokentray_cost_usd", "Spend at list prices (USD)", labels=labels
        )
        requests = CounterMetricFamily("tokentray_requests", "Requests made", labels=labels)
        sums = self._sums(now_ms)
        for key, values in sorted((sums or {}).items()):
            for kind, value in zip(TOKEN_KINDS, values[:4], strict=True):
                tokens.add_metric([*key, kind], value)
            cost.add_metric(list(key), values[4])
            requests.add_metric(list(key), values[5])
        counters = [tokens, cost, requests] if sums is not None else []
        user = [self.user]
        today_cost, today_tokens, *_ = self.store.day_totals(local_day_start_ms(now_ms, self.tz))
        burn_cost, burn_tokens, active = self.store.burn_since(now_ms - BURN_WINDOW_MS)
        minutes = BURN_WINDOW_MS / 60_000
        gauges = [
            self._gauge("tokentray_up", "1 when the store could be read", 1),
            self._gauge(
                "tokentray_counters_ready",
                "1 once the whole history is summed (token and cost counters are served)",
                int(sums is not None),
            ),
            self._gauge("tokentray_today_cost_usd", "Spend today (local day)", today_cost),
            self._gauge("tokentray_today_tokens", "Tokens today (local day)", today_tokens),
            self._gauge(
                "tokentray_burn_usd_per_hour",
                "Spend rate over the last 15 minutes",
                burn_cost * 60 / minutes,
            ),
            self._gauge(
                "tokentray_burn_tokens_per_minute",
                "Token rate over the last 15 minutes",
                burn_tokens / minutes,
            ),
            self._gauge("tokentray_active_sessions", "Sessions with requests in 15 min", active),
        ]
        budget = self.daily_budget_usd()
        if budget > 0:
            gauges += [
                self._gauge("tokentray_daily_budget_usd", "The daily budget", budget),
                self._gauge(
                    "tokentray_budget_utilisation_ratio",
                    "Today's spend over the daily budget",
                    today_cost / budget,
                ),
            ]
        tier = tier_for(today_tokens)
        tier_gauge = GaugeMetricFamily(
            "tokentray_tier",
            "Today's daily-token tier (0 Beginner … 5 AI God)",
            labels=["user", "tier"],
        )
        tier_gauge.add_metric([*user, tier.name], tier.rank)
        plan = GaugeMetricFamily(
            "tokentray_plan_used_ratio",
            "How full each subscription window is",
            labels=["user", "source", "window"],
        )
        for window in plans.windows(self.store.plan_latest(), now_ms):
            if not window.has_reset:
                plan.add_metric([*user, window.sample.source, window.label], window.used_pct / 100)
        info = GaugeMetricFamily(
            "tokentray_info", "tokentray's version", labels=["user", "version"]
        )
        info.add_metric([*user, __version__], 1)
        return [*counters, *gauges, tier_gauge, plan, info, *self._outcome_metrics()]

    def _gauge(self, name: str, text: str, value: float) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(name, text, labels=["user"])
        gauge.add_metric([self.user], value)
        return gauge

    def _outcome_metrics(self) -> list[Metric]:
        found = self._outcomes
        labels = ["user", "source"] + (["project"] if self.settings.project_labels else [])
        commits = CounterMetricFamily(
            "tokentray_commits", "Commits made in agent sessions", labels=labels
        )
        lines = CounterMetricFamily(
            "tokentray_lines_changed", "Lines added and deleted", labels=labels
        )
        for key, value in sorted(found.commits.items()):
            commits.add_metric(self._outcome_labels(key), value)
            lines.add_metric(self._outcome_labels(key), found.lines.get(key, 0))
        spend = CounterMetricFamily(
            "tokentray_outcome_cost_usd",
            "Spend by what the session led to: committed, no_commit or unknown (no repository)",
            labels=[*labels, "outcome"],
        )
        for (source, project, outcome), usd in sorted(found.spend.items()):
            spend.add_metric([*self._outcome_labels((source, project)), outcome], usd)
        age = GaugeMetricFamily(
            "tokentray_outcomes_age_seconds",
            "Seconds since commits were last read from git",
            labels=["user"],
        )
        if found.refreshed_at:
            age.add_metric([self.user], self.clock() - found.refreshed_at)
        return [commits, lines, spend, age]

    def _outcome_labels(self, key: tuple[str, str]) -> list[str]:
        source, project = key
        return [self.user, source, project] if self.settings.project_labels else [self.user, source]

    # -- commits, in the background ------------------------------------------------------

    def refresh_in_background(self) -> None:
        """Start summing the history and reading commits now, before the first scrape."""
        self._settle_in_background()
        self._maybe_refresh_outcomes()

    def _maybe_refresh_outcomes(self) -> None:
        due = self.clock() - self._outcomes.refreshed_at >= OUTCOMES_EVERY_S
        if self._outcomes_running or not due or not self._background:
            return
        self._outcomes_running = True
        self._start_thread(self.refresh_outcomes, "exporter-outcomes")

    def refresh_outcomes(self) -> None:
        """Read every session's commits from git (slow on big histories: off the scrape)."""
        from tokentray.insight.outcomes import outcomes  # noqa: PLC0415

        try:
            store = Store(self.store.path, integrity="never")  # git can take a while
            try:
                found = outcomes(store, EventFilter(), self.tz, self.moved())
            finally:
                store.close()
            result = _Outcomes(refreshed_at=self.clock())
            for session in found.sessions:
                folder = session.repo if session.known else session.project
                shown = project_label(folder) if self.settings.project_labels else ""
                key = (session.source, shown)
                result.commits[key] = result.commits.get(key, 0) + len(session.commits)
                changed = sum(c.added + c.deleted for c in session.commits)
                result.lines[key] = result.lines.get(key, 0) + changed
                outcome = (
                    "unknown"
                    if not session.known
                    else "committed"
                    if session.commits
                    else "no_commit"
                )
                spend_key = (*key, outcome)
                result.spend[spend_key] = result.spend.get(spend_key, 0.0) + session.cost_usd
            self._outcomes = result
        except Exception:
            log.exception("the exporter could not read commits")
            self._outcomes.refreshed_at = self.clock()  # try again later, not at every scrape
        finally:
            self._outcomes_running = False


@dataclass(slots=True)
class Exporter:
    """A running endpoint; ``stop()`` closes it."""

    address: str
    port: int
    collector: UsageCollector
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.collector.close()


class ExporterError(RuntimeError):
    """The endpoint could not be opened (address in use, not this machine's, ...)."""


def start_exporter(
    database: Path,
    settings: ExporterSettings,
    daily_budget_usd: Callable[[], float],
    tz: ZoneInfo,
    moved: Callable[[], dict[str, str]] = dict,
    settle_first: bool = False,
) -> Exporter:
    """Serve the metrics on ``settings.address:port`` (port 0: any free port).
    ``settle_first`` sums the history before serving (a headless command can wait; the
    tray does it in the background and leaves the counters out until then)."""
    from prometheus_client import start_http_server  # noqa: PLC0415

    warning = exposure_warning(settings)
    if warning:
        log.warning("%s", warning)
    store = Store(database, integrity="never")
    collector = UsageCollector(store, settings, daily_budget_usd, tz, moved)
    if settle_first:
        collector.settle()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server, thread = start_http_server(settings.port, settings.address, registry)
    except OSError as exc:
        store.close()
        raise ExporterError(
            f"cannot open the Prometheus endpoint on {settings.address}:{settings.port}: "
            f"{exc.strerror or exc}"
        ) from exc
    port = int(server.server_address[1])
    exporter = Exporter(settings.address, port, collector, server, thread)
    log.info("Prometheus endpoint at %s", exporter.url)
    collector.refresh_in_background()
    return exporter
