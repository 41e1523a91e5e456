"""The Prometheus endpoint, scraped over HTTP on 127.0.0.1 and read with
prometheus-client's own parser; and the shipped dashboard's every query, evaluated by a
real Prometheus server scraping a running exporter."""

from __future__ import annotations

import json
import math
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import EngineFactory
from tests.helpers.transcripts import Cli, Repo, request, write_session

from tokentray import exporter as exporter_module
from tokentray.dashboard.live import local_day_start_ms
from tokentray.exporter import ExporterError, exposure_warning, start_exporter
from tokentray.settings import ExporterSettings
from tokentray.store import EventFilter

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "packaging" / "grafana" / "tokentray-team.json"
UTC = ZoneInfo("UTC")
A, B = "a" * 36, "b" * 36


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def value(found: dict[str, Any], name: str, **labels: str) -> float:
    return sum(v for tags, v in found[name] if all(tags.get(k) == w for k, w in labels.items()))


@pytest.fixture
def history(tmp_path: Path, make_engine: EngineFactory):  # type: ignore[no-untyped-def]
    """Two sessions in a real repository (one commits twice), now-ish so today counts."""
    repo = Repo(tmp_path / "home" / "me" / "secret-project")
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 600))
    later = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 300))
    claude = tmp_path / "claude"
    folder = str(repo.folder)
    write_session(
        claude,
        A,
        [
            request(A, folder, stamp, write_5m=1000, n=1),
            request(A, folder, later, cache_read=1000, n=2),
        ],
    )
    write_session(claude, B, [request(B, folder, stamp, n=1, input_tokens=5000)])
    repo.commit(later, 4)
    repo.commit(later, 6, name="other.txt")
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    return engine, repo, claude


def running(engine, settings: ExporterSettings, budget: float = 20.0):  # type: ignore[no-untyped-def]
    exporter = start_exporter(engine.store.path, settings, lambda: budget, UTC, dict)
    exporter.collector.settle()  # the background work, done now
    exporter.collector.refresh_outcomes()
    return exporter


def test_metrics_over_http(history) -> None:  # type: ignore[no-untyped-def]
    engine, _, _ = history
    exporter = running(engine, ExporterSettings(port=0, user="alice"))
    try:
        assert exporter.url.startswith("http://127.0.0.1:")
        found = samples(httpx.get(exporter.url, timeout=10).text)
    finally:
        exporter.stop()
    every = EventFilter()
    stored_read = sum(r[5] for r in engine.store.sums_by_label(every))
    assert value(found, "tokentray_tokens_total", kind="cache_read", user="alice") == stored_read
    assert value(found, "tokentray_cost_usd_total") == pytest.approx(
        engine.store.sum_value("usd", every)
    )
    assert value(found, "tokentray_requests_total") == 3
    labels = found["tokentray_cost_usd_total"][0][0]
    assert labels == {
        "user": "alice",
        "source": "claude-code",
        "model": "claude-sonnet-4-5-20250929",
        "project": "secret-project",  # the folder's name, never its path
    }
    assert value(found, "tokentray_commits_total", project="secret-project") == 2
    assert value(found, "tokentray_lines_changed_total") == 10
    assert value(found, "tokentray_outcome_cost_usd_total", outcome="no_commit") > 0
    today = engine.store.day_totals(local_day_start_ms(int(time.time() * 1000), UTC))[0]
    assert value(found, "tokentray_budget_utilisation_ratio") == pytest.approx(today / 20.0)
    burn = engine.store.sum_value("usd", every)  # all three requests are in the last 15 min
    assert value(found, "tokentray_burn_usd_per_hour") == pytest.approx(burn * 4)
    assert value(found, "tokentray_up") == 1
    assert found["tokentray_tier"][0][0]["tier"] == "Beginner"


def test_project_labels_can_be_turned_off(history) -> None:  # type: ignore[no-untyped-def]
    engine, _, _ = history
    exporter = running(engine, ExporterSettings(port=0, project_labels=False, user="bob"))
    try:
        text = httpx.get(exporter.url, timeout=10).text
    finally:
        exporter.stop()
    assert "secret-project" not in text and "/home/" not in text
    found = samples(text)
    assert all("project" not in labels for series in found.values() for labels, _ in series)
    assert value(found, "tokentray_commits_total") == 2


def test_counters_follow_new_requests(history) -> None:  # type: ignore[no-untyped-def]
    engine, repo, claude = history
    exporter = running(engine, ExporterSettings(port=0))
    try:
        before = value(
            samples(httpx.get(exporter.url, timeout=10).text), "tokentray_requests_total"
        )
        now = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
        write_session(claude, A, [request(A, str(repo.folder), now, n=3)])
        engine.ingestor.scan()
        after = value(samples(httpx.get(exporter.url, timeout=10).text), "tokentray_requests_total")
    finally:
        exporter.stop()
    assert (before, after) == (3, 4)


def test_beyond_loopback_is_warned_and_a_busy_port_is_said(history) -> None:  # type: ignore[no-untyped-def]
    engine, _, _ = history
    assert exposure_warning(ExporterSettings()) is None
    warning = exposure_warning(ExporterSettings(address="0.0.0.0", port=9788))
    assert warning and "0.0.0.0:9788" in warning and "project names" in warning
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ExporterError, match=f"127.0.0.1:{port}"):
            start_exporter(engine.store.path, ExporterSettings(port=port), lambda: 0.0, UTC)


def test_watch_serves_the_metrics(tmp_path: Path, history) -> None:  # type: ignore[no-untyped-def]
    engine, _, claude = history
    engine.store.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = Cli(tmp_path, claude).start("watch", "--exporter", f"127.0.0.1:{port}")
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert any(f"http://127.0.0.1:{port}/metrics" in line for line in lines), lines
        found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        assert value(found, "tokentray_requests_total") == 3
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=20) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            print(process.communicate()[1][-3000:])
            raise


# -- a real Prometheus server ---------------------------------------------------------------


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in the shipped dashboard, with Grafana's
    variables set as a dashboard showing the last 10 minutes of all users would."""
    board = json.loads(DASHBOARD.read_text())
    found = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = (
                target["expr"]
                .replace("$__rate_interval", "30s")
                .replace("$__range", "10m")
                .replace('"$user"', '".*"')
            )
            assert "$" not in expr, expr
            found.append((panel["title"], expr))
    return found


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Any]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")

    def start(target: str) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tokentray\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus did not start")

    processes: list[subprocess.Popen[bytes]] = []
    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert reply["status"] == "success", (expr, reply)
    return list(reply["data"]["result"])


def test_every_dashboard_query_returns_data_from_a_real_prometheus(
    history, prometheus, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    engine, repo, claude = history
    monkeypatch.setattr(exporter_module, "OUTCOMES_EVERY_S", 0.5)
    exporter = running(engine, ExporterSettings(port=0, user="alice"))
    try:
        url = prometheus(f"127.0.0.1:{exporter.port}")
        deadline = time.monotonic() + 30
        while not query(url, "tokentray_up") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert query(url, "tokentray_up"), "prometheus never scraped the exporter"
        time.sleep(2)
        # Work while it scrapes, so every counter has moved within the range.
        now = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
        write_session(claude, A, [request(A, str(repo.folder), now, n=7, cache_read=500)])
        repo.commit(now, 3, name="third.txt")
        engine.ingestor.scan()
        time.sleep(4)
        for title, expr in dashboard_queries():
            result = query(url, expr)
            values = [float(r["value"][1]) for r in result]
            assert values, f"{title}: {expr} returned nothing"
            assert not any(math.isnan(v) for v in values), f"{title}: {expr} gave NaN"
        users = query(url, "count by (user) (tokentray_info)")
        assert [r["metric"]["user"] for r in users] == ["alice"]
    finally:
        exporter.stop()


def test_old_and_new_history_add_up(tmp_path: Path, make_engine: EngineFactory) -> None:
    """Requests from before yesterday (summed once an hour) and since (at each scrape)."""
    claude = tmp_path / "claude"
    old = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 10 * 86400))
    new = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
    write_session(claude, A, [request(A, "/w/app", old, n=1), request(A, "/w/app", new, n=2)])
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    exporter = running(engine, ExporterSettings(port=0))
    try:
        found = samples(httpx.get(exporter.url, timeout=10).text)
        again = samples(httpx.get(exporter.url, timeout=10).text)  # from the settled part
    finally:
        exporter.stop()
    for scrape in (found, again):
        assert value(scrape, "tokentray_requests_total") == 2
        assert value(scrape, "tokentray_tokens_total", kind="output") == 200
        assert value(scrape, "tokentray_cost_usd_total") == pytest.approx(
            engine.store.sum_value("usd", EventFilter())
        )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[exporter]\nport = 70000\n", "exporter.port must be from 1 to 65535"),
        ("[exporter]\nport = true\n", "exporter.port must be a whole number"),
        ('[exporter]\nenabled = "yes"\n', "enabled must be true or false"),
        ('[exporter]\naddress = " "\n', "exporter.address must be an address"),
        ('[insight.moved]\n"old/app" = "/new/app"\n', "insight.moved maps whole folders"),
        ('[insight]\ncompare_model = ""\n', "insight.compare_model must name a model"),
    ],
)
def test_unusable_team_settings_are_said(tmp_path: Path, text: str, said: str) -> None:
    from tokentray.settings import load_settings

    config = tmp_path / "config.toml"
    config.write_text(text)
    settings = load_settings(config)
    assert settings.error and said in settings.error
    assert settings.exporter.enabled is False  # the defaults: nothing is served


def test_team_settings_round_trip(tmp_path: Path) -> None:
    from tokentray.settings import InsightSettings, load_settings, save_settings

    config = tmp_path / "config.toml"
    settings = load_settings(config)
    settings.exporter = ExporterSettings(True, "0.0.0.0", 9999, False, "dana")
    settings.insight = InsightSettings("claude-haiku-4-5", {"/old/app": "/new/app"})
    save_settings(settings, config)
    again = load_settings(config)
    assert again.error is None
    assert again.exporter == settings.exporter and again.insight == settings.insight


def test_counters_wait_for_the_history_and_follow_the_day(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    """No counter is served before the whole history is summed (a partial sum would look
    like a reset); when the day turns, the day that settles is added, not re-summed."""
    from tokentray.exporter import UsageCollector

    claude = tmp_path / "claude"
    stamps = [time.time() - days * 86400 for days in (5, 1.2, 0.01)]
    write_session(
        claude,
        A,
        [
            request(A, "/w/app", time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t)), n=i)
            for i, t in enumerate(stamps)
        ],
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    now = [time.time()]
    collector = UsageCollector(
        engine.store, ExporterSettings(), lambda: 0.0, UTC, clock=lambda: now[0], background=False
    )

    def scrape() -> dict[str, float]:
        return {
            family.name: sum(sample.value for sample in family.samples)
            for family in collector.collect()
        }

    first = scrape()
    assert "tokentray_requests" not in first and first["tokentray_counters_ready"] == 0
    collector.settle()
    assert scrape()["tokentray_requests"] == 3
    settled_before = collector._settled
    now[0] += 86400  # tomorrow: yesterday's start moves on a day
    assert scrape()["tokentray_requests"] == 3
    assert collector._settled is not settled_before
    assert collector._settled.cutoff == settled_before.cutoff + 86400 * 1000
