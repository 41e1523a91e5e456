"""Provider keys: the OS keyring (one entry per provider), or an environment variable.

A key is never written to a file or a log. Without a keyring backend tokentray
says so and how to fix it; it does not fall back to a plain-text file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from tokentray.providers.http import ProviderError

log = logging.getLogger(__name__)

SERVICE = "tokentray"
NO_KEYRING_HELP = (
    "No system keyring is available, so API keys cannot be stored safely. On Linux, install "
    "and unlock a Secret Service (gnome-keyring, KWallet or KeePassXC); on a headless machine "
    "set the key in an environment variable instead ({env})."
)


class Keyed(Protocol):
    """What has a secret: a provider, or the alert webhook."""

    @property
    def name(self) -> str: ...

    @property
    def env_var(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret that is not a provider key."""

    name: str
    display_name: str
    env_var: str

    def key_problem(self, key: str) -> str | None:
        if not key.startswith(("https://", "http://")):
            return "a webhook URL starts with https://"
        return None


# A webhook URL carries its own secret (Slack's does): it lives where keys live.
WEBHOOK = Secret("webhook", "Alert webhook", "TOKENTRAY_WEBHOOK_URL")


def fingerprint(key: str) -> str:
    """Tells keys apart (to notice a new key) without keeping the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class KeyStore:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def get(self, provider: Keyed) -> tuple[str | None, str]:
        """(key, where it came from: "environment" or "keyring"); (None, "") when none."""
        from_env = self.env.get(provider.env_var, "").strip()
        if from_env:
            return from_env, "environment"
        stored = self._call(provider, "get")
        return (stored, "keyring") if stored else (None, "")

    def set(self, provider: Keyed, key: str) -> None:
        self._call(provider, "set", key.strip())

    def delete(self, provider: Keyed) -> None:
        self._call(provider, "delete")

    def _call(self, provider: Keyed, action: str, key: str = "") -> str | None:
        import keyring  # noqa: PLC0415 - loads backends: only when keys are needed
        from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError  # noqa: PLC0415

        try:
            if action == "get":
                value = keyring.get_password(SERVICE, provider.name)
                return value if isinstance(value, str) else None
            if action == "set":
                keyring.set_password(SERVICE, provider.name, key)
            else:
                with contextlib.suppress(PasswordDeleteError):
                    keyring.delete_password(SERVICE, provider.name)
        except NoKeyringError:
            raise ProviderError("keyring", NO_KEYRING_HELP.format(env=provider.env_var)) from None
        except (KeyringError, RuntimeError, OSError) as exc:
            message = f"The keyring failed ({type(exc).__name__}); or set {provider.env_var}."
            raise ProviderError("keyring", message) from None
        return None
