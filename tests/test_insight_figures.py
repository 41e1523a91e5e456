"""Cache figures, the cheaper-model counterfactual and tiers, on sessions with a known
pattern read from real transcripts by the engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import EngineFactory
from tests.helpers.transcripts import OPUS, SONNET, Cli, ms, request, write_session

from tokentray.insight.cache import cache_report
from tokentray.insight.counterfactual import UnknownModelError, check_model, counterfactual
from tokentray.insight.tiers import TIERS, next_tier, tier_for
from tokentray.store import EventFilter

UTC = ZoneInfo("UTC")
S = "5" * 36


def cache_pattern() -> list[dict[str, object]]:
    """Six Sonnet requests (and one Opus request between them, which shares no cache)."""

    def at(clock: str, n: int, **usage: int) -> dict[str, object]:
        return request(S, "/work/app", f"2026-10-01T{clock}", n=n, **usage)  # type: ignore[arg-type]

    return [
        at("10:00", 1, write_5m=1000),  # read at 10:02: fine
        at("10:02", 2, cache_read=1000, write_5m=200),  # next read 8 min later: wasted
        request(S, "/work/app", "2026-10-01T10:05", model=OPUS, n=9),
        at("10:10", 3, write_5m=1200),  # after 8 idle minutes: a miss of 1,200
        at("10:12", 4, cache_read=1200, write_1h=500),  # read 38 min later: within 1 h
        at("10:50", 5, cache_read=1700, write_5m=100),  # never read: wasted
        at("12:00", 6, write_1h=2000),  # 70 min idle past a 1-hour cache: a miss; never read
    ]


@pytest.fixture
def cached(tmp_path: Path, make_engine: EngineFactory):  # type: ignore[no-untyped-def]
    claude = tmp_path / "claude"
    write_session(claude, S, cache_pattern())
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    return engine


def sonnet_band(engine) -> tuple[float, ...]:  # type: ignore[no-untyped-def]
    rates = engine.pricer.rates(SONNET, ms("2026-10-01T10:00"))
    band = rates.band_for(0)
    assert band == (3.0, 15.0, 0.3, 3.75, 6.0)  # Sonnet 4.5's list price that day
    return band


def test_cache_figures_on_a_known_pattern(cached) -> None:  # type: ignore[no-untyped-def]
    engine = cached
    _, _, read_rate, write_5m, write_1h = sonnet_band(engine)
    report = cache_report(
        engine.store,
        EventFilter(),
        UTC,
        lambda e: engine.pricer.rates(e.model, e.timestamp_ms, e.service_tier),
    )
    total = report.total
    assert total.requests == 7
    assert (total.input_tokens, total.cache_read_tokens, total.cache_write_tokens) == (
        70,
        3900,
        5000,
    )
    assert total.hit_ratio == pytest.approx(3900 / (70 + 3900 + 5000))
    assert total.unread_write_tokens == 200 + 100 + 2000
    assert total.unread_write_usd == pytest.approx((300 * write_5m + 2000 * write_1h) / 1e6)
    assert total.idle_misses == 2
    assert total.idle_miss_tokens == 1200 + 1810  # the second: all the previous prompt held
    assert total.idle_miss_usd == pytest.approx(
        (1200 * (write_5m - read_rate) + 1810 * (write_1h - read_rate)) / 1e6
    )
    assert list(report.days) == ["2026-10-01"]
    assert report.sessions[("claude-code", S, "/work/app")].wasted_usd == pytest.approx(
        total.wasted_usd
    )


def test_unpriced_requests_count_tokens_but_no_cost(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    claude = tmp_path / "claude"
    write_session(
        claude, S, [request(S, "/w", "2026-10-01T10:00", model="mystery-model-x", write_5m=50)]
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    report = cache_report(engine.store, EventFilter(), UTC, lambda e: None)
    assert report.total.unread_write_tokens == 50
    assert report.total.unread_write_usd == 0 and report.total.unpriced_requests == 1


def test_opus_priced_as_sonnet(cached) -> None:  # type: ignore[no-untyped-def]
    engine = cached
    report = counterfactual(engine.store, EventFilter(), UTC, engine.pricer, SONNET)
    total = report.total
    assert total.requests == 7 and total.already_on_it == 6
    opus_cost = engine.store.sum_value("usd", EventFilter(model=OPUS))
    # Opus 4.1 costs five times Sonnet 4.5 in every bucket: the saving is 4/5 of it.
    assert total.saving_usd == pytest.approx(opus_cost * 4 / 5)
    assert total.actual_usd == pytest.approx(engine.store.sum_value("usd", EventFilter()))
    (session,) = report.sessions.values()
    assert session.saving_usd == pytest.approx(total.saving_usd)
    assert list(report.days) == ["2026-10-01"]


def test_a_long_prompt_is_priced_at_the_other_models_long_context_rate(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    claude = tmp_path / "claude"
    write_session(
        claude, S, [request(S, "/w", "2026-10-01T10:00", model=OPUS, input_tokens=300_000)]
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    report = counterfactual(engine.store, EventFilter(), UTC, engine.pricer, SONNET)
    rates = engine.pricer.rates(SONNET, ms("2026-10-01T10:00"))
    long_input, long_output = rates.band_for(300_000)[:2]
    assert long_input > 3.0  # past 200k tokens Sonnet bills the whole request higher
    assert report.total.alternative_usd == pytest.approx(
        (300_000 * long_input + 100 * long_output) / 1e6
    )


def test_unpriced_requests_are_left_out_of_the_comparison(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    claude = tmp_path / "claude"
    write_session(claude, S, [request(S, "/w", "2026-10-01T10:00", model="mystery-model-x")])
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    report = counterfactual(engine.store, EventFilter(), UTC, engine.pricer, SONNET)
    assert report.total.unpriced_requests == 1
    assert report.total.actual_usd == report.total.alternative_usd == 0
    with pytest.raises(UnknownModelError, match="no price is known for 'no-such-model'"):
        check_model(engine.pricer, "no-such-model", ms("2026-10-01T10:00"))


def test_tiers() -> None:
    assert tier_for(0).name == "Beginner"
    assert tier_for(999_999).name == "Beginner"
    assert tier_for(1_000_000).name == "Intermediate"
    assert tier_for(99_999_999).name == "Catalyst"
    assert tier_for(100_000_000).name == "AI God"
    assert next_tier(TIERS[-1]) is None
    assert [t.from_tokens for t in TIERS] == sorted(t.from_tokens for t in TIERS)


def test_cache_and_counterfactual_reports_on_the_command_line(tmp_path: Path, cached) -> None:  # type: ignore[no-untyped-def]
    cached.store.close()
    cli = Cli(tmp_path, tmp_path / "claude")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli.run("report", *args, check=False)

    cache = json.loads(run("cache", "--json", "--tz", "UTC").stdout)
    assert cache["total"]["idle_misses"] == 2 and cache["sessions"][0]["session"] == S
    table = run("cache", "--tz", "UTC").stdout
    assert "hit ratio 43%" in table
    versus = json.loads(run("counterfactual", "--as", SONNET, "--json", "--tz", "UTC").stdout)
    assert versus["as_model"] == SONNET and versus["total"]["already_on_model"] == 6
    default = json.loads(run("counterfactual", "--json").stdout)
    assert default["as_model"] == "claude-sonnet-4-5"  # [insight] compare_model's default
    csv_lines = run("counterfactual", "--csv").stdout.splitlines()
    assert csv_lines[0].startswith("day,requests,actual_usd") and len(csv_lines) == 2
    unknown = run("counterfactual", "--as", "no-such-model")
    assert unknown.returncode == 2 and "no price is known for 'no-such-model'" in unknown.stderr


def test_random_sessions_keep_the_cache_figures_within_bounds() -> None:
    """Whatever the pattern, waste never exceeds what was written, and costs are >= 0."""
    import random

    from tokentray.events import UsageEvent
    from tokentray.insight.cache import _follow
    from tokentray.pricing import Rates

    rates = Rates(base=(3.0, 15.0, 0.3, 3.75, 6.0))
    for seed in range(300):
        rng = random.Random(seed)
        at, events = 0, []
        for n in range(rng.randint(1, 30)):
            at += rng.choice((1, 30_000, 299_000, 301_000, 3_500_000, 3_700_000, 0))
            events.append(
                UsageEvent(
                    "claude-code",
                    str(n),
                    "s",
                    "/p",
                    SONNET,
                    at,
                    input_tokens=rng.randint(0, 50),
                    cache_read_tokens=rng.choice((0, rng.randint(1, 10_000))),
                    cache_write_5m_tokens=rng.choice((0, rng.randint(1, 5_000))),
                    cache_write_1h_tokens=rng.choice((0, 0, rng.randint(1, 5_000))),
                )
            )
        for event, figures in _follow(events, lambda e: rates):
            assert 0 <= figures.unread_write_tokens <= event.cache_write_tokens
            assert 0 <= figures.idle_miss_tokens <= event.cache_write_tokens
            assert figures.unread_write_usd >= 0 and figures.idle_miss_usd >= 0
            assert figures.idle_misses in (0, 1)
        # The last write of a session is never read again: it is always wasted.
        last = events[-1]
        *_, (_, final) = _follow(events, lambda e: rates)
        assert final.unread_write_tokens == last.cache_write_tokens
