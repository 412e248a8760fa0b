"""The wallet's answers to ``pay``: one builder per kind, so that every path words them the same way.

A decline always moved nothing: it is ``4000`` with error ``1002`` and a machine-readable ``reason`` (the
shipped rule table falls through to the next provider on it). Every answer but a success says whose failure it
is (``failure_scope``): a decline or a cancel is about the payment; only the wallet's own faults (the ``late_success``
answer here, the scripted errors of :mod:`tradepay_wallet._faults`) are the provider's, and count towards the
host's circuit breaker.
"""

from __future__ import annotations

import enum

from tradepay import ErrorCode, FailureScope, PaymentResult, ResultCode, ResultError

__all__ = ["Reason", "declined", "late_success", "paid", "user_cancelled"]


class Reason(enum.StrEnum):
    """The ``extended_info["reason"]`` of the wallet's own declines."""

    INVALID_REQUEST = "INVALID_REQUEST"
    """The attempt's idempotency key is not a string of 1 to 256 characters: nothing can be recorded under it."""
    USER_BALANCE_NOT_ENOUGH = "USER_BALANCE_NOT_ENOUGH"
    """No account in the order's currency, or less in it than the order's amount."""
    CURRENCY_NOT_SUPPORTED = "CURRENCY_NOT_SUPPORTED"
    """The order's currency is not in the ``currencies`` setting."""
    PAYMENT_AMOUNT_EXCEED_LIMIT = "PAYMENT_AMOUNT_EXCEED_LIMIT"
    """The order's amount is above the ``max_amount`` setting."""
    REPEAT_REQ_INCONSISTENT = "REPEAT_REQ_INCONSISTENT"
    """The key was used before with another payer, currency or amount."""
    ATTEMPT_VOIDED = "ATTEMPT_VOIDED"
    """The key was voided by an inquiry or cancel that came first: it may never move money."""
    ATTEMPT_REVERSED = "ATTEMPT_REVERSED"
    """The key's payment was reversed by a cancel: its money is back with the payer."""
    USER_CANCEL = "USER_CANCEL"
    """The payer left the cashier (the ``user_cancel`` fault)."""


def paid() -> PaymentResult:
    """The one success: the order's amount was debited under this key."""
    return PaymentResult(ResultCode.SUCCESS, "paid from wallet balance")


def declined(reason: Reason, desc: str) -> PaymentResult:
    """A decline that moved nothing (``4000``/``1002``)."""
    return PaymentResult(
        ResultCode.FAILED,
        "wallet declined the payment",
        ResultError(ErrorCode.APP_SERVICE_ERROR, desc),
        {"reason": reason.value, FailureScope.KEY: FailureScope.PAYMENT.value},
    )


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
