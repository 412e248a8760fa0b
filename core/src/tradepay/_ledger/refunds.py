"""Refunds in the ledger: how a refund request is decided, the same way by every ledger.

A ledger decides a request (:func:`decide_refund`) inside one write transaction that holds the order's
succeeded payment (its row locked on PostgreSQL, the file's write lock on SQLite, the ledger's lock in
memory), from what that transaction reads: the refund already recorded under the merchant's request id, and
what the payment's counted refunds (succeeded and in flight) already take. So two hosts refunding one order at
once cannot together give back more than was paid.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .._chain.capabilities import Attempt, ProviderStatus
from .._spi.enums import CheckedEnumType
from .._spi.errors import InvalidInput, TradePayError
from .._spi.fields import check_instance
from .._spi.models import PaymentAmount
from .._spi.refunds import Refund, RefundStatus
from .._spi.text import MAX_TEXT, check_identifier, check_text
from .ids import random_hex
from .orders import check_trade_no
from .records import Payment, PaymentStatus

__all__ = [
    "COUNTED",
    "OrderRefundState",
    "RefundRefused",
    "RefundRequest",
    "decide_refund",
    "new_refund_id",
    "order_refund_state",
    "paying_attempt",
]

#: The refund states that count against what can still be refunded: money gone back, or that may go back.
COUNTED = frozenset({RefundStatus.PROCESSING, RefundStatus.SUCCEEDED, RefundStatus.NEEDS_RECONCILIATION})


class OrderRefundState(enum.StrEnum, metaclass=CheckedEnumType):
    """How much of a paid order was given back, by its succeeded refunds."""

    PAID = "paid"
    """Nothing given back (yet)."""
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    """All of it given back."""


class RefundRefused(TradePayError):
    """A refund request the ledger refused: nothing was recorded. ``code`` is the answer's result code
    (``ORDER_NOT_PAID``, ``REFUND_AMOUNT_EXCEED``, ``REPEAT_REQ_INCONSISTENT``)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A merchant's request to refund ``amount`` of order ``trade_no``, under its ``request_id`` (unique per
    merchant: a repeat with the same fields gets the first answer), with an optional ``reason``."""

    trade_no: str
    amount: PaymentAmount
    request_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        check_trade_no(self.trade_no, "trade_no")
        check_instance(self.amount, PaymentAmount, "amount")
        check_identifier(self.request_id, "refund_request_id")
        if self.reason is not None:
            object.__setattr__(self, "reason", check_text(self.reason, "reason", limit=MAX_TEXT, card_numbers="mask"))


def new_refund_id() -> str:
    """A fresh refund id (also the provider's idempotency key): ``rfd_`` and 16 random hex digits."""
    return f"rfd_{random_hex(8)}"


def paying_attempt(payment: Payment) -> Attempt | None:
    """The attempt that took the payment's money: its one ``paid`` attempt (never one the chain fell through)."""
    paid = [r.attempt for r in payment.attempts if r.status is ProviderStatus.PAID]
    return paid[-1] if paid else None


def _same(refund: Refund, request: RefundRequest) -> bool:
    return (refund.trade_no, refund.amount, refund.reason) == (request.trade_no, request.amount, request.reason)


def decide_refund(
    payment: Payment | None,
    request: RefundRequest,
    existing: Refund | None,
    counted: int,
    now: float,
) -> tuple[Refund, bool]:
    """``(refund, created)``: the refund already recorded under the request id and ``False`` (a repeat with the
    same fields), or the new ``processing`` refund to record and ``True``. ``payment`` is the order's succeeded
    payment (or ``None``), ``counted`` what its counted refunds take, in minor units. Raises
    :class:`RefundRefused` (or :class:`InvalidInput` for an amount in another currency) and records nothing."""
    if existing is not None:
        if _same(existing, request):
            return existing, False
        raise RefundRefused(
            "REPEAT_REQ_INCONSISTENT",
            f"refund request id {request.request_id!r} was used for another refund ({existing.trade_no},"
            f" {existing.amount}); nothing changed",
        )
    attempt = paying_attempt(payment) if payment is not None and payment.status is PaymentStatus.SUCCEEDED else None
    if payment is None or payment.order is None or attempt is None:
        raise RefundRefused("ORDER_NOT_PAID", f"order {request.trade_no} has no succeeded payment to refund")
    paid = payment.order.amount
    if request.amount.currency != paid.currency:
        raise InvalidInput("amount", f"is in {request.amount.currency}, the order was paid in {paid.currency}")
    left = paid.minor_units - counted
    if request.amount.minor_units > left:
        shown = str(PaymentAmount(paid.currency, str(left))) if left > 0 else f"{paid.currency} 0"
        raise RefundRefused(
            "REFUND_AMOUNT_EXCEED",
            f"{request.amount} is more than the {shown} of order {request.trade_no} left to refund"
            " (succeeded and in-flight refunds count)",
        )
    refund = Refund(
        new_refund_id(),
        request.trade_no,
        payment.payment_id,
        attempt,
        request.amount,
        request.request_id,
        payment.order.merchant_id,
        request.reason,
        RefundStatus.PROCESSING,
        None,
        now,
        now,
    )
    return refund, True


def order_refund_state(paid: PaymentAmount, refunds: Iterable[Refund]) -> OrderRefundState:
    """``paid``, ``partially_refunded`` or ``refunded``: what the succeeded ``refunds`` gave back of ``paid``."""
    back = sum(r.amount.minor_units for r in refunds if r.status is RefundStatus.SUCCEEDED)
    if back == 0:
        return OrderRefundState.PAID
    return OrderRefundState.REFUNDED if back >= paid.minor_units else OrderRefundState.PARTIALLY_REFUNDED
