"""The layout's rules, checked on the source text: the store alone runs SQL on the usage
database, and only ui/ imports Qt (so the CLI, the watcher and these tests run without
a display)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tokentray"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b[^\n]*\b(FROM|INTO|SET)\b")
QT = re.compile(r"^\s*(from|import)\s+(PySide6|pyqtgraph|shiboken6)\b", re.MULTILINE)


def _modules(*, outside: tuple[str, ...]) -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*.py")
        if not any(path.relative_to(PACKAGE).as_posix().startswith(part) for part in outside)
    ]


def test_only_the_store_runs_sql_on_the_usage_database() -> None:
    # Sources read the agents' own SQLite files, never tokentray's store.
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _modules(outside=("store/", "sources/"))
        if SQL.search(path.read_text(encoding="utf-8"))
        or ".query(" in path.read_text(encoding="utf-8")
        or "._db" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_sources_never_touch_the_store() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "sources").rglob("*.py")
        if "tokentray.store" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_nothing_outside_ui_imports_qt() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _modules(outside=("ui/",))
        if QT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_source_reads_in_the_ways_it_declares() -> None:
    """A source derives from the base of each way it reads (lines, documents, SQLite):
    no source stubs a reader it does not have."""
    from tokentray.sources import ALL_SOURCES
    from tokentray.sources.base import DocumentSource, LineSource

    for cls in ALL_SOURCES:
        assert issubclass(cls, LineSource | DocumentSource), cls.__name__
        assert not getattr(cls, "__abstractmethods__", None), cls.__name__
    stubs = [
        path.name
        for path in (PACKAGE / "sources").glob("*.py")
        if "NotImplementedError" in path.read_text(encoding="utf-8")
    ]
    assert stubs == []
