"""The provider's answers, and how they are stored and read back so that a repeat gets the first answer."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

from tradepay import ErrorCode, FailureScope, PaymentResult, ResultCode, ResultError

__all__ = ["Reason", "decline", "from_row", "paid", "to_row"]


class Reason(enum.StrEnum):
    """``extended_info["reason"]`` of every decline this provider gives; each one moved nothing."""

    AUTH_PENDING_AGREEMENT = "AUTH_PENDING_AGREEMENT"
    CURRENCY_NOT_SUPPORTED = "CURRENCY_NOT_SUPPORTED"
    PAYMENT_AMOUNT_EXCEED_LIMIT = "PAYMENT_AMOUNT_EXCEED_LIMIT"
    USER_AMOUNT_EXCEED_LIMIT = "USER_AMOUNT_EXCEED_LIMIT"
    PAYMENT_COUNT_EXCEED_LIMIT = "PAYMENT_COUNT_EXCEED_LIMIT"
    REPEAT_REQ_INCONSISTENT = "REPEAT_REQ_INCONSISTENT"
    ATTEMPT_VOIDED = "ATTEMPT_VOIDED"
    ATTEMPT_REVERSED = "ATTEMPT_REVERSED"
    INVALID_REQUEST = "INVALID_REQUEST"


def decline(reason: Reason, desc: str, **extra: str) -> PaymentResult:
    """A ``4000`` answer that moved nothing: error 2001 for a missing agreement, 1002 for everything else.

    Each is about this payment alone (the payer's agreement and its limits, the order, the attempt's key), and
    says so (``failure_scope = "payment"``): it never counts towards the provider's circuit breaker.
    """
    code = ErrorCode.AUTH_PENDING_AGREEMENT if reason is Reason.AUTH_PENDING_AGREEMENT else ErrorCode.APP_SERVICE_ERROR
    info = {"reason": reason.value, **extra, FailureScope.KEY: FailureScope.PAYMENT.value}
    return PaymentResult(ResultCode.FAILED, desc, ResultError(code, desc), info)


def paid(agreement_id: str, desc: str) -> PaymentResult:
    """The ``9000`` answer of a payment debited under ``agreement_id``."""
    return PaymentResult(ResultCode.SUCCESS, desc, extended_info={"agreement_id": agreement_id})


def to_row(result: PaymentResult) -> tuple[str, str, int | None, str | None, str]:
    """``result`` as the columns (result_code, result_message, error_code, error_desc, extended_info JSON)."""
    error = result.result_error
    return (
        result.result_code.value,
        result.result_message,
        int(error.error_code) if error else None,
        error.error_desc if error else None,
        json.dumps(dict(result.extended_info), sort_keys=True),
    )


def from_row(code: str, message: str, error_code: int | None, error_desc: str | None, info: str) -> PaymentResult:
    """The :class:`PaymentResult` that :func:`to_row` stored."""
    extended: Mapping[str, str] = json.loads(info)
    error = ResultError(ErrorCode(error_code), error_desc or "") if error_code is not None else None
    return PaymentResult(ResultCode(code), message, error, extended)
