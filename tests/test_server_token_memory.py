"""The built-in authenticator's memory of verified tokens (``TokenAuthenticator``): a remembered token is
accepted exactly when ``token_user`` would accept it, the signature is checked once per token, and the
memory stays bounded."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradepay.server import signing, tokens
from tradepay.server.tokens import VERIFIED_CAP, TokenAuthenticator, issue_token, token_user

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:
    from tests import server_kit as kit
else:
    import server_kit as kit


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _forged(token: str) -> str:
    """``token`` with a character inside its signature changed: the same claims, a bad signature. (Not the last
    character, whose low bits base64 drops: some changes there leave the signature's bytes as they were.)"""
    middle = token[-20]
    return token[:-20] + ("A" if middle != "A" else "B") + token[-19:]


def _tokens() -> list[str]:
    host = kit.rsa_key("host")
    genuine = [
        issue_token(host, "alice", 60, now=1000.0),  # expires at 1060
        issue_token(host, "bob", 600, now=1000.0),  # expires at 1600
        issue_token(host, "carol", 5, now=990.0),  # expired before the first request
    ]
    other = issue_token(kit.rsa_key("shop-1"), "alice", 600, now=1000.0)  # signed by another key
    payload_swapped = ".".join(
        [genuine[0].split(".")[0], genuine[1].split(".")[1], genuine[0].split(".")[2]]
    )  # bob's claims under alice's signature
    return [*genuine, other, _forged(genuine[0]), _forged(genuine[1]), payload_swapped, "tp1.a.b", "", "not a token"]


TOKENS = _tokens()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TOKENS) - 1), st.floats(995.0, 1700.0)), min_size=1, max_size=40))
def test_a_remembered_token_is_accepted_exactly_when_token_user_accepts_it(
    requests: list[tuple[int, float]],
) -> None:
    public = kit.rsa_key("host").public_key()
    clock = _Clock(0.0)
    authenticator = TokenAuthenticator(public, clock)
    for index, now in requests:
        clock.now = now
        token = TOKENS[index]
        expected = token_user(public, token, now)
        assert authenticator.authenticate(f"Bearer {token}", {}) == expected, (token, now)


def test_the_signature_is_checked_once_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[bytes] = []
    real = signing.verify

    def counted(key: Any, content: bytes, signature: str) -> bool:
        checks.append(content)
        return real(key, content, signature)

    monkeypatch.setattr(tokens, "verify", counted)  # the name tokens.py calls
    clock = _Clock(1001.0)
    authenticator = TokenAuthenticator(kit.rsa_key("host").public_key(), clock)
    alice, forged = TOKENS[0], _forged(TOKENS[0])
    for _ in range(5):
        assert authenticator.authenticate(f"Bearer {alice}", {}) == "alice"
        assert authenticator.authenticate(f"Bearer {forged}", {}) is None
    # alice's once; the forged one each time, as a token that failed is not remembered
    assert len(checks) == 1 + 5
    clock.now = 1060.0  # alice's token expires: refused though remembered
    assert authenticator.authenticate(f"bearer {alice}", {}) is None
    assert len(checks) == 6


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "verify", lambda key, content, signature: True)  # any signature "verifies"
    authenticator = TokenAuthenticator(kit.rsa_key("host").public_key(), _Clock(1001.0))
    payload = TOKENS[0].split(".")[1]
    for i in range(VERIFIED_CAP * 2 + 10):
        assert authenticator.authenticate(f"Bearer tp1.{payload}.s{i:07d}", {}) == "alice"
        assert len(authenticator._verified) <= VERIFIED_CAP
