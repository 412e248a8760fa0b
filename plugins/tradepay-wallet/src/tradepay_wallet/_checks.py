"""Checks on the values a caller hands the wallet directly (top-ups, fault profiles), shared by API and CLI.

Each raises :class:`tradepay.InvalidInput` naming the argument (``payer``, ``currency``, ``amount``) before
anything is stored.
"""

from __future__ import annotations

from typing import Final

from tradepay import InvalidInput, Order, PaymentAmount, echo_value

__all__ = ["MAX_BALANCE", "check_amount", "check_currency", "check_payer"]

#: The largest balance an account may reach by top-ups: 18 digits, as the host's amounts. It keeps every sum
#: far inside 64-bit integers (SQLite's INTEGER, PostgreSQL's BIGINT): SQLite would otherwise silently turn an
#: overflowing sum into floating point.
MAX_BALANCE: Final = 10**18 - 1
_PROBE_AMOUNT: Final = PaymentAmount("USD", "1")


def check_payer(payer: object) -> str:
    """Return ``payer`` if it is a payer id the host's orders can carry (1-64 of ``A-Za-z0-9-_.:``)."""
    if not isinstance(payer, str):
        raise InvalidInput("payer", f"must be a string, got {type(payer).__name__}")
    try:
        # The rule is the host's own: a wallet account that no order could ever pay from is a typo.
        Order(trade_no="probe", amount=_PROBE_AMOUNT, merchant_id="probe", payer_id=payer)
    except InvalidInput as exc:
        raise InvalidInput("payer", exc.reason) from None
    return payer


def check_currency(currency: object) -> str:
    """Return ``currency`` if it is an ISO 4217 code the host knows (``USD``, ``JPY``)."""
    if not isinstance(currency, str):
        raise InvalidInput("currency", f"must be a string, got {type(currency).__name__}")
    try:
        PaymentAmount(currency, "1")
    except InvalidInput as exc:
        raise InvalidInput("currency", exc.reason) from None
    return currency


def check_amount(amount: object) -> int:
    """Return ``amount`` if it is an int of minor units from 1 to :data:`MAX_BALANCE`."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput("amount", f"must be an integer in minor units, got {type(amount).__name__}")
    if not 0 < amount <= MAX_BALANCE:
        raise InvalidInput("amount", f"must be between 1 and {MAX_BALANCE} minor units, got {echo_value(amount)}")
    return amount
