"""Pricing: per-request tiers, unpriced models, overrides, aliases, re-pricing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import FIXTURES, EngineFactory, assert_expected_days
from tokentray.events import UsageEvent
from tokentray.pricing import Pricer, library_rates
from tokentray.settings import load_settings


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=UTC).timestamp() * 1000)


def _event(model: str, day: str = "2026-10-01", **tokens: int) -> UsageEvent:
    return UsageEvent(
        source="test",
        key=f"{model}-{day}-{sorted(tokens.items())}",
        session_id="s",
        project="/p",
        model=model,
        timestamp_ms=_ms(day),
        **tokens,
    )


def test_long_context_tier_applies_per_request() -> None:
    """Two 150k-token prompts are billed at base rates; summed, they would cross 200k."""
    pricer = Pricer()
    small = [_event("claude-sonnet-4-5-20250929", cache_read_tokens=150_000, output_tokens=1000)]
    cost = sum(pricer.price(e).cost_usd or 0 for e in small * 2)
    assert cost == pytest.approx(2 * (150_000 * 0.30 + 1000 * 15) / 1e6)

    big = _event("claude-sonnet-4-5-20250929", cache_read_tokens=250_000, input_tokens=20)
    # Over 200k: the whole request at the long-context rates (0.60 read, 6 input).
    assert pricer.price(big).cost_usd == pytest.approx((250_000 * 0.60 + 20 * 6) / 1e6)


def test_cache_write_ttls_are_priced_apart() -> None:
    pricer = Pricer()
    five = pricer.price(_event("claude-opus-4-1-20250805", cache_write_5m_tokens=1_000_000))
    hour = pricer.price(_event("claude-opus-4-1-20250805", cache_write_1h_tokens=1_000_000))
    assert (five.cost_usd, hour.cost_usd) == pytest.approx((18.75, 30.0))


def test_unknown_model_is_unpriced() -> None:
    priced = Pricer().price(_event("claude-experimental-x", input_tokens=100))
    assert (priced.cost_usd, priced.cost_status) == (None, "unpriced")


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_user_override_prices_an_unknown_model(tmp_path: Path) -> None:
    config = load_settings(
        _config(
            tmp_path,
            """
[pricing.models."claude-experimental-x"]
input = 2.0
output = 10.0
long_context_threshold = 100000
long_context = { input = 4.0 }
""",
        )
    )
    assert config.error is None
    pricer = Pricer(config.pricing)
    short = pricer.price(_event("claude-experimental-x", input_tokens=1000, cache_read_tokens=1000))
    # Cache reads default to 0.1 x input for a model the library does not know.
    assert short.cost_usd == pytest.approx((1000 * 2.0 + 1000 * 0.2) / 1e6)
    long = pricer.price(_event("claude-experimental-x", input_tokens=200_000, output_tokens=10))
    assert long.cost_usd == pytest.approx((200_000 * 4.0 + 10 * 10.0) / 1e6)


def test_alias_prices_a_proxy_name_as_a_known_model(tmp_path: Path) -> None:
    config = load_settings(
        _config(tmp_path, '[pricing.aliases]\n"gateway/sonnet" = "claude-sonnet-4-5"\n')
    )
    priced = Pricer(config.pricing).price(_event("gateway/sonnet", output_tokens=1_000_000))
    assert priced.cost_usd == pytest.approx(15.0)


def test_broken_config_gives_defaults_and_a_message(tmp_path: Path) -> None:
    path = _config(tmp_path, "[pricing.models.x]\ninput = -1\n")
    config = load_settings(path)
    assert config.error is not None and "non-negative" in config.error
    assert config.pricing.overrides == ()
    assert path.read_text() == "[pricing.models.x]\ninput = -1\n"  # left as it was

    assert load_settings(_config(tmp_path, "not = [toml")).error is not None


def test_builtin_override_codex_mini_latest() -> None:
    """Not in genai-prices 0.2.3; OpenAI's model page: $1.50 in, $0.375 cached, $6 out."""
    pricer = Pricer()
    assert library_rates("codex-mini-latest", datetime(2026, 10, 1).date()) is None
    priced = pricer.price(
        _event("codex-mini-latest", input_tokens=1_000_000, cache_read_tokens=1_000_000)
    )
    assert priced.cost_usd == pytest.approx(1.50 + 0.375)


def test_builtin_override_sonnet_5_5_cache_read_before_the_cut() -> None:
    """Anthropic cut Sonnet 5.5 cache reads from $0.20 to $0.10 on 2026-10-07."""
    pricer = Pricer()
    before = pricer.price(_event("claude-sonnet-5-5", "2026-10-06", cache_read_tokens=1_000_000))
    after = pricer.price(_event("claude-sonnet-5-5", "2026-10-07", cache_read_tokens=1_000_000))
    assert (before.cost_usd, after.cost_usd) == pytest.approx((0.20, 0.10))


def test_changed_prices_reprice_stored_usage(
    make_engine: EngineFactory, claude_home: Path, tmp_path: Path
) -> None:
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    engine.store.close()
    config = _config(tmp_path, '[pricing.models."claude-experimental-x"]\ninput = 1\noutput = 2\n')
    engine = make_engine(claude=claude_home, config=config)
    engine.ingestor.scan()
    rows = engine.store.query(
        "SELECT cost_usd, cost_status FROM events WHERE model = 'claude-experimental-x'"
    )
    assert rows == [(pytest.approx((100 * 1 + 200 * 2) / 1e6), "priced")]


def test_rates_are_cached_in_the_store(make_engine: EngineFactory, claude_home: Path) -> None:
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    cached = engine.store.query("SELECT model, rates IS NULL FROM price_cache ORDER BY model")
    assert ("claude-experimental-x", 1) in cached
    assert ("claude-sonnet-4-5-20250929", 0) in cached


SONNET_4_FIXTURE = Path(__file__).parent / "fixtures" / "sonnet-4-long-context"


def test_sonnet_4_requests_over_200k_are_billed_at_long_context_rates(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """genai-prices has no long-context tier for Sonnet 4; Anthropic bills a request whose
    prompt exceeds 200k entirely at $6 / $22.50 / $0.60 read / $7.50 5m / $12 1h."""
    import shutil

    home = tmp_path / "claude"
    shutil.copytree(SONNET_4_FIXTURE, home)
    engine = make_engine(claude=home)
    engine.ingestor.scan()
    assert_expected_days(engine, "sonnet-4-long-context")
    rows = engine.store.query("SELECT input_tokens, cost_usd FROM events ORDER BY ts_ms")
    assert len(rows) == 4
    # Worked by hand, per million tokens:
    # a: 150,000 + 60,000 read = 210,000 > 200k: 0.15*6 + 0.06*0.60 + 0.001*22.50
    assert rows[0][1] == pytest.approx(0.9 + 0.036 + 0.0225)
    # b: exactly 200,000: not over, base rates 0.15*3 + 0.05*0.30 + 0.001*15
    assert rows[1][1] == pytest.approx(0.45 + 0.015 + 0.015)
    # c: a 250,000-token 1-hour cache write: 0.00001*6 + 0.25*12 + 0.0001*22.50
    assert rows[2][1] == pytest.approx(0.00006 + 3.0 + 0.00225)
    # d: 5,000 + 180,000 read + 20,000 5m write = 205,000: 0.005*6 + 0.18*0.6 + 0.02*7.5
    #    + 0.002*22.5
    assert rows[3][1] == pytest.approx(0.03 + 0.108 + 0.15 + 0.045)


def test_kimi_cache_hits_are_priced_at_moonshots_cache_rate(tmp_path: Path) -> None:
    """A Kimi CLI home on kimi-k2: cache hits at $0.15, not at the $0.57 input rate."""
    from tokentray.engine import open_engine

    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    engine = open_engine(tmp_path / "data", tmp_path / "c.toml", env=env, home=FIXTURES / "kimi")
    with engine.store:
        engine.ingestor.scan()
        assert engine.store.query("SELECT DISTINCT source FROM events") == [("kimi",)]
        assert_expected_days(engine, "kimi")


def test_opus_4_6_requests_over_200k_are_billed_at_long_context_rates() -> None:
    pricer = Pricer()
    small = _event("claude-opus-4-6", cache_read_tokens=199_000, input_tokens=1000)
    big = _event("claude-opus-4-6", cache_read_tokens=199_000, input_tokens=1001, output_tokens=10)
    assert pricer.price(small).cost_usd == pytest.approx((199_000 * 0.5 + 1000 * 5) / 1e6)
    assert pricer.price(big).cost_usd == pytest.approx(
        (199_000 * 1.0 + 1001 * 10 + 10 * 37.5) / 1e6
    )


@pytest.mark.parametrize(
    ("model", "tier", "input_rate", "output_rate"),
    [
        ("claude-opus-4-6", "fast", 30.0, 150.0),  # Claude Code fast mode: 6x
        ("gpt-5-codex", "priority", 2.5, 20.0),  # Codex fast / priority processing: 2x
        ("gpt-5.1-codex-max", "fast", 2.5, 20.0),
        ("gpt-5.4", "priority", 5.0, 30.0),
    ],
)
def test_fast_and_priority_tiers_have_prices_of_their_own(
    model: str, tier: str, input_rate: float, output_rate: float
) -> None:
    tokens = _event(model, input_tokens=100_000, output_tokens=100_000)  # under every tier
    priced = Pricer().price(replace(tokens, service_tier=tier))
    assert priced.cost_usd == pytest.approx((input_rate + output_rate) / 10)
    assert priced.cost_status == "priced"  # not a list-price estimate


def test_a_tier_without_a_price_stays_an_estimate() -> None:
    event = replace(_event("gpt-5-mini", input_tokens=1000), service_tier="priority")
    assert Pricer().price(event).cost_status == "estimated"


def test_tier_overrides_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[pricing.models."m"]\ninput = 1.0\nmultiplier = -2\n')
    assert "multiplier" in (load_settings(config).error or "")
    config.write_text('[pricing.models."m"]\ninput = 1.0\nservice_tiers = "fast"\n')
    assert "service_tiers" in (load_settings(config).error or "")


def test_the_price_library_version_is_read_without_importlib_metadata() -> None:
    import importlib.metadata

    from tokentray.pricing import _library_version

    assert _library_version() == importlib.metadata.version("genai-prices")
