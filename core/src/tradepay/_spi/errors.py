"""The exceptions the host raises.

Every error a user can cause names what was wrong (a field, a configuration key, a provider) and why,
so that a command line can print it on one line and an API caller can branch on its type. The message of an
:class:`InvalidInput` or a :class:`ConfigError` is bounded and safe to print whatever its raiser put in it:
card numbers are masked, control characters escaped, and it is cut short past a few hundred characters.
"""

from __future__ import annotations

from typing import Final

from .echo import safe_text

__all__ = ["ConfigError", "DiscoveryError", "InvalidInput", "TradePayError"]

# A field name or configuration key, and a reason, are never longer than this once made safe: an answer's
# message (at most 1024 characters) can always carry the whole of one.
_NAME_LIMIT: Final = 200
_REASON_LIMIT: Final = 600


class TradePayError(Exception):
    """Base class of every error the host raises on purpose."""


class InvalidInput(TradePayError, ValueError):
    """A value given to a public constructor or command was refused.

    ``field`` is the dotted name of the offending field (``payment_amount.value``), ``reason`` says why.
    Nothing was stored or charged when this is raised. Both are kept safe to print, whatever the raiser
    put in them: card numbers masked, control characters escaped, at most a few hundred characters (a raiser
    quotes the value itself with :func:`tradepay.echo_value`).
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = safe_text(field, _NAME_LIMIT)
        self.reason = safe_text(reason, _REASON_LIMIT)
        super().__init__(f"{self.field}: {self.reason}")


class ConfigError(TradePayError):
    """The configuration is unreadable or invalid; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = safe_text(key, _NAME_LIMIT)
        self.reason = safe_text(reason, _REASON_LIMIT)
        super().__init__(f"configuration {self.key}: {self.reason}" if key else f"configuration: {self.reason}")


class DiscoveryError(TradePayError):
    """A configured provider could not be found, imported or registered.

    The message names the provider, the distribution that offers it (when known) and how to fix it.
    """

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"provider {provider!r}: {reason}")
