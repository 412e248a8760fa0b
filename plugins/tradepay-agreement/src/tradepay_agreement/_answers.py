"""The provider's answers: its debits and declines (the kit's :func:`tradepay.decline`), and its refunds.

Refunds follow the core's refund rules (:func:`tradepay.judge_refund`); the agreement adds no check of its own,
and gives its usage counters back with the money (see the store).
"""

from __future__ import annotations

import enum
from typing import Final

from tradepay import ErrorCode, PaymentAmount, PaymentResult, RefundAnswer, RefundOutcome, ResultCode
from tradepay import decline as kit_decline

__all__ = ["NOT_CHARGED", "Reason", "decline", "paid", "refunded"]

#: The ``ATTEMPT_NOT_CHARGED`` message of a refund.
NOT_CHARGED: Final = "this payment key was debited under no agreement here"


class Reason(enum.StrEnum):
    """``extended_info["reason"]`` of this provider's own declines, each of which moved nothing; a repeated
    key's are the kit's (:class:`tradepay.PaymentReason`)."""

    AUTH_PENDING_AGREEMENT = "AUTH_PENDING_AGREEMENT"
    CURRENCY_NOT_SUPPORTED = "CURRENCY_NOT_SUPPORTED"
    PAYMENT_AMOUNT_EXCEED_LIMIT = "PAYMENT_AMOUNT_EXCEED_LIMIT"
    USER_AMOUNT_EXCEED_LIMIT = "USER_AMOUNT_EXCEED_LIMIT"
    PAYMENT_COUNT_EXCEED_LIMIT = "PAYMENT_COUNT_EXCEED_LIMIT"
    INVALID_REQUEST = "INVALID_REQUEST"


def decline(reason: Reason, desc: str, **extra: str) -> PaymentResult:
    """A ``4000`` answer that moved nothing: error 2001 for a missing agreement, 1002 for everything else."""
    code = ErrorCode.AUTH_PENDING_AGREEMENT if reason is Reason.AUTH_PENDING_AGREEMENT else ErrorCode.APP_SERVICE_ERROR
    return kit_decline(reason, desc, code=code, **extra)


def paid(agreement_id: str, desc: str) -> PaymentResult:
    """The ``9000`` answer of a payment debited under ``agreement_id``."""
    return PaymentResult(ResultCode.SUCCESS, desc, extended_info={"agreement_id": agreement_id})


def refunded(amount: PaymentAmount, agreement_id: str) -> RefundAnswer:
    """The one refund success: ``amount`` went back under the agreement the payment was debited under."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} refunded under {agreement_id}")
