"""Shared fixtures: the reference material in ../shared and engines on temporary stores."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend

from provider_server import FakeProviders
from tokentray.engine import Engine, open_engine

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The agents' reference log folders with their expected totals.

    ``tests/fixtures/formats`` holds copies of ``../shared/formats/claude-code`` and
    ``codex`` (so a fresh clone runs every test); TOKENTRAY_SHARED points at another copy.
    """
    override = os.environ.get("TOKENTRAY_SHARED")
    return Path(override) if override else REPO / "tests" / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _own_cache_and_log_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The price memo and the log file (a background backup's, say) go to folders of this
    test run (and of the processes its tests start), never to the user's own."""
    folders = {"TOKENTRAY_CACHE_DIR": "cache", "TOKENTRAY_LOG_DIR": "logs"}
    previous = {name: os.environ.get(name) for name in folders}
    for name, folder in folders.items():
        os.environ[name] = str(tmp_path_factory.mktemp(folder))
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def shared() -> Path:
    return shared_dir()


@pytest.fixture
def claude_home(tmp_path: Path, shared: Path) -> Path:
    """A writable copy of the Claude Code fixture folder."""
    target = tmp_path / "claude"
    shutil.copytree(shared / "formats" / "claude-code", target)
    return target


@pytest.fixture
def codex_home(tmp_path: Path, shared: Path) -> Path:
    target = tmp_path / "codex"
    shutil.copytree(shared / "formats" / "codex", target)
    return target


def load_expected(shared: Path, agent: str) -> dict[str, Any]:
    return json.loads((shared / "formats" / agent / "expected.json").read_text())


EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[EngineFactory]:
    """Engines on a store in tmp_path, reading only the folders given."""
    engines: list[Engine] = []

    def factory(
        claude: Path | None = None,
        codex: Path | None = None,
        config: Path | None = None,
        data_dir: Path | None = None,
    ) -> Engine:
        missing = tmp_path / "no-such-folder"
        env = {
            "CLAUDE_CONFIG_DIR": str(claude or missing),
            "CODEX_HOME": str(codex or missing),
        }
        engine = open_engine(
            data_dir or tmp_path / "data",
            config or tmp_path / "no-config.toml",
            env=env,
            home=tmp_path / "home",
        )
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.store.close()


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


FIXTURES = Path(__file__).parent / "fixtures"
DAY_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def assert_expected_days(engine: Engine, fixture: str) -> None:
    """The engine's daily totals (UTC) equal the hand-computed ``days`` of
    ``tests/fixtures/<fixture>/expected.json``, for every field the answer names."""
    from zoneinfo import ZoneInfo

    from tokentray import aggregate

    expected = json.loads((FIXTURES / fixture / "expected.json").read_text())["days"]
    report = aggregate.period_report(engine.store, "daily", ZoneInfo("UTC"), aggregate.Filters())
    got = {row.period: row.totals for row in report.rows}
    assert sorted(got) == sorted(expected)
    for day, want in expected.items():
        for name in DAY_FIELDS:
            if name in want:
                assert getattr(got[day], name) == want[name], (fixture, day, name)
        assert got[day].cost_usd == pytest.approx(want["cost_usd"], abs=1e-12), (fixture, day)


# -- agent fixtures -------------------------------------------------------------------
#
# tests/fixtures/<name>/ is an agent's folder as it lies on disk, with expected.json:
#   "setup":  "home" (the folder used as HOME, default "."), "env" (variables whose values
#             are paths inside the fixture), "folders" ([agent, path] added by hand) and
#             "agents" (the agents whose requests it holds, when "events" does not say);
#   "events": the stored requests, each with the fields that matter (a multiset);
#   "days":   hand-computed day totals in UTC (see assert_expected_days);
#   "skipped_lines": how many records are unreadable on purpose (default 0).
# A file "x.sql" becomes the SQLite database "x" when the fixture is copied, and the text
# "{FIXTURE}" inside a file becomes the copy's path (for files that name absolute paths).


def agent_fixtures() -> list[str]:
    """Every fixture folder with an expected.json in this format."""
    return sorted(
        path.parent.name
        for path in FIXTURES.glob("*/expected.json")
        if "setup" in json.loads(path.read_text())
    )


def materialise(name: str, target: Path) -> Path:
    """A writable copy of fixture ``name`` at ``target``, databases built from their SQL."""
    shutil.copytree(FIXTURES / name, target)
    for path in sorted(target.rglob("*")):
        if not path.is_file() or path.name == "expected.json":
            continue
        if path.suffix == ".sql":
            database = sqlite3.connect(path.with_suffix(""))
            database.executescript(path.read_text(encoding="utf-8"))
            database.close()
            path.unlink()
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if "{FIXTURE}" in text:
            path.write_text(text.replace("{FIXTURE}", str(target)), encoding="utf-8")
    return target


def fixture_engine(name: str, tmp_path: Path) -> tuple[Engine, Path]:
    """An engine that reads only fixture ``name`` (copied into tmp_path), and the copy."""
    from tokentray.settings import Settings

    root = materialise(name, tmp_path / "fixture")
    setup = json.loads((root / "expected.json").read_text())["setup"]
    nowhere = str(tmp_path / "no-such-folder")
    env = {"CLAUDE_CONFIG_DIR": nowhere, "CODEX_HOME": nowhere}
    env.update({key: str(root / value) for key, value in setup.get("env", {}).items()})
    folders = [(agent, str(root / path)) for agent, path in setup.get("folders", [])]
    engine = open_engine(
        tmp_path / "data",
        env=env,
        home=root / setup.get("home", "."),
        settings=Settings(custom_folders=folders),
    )
    return engine, root


def delete_now(worker: Any) -> None:
    """Delete a worker (a QObject) that ran on this thread here and now, with its timers.
    Left to the garbage collector, it may be deleted from another thread during a later
    test, and a timer of the deleted object then fires (a segmentation fault)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    worker.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
