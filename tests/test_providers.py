"""Provider usage APIs against a real local HTTP server: shapes, pages and every fault."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from conftest import MemoryKeyring
from provider_server import FakeProviders, Reply
from tokentray.events import NEVER
from tokentray.providers import http as provider_http
from tokentray.providers.anthropic import AnthropicProvider
from tokentray.providers.keys import KeyStore
from tokentray.providers.openai import OpenAIProvider
from tokentray.providers.openrouter import OpenRouterProvider
from tokentray.providers.poll import INTERVAL_S, ProviderPoller
from tokentray.reconcile import reconcile
from tokentray.store import Store

ADMIN_KEY = "sk-ant-admin01-" + "s3cr3t" * 8
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "usage.sqlite3") as s:
        yield s


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


def _poller(store: Store, fake: FakeProviders, provider, clock: Clock, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return ProviderPoller(
        store, [provider], KeyStore({}), {provider.name: fake.url}, clock=clock, timeout=timeout
    )


def _usage_page(day: str, model: str, tokens: int, more: str | None) -> dict[str, object]:
    return {
        "data": [
            {
                "starting_at": f"{day}T00:00:00Z",
                "ending_at": f"{day}T23:59:59Z",
                "results": [
                    {
                        "model": model,
                        "uncached_input_tokens": tokens,
                        "cache_creation": {
                            "ephemeral_5m_input_tokens": 10,
                            "ephemeral_1h_input_tokens": 20,
                        },
                        "cache_read_input_tokens": 1000,
                        "output_tokens": 50,
                    }
                ],
            }
        ],
        "has_more": more is not None,
        "next_page": more,
    }


COST_PAGE = {
    "data": [
        {
            "starting_at": "2026-11-19T00:00:00Z",
            "ending_at": "2026-11-20T00:00:00Z",
            "results": [
                {"amount": "123.6", "currency": "USD", "model": "claude-sonnet-4-5-20250929"},
                {"amount": "132.75", "currency": "USD", "model": "claude-sonnet-4-5-20250929"},
                {"amount": "3", "currency": "USD", "cost_type": "web_search", "model": None},
            ],
        }
    ],
    "has_more": False,
    "next_page": None,
}


def test_anthropic_pages_and_cents(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page("2026-11-19", "claude-sonnet-4-5-20250929", 400, "page_2")),
        Reply(body=_usage_page("2026-11-20", "claude-sonnet-4-5-20250929", 100, None)),
    )
    fake.route("/v1/organizations/cost_report", Reply(body=COST_PAGE))
    analytics = {
        "data": [
            {
                "date": "2026-11-19T00:00:00Z",
                "actor": {"type": "user_actor", "email_address": "dev@example.com"},
                "model_breakdown": [
                    {
                        "model": "claude-sonnet-4-5-20250929",
                        "tokens": {
                            "input": 52,
                            "output": 18,
                            "cache_read": 1450,
                            "cache_creation": 96,
                        },
                        "estimated_cost": {"amount": 123, "currency": "USD"},
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    fake.route("/v1/organizations/usage_report/claude_code", Reply(body=analytics))
    state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    assert state.status == "ok", state.message
    days = [
        r.query["starting_at"][0]
        for r in fake.requests("/v1/organizations/usage_report/claude_code")
    ]
    assert len(days) == 31 and days[-1] == "2026-11-20"  # one UTC day per call
    usage = fake.requests("/v1/organizations/usage_report/messages")
    assert [r.query.get("page") for r in usage] == [None, ["page_2"]]
    assert usage[0].headers["x-api-key"] == ADMIN_KEY
    assert usage[0].query["group_by[]"] == ["model"] and usage[0].query["bucket_width"] == ["1d"]
    rows = store.query(
        "SELECT day, model, kind, input_tokens, cache_write_1h_tokens, cost_usd "
        "FROM provider_rows ORDER BY day, kind, model"
    )
    assert ("2026-11-19", "claude-sonnet-4-5-20250929", "usage", 400, 20, None) in rows
    assert ("2026-11-20", "claude-sonnet-4-5-20250929", "usage", 100, 20, None) in rows
    costs = {(r[0], r[1]): r[5] for r in rows if r[2] == "cost"}
    # Amounts are cents in decimal strings: 123.6 + 132.75 cents = $2.5635.
    assert costs[("2026-11-19", "claude-sonnet-4-5-20250929")] == pytest.approx(2.5635)
    assert costs[("2026-11-19", "web_search")] == pytest.approx(0.03)
    estimate = store.query(
        "SELECT SUM(input_tokens), SUM(cache_write_5m_tokens), SUM(cost_usd) FROM provider_rows "
        "WHERE kind = 'claude_code'"
    )
    # The fake answers every day alike: 31 days of 52 input, 96 cache writes, 123 cents.
    assert estimate == [(31 * 52, 31 * 96, pytest.approx(31 * 1.23))]


def test_missing_claude_code_analytics_is_not_an_error(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page("2026-11-20", "m", 5, None)),
    )
    fake.route("/v1/organizations/cost_report", Reply(body={"data": [], "has_more": False}))
    # /usage_report/claude_code is not routed: the fake answers 404.
    state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    assert state.status == "ok"
    assert state.info is not None and "unavailable" in str(state.info["claude_code"])


def test_ordinary_key_is_refused_before_any_request(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", "sk-ant-api03-ordinary")
    state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    assert state.status == "wrong key type"
    assert "Admin" in state.message and "Settings → Admin keys" in state.message
    assert fake.seen == []


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_stops_polling_and_never_leaks(
    status: int,
    store: Store,
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    echo = {"error": {"type": "authentication_error", "message": f"invalid x-api-key {ADMIN_KEY}"}}
    fake.route("/v1/organizations/usage_report/messages", Reply(status, echo))
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    with caplog.at_level(logging.DEBUG):
        state = poller.poll(AnthropicProvider())
    assert state.status == "key rejected" and state.next_poll_ms == NEVER
    clock.now += 3600
    poller.poll_due()
    assert len(fake.seen) == 1  # not retried
    # The key is in no message, log line, stored state or file.
    assert ADMIN_KEY not in state.message and ADMIN_KEY[-12:] not in state.message
    assert ADMIN_KEY not in caplog.text
    dump = "\n".join(store._db.iterdump())
    assert ADMIN_KEY not in dump
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert ADMIN_KEY.encode() not in path.read_bytes(), path
    # A new key is tried at once.
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY + "2")
    poller.poll_due()
    assert len(fake.seen) == 2


def test_rate_limit_honours_retry_after(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "120"}),
    )
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    state = poller.poll(AnthropicProvider())
    assert state.status == "rate-limited"
    assert state.next_poll_ms == int((clock.now + 120) * 1000)
    clock.now += 100
    poller.poll_due()
    assert len(fake.seen) == 1
    clock.now += 30
    poller.poll_due()
    assert len(fake.seen) == 2


def test_server_errors_back_off_exponentially(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route("/v1/organizations/usage_report/messages", Reply(500, {"error": {"message": "x"}}))
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    waits = []
    for _ in range(3):
        state = poller.poll(AnthropicProvider(), force=True)
        waits.append(state.next_poll_ms / 1000 - clock.now)
    assert state.status == "error" and "500" in state.message
    assert waits == [60, 120, 240]


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(body=b"<html>not json"), "not JSON"),
        (Reply(body={"unexpected": True}), "data list"),
        (Reply(delay=1.5, body={}), "no answer"),
    ],
    ids=["malformed", "wrong-shape", "timeout"],
)
def test_garbage_and_timeouts_are_errors_not_crashes(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring, reply: Reply, words: str
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route("/v1/organizations/usage_report/messages", reply)
    state = _poller(store, fake, AnthropicProvider(), Clock(), timeout=0.5).poll(
        AnthropicProvider()
    )
    assert state.status == "error" and words in state.message


def test_endless_pagination_is_cut_off(
    store: Store,
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(provider_http, "MAX_PAGES", 5)
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page("2026-11-19", "m", 1, "again")),
    )
    state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    assert state.status == "error" and "more pages" in state.message
    assert len(fake.seen) == 5
    assert store.query("SELECT COUNT(*) FROM provider_rows") == [(0,)]  # nothing half-stored


def test_openai_lenient_shapes(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "openai", "sk-admin-abc")
    start = int(datetime(2026, 11, 19, tzinfo=UTC).timestamp())
    fake.route(
        "/v1/organization/usage/completions",
        Reply(
            body={
                "data": [
                    {  # the first spec's "result", and no input_uncached_tokens
                        "start_time": start,
                        "end_time": start + 86400,
                        "result": [
                            {
                                "model": "gpt-5-codex",
                                "input_tokens": 1000,
                                "input_cached_tokens": 600,
                                "output_tokens": 90,
                            }
                        ],
                    }
                ],
                "has_more": False,
            }
        ),
    )
    fake.route(
        "/v1/organization/costs",
        Reply(
            body={
                "data": [
                    {
                        "start_time": start,
                        "end_time": start + 86400,
                        "results": [
                            {
                                "amount": {"value": 1.3, "currency": "usd"},
                                "line_item": "gpt-5-codex, input",
                            },
                            {
                                "amount": {"value": 1.12, "currency": "usd"},
                                "line_item": "gpt-5-codex, output",
                            },
                        ],
                    }
                ],
                "has_more": False,
            }
        ),
    )
    state = _poller(store, fake, OpenAIProvider(), Clock()).poll(OpenAIProvider())
    assert state.status == "ok", state.message
    request = fake.requests("/v1/organization/usage/completions")[0]
    assert request.headers["Authorization"] == "Bearer sk-admin-abc"
    rows = store.query(
        "SELECT kind, input_tokens, cache_read_tokens, output_tokens, cost_usd FROM provider_rows "
        "WHERE model = 'gpt-5-codex' ORDER BY kind"
    )
    assert rows == [("cost", 0, 0, 0, pytest.approx(2.42)), ("usage", 400, 600, 90, None)]


def test_openrouter_key_and_management_activity(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "openrouter", "sk-or-v1-abc")
    key = {
        "data": {
            "usage": 212.46,
            "usage_daily": 1.94,
            "limit": 50,
            "limit_remaining": 37.82,
            "is_management_key": True,
        }
    }
    fake.route("/api/v1/key", Reply(body=key))
    fake.route(
        "/api/v1/activity",
        Reply(
            body={
                "data": [
                    {
                        "date": "2026-11-19",
                        "model": "anthropic/claude-sonnet-4.5",
                        "usage": 2.5,
                        "byok_usage_inference": 0.1,
                        "prompt_tokens": 1000,
                        "completion_tokens": 100,
                    },
                    {
                        "date": "2026-11-19",
                        "model": "anthropic/claude-sonnet-4.5",
                        "usage": 0.5,
                        "prompt_tokens": 10,
                        "completion_tokens": 1,
                    },
                ]
            }
        ),
    )
    clock = Clock()
    clock.now = datetime.now(UTC).timestamp()
    state = _poller(store, fake, OpenRouterProvider(), clock).poll(OpenRouterProvider())
    assert state.status == "ok", state.message
    assert state.info is not None and state.info["limit_remaining"] == 37.82
    assert len(fake.requests("/api/v1/activity")) == 31  # one per day, the last 30 and today
    rows = store.query(
        "SELECT kind, input_tokens, output_tokens, cost_usd FROM provider_rows "
        "WHERE model = 'anthropic/claude-sonnet-4.5' AND day = '2026-11-19' ORDER BY kind"
    )
    assert rows[0][0] == "cost"
    assert rows[0][3] == pytest.approx(31 * 3.1)  # the fake answers every day the same
    assert store.query("SELECT cost_usd FROM provider_rows WHERE model = '(this key)'") == [
        (pytest.approx(1.94),)
    ]


def test_missing_keyring_says_how_to_fix(store: Store, fake: FakeProviders) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    finally:
        keyring.set_keyring(previous)
    # Nothing was set up here: "not set up", never "error" (issue 12), with the fix said.
    assert state.status == "no key" and state.shown_status == "not set up"
    assert not state.needs_attention
    assert "keyring" in state.message and "TOKENTRAY_ANTHROPIC_ADMIN_KEY" in state.message


def test_an_idle_poll_without_a_keyring_writes_nothing(
    store: Store, fake: FakeProviders, tmp_path: Path
) -> None:
    """The tray polls every minute; with no keyring the state is saved once, not each
    minute (each write woke the tray to recompute everything on a 3 GB store)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    watcher = Store(store.path, integrity="never")  # another connection sees each commit
    try:
        poller.poll_due()
        before = watcher.data_version()
        for _minute in range(3):
            clock.now += 60
            assert poller.poll_due()[0].status == "no key"
        assert watcher.data_version() == before
    finally:
        keyring.set_keyring(previous)
        watcher.close()


def test_an_idle_poll_with_no_key_set_writes_nothing(store: Store, fake: FakeProviders) -> None:
    """A keyring without the key: "no key" is written once, not every minute."""
    previous = keyring.get_keyring()
    keyring.set_keyring(_EmptyKeyring())
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    watcher = Store(store.path, integrity="never")
    try:
        assert poller.poll_due()[0].status == "no key"
        before = watcher.data_version()
        for _minute in range(3):
            clock.now += 60
            poller.poll_due()
        assert watcher.data_version() == before
    finally:
        keyring.set_keyring(previous)
        watcher.close()


class _EmptyKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("read-only")


def test_environment_key_overrides_the_keyring(store: Store, fake: FakeProviders) -> None:
    keys = KeyStore({"TOKENTRAY_OPENAI_ADMIN_KEY": "sk-admin-from-env"})
    assert keys.get(OpenAIProvider()) == ("sk-admin-from-env", "environment")


def test_refetch_window_after_a_success(
    store: Store, fake: FakeProviders, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page("2026-11-20", "m", 1, None)),
    )
    fake.route("/v1/organizations/cost_report", Reply(body={"data": [], "has_more": False}))
    clock = Clock()
    poller = _poller(store, fake, AnthropicProvider(), clock)
    poller.poll(AnthropicProvider())
    first = fake.requests("/v1/organizations/usage_report/messages")[0].query["starting_at"][0]
    assert first == (NOW - timedelta(days=30)).date().isoformat() + "T00:00:00Z"  # backfill
    clock.now += INTERVAL_S + 1
    poller.poll_due()
    again = fake.requests("/v1/organizations/usage_report/messages")[-1].query["starting_at"][0]
    assert again == "2026-11-19T00:00:00Z"  # the day before the last success, on


def test_reconcile_names_the_likely_reason(store: Store) -> None:
    from tokentray.events import PricedEvent, UsageEvent

    ms = int(datetime(2026, 11, 19, 12, tzinfo=UTC).timestamp() * 1000)
    local = UsageEvent("claude-code", "k1", "s", "/p", "claude-sonnet-4-5", ms, input_tokens=1000)
    with store.transaction():
        store.upsert_events([PricedEvent(local, 0.5, "priced")])
        store._db.execute(
            "INSERT INTO provider_rows VALUES ('anthropic', '2026-11-19', 'm', 'usage', "
            "5000, 0, 0, 0, 0, NULL, 0)"
        )
        store._db.execute(
            "INSERT INTO provider_rows VALUES ('anthropic', '2026-11-19', 'm', 'cost', "
            "0, 0, 0, 0, 0, 2.0, 0)"
        )
    (row,) = [r for r in reconcile(store) if r.provider == "anthropic"]
    data = row.as_dict()
    assert (data["local_tokens"], data["billed_tokens"], data["token_difference"]) == (
        1000,
        5000,
        4000,
    )
    assert data["cost_difference_usd"] == pytest.approx(1.5)
    assert any("other machines" in reason for reason in row.reasons)
    assert json.dumps(data)


def test_command_line_test_poll_and_reconcile(
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tokentray.cli import main

    today = datetime.now(UTC).date().isoformat()
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=_usage_page(today, "claude-sonnet-4-5", 700, None)),
    )
    fake.route("/v1/organizations/cost_report", Reply(body={"data": [], "has_more": False}))
    monkeypatch.setenv("TOKENTRAY_ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("TOKENTRAY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(ADMIN_KEY + "\n"))
    data = ["--data-dir", str(tmp_path / "data")]

    assert main([*data, "keys", "set", "anthropic"]) == 0
    assert memory_keyring.items[("tokentray", "anthropic")] == ADMIN_KEY
    assert main([*data, "providers", "test", "anthropic", "--json"]) == 0
    out = capsys.readouterr().out
    states = json.loads(out[out.index("[") :])
    assert states[0]["status"] == "ok"
    assert main([*data, "report", "reconcile", "--json", "--no-scan"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    (row,) = [r for r in rows if r["provider"] == "anthropic"]
    assert row["billed_tokens"] == 700 + 10 + 20 + 1000 + 50 and row["local_tokens"] == 0
    assert main([*data, "providers", "test", "openai"]) == 5  # no key: a test fails
    assert "No OpenAI key set" in capsys.readouterr().out
    assert ADMIN_KEY not in (tmp_path / "data" / "usage.sqlite3").read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    "bucket",
    [
        {"starting_at": "not-a-date-sk-ant-admin01-s3cr3ts3cr3t", "results": []},
        {"starting_at": ["2026-11-20"], "results": [{"model": "m"}]},
        {"starting_at": "2026-11-20T00:00:00Z", "results": [{"uncached_input_tokens": 1e400}]},
        {"starting_at": "2026-11-20T00:00:00Z", "results": [{"uncached_input_tokens": 2**80}]},
    ],
    ids=["bad-date", "wrong-types", "infinite", "huge"],
)
def test_a_200_with_malformed_fields_is_a_malformed_error_with_back_off(
    store: Store,
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
    bucket: dict[str, object],
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    body = {"data": [bucket], "has_more": False}
    fake.route(
        "/v1/organizations/usage_report/messages",
        Reply(body=json.dumps(body).replace("1e+400", "1e400").encode()),
    )
    fake.route("/v1/organizations/cost_report", Reply(body={"data": [], "has_more": False}))
    clock = Clock()
    with caplog.at_level(logging.DEBUG):
        state = _poller(store, fake, AnthropicProvider(), clock).poll(AnthropicProvider())
    assert state.status == "error"
    assert "unexpected shape" in state.message or "out of range" in state.message
    assert state.next_poll_ms == int((clock.now + 60) * 1000)  # backed off, not dead
    assert "s3cr3t" not in state.message and "s3cr3t" not in caplog.text
    assert not store.query("SELECT * FROM provider_rows")


def test_an_echoed_key_prefix_is_never_stored_or_logged(
    store: Store,
    fake: FakeProviders,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory_keyring.set_password("tokentray", "anthropic", ADMIN_KEY)
    prefix = ADMIN_KEY[:24]
    echo = {"error": {"type": "invalid_request", "message": f"bad key {prefix}… \x1b[31mred"}}
    fake.route("/v1/organizations/usage_report/messages", Reply(400, echo))
    with caplog.at_level(logging.DEBUG):
        state = _poller(store, fake, AnthropicProvider(), Clock()).poll(AnthropicProvider())
    assert "bad key [key]" in state.message
    assert "\x1b" not in state.message
    for text in (state.message, caplog.text, "\n".join(store._db.iterdump())):
        assert ADMIN_KEY[15:23] not in text  # not even 8 characters of the secret part


def test_redact_hides_key_shaped_text_and_caps_length() -> None:
    text = provider_http.redact("token sk-or-v1-abcdef123456 and " + "x" * 500, "unrelated")
    assert "abcdef123456" not in text and len(text) <= provider_http.MAX_SERVER_TEXT


def test_the_provider_names_match_the_registry() -> None:
    from tokentray.providers import ALL_PROVIDERS, PROVIDER_NAMES

    assert tuple(cls.name for cls in ALL_PROVIDERS) == PROVIDER_NAMES
