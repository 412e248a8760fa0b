"""Bearer tokens the host signs for a user, and the default authenticator that accepts them.

A token is ``tp1.<payload>.<signature>``: the payload the base64url of ``{"sub": USER, "exp": SECONDS}``
(compact JSON), the signature the base64url RSA256 signature of ``tp1.<payload>`` by the host's key. It proves
that whoever holds the host's key (``tradepay tokens issue``) vouched for the user until ``exp``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from .._chain.hookspecs import hookimpl
from .._ledger.orders import check_trade_no
from .._spi.errors import InvalidInput
from .signing import sign, verify

__all__ = ["PREFIX", "VERIFIED_CAP", "TokenAuthenticator", "issue_token", "token_user"]

PREFIX = "tp1"
#: The longest token read: a 2048-bit signature and a 64-character user id fit in far less.
MAX_TOKEN = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(key: rsa.RSAPrivateKey, user_id: str, ttl_s: float, *, now: float | None = None) -> str:
    """A token for ``user_id`` valid for ``ttl_s`` seconds, signed by ``key`` (the host's)."""
    check_trade_no(user_id, "user_id")
    if not ttl_s > 0:
        raise InvalidInput("ttl", "must be a positive number of seconds")
    expires = int((time.time() if now is None else now) + ttl_s)
    payload = _b64(json.dumps({"sub": user_id, "exp": expires}, separators=(",", ":")).encode())
    signed = f"{PREFIX}.{payload}"
    signature = base64.b64decode(sign(key, signed.encode()))
    return f"{signed}.{_b64(signature)}"


def token_user(public_key: rsa.RSAPublicKey, token: str, now: float) -> str | None:
    """The user ``token`` names, if ``public_key`` signed it and it has not expired; else ``None``."""
    claims = _signed_claims(public_key, token)
    if claims is None or claims[1] <= now:
        return None
    return claims[0]


def _signed_claims(public_key: rsa.RSAPublicKey, token: str) -> tuple[str, int] | None:
    """The user and the expiry ``token`` carries, if ``public_key`` signed it (expired or not); else ``None``."""
    if len(token) > MAX_TOKEN or token.count(".") != 2:
        return None
    prefix, payload, signature = token.split(".")
    if prefix != PREFIX:
        return None
    try:
        raw_signature = _unb64(signature)
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    encoded = base64.b64encode(raw_signature).decode()
    if not verify(public_key, f"{prefix}.{payload}".encode(), encoded) or not isinstance(claims, dict):
        return None
    user, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(user, str) or isinstance(expires, bool) or not isinstance(expires, int):
        return None
    return user, expires


#: How many verified tokens an authenticator remembers; past it, it starts afresh rather than grow.
VERIFIED_CAP = 4096


class TokenAuthenticator:
    """The server's built-in ``authenticate``: ``Authorization: Bearer <token>`` with a token the host signed.
    Asked after every other plugin (``trylast``).

    It remembers the tokens whose signature it verified, with their user and expiry: a user's client sends the
    same token with every request, and the RSA check is most of the cost of authenticating it (measured: 10 %
    of the server's CPU time per payment, docs/performance.md, the fifth pass). Only verified tokens are kept,
    keyed by their whole text, and the expiry is checked on every request, so a remembered token is accepted
    exactly when :func:`token_user` would accept it (there is no revocation but expiry). The memory is
    bounded by :data:`VERIFIED_CAP`. ``tests/test_server_token_memory.py`` checks it against ``token_user``."""

    def __init__(self, public_key: rsa.RSAPublicKey, clock: Callable[[], float] = time.time) -> None:
        self.public_key = public_key
        self.clock = clock
        self._verified: dict[str, tuple[str, int]] = {}

    @hookimpl(trylast=True)
    def authenticate(self, authorization: str | None, headers: Mapping[str, str]) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        claims = self._verified.get(token)
        if claims is None:
            claims = _signed_claims(self.public_key, token)
            if claims is None:
                return None
            if len(self._verified) >= VERIFIED_CAP:
                self._verified.clear()
            self._verified[token] = claims
        user, expires = claims
        return user if expires > self.clock() else None
