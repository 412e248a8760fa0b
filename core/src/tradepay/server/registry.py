"""Registering a merchant in code: what ``tradepay merchants add`` does."""

from __future__ import annotations

from .._ledger.merchants import Merchant, merchant_book
from .signing import load_public_key

__all__ = ["register_merchant"]


def register_merchant(ledger: object, client_id: str, public_key: str) -> Merchant:
    """Register merchant ``client_id`` with ``public_key`` (PEM text of an RSA public key of at least 2048
    bits) in ``ledger`` (a host's ``host.ledger``); :class:`~tradepay.InvalidInput` names the field when the
    key is not such a key or the client id is taken, and nothing is stored."""
    load_public_key(public_key)
    return merchant_book(ledger).add_merchant(client_id, public_key)
