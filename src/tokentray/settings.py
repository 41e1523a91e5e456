"""The one reader of ``config.toml``: budget, tray, sources, alert rules and price overrides.

Loaded once per command (or per change in Preferences) and validated as one typed object
that the engine, the CLI and the tray all receive. A file that cannot be used gives a
clear message and the defaults; it is never overwritten: the next save moves
it aside as ``config.toml.broken-<time>`` first. Saving writes a temporary
file and renames it, so a crash never leaves half a file; tomlkit keeps the
rest of the file (``[pricing]``, the user's comments) exactly as it was.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal, get_args

from tokentray.alerts.rules import (
    BUDGET_RULE_ID,
    Rule,
    RuleError,
    default_rules,
    rule_from_toml,
)
from tokentray.numbers import MAX_BUDGET_USD, out_of_range, shown
from tokentray.paths import config_dir, make_private
from tokentray.price_overrides import PricingConfig, PricingError, parse_pricing
from tokentray.sources import source_names

log = logging.getLogger(__name__)

IconMode = Literal["spend", "burn", "plan"]  # today's spend, spend per hour now, or plan %
ICON_MODES: tuple[IconMode, ...] = get_args(IconMode)


class SettingsError(ValueError):
    """A value in the settings file that cannot be used; the message says which and why."""


DEFAULT_COMPARE_MODEL = "claude-sonnet-4-5"
DEFAULT_EXPORTER_PORT = 9788
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(slots=True)
class InsightSettings:
    """``[insight]``: the cheaper model to compare with, and projects that moved."""

    compare_model: str = DEFAULT_COMPARE_MODEL
    moved: dict[str, str] = field(default_factory=dict)  # old project folder -> new

    def validate(self) -> None:
        if not self.compare_model.strip():
            raise SettingsError("insight.compare_model must name a model")
        for old, new in self.moved.items():
            if not _absolute(old) or not new:
                raise SettingsError(
                    f"insight.moved maps whole folders (old = new), not {old!r} = {new!r}"
                )


@dataclass(slots=True)
class ExporterSettings:
    """``[exporter]``: the opt-in Prometheus endpoint for a team's dashboard."""

    enabled: bool = False
    address: str = "127.0.0.1"
    port: int = DEFAULT_EXPORTER_PORT
    project_labels: bool = True  # off: no project folder names leave the machine
    user: str = ""  # the ``user`` label; empty: the login name

    @property
    def loopback_only(self) -> bool:
        return self.address in LOOPBACK

    def validate(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise SettingsError("exporter.port must be a whole number")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"exporter.port must be from 1 to 65535, not {self.port}")
        if not self.address.strip():
            raise SettingsError("exporter.address must be an address such as 127.0.0.1")


@dataclass(slots=True)
class Settings:
    daily_budget_usd: float = 20.0
    icon_shows: IconMode = "spend"
    budget_counts_billed: bool = False  # today's spend = max(local logs, provider-billed)
    disabled_sources: list[str] = field(default_factory=list)
    custom_folders: list[tuple[str, str]] = field(default_factory=list)  # (source, folder)
    alert_rules: list[Rule] | None = None  # None: the defaults
    pricing: PricingConfig = field(default_factory=PricingConfig)  # the user's [pricing] table
    # Opt-in: ask Claude's usage endpoint for the plan windows with Claude Code's sign-in.
    claude_usage_check: bool = False
    insight: InsightSettings = field(default_factory=InsightSettings)
    exporter: ExporterSettings = field(default_factory=ExporterSettings)
    path: Path | None = None
    error: str | None = None  # what in the file could not be used, for the user
    file_unusable: bool = False  # the app's settings could not be read: saving moves it aside

    def validate(self) -> None:
        if out_of_range(self.daily_budget_usd, 0, MAX_BUDGET_USD):
            raise SettingsError(
                f"budget.daily_usd must be a number of dollars from 0 to {MAX_BUDGET_USD:,.0f}, "
                f"not {shown(self.daily_budget_usd)}"
            )
        if self.icon_shows not in ICON_MODES:
            raise SettingsError(f"tray.icon_shows must be one of {', '.join(ICON_MODES)}")
        known = set(source_names())
        for name in self.disabled_sources:
            if name not in known:
                raise SettingsError(f"sources.disabled names an unknown agent {name!r}")
        for source, folder in self.custom_folders:
            if source not in known:
                raise SettingsError(f"sources.folders names an unknown agent {source!r}")
            if not folder:
                raise SettingsError("sources.folders has an entry without a path")
        self.insight.validate()
        self.exporter.validate()
        ids = [rule.id for rule in self.alert_rules or []]
        if len(ids) != len(set(ids)):
            raise SettingsError("two alert rules share an id")
        for rule in self.alert_rules or []:
            try:
                rule.validate()
            except RuleError as exc:
                raise SettingsError(str(exc)) from None

    def rules(self) -> list[Rule]:
        """The alert rules in force: the user's, or the defaults. The daily budget has one
        source of truth, ``daily_budget_usd``: its rule's threshold follows it (and the
        rule rests while there is no budget)."""
        rules = (
            self.alert_rules
            if self.alert_rules is not None
            else default_rules(self.daily_budget_usd)
        )
        budget = self.daily_budget_usd
        return [
            replace(rule, threshold=budget) if rule.id == BUDGET_RULE_ID else rule
            for rule in rules
            if rule.id != BUDGET_RULE_ID or budget > 0
        ]

    def extra_roots(self) -> dict[str, list[Path]]:
        roots: dict[str, list[Path]] = {}
        for source, folder in self.custom_folders:
            roots.setdefault(source, []).append(Path(folder).expanduser())
        return roots


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file (made owner-only); None when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
        make_private(path)
        return tomllib.loads(text)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(str(exc)) from exc


def load_settings(path: Path | None = None) -> Settings:
    """The settings file; a missing file gives the defaults. ``error`` says what could not
    be used: the app's settings (then their defaults apply, and saving Preferences moves
    the file aside first) or the ``[pricing]`` table (then the built-in prices apply and
    the app's settings are kept). The file itself is never changed by reading it."""
    path = path or config_path()
    try:
        raw = read_toml(path)
    except SettingsError as exc:
        return _broken(path, str(exc), Settings(path=path))
    if raw is None:
        return Settings(path=path)
    try:
        settings = _from_toml(raw)
        settings.validate()
    except (SettingsError, TypeError, ValueError) as exc:
        settings = _broken(path, str(exc), Settings())
    settings.path = path
    try:
        settings.pricing = parse_pricing(raw.get("pricing", {}), source="user override")
    except PricingError as exc:
        message = (
            f"price overrides in {path} are not usable ({exc}); using the built-in prices, "
            "file left as is"
        )
        log.warning("%s", message)
        settings.error = f"{settings.error} {message}" if settings.error else message
    return settings


def _broken(path: Path, reason: str, defaults: Settings) -> Settings:
    message = (
        f"settings file {path} is not usable ({reason}); using the defaults. "
        "The file is kept: saving preferences moves it aside first."
    )
    log.warning("%s", message)
    defaults.error, defaults.file_unusable = message, True
    return defaults


def _from_toml(raw: dict[str, Any]) -> Settings:
    budget = raw.get("budget", {})
    tray = raw.get("tray", {})
    sources = raw.get("sources", {})
    if not all(isinstance(t, dict) for t in (budget, tray, sources)):
        raise SettingsError("[budget], [tray] and [sources] must be tables")
    folders = sources.get("folders", [])
    if not isinstance(folders, list) or not all(isinstance(f, dict) for f in folders):
        raise SettingsError("[[sources.folders]] entries must be tables with source and path")
    disabled = sources.get("disabled", [])
    if not isinstance(disabled, list):
        raise SettingsError("sources.disabled must be a list of agent names")
    alerts = raw.get("alerts", {})
    if not isinstance(alerts, dict):
        raise SettingsError("[alerts] must be a table")
    plans = raw.get("plans", {})
    if not isinstance(plans, dict) or not isinstance(plans.get("claude_usage_check", False), bool):
        raise SettingsError("[plans] must be a table; claude_usage_check true or false")
    insight, exporter = raw.get("insight", {}), raw.get("exporter", {})
    if not isinstance(insight, dict) or not isinstance(exporter, dict):
        raise SettingsError("[insight] and [exporter] must be tables")
    moved = insight.get("moved", {})
    if not isinstance(moved, dict):
        raise SettingsError("[insight.moved] must be a table of old folder = new folder")
    try:
        rules = [rule_from_toml(r) for r in alerts["rules"]] if "rules" in alerts else None
    except (RuleError, TypeError) as exc:
        raise SettingsError(str(exc)) from None
    return Settings(
        daily_budget_usd=budget.get("daily_usd", 20.0),
        budget_counts_billed=bool(budget.get("count_billed", False)),
        icon_shows=tray.get("icon_shows", "spend"),
        disabled_sources=[str(d) for d in disabled],
        custom_folders=[(str(f.get("source", "")), str(f.get("path", ""))) for f in folders],
        alert_rules=rules,
        claude_usage_check=plans.get("claude_usage_check", False),
        insight=InsightSettings(
            compare_model=str(insight.get("compare_model", DEFAULT_COMPARE_MODEL)),
            moved={str(old): str(new) for old, new in moved.items()},
        ),
        exporter=ExporterSettings(
            enabled=_flag(exporter, "enabled", False),
            address=str(exporter.get("address", "127.0.0.1")),
            port=exporter.get("port", DEFAULT_EXPORTER_PORT),
            project_labels=_flag(exporter, "project_labels", True),
            user=str(exporter.get("user", "")),
        ),
    )


def _absolute(folder: str) -> bool:
    return PurePosixPath(folder).is_absolute() or PureWindowsPath(folder).is_absolute()


def _flag(table: dict[str, Any], name: str, default: bool) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    return value


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Validate and write atomically; a broken file in the way is moved aside, not lost."""
    import tomlkit  # noqa: PLC0415 - only saving needs it

    settings.validate()
    path = path or settings.path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.file_unusable and path.exists():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = path.with_name(f"{path.name}.broken-{stamp}")
        path.replace(aside)
        log.warning("moved the unusable settings file to %s", aside)
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
    document["budget"] = {
        "daily_usd": float(settings.daily_budget_usd),
        "count_billed": settings.budget_counts_billed,
    }
    document["tray"] = {"icon_shows": settings.icon_shows}
    document["plans"] = {"claude_usage_check": settings.claude_usage_check}
    document["insight"] = {
        "compare_model": settings.insight.compare_model,
        "moved": dict(settings.insight.moved),
    }
    exporter = settings.exporter
    document["exporter"] = {
        "enabled": exporter.enabled,
        "address": exporter.address,
        "port": exporter.port,
        "project_labels": exporter.project_labels,
        "user": exporter.user,
    }
    folders = tomlkit.aot()
    for source, folder in settings.custom_folders:
        folders.append(tomlkit.item({"source": source, "path": folder}))
    document["sources"] = {"disabled": list(settings.disabled_sources), "folders": folders}
    if settings.alert_rules is not None:
        rules = tomlkit.aot()
        for rule in settings.alert_rules:
            rules.append(tomlkit.item(rule.to_toml()))
        document["alerts"] = {"rules": rules}
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    # Owner-only: the file names projects and folders, and may hold price notes.
    descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(tomlkit.dumps(document))
    temporary.replace(path)
    settings.path, settings.error, settings.file_unusable = path, None, False
    return path
