"""The exceptions the host raises.

Every error a user can cause names what was wrong (a field, a configuration key, a provider) and why,
so that a command line can print it on one line and an API caller can branch on its type.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DiscoveryError", "InvalidInput", "TradePayError"]


class TradePayError(Exception):
    """Base class of every error the host raises on purpose."""


class InvalidInput(TradePayError, ValueError):
    """A value given to a public constructor or command was refused.

    ``field`` is the dotted name of the offending field (``payment_amount.value``), ``reason`` says why.
    Nothing was stored or charged when this is raised.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ConfigError(TradePayError):
    """The configuration is unreadable or invalid; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"configuration {key}: {reason}" if key else f"configuration: {reason}")


class DiscoveryError(TradePayError):
    """A configured provider could not be found, imported or registered.

    The message names the provider, the distribution that offers it (when known) and how to fix it.
    """

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"provider {provider!r}: {reason}")
