"""The rates and provenance of every model the fixtures emit, checked against a reviewed list.

``tests/fixtures/price-audit.txt`` is the reviewed answer: a change of the price library,
of an override or of the way a source names its models shows up as a diff of that file
(rewrite it with ``TOKENTRAY_UPDATE_PRICE_AUDIT=1`` after checking each new line against
the provider's price page).
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

from tokentray.engine import open_engine
from tokentray.pricing import audit

FIXTURES = Path(__file__).parent / "fixtures"
REVIEWED = FIXTURES / "price-audit.txt"


def _every_fixture_home(tmp_path: Path) -> list[tuple[dict[str, str], Path]]:
    """(environment, home) for each fixture folder: Claude and Codex folders are given by
    their variables, the multi-agent home and the Antigravity folder as homes."""
    none = str(tmp_path / "none")
    antigravity_home = tmp_path / "antigravity-home"
    shutil.copytree(
        FIXTURES / "antigravity" / "antigravity-cli",
        antigravity_home / ".gemini" / "antigravity-cli",
    )
    claude = ["formats/claude-code", "claude-subagent-progress", "sonnet-4-long-context"]
    codex = ["formats/codex", "codex-forks"]
    homes = [
        ({"CLAUDE_CONFIG_DIR": str(FIXTURES / c), "CODEX_HOME": none}, tmp_path) for c in claude
    ]
    homes += [
        ({"CLAUDE_CONFIG_DIR": none, "CODEX_HOME": str(FIXTURES / c)}, tmp_path) for c in codex
    ]
    homes.append(({"CLAUDE_CONFIG_DIR": none, "CODEX_HOME": none}, FIXTURES / "fuzz" / "home"))
    homes.append(({"CLAUDE_CONFIG_DIR": none, "CODEX_HOME": none}, antigravity_home))
    for folder in ("kimi", "pi", "amp", "openclaw"):
        homes.append(({"CLAUDE_CONFIG_DIR": none, "CODEX_HOME": none}, FIXTURES / folder))
    return homes


def test_rates_of_every_model_in_the_fixtures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for env, home in _every_fixture_home(tmp_path):
        engine = open_engine(data, tmp_path / "c.toml", env=env, home=home)
        engine.ingestor.scan()
        engine.store.close()
    engine = open_engine(data, tmp_path / "c.toml", env={}, home=tmp_path)
    lines = audit(engine.store, engine.pricer)
    engine.store.close()
    text = "\n".join(lines) + "\n"
    print(text)
    if os.environ.get("TOKENTRAY_UPDATE_PRICE_AUDIT"):
        REVIEWED.write_text(text)
    diff = "".join(
        difflib.unified_diff(
            REVIEWED.read_text().splitlines(True), text.splitlines(True), "reviewed", "now"
        )
    )
    assert not diff, "rates changed; review each line, then update the file:\n" + diff
