"""Where tokentray keeps its own files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP_NAME = "tokentray"


def folder_name(path: str) -> str:
    """A project's folder name for display, not its whole path (which names the home
    folder); the text itself when it has no name part."""
    return Path(path.rstrip("/\\")).name or path


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``override``, else ``$TOKENTRAY_DATA_DIR``, else the user data dir."""
    chosen = override or os.environ.get("TOKENTRAY_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs  # noqa: PLC0415 - keep start-up lean

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The config folder: ``$TOKENTRAY_CONFIG_DIR``, else the user config dir."""
    chosen = os.environ.get("TOKENTRAY_CONFIG_DIR")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """The log folder: ``$TOKENTRAY_LOG_DIR``, else the user log dir."""
    chosen = os.environ.get("TOKENTRAY_LOG_DIR")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def database_path(override: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(override) / "usage.sqlite3"


def sqlite_uri(path: Path, **options: str) -> str:
    """A SQLite URI for ``path``, with ``#``, ``?`` and ``%`` in folder names escaped
    (unescaped, ``#`` ends the path: the database is not found and a stray file appears)."""
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return path.absolute().as_uri() + (f"?{query}" if query else "")


def make_private(path: Path, mode: int = 0o600) -> None:
    """Usage, projects and sessions are nobody else's business: tighten a file or folder
    of ours that others can read (older builds left 0644 and 0755)."""
    try:
        st = path.stat()
        ours = st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX
        if ours and stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(mode)
    except (OSError, AttributeError):  # missing, not ours, or no getuid (Windows)
        pass


def cache_dir() -> Path:
    """The cache folder (only things that can be rebuilt): ``$TOKENTRAY_CACHE_DIR``, else
    the user cache dir."""
    chosen = os.environ.get("TOKENTRAY_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
