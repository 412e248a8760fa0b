"""The wallet's answers: one builder per kind, so that every path words them the same way.

A decline always moved nothing: it is the kit's :func:`tradepay.decline` (``4000`` with error ``1002``, a
machine-readable ``reason`` the shipped rule table falls through on, ``failure_scope = "payment"``). Only the
wallet's own faults (the ``late_success`` answer here, the scripted errors of :mod:`tradepay_wallet._faults`)
are the provider's, and count towards the host's circuit breaker. Refunds are answered as the core's refund
rules say (:func:`tradepay.judge_refund`); the wallet adds no check of its own.
"""

from __future__ import annotations

import enum
from typing import Final

from tradepay import (
    ErrorCode,
    FailureScope,
    PaymentAmount,
    PaymentResult,
    RefundAnswer,
    RefundOutcome,
    ResultCode,
    ResultError,
    decline,
)

__all__ = ["NOT_CHARGED", "Reason", "declined", "late_success", "paid", "refunded", "user_cancelled"]

#: The ``ATTEMPT_NOT_CHARGED`` message of a refund.
NOT_CHARGED: Final = "this payment key took no money from the wallet"


class Reason(enum.StrEnum):
    """The ``extended_info["reason"]`` of the wallet's own declines; a repeated key's are the kit's
    (:class:`tradepay.PaymentReason`: ``ATTEMPT_VOIDED``, ``REPEAT_REQ_INCONSISTENT``, ``ATTEMPT_REVERSED``)."""

    INVALID_REQUEST = "INVALID_REQUEST"
    """The attempt's idempotency key is not a string of 1 to 256 characters: nothing can be recorded under it."""
    USER_BALANCE_NOT_ENOUGH = "USER_BALANCE_NOT_ENOUGH"
    """No account in the order's currency, or less in it than the order's amount."""
    CURRENCY_NOT_SUPPORTED = "CURRENCY_NOT_SUPPORTED"
    """The order's currency is not in the ``currencies`` setting."""
    PAYMENT_AMOUNT_EXCEED_LIMIT = "PAYMENT_AMOUNT_EXCEED_LIMIT"
    """The order's amount is above the ``max_amount`` setting."""
    USER_CANCEL = "USER_CANCEL"
    """The payer left the cashier (the ``user_cancel`` fault)."""


#: The result message of every decline.
DECLINED: Final = "wallet declined the payment"


def paid() -> PaymentResult:
    """The one success: the order's amount was debited under this key."""
    return PaymentResult(ResultCode.SUCCESS, "paid from wallet balance")


def declined(reason: Reason, desc: str) -> PaymentResult:
    """A decline that moved nothing (``4000``/``1002``)."""
    return decline(reason, desc, message=DECLINED)


def user_cancelled() -> PaymentResult:
    """The payer cancelled in the cashier: ``6001`` with error ``1001``; nothing moved."""
    return PaymentResult(
        ResultCode.USER_CANCEL,
        "payment cancelled by the user",
        ResultError(ErrorCode.USER_CANCEL, "the user left the cashier"),
        {"reason": Reason.USER_CANCEL.value, FailureScope.KEY: FailureScope.PAYMENT.value},
    )


def late_success() -> PaymentResult:
    """What the ``late_success`` fault answers although the money moved: unknown, timed out (the wallet's own)."""
    return PaymentResult(
        ResultCode.UNKNOWN,
        "wallet did not answer in time",
        ResultError(ErrorCode.TIMEOUT, "timeout"),
        {FailureScope.KEY: FailureScope.PROVIDER.value},
    )


def refunded(amount: PaymentAmount) -> RefundAnswer:
    """The one refund success: ``amount`` went back to the payer's balance."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} credited back to the wallet balance")
