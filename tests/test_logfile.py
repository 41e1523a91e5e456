"""The tray's log file: rotating, owner-only, never a key or a prompt's text; an uncaught
error is logged with its traceback, said once, and the tray carries on."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot
from tests.conftest import EngineFactory

from tokentray.logfile import BACKUPS, install_crash_hooks, start_file_log

KEY = "sk-ant-admin01-abcdefghijklmnopqrstuvwxyz0123456789"
PROMPT = "please refactor the secret merger plan for ACME"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    saved = root.level, [(h, h.level) for h in root.handlers]
    path = start_file_log(tmp_path / "logs")
    assert path is not None
    yield path
    root.setLevel(saved[0])
    for handler, level in saved[1]:
        handler.setLevel(level)
    for handler in [h for h in root.handlers if h.get_name() == "tokentray-file"]:
        root.removeHandler(handler)
        handler.close()


def read(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_the_log_is_private_and_redacted(log_file: Path) -> None:
    logging.getLogger("tokentray.test").warning(
        "posting to https://hooks.slack.com/services/T0/B0/secret with %s", KEY
    )
    text = read(log_file)
    assert "posting to https://hooks.slack.com/…" in text
    assert KEY not in text and "secret" not in text
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700


def test_the_log_rotates(log_file: Path) -> None:
    chatty = logging.getLogger("tokentray.chatty")
    for _ in range(8_000):
        chatty.info("x" * 600)
    read(log_file)
    rotated = sorted(p.name for p in log_file.parent.iterdir())
    assert rotated == ["tokentray.log", *(f"tokentray.log.{i}" for i in range(1, BACKUPS + 1))]
    assert all(p.stat().st_size <= 1_100_000 for p in log_file.parent.iterdir())


def test_an_unwritable_log_folder_leaves_the_terminal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        assert start_file_log(blocker) is None
    assert "no log file in" in caplog.text


def test_an_error_in_a_slot_is_logged_said_once_and_survived(qtbot: QtBot, log_file: Path) -> None:
    said: list[str] = []
    restore = install_crash_hooks(said.append)
    ran: list[int] = []

    def broken() -> None:
        ran.append(1)
        raise ValueError(f"cannot use {KEY} for {PROMPT * 20}")

    try:
        for _ in range(2):
            QTimer.singleShot(0, broken)
        qtbot.waitUntil(lambda: len(ran) == 2)
        alive: list[int] = []
        QTimer.singleShot(0, lambda: alive.append(1))  # the event loop carries on
        qtbot.waitUntil(lambda: alive == [1])
    finally:
        restore()
    assert len(said) == 1 and said[0].startswith("tokentray hit an error and carried on")
    assert "(ValueError in test_logfile.py:" in said[0]
    text = read(log_file)
    assert text.count("uncaught ValueError in test_logfile.py") == 2
    assert "in broken" in text and "raise ValueError" in text  # the traceback
    # The message could carry anything: it is neither logged nor shown.
    assert KEY not in text and PROMPT not in text and PROMPT not in said[0]


def test_an_error_on_a_thread_is_logged_and_said(log_file: Path) -> None:
    said: list[str] = []
    restore = install_crash_hooks(said.append)
    try:
        worker = threading.Thread(target=lambda: 1 / 0, name="doomed")
        worker.start()
        worker.join()
    finally:
        restore()
    assert said and "ZeroDivisionError" in said[0]
    assert "[doomed] uncaught ZeroDivisionError" in read(log_file)


def test_the_tray_says_it_once(qtbot: QtBot, tmp_path: Path, log_file: Path) -> None:
    from tokentray.ui.app import TrayApp

    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none"), "CODEX_HOME": str(tmp_path / "none")}
    app = TrayApp(tmp_path / "data", tmp_path / "config.toml", env=env)
    restore = install_crash_hooks(app.signals.problem.emit)
    try:
        for _ in range(3):
            QTimer.singleShot(0, lambda: {}["missing"])
        qtbot.waitUntil(lambda: any("KeyError" in p for p in app.problems))
        qtbot.wait(50)
    finally:
        restore()
    assert sum("KeyError" in p for p in app.problems) == 1


def test_a_prompt_in_a_broken_log_line_never_reaches_the_log(
    tmp_path: Path, make_engine: EngineFactory, log_file: Path
) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    claude = tmp_path / "claude" / "projects" / "-p"
    claude.mkdir(parents=True)
    lines = [
        json.dumps({"type": "user", "message": {"role": "user", "content": PROMPT}}),
        '{"type": "assistant", "message": {"content": "'
        + PROMPT
        + '", "usage": {"input_tokens": "x"',
        json.dumps({"type": "assistant", "message": {"model": 5, "content": PROMPT, "usage": {}}}),
    ]
    (claude / "s.jsonl").write_text("\n".join(lines) + "\n")
    engine = make_engine(claude=tmp_path / "claude")
    report = engine.ingestor.scan()
    assert report.skipped_lines >= 1
    assert PROMPT not in read(log_file)


def test_the_terminal_says_no_more_than_before(tmp_path: Path) -> None:
    import io

    root = logging.getLogger()
    stream = io.StringIO()
    terminal = logging.StreamHandler(stream)
    saved = root.level
    root.addHandler(terminal)
    root.setLevel(logging.WARNING)
    path = start_file_log(tmp_path / "logs")
    try:
        logging.getLogger("tokentray.quiet").info("an info line")
        assert path is not None and "an info line" in read(path)
        assert "an info line" not in stream.getvalue()
    finally:
        root.removeHandler(terminal)
        for handler in [h for h in root.handlers if h.get_name() == "tokentray-file"]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved)
