"""The server's own settings: the clock-skew window of signed requests, the body size limit, bearer tokens.

They are given to :func:`tradepay.server.create_app` (and by ``tradepay serve``'s options); each is checked
on construction and a :class:`~tradepay.ConfigError` names it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._spi.errors import ConfigError
from .._spi.numbers import count_refusal, seconds_refusal

__all__ = ["ServerSettings"]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server checks what it is sent.

    ``clock_skew_s``: how far a signed request's ``Request-Time`` may be from the host's clock, either way;
    ``max_body_bytes``: the largest request body read (larger ones get 413); ``token_ttl_s``: how long a
    bearer token issued by ``tradepay tokens issue`` is valid by default."""

    clock_skew_s: float = 300.0
    max_body_bytes: int = 64 * 1024
    token_ttl_s: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("clock_skew_s", "token_ttl_s"):
            reason = seconds_refusal(getattr(self, name))
            if reason is not None:
                raise ConfigError(f"server.{name}", reason)
            object.__setattr__(self, name, float(getattr(self, name)))
        reason = count_refusal(self.max_body_bytes, 1, 64 * 1024 * 1024)
        if reason is not None:
            raise ConfigError("server.max_body_bytes", reason)
