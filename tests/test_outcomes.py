"""Commits per session: a real git repository built in the test, real transcripts read
by the engine, and known answers for which commit belongs to which session."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import EngineFactory
from tests.helpers.transcripts import OPUS, Cli, Repo, ms, request, write_session

from tokentray.insight.outcomes import GRACE_MS, outcomes
from tokentray.store import EventFilter

UTC = ZoneInfo("UTC")


@pytest.fixture
def scene(tmp_path: Path, make_engine: EngineFactory):  # type: ignore[no-untyped-def]
    """A repository with sessions on two branches, a colleague's commit, a session that
    committed nothing, one in a deleted folder and one in a folder that moved."""
    repo = Repo(tmp_path / "work" / "app")
    app = str(repo.folder)
    claude = tmp_path / "claude"
    repo.commit("2026-10-01T08:00", 1)  # before any session
    write_session(
        claude,
        "a" * 36,
        [
            request("a" * 36, app, "2026-10-01T09:00", n=1),
            request("a" * 36, app, "2026-10-01T09:10", n=2),
            request("a" * 36, app, "2026-10-01T09:20", n=3),
        ],
    )
    shas = {
        "a1": repo.commit("2026-10-01T09:05", 5),
        "colleague": repo.commit("2026-10-01T09:12", 7, email="other@example.com"),
        "a2": repo.commit("2026-10-01T09:40", 3),  # inside the 30-minute grace
        "late": repo.commit("2026-10-01T10:30", 2),  # outside it
    }
    repo.git("checkout", "-q", "-b", "feature")
    shas["b"] = repo.commit("2026-10-01T11:08", 4, name="feature.txt")
    repo.git("checkout", "-q", "main")
    shas["main-during-b"] = repo.commit("2026-10-01T11:05", 6)
    write_session(
        claude,
        "b" * 36,
        [
            request("b" * 36, app, "2026-10-01T11:00", branch="feature", n=1),
            request("b" * 36, app, "2026-10-01T11:10", branch="feature", n=2),
        ],
    )
    # Two sessions at once on main: each commit goes to the one that asked last before it.
    for session, times in (("f" * 36, ("14:00", "14:20")), ("g" * 36, ("14:10", "14:25"))):
        write_session(
            claude,
            session,
            [request(session, app, f"2026-10-01T{t}", n=i) for i, t in enumerate(times)],
        )
    shas["f"] = repo.commit("2026-10-01T14:22", 2)
    shas["g"] = repo.commit("2026-10-01T14:27", 2)
    write_session(claude, "c" * 36, [request("c" * 36, app, "2026-10-02T12:00", model=OPUS)])
    gone = str(tmp_path / "deleted-project")
    write_session(claude, "d" * 36, [request("d" * 36, gone, "2026-10-02T13:00")])
    old = str(tmp_path / "old-place" / "app")
    write_session(claude, "e" * 36, [request("e" * 36, old, "2026-10-02T15:00")])
    shas["e"] = repo.commit("2026-10-02T15:10", 9)
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    moved = {str(tmp_path / "old-place"): str(tmp_path / "work")}
    return engine, repo, shas, moved, tmp_path


def test_each_commit_goes_to_the_session_that_made_it(scene) -> None:  # type: ignore[no-untyped-def]
    engine, repo, shas, moved, _ = scene
    before = repo.state()
    found = outcomes(engine.store, EventFilter(), UTC, moved)
    assert repo.state() == before  # read-only: not one byte under .git changed
    made = {s.session_id[0]: {c.sha for c in s.commits} for s in found.sessions}
    assert made == {
        "a": {shas["a1"], shas["a2"]},  # not the colleague's, not the one after the grace
        "b": {shas["b"]},  # its own branch, not main's commit made meanwhile
        "f": {shas["f"]},
        "g": {shas["g"]},
        "c": set(),
        "d": set(),
        "e": {shas["e"]},  # found where the folder moved to
    }
    status = {s.session_id[0]: s.status for s in found.sessions}
    assert status["d"] == "folder not found (moved or deleted?)"
    assert found.repositories[str(repo.folder)] == "ok"


def test_rows_per_day_project_agent_and_model(scene) -> None:  # type: ignore[no-untyped-def]
    engine, repo, _, moved, tmp_path = scene
    found = outcomes(engine.store, EventFilter(), UTC, moved)
    cost = {s.session_id[0]: s.cost_usd for s in found.sessions}
    assert all(value > 0 for value in cost.values())
    rows = {(r.day, r.project, r.model): r for r in found.rows}
    first = rows[("2026-10-01", str(repo.folder), "claude-sonnet-4-5-20250929")]
    assert (first.sessions, first.commits, first.sessions_with_commits) == (4, 5, 4)
    assert first.lines_added == 5 + 3 + 4 + 2 + 2
    assert first.cost_usd == pytest.approx(sum(cost[k] for k in "abfg"))
    assert first.usd_per_commit == pytest.approx(first.cost_usd / 5)
    assert first.tokens_per_commit == pytest.approx(first.tokens / 5)
    opus = rows[("2026-10-02", str(repo.folder), OPUS)]
    assert (opus.commits, opus.no_commit_usd) == (0, pytest.approx(cost["c"]))
    assert opus.usd_per_commit is None
    gone = rows[("2026-10-02", str(tmp_path / "deleted-project"), "claude-sonnet-4-5-20250929")]
    assert gone.unknown_usd == pytest.approx(cost["d"]) and gone.no_commit_usd == 0
    total = found.total()
    assert total.commits == 6
    assert total.no_commit_usd == pytest.approx(cost["c"])
    # $ per commit leaves out spend whose outcome cannot be known.
    assert total.usd_per_commit == pytest.approx((total.cost_usd - cost["d"]) / 6)


def test_a_session_with_no_branch_logged_takes_commits_on_any_branch(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    repo = Repo(tmp_path / "app")
    repo.git("checkout", "-q", "-b", "topic")
    sha = repo.commit("2026-10-01T09:05", 2)
    claude = tmp_path / "claude"
    write_session(
        claude, "a" * 36, [request("a" * 36, str(repo.folder), "2026-10-01T09:00", branch=None)]
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    (session,) = outcomes(engine.store, EventFilter(), UTC).sessions
    assert [c.sha for c in session.commits] == [sha] and session.branches == []


def test_a_deleted_branch_falls_back_to_every_branch(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    """A branch merged and deleted: its commits live on main now."""
    repo = Repo(tmp_path / "app")
    repo.commit("2026-10-01T08:00", 1)
    repo.git("checkout", "-q", "-b", "short-lived")
    sha = repo.commit("2026-10-01T09:05", 2)
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "short-lived")
    repo.git("branch", "-q", "-d", "short-lived")
    claude = tmp_path / "claude"
    write_session(
        claude,
        "a" * 36,
        [request("a" * 36, str(repo.folder), "2026-10-01T09:00", branch="short-lived")],
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    (session,) = outcomes(engine.store, EventFilter(), UTC).sessions
    assert [c.sha for c in session.commits] == [sha]


def test_folders_that_are_no_repository(tmp_path: Path, make_engine: EngineFactory) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)  # a .git folder with nothing in it
    claude = tmp_path / "claude"
    for letter, folder in (("a", plain), ("b", broken)):
        write_session(claude, letter * 36, [request(letter * 36, str(folder), "2026-10-01T09:00")])
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    found = outcomes(engine.store, EventFilter(), UTC)
    assert {s.status for s in found.sessions} == {"not a git repository"}
    assert found.total().unknown_usd == pytest.approx(found.total().cost_usd)


def test_codex_sessions_record_their_branch(tmp_path: Path, make_engine: EngineFactory) -> None:
    codex = tmp_path / "codex" / "sessions" / "2026" / "10" / "01"
    codex.mkdir(parents=True)
    session = "0199a000-0000-7000-8000-000000000001"
    lines = [
        {
            "timestamp": "2026-10-01T09:00:00.000Z",
            "type": "session_meta",
            "payload": {
                "id": session,
                "timestamp": "2026-10-01T09:00:00.000Z",
                "cwd": "/nowhere",
                "git": {"branch": "fix-it", "commit_hash": "abc"},
            },
        }
    ]
    (codex / f"rollout-2026-10-01T09-00-00-{session}.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines)
    )
    engine = make_engine(codex=tmp_path / "codex")
    engine.ingestor.scan()
    assert engine.store.session_branches() == {("codex", session): ["fix-it"]}


def test_grace_is_half_an_hour() -> None:
    assert ms("2026-01-01T00:30") - ms("2026-01-01T00:00") == GRACE_MS


def test_report_outcomes_on_the_command_line(scene) -> None:  # type: ignore[no-untyped-def]
    engine, _, _, moved, tmp_path = scene
    config = tmp_path / "config.toml"
    config.write_text(
        "[insight.moved]\n" + "".join(f'"{old}" = "{new}"\n' for old, new in moved.items())
    )
    engine.store.close()
    cli = Cli(tmp_path, tmp_path / "claude", config)
    data = json.loads(cli.run("report", "outcomes", "--json", "--tz", "UTC").stdout)
    assert data["total"]["commits"] == 6
    assert {r["status"] for r in data["repositories"]} == {
        "ok",
        "folder not found (moved or deleted?)",
    }
    assert data["tiers"][0] == {
        "day": "2026-10-01",
        "tokens": data["tiers"][0]["tokens"],
        "tier": "Beginner",
    }
    table = cli.run("report", "outcomes", "--tz", "UTC", "--since", "2026-10-02").stdout
    assert "Total: 1 commit," in table and "in sessions that committed nothing" in table
    assert "deleted-project" in table and "no repository could be read" in table
    csv_text = cli.run("report", "outcomes", "--csv", "--tz", "UTC").stdout
    header, *lines = csv_text.splitlines()
    assert header.startswith("day,project,source,model,sessions") and len(lines) == 4


def test_a_damaged_repository_is_said_and_the_others_still_count(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    good, bad = Repo(tmp_path / "good"), Repo(tmp_path / "bad")
    sha = good.commit("2026-10-01T09:05", 2)
    bad.commit("2026-10-01T09:05", 2)
    for path in (bad.folder / ".git" / "objects").rglob("*"):
        if path.is_file():
            path.chmod(0o600)
            path.write_bytes(b"not an object")
    claude = tmp_path / "claude"
    for letter, repo in (("a", good), ("b", bad)):
        write_session(
            claude, letter * 36, [request(letter * 36, str(repo.folder), "2026-10-01T09:00")]
        )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    found = outcomes(engine.store, EventFilter(), UTC)
    by_letter = {s.session_id[0]: s for s in found.sessions}
    assert [c.sha for c in by_letter["a"].commits] == [sha]
    assert by_letter["b"].status.startswith("git failed")
    assert found.total().unknown_usd == pytest.approx(by_letter["b"].cost_usd)


def test_a_hostile_branch_name_is_only_ever_a_branch_name(
    tmp_path: Path, make_engine: EngineFactory
) -> None:
    repo = Repo(tmp_path / "app")
    sha = repo.commit("2026-10-01T09:05", 2)
    trap = tmp_path / "written-by-git"
    claude = tmp_path / "claude"
    write_session(
        claude,
        "a" * 36,
        [request("a" * 36, str(repo.folder), "2026-10-01T09:00", branch=f"--output={trap}")],
    )
    engine = make_engine(claude=claude)
    engine.ingestor.scan()
    (session,) = outcomes(engine.store, EventFilter(), UTC).sessions
    assert not trap.exists()
    assert [c.sha for c in session.commits] == [sha]  # no such branch: any branch
