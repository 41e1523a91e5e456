"""HTTP for provider APIs: every failure becomes a ProviderError that says what to do.

Keys never appear in messages: anything that looks like the key is redacted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from tokentray.logsafe import redact_text

log = logging.getLogger(__name__)

MAX_PAGES = 200
TIMEOUT_S = 20.0


class ProviderError(Exception):
    """``kind``: auth, rate_limited, server, network, malformed, pagination, no_key, keyring."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limited", "server", "network", "malformed", "pagination")


# Server text may also name a secret by label ("key …", "bearer …"); the key shapes and
# URLs that logs lose are hidden by logsafe.redact_text.
_LABELLED = re.compile(r"(?i)\b(?:sk|rk|pk|or|key|bearer)[-_ ][A-Za-z0-9_\-]{6,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{8,}")
_WINDOW = 8
MAX_SERVER_TEXT = 200


def redact(text: str, secret: str) -> str:
    """Server-supplied text made safe to show and store: no piece of the key (any 8
    characters of it, as a prefix echoed back would be), nothing key-shaped, no control
    characters, and short."""
    if secret:
        text = text.replace(secret, "[key]")
        windows = {secret[i : i + _WINDOW] for i in range(max(len(secret) - _WINDOW + 1, 0))}

        def hide(match: re.Match[str]) -> str:
            token = match.group(0)
            parts = range(len(token) - _WINDOW + 1)
            return "[key]" if any(token[i : i + _WINDOW] in windows for i in parts) else token

        text = _TOKEN.sub(hide, text)
    text = _LABELLED.sub("[key]", redact_text(text))
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= MAX_SERVER_TEXT else text[: MAX_SERVER_TEXT - 1] + "…"


class ApiClient:
    """A small wrapper over httpx with the headers one provider needs."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        secret: str,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.secret = secret
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "tokentray/0.1", **headers},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, path: str, params: Any = None) -> Any:
        try:
            response = self.client.get(path, params=params)
        except httpx.TimeoutException:
            raise ProviderError("network", f"{path}: no answer within {TIMEOUT_S:.0f} s") from None
        except httpx.HTTPError as exc:
            message = redact(f"{path}: cannot connect ({type(exc).__name__})", self.secret)
            raise ProviderError("network", message) from None
        self._check_status(path, response)
        try:
            return response.json()
        except ValueError:
            raise ProviderError("malformed", f"{path}: the answer is not JSON") from None

    def _check_status(self, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = redact(_error_message(response), self.secret)
        if status in (401, 403):
            raise ProviderError("auth", f"{path}: key rejected ({status}: {detail})")
        if status == 429:
            retry = _retry_after(response.headers.get("retry-after"))
            raise ProviderError("rate_limited", f"{path}: rate-limited ({detail})", retry)
        if status >= 500:
            raise ProviderError("server", f"{path}: provider error {status} ({detail})")
        raise ProviderError("malformed", f"{path}: request refused {status} ({detail})")

    def pages(
        self, path: str, params: dict[str, Any], cursor_param: str = "page"
    ) -> Iterator[dict[str, Any]]:
        """Every page of a ``has_more``/``next_page`` listing; a listing that never ends fails."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self.get_json(path, {**params, **({cursor_param: cursor} if cursor else {})})
            if not isinstance(page, dict):
                raise ProviderError("malformed", f"{path}: expected a JSON object")
            yield page
            cursor = page.get("next_page")
            if not page.get("has_more") or not cursor:
                return
        raise ProviderError("pagination", f"{path}: still more pages after {MAX_PAGES}; stopped")


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error or response.reason_phrase)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
