"""Alert rules with a controllable clock: windows across midnight and DST, firing state
across restarts, burn rate, runaway sessions, the digest, the webhook and the CLI."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from provider_server import FakeProviders, Reply
from tokentray.alerts.engine import AlertEngine, window_at
from tokentray.alerts.notify import post_webhook
from tokentray.alerts.rules import Rule, RuleError, default_rules
from tokentray.events import Activity, PricedEvent, UsageEvent
from tokentray.store import Store

PARIS = ZoneInfo("Europe/Paris")
OVERNIGHT = Rule(
    "overnight", "Overnight spend", "total", "usd", 20.0, window="daily", start="22:00", end="07:00"
)


def local(text: str, tz: ZoneInfo = PARIS) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "usage.sqlite3") as s:
        yield s


def spend(
    store: Store,
    at: datetime,
    usd: float,
    session: str = "s1",
    key: str = "",
    tokens: int = 1000,
    project: str = "/home/dev/app",
) -> None:
    event = UsageEvent(
        "claude-code",
        key or f"{session}-{at.isoformat()}-{usd}",
        session,
        project,
        "claude-sonnet-4-5",
        int(at.timestamp() * 1000),
        output_tokens=tokens,
    )
    with store.transaction():
        store.upsert_events([PricedEvent(event, usd, "priced")])


def test_overnight_window_crosses_midnight() -> None:
    late = window_at(OVERNIGHT, local("2026-10-14T23:30"), PARIS)
    early = window_at(OVERNIGHT, local("2026-10-15T06:59"), PARIS)
    assert late == early and late is not None
    assert (late.start, late.end) == (local("2026-10-14T22:00"), local("2026-10-15T07:00"))
    assert window_at(OVERNIGHT, local("2026-10-15T07:00"), PARIS) is None
    assert window_at(OVERNIGHT, local("2026-10-15T12:00"), PARIS) is None


def test_weekdays_choose_the_night_it_starts() -> None:
    weeknights = Rule(
        "wk", "Weeknights", window="daily", start="22:00", end="07:00", weekdays=[0, 1, 2, 3, 4]
    )
    assert window_at(weeknights, local("2026-10-16T23:00"), PARIS) is not None  # Friday night
    assert window_at(weeknights, local("2026-10-17T23:00"), PARIS) is None  # Saturday night
    assert window_at(weeknights, local("2026-10-18T03:00"), PARIS) is None  # Sat→Sun, early


@pytest.mark.parametrize(
    ("night", "hours"),
    [("2026-10-24", 10), ("2026-03-28", 8), ("2026-06-10", 9)],
    ids=["clocks-back", "clocks-forward", "ordinary"],
)
def test_dst_nights_are_longer_or_shorter(night: str, hours: int) -> None:
    window = window_at(OVERNIGHT, local(f"{night}T23:00"), PARIS)
    assert window is not None
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=hours)
    assert window.end.astimezone(PARIS).hour == 7


def test_dst_night_counts_spend_once(store: Store) -> None:
    # 25 Oct 2026: 02:00-03:00 happens twice in Paris. Spend in both is in the same night.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    spend(store, first, 12.0)
    spend(store, second, 12.0)
    engine = AlertEngine(store, [OVERNIGHT], PARIS)
    (alert,) = [a for a in engine.evaluate(local("2026-10-25T06:00")) if a.level != "digest"]
    assert (alert.level, alert.value) == ("critical", pytest.approx(24.0))


def test_fires_once_per_window_and_level_across_restarts(store: Store) -> None:
    spend(store, local("2026-10-14T22:30"), 17.0)
    engine = AlertEngine(store, [OVERNIGHT], PARIS)
    (warning,) = engine.due(local("2026-10-14T22:31"))
    assert warning.level == "warning" and warning.value == pytest.approx(17.0)
    assert engine.due(local("2026-10-14T22:40")) == []  # no repeat

    restarted = AlertEngine(store, [OVERNIGHT], PARIS)  # the app restarts mid-window
    assert restarted.due(local("2026-10-14T23:00")) == []  # still no repeat
    spend(store, local("2026-10-14T23:30"), 5.0)  # crossed while tokentray was stopped
    again = AlertEngine(store, [OVERNIGHT], PARIS)
    (critical,) = again.due(local("2026-10-15T01:00"))  # no miss
    assert critical.level == "critical" and "$22.00" in critical.message()
    # The figure against the limit, then the project, agent and model: no raw ids.
    assert "$22.00: at or over the $20.00 limit" in critical.message()
    assert "in app, Claude Code, claude-sonnet-4-5" in critical.message()

    # The next night is a new window.
    spend(store, local("2026-10-15T23:00"), 25.0)
    fired = [a for a in again.due(local("2026-10-15T23:05")) if a.level != "digest"]
    assert [a.level for a in fired] == ["critical"]


def test_critical_first_means_no_warning_later(store: Store) -> None:
    spend(store, local("2026-10-14T22:30"), 30.0)
    engine = AlertEngine(store, [OVERNIGHT], PARIS)
    assert [a.level for a in engine.due(local("2026-10-14T22:31"))] == ["critical"]
    assert engine.due(local("2026-10-14T23:31")) == []


def test_burst_trips_the_burn_rate_but_not_the_total(store: Store) -> None:
    rules = [
        Rule("burn", "Burn rate", "burn", "usd", 25.0, window="rolling", minutes=15),
        Rule("day", "Daily budget", "total", "usd", 50.0),
    ]
    for minute in range(10):  # $1 a minute: $60/h, $10 in all
        spend(store, local("2026-10-14T10:00") + timedelta(minutes=minute), 1.0, key=f"b{minute}")
    engine = AlertEngine(store, rules, PARIS)
    fired = engine.evaluate(local("2026-10-14T10:10"))
    assert [(a.rule.id, a.level) for a in fired] == [("burn", "critical")]
    assert fired[0].value == pytest.approx(10 * 4)  # $10 in 15 minutes = $40/h


def test_projection_warns_before_the_total_is_reached(store: Store) -> None:
    rule = Rule(
        "proj",
        "Night projection",
        "projection",
        "usd",
        40.0,
        window="daily",
        start="22:00",
        end="07:00",
        minutes=60,
    )
    for minute in range(1, 60, 6):  # $10 in the last hour, at 23:00
        spend(store, local("2026-10-14T22:00") + timedelta(minutes=minute), 1.0, key=f"p{minute}")
    (alert,) = [
        a
        for a in AlertEngine(store, [rule], PARIS).evaluate(local("2026-10-14T23:00"))
        if a.level != "digest"
    ]
    assert alert.value == pytest.approx(10.0)
    assert alert.projection == pytest.approx(10.0 + 10.0 * 8)  # 8 more hours at $10/h
    assert alert.level == "critical" and "by 07:00" in alert.message()


def _activity(store: Store, items: list[Activity]) -> None:
    with store.transaction():
        store.add_activity(items)


def test_runaway_session_without_a_human(store: Store) -> None:
    rule = Rule(
        "run",
        "Runaway session",
        "runaway",
        "usd",
        10.0,
        scope="session",
        window="rolling",
        minutes=30,
        repeat_count=0,
    )
    start = local("2026-10-14T02:00")
    _activity(
        store, [Activity("claude-code", "h1", "night", int(start.timestamp() * 1000), "human")]
    )
    for minute in range(0, 60, 2):  # $1 every 2 minutes for an hour: $30/h, no prompt
        moment = start + timedelta(minutes=minute)
        spend(store, moment, 1.0, session="night", key=f"r{minute}")
        _activity(
            store,
            [
                Activity(
                    "claude-code",
                    f"t{minute}",
                    "night",
                    int(moment.timestamp() * 1000),
                    "tool",
                    f"Bash:{minute}",
                )
            ],
        )
    spend(store, start + timedelta(minutes=59), 0.5, session="attended", key="a1")
    _activity(
        store,
        [
            Activity(
                "claude-code",
                "h2",
                "attended",
                int((start + timedelta(minutes=58)).timestamp() * 1000),
                "human",
            )
        ],
    )
    engine = AlertEngine(store, [rule], PARIS)
    assert engine.evaluate(start + timedelta(minutes=20)) == []  # the prompt was 20 min ago
    (alert,) = engine.evaluate(start + timedelta(minutes=59))
    assert alert.culprit["session"] == "night" and "no prompt" in alert.culprit["why"]
    assert alert.value == pytest.approx(15 * 2)


def test_runaway_session_repeating_a_tool_call(tmp_path: Path) -> None:
    """Read from a real Claude Code transcript: the same Bash call, again and again."""
    from conftest import EngineFactory  # noqa: F401
    from tokentray.engine import open_engine

    log = tmp_path / "claude" / "projects" / "-w" / "loop.jsonl"
    log.parent.mkdir(parents=True)
    start = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)
    lines = [
        json.dumps(
            {
                "type": "user",
                "uuid": "u1",
                "timestamp": start.isoformat(),
                "message": {"role": "user", "content": "fix the tests, I'm off to bed"},
            }
        )
    ]
    for n in range(12):
        moment = (start + timedelta(minutes=1 + n)).isoformat()
        lines.append(
            json.dumps(
                {
                    "type": "assistant",
                    "timestamp": moment,
                    "cwd": "/w",
                    "message": {
                        "id": f"m{n}",
                        "model": "claude-sonnet-4-5-20250929",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": f"toolu_{n}",
                                "name": "Bash",
                                "input": {"command": "npm test"},
                            }
                        ],
                        "usage": {
                            "input_tokens": 10,
                            "cache_read_input_tokens": 100_000,
                            "output_tokens": 500,
                        },
                    },
                }
            )
        )
        lines.append(
            json.dumps(
                {
                    "type": "user",
                    "timestamp": moment,
                    "message": {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": f"toolu_{n}",
                                "content": "1 failing",
                            }
                        ],
                    },
                }
            )
        )
    log.write_text("\n".join(lines) + "\n")
    engine = open_engine(
        tmp_path / "data",
        tmp_path / "c.toml",
        env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "CODEX_HOME": "/none"},
    )
    engine.ingestor.scan()
    kinds = engine.store.query("SELECT kind, COUNT(*) FROM activity GROUP BY kind ORDER BY kind")
    assert kinds == [("human", 1), ("tool", 12)]  # tool results are not prompts
    rule = Rule(
        "run",
        "Runaway",
        "runaway",
        "usd",
        0.5,
        scope="session",
        window="rolling",
        minutes=60,
        repeat_count=10,
    )
    (alert,) = AlertEngine(engine.store, [rule], UTC).evaluate(start + timedelta(minutes=13))
    assert "the same tool call 10× in a row" in alert.culprit["why"]
    assert alert.culprit["session"] == "loop"
    engine.store.close()


def test_morning_digest_once(store: Store) -> None:
    spend(store, local("2026-10-14T23:00"), 3.0, session="a", project="/p/api")
    spend(store, local("2026-10-15T02:00"), 4.0, session="b", project="/p/api")
    engine = AlertEngine(store, [OVERNIGHT], PARIS)
    assert [a for a in engine.due(local("2026-10-15T06:00")) if a.level == "digest"] == []
    (digest,) = [a for a in engine.due(local("2026-10-15T07:05")) if a.level == "digest"]
    assert "$7.00" in digest.message() and "2 sessions" in digest.message()
    assert "/p/api" in digest.message()
    assert engine.due(local("2026-10-15T08:00")) == []


def test_pause_holds_alerts_until_it_ends(store: Store) -> None:
    spend(store, local("2026-10-14T10:00"), 60.0)
    engine = AlertEngine(store, [Rule("day", "Daily", "total", "usd", 50.0)], PARIS)
    engine.pause_until(local("2026-10-14T11:00"))
    assert engine.due(local("2026-10-14T10:30")) == []
    assert [a.level for a in engine.due(local("2026-10-14T11:01"))] == ["critical"]


def test_rule_validation_messages() -> None:
    with pytest.raises(RuleError, match="empty"):
        Rule("x", "Zero", window="daily", start="07:00", end="07:00").validate()
    with pytest.raises(RuleError, match="more than 0"):
        Rule("x", "Negative", threshold=-5).validate()
    with pytest.raises(RuleError, match="which project"):
        Rule("x", "Scoped", scope="project").validate()
    with pytest.raises(RuleError, match="HH:MM"):
        Rule("x", "Clock", window="daily", start="25:00").validate()
    for rule in default_rules(20.0):
        rule.validate()
    assert {r.id for r in default_rules(20.0)} >= {"overnight", "daily-budget", "runaway"}


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/hook"


def test_webhook_posts_slack_compatible_json_with_retries(store: Store) -> None:
    spend(store, local("2026-10-14T10:00"), 60.0)
    (alert,) = AlertEngine(store, [Rule("day", "Daily", "total", "usd", 50.0)], PARIS).evaluate(
        local("2026-10-14T10:01")
    )
    waits: list[float] = []
    with FakeProviders() as hook:
        hook.route("/hook", Reply(500, {}), Reply(200, {"ok": True}))
        assert post_webhook(f"{hook.url}/hook", alert, sleep=waits.append)
        posted = [json.loads(s.body) for s in hook.requests("/hook")]
        assert len(posted) == 2 and waits == [1]
        assert "Daily" in posted[-1]["text"] and posted[-1]["alert"]["level"] == "critical"
        hook.route("/slow", Reply(200, {}, delay=1.0))
        assert not post_webhook(
            f"{hook.url}/slow", alert, attempts=2, timeout=0.3, sleep=waits.append
        )
    assert not post_webhook(_closed_port(), alert, attempts=2, sleep=waits.append)  # down


def test_cli_check_and_watch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokentray.cli import main

    log = tmp_path / "claude" / "projects" / "-w" / "s.jsonl"
    log.parent.mkdir(parents=True)
    night = datetime(2026, 10, 14, 23, 0, tzinfo=PARIS)
    log.write_text(
        json.dumps(
            {
                "type": "assistant",
                "timestamp": night.astimezone(UTC).isoformat(),
                "cwd": "/w",
                "message": {
                    "id": "big",
                    "model": "claude-opus-4-1-20250805",
                    "usage": {"input_tokens": 10, "output_tokens": 400_000},
                },
            }
        )
        + "\n"
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("TOKENTRAY_CONFIG_DIR", str(tmp_path / "config"))
    data = ["--data-dir", str(tmp_path / "data")]
    assert (
        main(
            [
                *data,
                "alerts",
                "check",
                "--at",
                "2026-10-14T23:30:00+02:00",
                "--json",
                "--tz",
                "Europe/Paris",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    (overnight,) = [a for a in report["alerts"] if a["rule"] == "overnight"]
    assert overnight["level"] == "critical" and overnight["value"] == pytest.approx(30.00015)
    assert overnight["already_notified"] is False

    with FakeProviders() as hook:
        hook.route("/hook-s3cr3t-path", Reply(200, {}))
        url = f"{hook.url}/hook-s3cr3t-path"
        # A URL on the command line is visible to every user (ps): refused.
        assert main([*data, "watch", "--once", "--webhook", url]) == 2
        assert "visible to every user" in capsys.readouterr().err
        monkeypatch.setenv("TOKENTRAY_WEBHOOK_URL", url)
        logging.getLogger().handlers.clear()  # let -v install its own handler
        assert main(["-v", *data, "watch", "--once", "--webhook", "--tz", "Europe/Paris"]) == 0
    captured = capsys.readouterr()
    assert "watch:" in captured.out
    assert "s3cr3t" not in captured.err and "s3cr3t" not in captured.out


def test_provider_billed_spend_as_a_metric(store: Store) -> None:
    rule = Rule("billed", "Billed today", "total", "billed_usd", 100.0)
    store._db.execute(
        "INSERT INTO provider_rows VALUES ('anthropic', '2026-10-14', 'm', 'cost', "
        "0, 0, 0, 0, 0, 120.0, 0)"
    )
    (alert,) = AlertEngine(store, [rule], UTC).evaluate(datetime(2026, 10, 14, 18, tzinfo=UTC))
    assert (alert.level, alert.value) == ("critical", 120.0)
    assert "billed by the providers" in alert.message()
    with pytest.raises(RuleError, match="per day"):
        Rule("x", "Bad", "burn", "billed_usd", 5.0, window="rolling").validate()


def test_logs_never_carry_a_webhook_url_or_a_key(caplog: pytest.LogCaptureFixture) -> None:
    from tokentray.logsafe import protect_logs

    with caplog.at_level(logging.DEBUG):
        protect_logs()
        logging.getLogger("tokentray.test").warning(
            "posting to %s with %s",
            "https://hooks.example/services/T0/B0/s3cr3t",
            "sk-ant-abc123456",
        )
        logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/s3cr3t")
    assert "https://hooks.example/…" in caplog.text
    assert "s3cr3t" not in caplog.text and "abc123456" not in caplog.text
