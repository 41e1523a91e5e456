"""The price memo: genai-prices' answers kept in the cache folder, so that a new process
(a first scan's worker, a new store) prices without importing the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EngineFactory
from tokentray import ingest, price_memo, pricing
from tokentray.events import UsageEvent
from tokentray.pricing import Pricer
from tokentray.settings import load_settings
from tokentray.synthetic import generate_corpus

DAY_MS = 86_400_000
START_MS = 1_790_000_000_000  # 2026-09-21


def _events() -> list[UsageEvent]:
    """Known and unknown models, a long-context prompt, a service tier, several days."""
    models = [
        ("claude-sonnet-4-5-20250929", ""),
        ("claude-opus-4-1-20250805", ""),
        ("claude-opus-4-6", "fast"),
        ("gpt-5-codex", ""),
        ("claude-experimental-x", ""),
    ]
    return [
        UsageEvent(
            source="test",
            key=f"{model}-{day}",
            session_id="s",
            project="/p",
            model=model,
            timestamp_ms=START_MS + day * DAY_MS,
            input_tokens=1200,
            output_tokens=800,
            cache_read_tokens=250_000 if day == 2 else 3000,
            cache_write_5m_tokens=500,
            cache_write_1h_tokens=70,
            service_tier=tier,
        )
        for model, tier in models
        for day in range(3)
    ]


def _refuse_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError(f"the library was asked for {args}")

    monkeypatch.setattr(pricing, "library_rates", refuse)
    monkeypatch.setattr(pricing, "library_answer", refuse)


def _memo_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("prices-*.json"))


def test_a_new_pricer_prices_from_the_memo_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "cache"))
    first = Pricer()
    expected = [first.cost(event) for event in _events()]
    assert ("unpriced" in {s for _, s in expected}) and ("priced" in {s for _, s in expected})
    first.save_memo()
    (memo,) = _memo_files(tmp_path / "cache")
    assert first.library in memo.name

    _refuse_the_library(monkeypatch)
    assert [Pricer().cost(event) for event in _events()] == expected


def test_overrides_apply_on_top_of_the_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo holds the library's answers only: a user's override still changes prices."""
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "config.toml"
    config.write_text(
        '[pricing.models."claude-sonnet-4-5-20250929"]\nmultiplier = 0.5\n'
        '[pricing.models."claude-experimental-x"]\ninput = 1\noutput = 2\n'
    )
    overridden = load_settings(config).pricing
    expected = [Pricer(overridden).cost(event) for event in _events()]
    plain = Pricer()
    assert [plain.cost(event) for event in _events()] != expected
    plain.save_memo()

    _refuse_the_library(monkeypatch)
    assert [Pricer(overridden).cost(event) for event in _events()] == expected


def _damaged(folder: Path, kind: str, library: str) -> None:
    memo_format = price_memo.FORMAT
    folder.mkdir(parents=True)
    path = folder / f"prices-{library}-{pricing.ALGORITHM_VERSION}.json"
    good = json.dumps({"base": [3, 15, 0.3, 3.75, 6], "tiers": [], "origin": "x", "exact": True})
    entries = {
        "negative rate": good.replace("[3,", "[-3,"),
        "text rate": good.replace("[3,", '["3",'),
        "four rates": good.replace("[3, ", "["),
        "not json": "{",
        "a list": "[]",
    }
    # Well-formed rates, but far from the library's: taken, they would show.
    wrong = good.replace("[3,", "[300,")
    windows = {
        "a day that is no date": ["", "someday"],
        "a day as a number": [20260101, ""],
    }
    name = "claude-sonnet-4-5-20250929"
    if kind == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif kind == "another format":
        path.write_text(json.dumps({"format": 99, "rates": [[name, "", "", "", good]]}))
    elif kind == "the first format":  # (name, day, tier, rates), one day an entry
        path.write_text(json.dumps({"format": 1, "rates": [[name, "2026-09-21", "", wrong]]}))
    elif kind == "a folder":
        path.mkdir()
    elif kind == "a fifo":
        os.mkfifo(path)
    elif kind in windows:
        entry = [name, "", *windows[kind], wrong]
        path.write_text(json.dumps({"format": memo_format, "rates": [entry]}))
    else:
        entry = [name, "", "", "", entries[kind]]
        path.write_text(json.dumps({"format": memo_format, "rates": [entry, [1, 2]]}))


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "another format",
        "the first format",
        "a day that is no date",
        "a day as a number",
        "a folder",
        "a fifo",
        "negative rate",
        "text rate",
        "four rates",
        "not json",
        "a list",
    ],
)
def test_a_damaged_memo_is_ignored_and_mended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Whatever lies at the memo's path, prices come from the library, as without it."""
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "clean"))
    expected = [Pricer().cost(event) for event in _events()]
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "damaged"))
    _damaged(tmp_path / "damaged", kind, Pricer().library)

    pricer = Pricer()
    assert [pricer.cost(event) for event in _events()] == expected
    pricer.save_memo()
    if kind not in ("a folder", "a fifo"):  # a regular file is replaced with a good one
        _refuse_the_library(monkeypatch)
        assert [Pricer().cost(event) for event in _events()] == expected


def test_an_unwritable_cache_folder_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(blocked / "cache"))
    pricer = Pricer()
    costs = [pricer.cost(event) for event in _events()]
    pricer.save_memo()  # cannot create the folder: logged, not raised
    assert costs == [Pricer().cost(event) for event in _events()]


def test_a_first_scans_workers_fill_the_memo(
    make_engine: EngineFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the worker processes had to ask the library reaches the memo, and a scan into
    another new store then prices everything without it."""
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TOKENTRAY_WORKERS", "2")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(ingest, "_start_method", lambda: "spawn")  # no fork under pytest
    generate_corpus(tmp_path / "corpus", 2_000_000, seed=11)
    claude, codex = tmp_path / "corpus" / "claude", tmp_path / "corpus" / "codex"
    parallel = make_engine(claude=claude, codex=codex, data_dir=tmp_path / "first")
    parallel.ingestor.scan()
    (memo,) = _memo_files(tmp_path / "cache")
    asked = {entry[0] for entry in json.loads(memo.read_text())["rates"]}
    assert asked >= {row[0] for row in parallel.store.query("SELECT DISTINCT model FROM events")}

    _refuse_the_library(monkeypatch)
    monkeypatch.setenv("TOKENTRAY_WORKERS", "1")
    again = make_engine(claude=claude, codex=codex, data_dir=tmp_path / "second")
    again.ingestor.scan()
    costs = "SELECT key, cost_usd, cost_status FROM events ORDER BY key"
    assert again.store.query(costs) == parallel.store.query(costs)


_PRICE_AND_LIST_IMPORTS = """
import sys
from tokentray.events import UsageEvent
from tokentray.pricing import Pricer
event = UsageEvent(source="t", key="k", session_id="s", project="/p",
                   model="claude-sonnet-4-5-20250929", timestamp_ms=1790000000000,
                   input_tokens=1000, output_tokens=10)
pricer = Pricer()
print(pricer.cost(event)[0], "genai_prices" in sys.modules)
pricer.save_memo()
"""


def test_a_process_with_the_memo_never_imports_the_library(tmp_path: Path) -> None:
    env = {**os.environ, "TOKENTRAY_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> list[str]:
        command = [sys.executable, "-c", _PRICE_AND_LIST_IMPORTS]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return done.stdout.split()

    cost, imported = run()
    assert float(cost) > 0 and imported == "True"
    assert run() == [cost, "False"]


def test_a_damaged_price_cache_entry_in_the_store_is_resolved_again(
    make_engine: EngineFactory, claude_home: Path, tmp_path: Path
) -> None:
    """The store's own price cache is read with the same care: a damaged entry is logged,
    resolved again and overwritten, never a crash or a wrong price."""
    engine = make_engine(claude=claude_home)
    engine.ingestor.scan()
    costs = "SELECT key, cost_usd, cost_status FROM events ORDER BY key"
    before = engine.store.query(costs)
    with engine.store.transaction() as db:
        db.execute("UPDATE price_cache SET rates = '{\"base\": [1, 2]}' WHERE rates IS NOT NULL")
    engine.store.close()

    again = make_engine(claude=claude_home)
    assert again.ingestor.reprice() == len(before)
    assert again.store.query(costs) == before
    assert not again.store.query("SELECT 1 FROM price_cache WHERE rates LIKE '%[1, 2]%'")


def test_a_day_never_asked_about_is_priced_from_the_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo keeps each answer over the days the library cannot answer otherwise: a
    new day (the next morning's first request) needs no library, unless a dated price of
    that model starts in between."""
    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "cache"))
    asked = [_event("claude-opus-4-6", "2026-09-21"), _event("claude-experimental-x", "2026-09-21")]
    first = Pricer()
    for event in asked:
        first.cost(event)
    first.save_memo()
    later = [_event(e.model, day) for e in asked for day in ("2026-03-13", "2026-10-13")]
    expected = [Pricer().cost(event) for event in later]

    monkeypatch.setenv("TOKENTRAY_CACHE_DIR", str(tmp_path / "cache"))
    _refuse_the_library(monkeypatch)
    assert [Pricer().cost(event) for event in later] == expected
    # claude-opus-4-6 has a price variant from 2026-10-14, and a dated price from 2026-03-13.
    for day in ("2026-03-12", "2026-10-14"):
        with pytest.raises(AssertionError, match="the library was asked"):
            Pricer().cost(_event("claude-opus-4-6", day))


def _event(model: str, day: str, tier: str = "") -> UsageEvent:
    moment = datetime.fromisoformat(day).replace(hour=18, tzinfo=UTC)
    return UsageEvent(
        source="test",
        key=f"{model}-{day}",
        session_id="s",
        project="/p",
        model=model,
        timestamp_ms=int(moment.timestamp() * 1000),
        input_tokens=1000,
        output_tokens=500,
        cache_read_tokens=2000,
        service_tier=tier,
    )


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("claude-opus-4-6", ""),
        ("claude-opus-4-6", "fast"),
        ("claude-sonnet-4-5-20250929", "priority"),
        ("deepseek/deepseek-v4-flash", ""),
        ("gpt-5-codex", "flex"),
        ("claude-experimental-x", ""),
    ],
)
def test_the_memo_answers_every_day_as_the_library_does(
    tmp_path: Path, model: str, tier: str
) -> None:
    """Day by day over two years, asking the library only when the memo has no answer:
    whatever the memo answers is what the library says for that day, and it is asked
    once per stretch between two dated prices."""
    memo = price_memo.LibraryMemo("memo.json", tmp_path)
    asked = 0
    day = date(2025, 6, 1)
    while day < date(2027, 6, 1):
        truth = pricing.library_rates(model, day, tier)
        found, text = memo.lookup((model, day.isoformat(), tier))
        if found:
            assert text == (None if truth is None else truth.to_json()), day
        else:
            asked += 1
            rates, (first, until) = pricing.library_answer(model, day, tier)
            assert rates == truth
            memo.add((model, tier, first, until, None if rates is None else rates.to_json()))
        day += timedelta(days=1)
    windows = {window for windows in memo._load().values() for window in windows}
    assert asked == len(windows) <= 4
