"""Every agent fixture in tests/fixtures/ gives its hand-computed answer.

One test per fixture folder (see conftest's "agent fixtures" for the format): copy it,
scan it, and compare the stored requests and day totals with its expected.json. A second
scan of the unchanged folder must change nothing. Adding an agent means adding a fixture
folder; this test picks it up.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, agent_fixtures, assert_expected_days, fixture_engine
from tokentray.engine import Engine

FIELDS = (
    "source",
    "session_id",
    "project",
    "model",
    "ts_ms",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "estimated",
    "replayed",
    "cost_status",
    "reported_cost_usd",
    "cost_usd",
)


def stored_events(engine: Engine) -> list[dict[str, Any]]:
    rows = engine.store.query(f"SELECT {', '.join(FIELDS)} FROM events ORDER BY ts_ms, key")
    events = []
    for row in rows:
        event = dict(zip(FIELDS, row, strict=True))
        event["time"] = datetime.fromtimestamp(event["ts_ms"] / 1000, UTC).isoformat()
        event["estimated"] = bool(event["estimated"])
        events.append(event)
    return events


def _wanted(value: Any, root: Path) -> Any:
    """An expected value: ``{"estimate_of": text, "model": m}`` is tokentray's own estimate
    of that text (the encoding installed decides the number); "{FIXTURE}" is the copy."""
    if isinstance(value, dict) and "estimate_of" in value:
        from tokentray.estimate import count_tokens

        return count_tokens(value["estimate_of"], value["model"])[0]
    if isinstance(value, str):
        return value.replace("{FIXTURE}", str(root))
    return value


def _matches(event: dict[str, Any], expected: dict[str, Any], root: Path) -> bool:
    for name, value in expected.items():
        want, got = _wanted(value, root), event[name]
        if isinstance(want, float) or isinstance(got, float):
            if got is None or want is None or got != pytest.approx(want, rel=1e-9):
                return False
        elif got != want:
            return False
    return True


def assert_events(engine: Engine, expected: list[dict[str, Any]], root: Path) -> None:
    """The stored requests are exactly the expected ones (each named field equal)."""
    remaining = stored_events(engine)
    for want in expected:
        found = next((e for e in remaining if _matches(e, want, root)), None)
        assert found is not None, f"no stored request matches {want}; left: {remaining}"
        remaining.remove(found)
    assert remaining == [], f"requests stored but not expected: {remaining}"


def _totals(engine: Engine) -> list[tuple[Any, ...]]:
    return engine.store.query(
        "SELECT COUNT(*), SUM(total_tokens), SUM(COALESCE(cost_usd, 0)) FROM events"
    )


@pytest.mark.parametrize("name", agent_fixtures())
def test_fixture_gives_its_expected_answer(name: str, tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / name / "expected.json").read_text())
    assert "events" in expected or "days" in expected, "a fixture states its answer"
    engine, root = fixture_engine(name, tmp_path)
    with engine.store:
        scan = engine.ingestor.scan()
        assert scan.unreadable == []
        assert scan.skipped_lines == expected.get("skipped_lines", 0), scan.problems
        if "events" in expected:
            assert_events(engine, expected["events"], root)
        if "days" in expected:
            assert_expected_days(engine, name)
        agents = expected["setup"].get("agents")
        if agents is not None:
            sources = engine.store.query("SELECT DISTINCT source FROM events ORDER BY source")
            assert [source for (source,) in sources] == sorted(agents)
        if "activity" in expected:
            kinds = engine.store.query("SELECT kind FROM activity ORDER BY ts_ms")
            assert [kind for (kind,) in kinds] == expected["activity"]
        before = _totals(engine)
        engine.ingestor.scan()  # nothing changed: nothing counted again
        assert _totals(engine) == before


def test_every_agent_has_a_fixture() -> None:
    """Each registered agent is read from at least one fixture folder here."""
    from tokentray.sources import source_names

    covered: set[str] = set()
    for name in agent_fixtures():
        expected = json.loads((FIXTURES / name / "expected.json").read_text())
        covered.update(expected["setup"].get("agents", []))
        covered.update(e["source"] for e in expected.get("events", []) if "source" in e)
    assert sorted(set(source_names()) - covered) == []
