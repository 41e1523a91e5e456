"""Agent log sources: one module per agent, registered here."""

from __future__ import annotations

from tokentray.sources.aider import AiderSource
from tokentray.sources.amp import AmpSource
from tokentray.sources.antigravity import AntigravitySource
from tokentray.sources.base import LineParser, Source
from tokentray.sources.claude_code import ClaudeCodeSource
from tokentray.sources.cline import ClineSource, KiloCodeSource, RooCodeSource, ZooCodeSource
from tokentray.sources.codebuff import CodebuffSource
from tokentray.sources.codex import CodexSource
from tokentray.sources.copilot import CopilotSource
from tokentray.sources.copilot_otel import CopilotOtelSource
from tokentray.sources.crush import CrushSource
from tokentray.sources.cursor import CursorSource
from tokentray.sources.droid import DroidSource
from tokentray.sources.gemini import GeminiSource
from tokentray.sources.goose import GooseSource
from tokentray.sources.kimi import KimiSource
from tokentray.sources.openclaw import OpenClawSource
from tokentray.sources.opencode import OpenCodeSource
from tokentray.sources.pi import PiSource
from tokentray.sources.qwen import QwenSource

ALL_SOURCES: tuple[type[Source], ...] = (
    ClaudeCodeSource,
    CodexSource,
    GeminiSource,
    OpenCodeSource,
    QwenSource,
    CopilotSource,
    CopilotOtelSource,
    GooseSource,
    CrushSource,
    ClineSource,
    RooCodeSource,
    KiloCodeSource,
    ZooCodeSource,
    AmpSource,
    DroidSource,
    KimiSource,
    CodebuffSource,
    PiSource,
    OpenClawSource,
    AntigravitySource,
    AiderSource,
    CursorSource,
)


def available_sources() -> list[Source]:
    """One instance of every known source."""
    return [cls() for cls in ALL_SOURCES]


def source_by_name(name: str) -> Source:
    for cls in ALL_SOURCES:
        if cls.name == name:
            return cls()
    raise KeyError(f"no source named {name!r}")


def display_name(name: str) -> str:
    """An agent's name as people know it (the source name itself when unknown)."""
    return next((cls.display_name for cls in ALL_SOURCES if cls.name == name), name)


def source_names() -> list[str]:
    return [cls.name for cls in ALL_SOURCES]


__all__ = [
    "ALL_SOURCES",
    "LineParser",
    "Source",
    "available_sources",
    "display_name",
    "source_by_name",
    "source_names",
]
