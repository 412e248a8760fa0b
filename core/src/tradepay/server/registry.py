"""Registering a merchant in code: what ``tradepay merchants add`` does."""

from __future__ import annotations

from .._ledger.merchants import Merchant, merchant_book
from .signing import load_public_key

__all__ = ["register_merchant"]


def register_merchant(ledger: object, client_id: str, public_key: str, notify_url: str | None = None) -> Merchant:
    """Register merchant ``client_id`` with ``public_key`` (PEM text of an RSA public key of at least 2048
    bits) and the URL its notifications go to, ``notify_url`` (``https``, or ``http`` to 127.0.0.1 or
    localhost; ``None``: not notified), in ``ledger`` (a host's ``host.ledger``); :class:`~tradepay.InvalidInput`
    names the field when the key is not such a key, the URL not such a URL or the client id is taken, and
    nothing is stored."""
    load_public_key(public_key)
    return merchant_book(ledger).add_merchant(client_id, public_key, notify_url)
