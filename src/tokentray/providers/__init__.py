"""Provider usage and cost APIs: one module per provider, registered here."""

from __future__ import annotations

from tokentray.providers.anthropic import AnthropicProvider
from tokentray.providers.base import FetchResult, Provider, ProviderRow
from tokentray.providers.openai import OpenAIProvider
from tokentray.providers.openrouter import OpenRouterProvider

ALL_PROVIDERS: tuple[type[Provider], ...] = (AnthropicProvider, OpenAIProvider, OpenRouterProvider)


def provider_by_name(name: str) -> Provider:
    for cls in ALL_PROVIDERS:
        if cls.name == name:
            return cls()
    raise KeyError(f"no provider named {name!r}")


def provider_names() -> list[str]:
    return [cls.name for cls in ALL_PROVIDERS]


__all__ = [
    "ALL_PROVIDERS",
    "FetchResult",
    "Provider",
    "ProviderRow",
    "provider_by_name",
    "provider_names",
]
