"""The README's two set-up commands stay first, and CI runs the README's test command."""

from __future__ import annotations

import re

from conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.DOTALL)


def test_readme_starts_with_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    head = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.+?)\n```", head, flags=re.DOTALL)
    assert len(blocks) == 2
    install_and_launch, install_and_test = blocks
    assert "pip install" in install_and_launch and "tokentray" in install_and_launch
    assert "pip install" in install_and_test and "pytest" in install_and_test
    assert all("\n" not in block for block in blocks)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    (command,) = re.findall(r"^TEST_COMMAND='(.+)'$", ci, flags=re.MULTILINE)
    assert command == _commands()[1]
