"""Signed order strings (``ORDER_STRING`` requests): ``merchantId=M&tradeNO=T&sign=HEX``.

The signature is HMAC-SHA256, keyed by the merchant's secret, over ``merchantId=M&tradeNO=T``. The string
only names an order: the amount always comes from the order book, so a valid signature proves that the
merchant issued this order string, not how much to pay. It proves nothing about whose order ``T`` is: the
order book must also check that ``M`` is the order's merchant (``OrderNames`` in ``_ledger/memory.py`` does), or
one merchant's valid signature would pay another merchant's order.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlencode

from .._spi.errors import InvalidInput
from .orders import check_trade_no

__all__ = ["MIN_SECRET_LENGTH", "sign_order_string", "verify_order_string"]

MIN_SECRET_LENGTH = 16

#: What ``_mac`` produces: a sign of any other shape is refused before it is compared.
_SIGN = re.compile(r"[0-9a-f]{64}")


def _mac(merchant_id: str, trade_no: str, secret: str) -> str:
    message = urlencode({"merchantId": merchant_id, "tradeNO": trade_no}).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_order_string(merchant_id: str, trade_no: str, secret: str) -> str:
    """The signed order string of order ``trade_no`` of ``merchant_id``."""
    return urlencode({"merchantId": merchant_id, "tradeNO": trade_no, "sign": _mac(merchant_id, trade_no, secret)})


def verify_order_string(text: str, secrets: Mapping[str, str]) -> tuple[str, str]:
    """``(merchant_id, trade_no)`` of a correctly signed order string; :class:`InvalidInput` otherwise.

    The caller must still check that the order ``trade_no`` belongs to ``merchant_id``."""
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidInput("payment_string", "is not a form-encoded order string") from None
    if sorted(fields) != ["merchantId", "sign", "tradeNO"] or any(len(v) != 1 for v in fields.values()):
        raise InvalidInput("payment_string", "must carry exactly merchantId, tradeNO and sign, once each")
    merchant_id = check_trade_no(fields["merchantId"][0], "payment_string.merchantId")
    trade_no = check_trade_no(fields["tradeNO"][0], "payment_string.tradeNO")
    secret = secrets.get(merchant_id)
    if secret is None:
        raise InvalidInput("payment_string.merchantId", f"no signing secret is configured for {merchant_id!r}")
    sign = fields["sign"][0]
    # compare_digest refuses non-ASCII text with a TypeError: check the shape first (not secret: it is fixed).
    if _SIGN.fullmatch(sign) is None or not hmac.compare_digest(sign, _mac(merchant_id, trade_no, secret)):
        raise InvalidInput("payment_string.sign", "the signature does not match")
    return merchant_id, trade_no
