"""Logs never carry secrets: URLs lose their path and query, key-shaped text is hidden.

A webhook URL is a secret (its path is the credential), and HTTP libraries log
every request URL at INFO level, which ``-v`` shows.
"""

from __future__ import annotations

import logging
import re

_URL = re.compile(r"(https?://[^/\s'\"]+)[^\s'\"]*")
_KEY_LIKE = re.compile(r"(?i)\b(?:sk|rk|pk|or)-[A-Za-z0-9_\-]{6,}")


def redact_text(text: str) -> str:
    return _KEY_LIKE.sub("[key]", _URL.sub(r"\1/…", text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def protect_logs() -> None:
    """Redact every record on the root logger's handlers; quiet the HTTP libraries."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
