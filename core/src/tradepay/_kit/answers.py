"""A provider's answers to ``pay``: the decline builder, and an answer as the columns it is stored in.

A decline moved nothing. It is ``4000`` with an error (``1002`` unless said otherwise), a machine-readable
``reason`` that the rule table matches, and ``failure_scope = "payment"``: it is about this payment alone
(the payer's funds or card, the order, the attempt's key), so it never counts towards the provider's circuit
breaker. A provider's own outage is no decline: it raises, or answers with ``FailureScope.PROVIDER``.
"""

from __future__ import annotations

import json
from typing import Any

from .._chain.breaker import FailureScope
from .._chain.capabilities import Attempt, Capabilities
from .._cli.render import format_amount
from .._ledger.orders import Order
from .._spi.models import ErrorCode, PaymentResult, ResultCode, ResultError
from .._spi.refunds import Refund

__all__ = [
    "ResultColumns",
    "beyond_capabilities",
    "decline",
    "refund_fields",
    "result_columns",
    "result_from_columns",
]

#: An answer as stored: ``(result_code, result_message, error_code, error_desc, extended_info JSON)``.
ResultColumns = tuple[str, str, int | None, str | None, str]


def decline(
    reason: str, desc: str, *, message: str | None = None, code: ErrorCode = ErrorCode.APP_SERVICE_ERROR, **details: str
) -> PaymentResult:
    """The decline ``reason`` (such as ``USER_BALANCE_NOT_ENOUGH``): ``4000``, error ``code`` described by
    ``desc``, ``message`` as the result message (default: ``desc``), and ``details`` added to
    ``extended_info`` beside the ``reason`` and ``failure_scope = "payment"``."""
    info = {"reason": str(reason), **details, FailureScope.KEY: FailureScope.PAYMENT.value}
    return PaymentResult(ResultCode.FAILED, desc if message is None else message, ResultError(code, desc), info)


def beyond_capabilities(
    order: Order, capabilities: Capabilities, *, message: str | None = None
) -> PaymentResult | None:
    """The decline of an ``order`` that ``capabilities`` rule out (``CURRENCY_NOT_SUPPORTED``, then
    ``PAYMENT_AMOUNT_EXCEED_LIMIT``), or ``None``. The host offers a provider only what its capabilities
    allow; this is the provider's own word for a caller that asks it directly."""
    currency, amount = order.amount.currency, order.amount.minor_units
    if capabilities.currencies is not None and currency not in capabilities.currencies:
        return decline("CURRENCY_NOT_SUPPORTED", f"this provider does not pay in {currency}", message=message)
    if capabilities.max_amount is not None and amount > capabilities.max_amount:
        most = format_amount(currency, capabilities.max_amount)
        return decline(
            "PAYMENT_AMOUNT_EXCEED_LIMIT", f"{order.amount} is over this provider's maximum {most}", message=message
        )
    return None


def result_columns(result: PaymentResult) -> ResultColumns:
    """``result`` as the columns ``result_code, result_message, error_code, error_desc, extended_info``."""
    error = result.result_error
    return (
        result.result_code.value,
        result.result_message,
        None if error is None else int(error.error_code),
        None if error is None else error.error_desc,
        json.dumps(dict(result.extended_info), sort_keys=True),
    )


def result_from_columns(row: Any) -> PaymentResult | None:
    """The answer that :func:`result_columns` stored (``None`` if the row holds none: a tombstone's)."""
    code, message, error_code, error_desc, info = row
    if code is None:
        return None
    error = None if error_code is None else ResultError(error_code, error_desc or "")
    return PaymentResult(code, message or "", error, json.loads(info) if info else {})


def refund_fields(order: Order, attempt: Attempt, refund: Refund) -> dict[str, object]:
    """The fields every provider logs about a refund: ``trade_no``, ``idempotency_key`` (the payment's),
    ``refund_key``, ``amount`` (minor units) and ``currency``; ``log.bind(**refund_fields(...))``."""
    return {
        "trade_no": order.trade_no,
        "idempotency_key": attempt.idempotency_key,
        "refund_key": refund.idempotency_key,
        "amount": refund.amount.minor_units,
        "currency": refund.amount.currency,
    }
