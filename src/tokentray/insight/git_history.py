"""Read-only questions to git repositories, through GitPython (which runs git itself).

Nothing here writes to a repository: only ``git log`` and ``git rev-list`` run, with
``GIT_OPTIONAL_LOCKS=0`` so not even the index's stat cache is refreshed. A folder that
moved, was deleted or is not a repository is reported as such, never raised.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# GitPython checks for the git program on import and raises when it is missing; quietly
# so, it imports and each command fails instead, which is reported per repository.
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

OK = "ok"
FIELD_SEP = "\x1f"
RECORD_MARK = "\x1e"  # starts each commit in the log's output


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    time_ms: int  # author time: when the change was made, kept through a rebase
    email: str
    added: int
    deleted: int


@dataclass(slots=True)
class RepoHistory:
    """One repository's commits in a time range, and which of them each branch holds."""

    folder: str  # the working tree's top folder
    status: str  # "ok", or why there is no history ("folder not found", ...)
    commits: list[Commit] = field(default_factory=list)
    user_email: str = ""  # the repository's configured author: only their commits count
    branches: dict[str, set[str] | None] = field(default_factory=dict)  # None: not found

    def on_branch(self, branch: str) -> set[str] | None:
        return self.branches.get(branch)


def locate(project: str) -> tuple[str, str]:
    """(the top folder of the repository holding ``project``, OK) or (project, why not)."""
    try:
        import git  # noqa: PLC0415 - GitPython costs 60 ms to import; only outcomes need it
    except ImportError as exc:  # pragma: no cover - a broken install
        return project, f"GitPython unusable: {exc}"
    if not project or not Path(project).is_absolute():
        return project, "no project folder in the logs"
    if not Path(project).is_dir():
        return project, "folder not found (moved or deleted?)"
    try:
        with git.Repo(project, search_parent_directories=True) as repo:
            return str(repo.working_tree_dir or project), OK
    except git.InvalidGitRepositoryError:
        return project, "not a git repository"
    except (git.NoSuchPathError, OSError, ValueError) as exc:
        return project, f"unreadable: {exc}"


def open_history(folder: str, since_ms: int, until_ms: int, branches: set[str]) -> RepoHistory:
    """The commits of the repository at ``folder`` authored between two moments, each
    branch's share of them, and the configured author; a status when git fails."""
    import git  # noqa: PLC0415

    try:
        repo = git.Repo(folder)
    except (git.GitError, OSError, ValueError) as exc:
        return RepoHistory(folder, f"unreadable: {exc}")
    with repo:
        repo.git.update_environment(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
        try:
            history = RepoHistory(folder, OK, user_email=_user_email(repo))
            # Committed since the start (a commit is never committed before it is authored);
            # author times after the end are dropped here, since a rebase moves commit times.
            window = (f"--since=@{since_ms // 1000}",)
            commits = _commits(repo.git.log("--all", "--no-merges", *window, *_FORMAT))
            history.commits = [c for c in commits if since_ms <= c.time_ms <= until_ms]
            for branch in sorted(branches):
                history.branches[branch] = _branch_commits(repo, branch, window)
        except git.GitCommandError as exc:
            return RepoHistory(folder, f"git failed: {_first_line(exc.stderr) or exc.status}")
        except (git.GitError, OSError, ValueError) as exc:
            return RepoHistory(folder, f"git failed: {exc}")
    return history


_FORMAT = ("--numstat", f"--format={RECORD_MARK}%H{FIELD_SEP}%at{FIELD_SEP}%ae")


def _commits(text: str) -> list[Commit]:
    """Commits from ``git log --numstat`` in ``_FORMAT``; binary files count no lines."""
    found = []
    for record in text.split(RECORD_MARK)[1:]:
        head, _, stats = record.partition("\n")
        sha, seconds, email = head.split(FIELD_SEP)
        added = deleted = 0
        for line in stats.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
                added, deleted = added + int(parts[0]), deleted + int(parts[1])
        found.append(Commit(sha, int(seconds) * 1000, email.lower(), added, deleted))
    return found


def _branch_commits(repo: Any, branch: str, window: tuple[str, ...]) -> set[str] | None:
    """The commits in the window reachable from a local branch; None when it is gone."""
    import git  # noqa: PLC0415

    try:
        text = repo.git.rev_list(f"refs/heads/{branch}", "--no-merges", *window, "--")
    except git.GitCommandError:
        return None
    return set(text.split())


def _user_email(repo: Any) -> str:
    try:
        with repo.config_reader() as config:
            return str(config.get_value("user", "email", default="")).strip().lower()
    except Exception:
        log.debug("no user.email in %s", repo.working_tree_dir, exc_info=True)
        return ""


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0].removeprefix("stderr: ").strip(" '") if lines else ""
