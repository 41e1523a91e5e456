"""Provider usage and cost APIs: one module per provider, registered here.

The modules (and httpx under them) load on first use of ``ALL_PROVIDERS`` or
``provider_by_name``: a command that only reads the store never pays for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentray.providers.base import FetchResult, Provider, ProviderRow

    ALL_PROVIDERS: tuple[type[Provider], ...]

# The registry's names, for argument parsing without loading the HTTP clients
# (tests/test_providers.py keeps it equal to ALL_PROVIDERS).
PROVIDER_NAMES = ("anthropic", "openai", "openrouter")


def _registry() -> tuple[type[Provider], ...]:
    from tokentray.providers.anthropic import AnthropicProvider  # noqa: PLC0415
    from tokentray.providers.openai import OpenAIProvider  # noqa: PLC0415
    from tokentray.providers.openrouter import OpenRouterProvider  # noqa: PLC0415

    return (AnthropicProvider, OpenAIProvider, OpenRouterProvider)


def __getattr__(name: str) -> Any:
    if name == "ALL_PROVIDERS":
        return _registry()
    if name in ("FetchResult", "Provider", "ProviderRow"):
        from tokentray.providers import base  # noqa: PLC0415

        return getattr(base, name)
    raise AttributeError(name)


def provider_by_name(name: str) -> Provider:
    for cls in _registry():
        if cls.name == name:
            return cls()
    raise KeyError(f"no provider named {name!r}")


def provider_names() -> list[str]:
    return list(PROVIDER_NAMES)


__all__ = [
    "ALL_PROVIDERS",
    "PROVIDER_NAMES",
    "FetchResult",
    "Provider",
    "ProviderRow",
    "provider_by_name",
    "provider_names",
]
