"""The host's own answers, built in this one module: refusals before any provider is called, the ``8000`` of
a payment in progress, the ``6004`` of an outcome left for reconciliation, and the answer a payment ends
with (the one place that gives it the payment's own fields).

Every path that ends a payment (the chain, an interrupted payment, reconciliation) builds the answer it stores
with :func:`final_answer`, so that a repeat of the order finds the same ``extended_info`` fields whichever path
ended the payment. A payment cut off while its caller still waits (the service closed mid-payment) also
publishes that answer (:func:`publish_cut_off`), for the service to give its caller.
"""

from __future__ import annotations

from contextvars import ContextVar

from .._ledger.records import Payment
from .._spi.echo import safe_text
from .._spi.errors import InvalidInput
from .._spi.models import ErrorCode, PaymentResult, ResultCode, ResultError, with_info

__all__ = [
    "cut_off_answer",
    "final_answer",
    "in_progress",
    "not_charged",
    "publish_cut_off",
    "refusal",
    "unresolved_result",
]

_CUT_OFF: ContextVar[PaymentResult | None] = ContextVar("tradepay_cut_off_answer", default=None)


def final_answer(result: PaymentResult, payment_id: str, provider: str | None) -> PaymentResult:
    """``result`` as payment ``payment_id`` stores and answers it: ``extended_info["paymentId"]`` always, and
    ``extended_info["provider"]`` when one provider's attempt decided the outcome (``provider``: the one that
    paid, declined with a stop, was cancelled by the user, or whose attempt is left unsettled). ``None`` when
    no single attempt decided it (every provider declined, none could be tried, the payment deadline passed,
    reconciliation found that nothing moved). Both values are the host's own (a payment id it made, a provider
    name it was configured with), so they are not checked again."""
    info = {"paymentId": payment_id} if provider is None else {"provider": provider, "paymentId": payment_id}
    return with_info(result, info, trusted=True)


def publish_cut_off(answer: PaymentResult) -> None:
    """Make ``answer`` the answer of the payment being cut off in this asyncio task (see :func:`cut_off_answer`)."""
    _CUT_OFF.set(answer)


def cut_off_answer() -> PaymentResult | None:
    """The answer a payment cut off in this asyncio task published (its stored answer), or ``None`` if none did.

    Read by the service after a cancellation reaches it: the task's context carries what the chain published
    just before the cancellation went on, and each payment the service runs is an asyncio task of its own."""
    return _CUT_OFF.get()


def refusal(message: str, code: ErrorCode = ErrorCode.APP_SERVICE_ERROR) -> PaymentResult:
    """A ``4000`` answer for a payment that was refused before any provider was called."""
    return PaymentResult(ResultCode.FAILED, message, ResultError(code, message))


def unresolved_result(error: ErrorCode = ErrorCode.UNKNOWN_ERROR) -> PaymentResult:
    """The ``6004`` answer of a payment whose outcome is unknown and left for reconciliation."""
    message = "the result is unknown and may be a success; the payment awaits reconciliation"
    return PaymentResult(ResultCode.UNKNOWN, message, ResultError(error, message))


def in_progress(payment: Payment) -> PaymentResult:
    """The ``8000`` answer to a repeat of an order whose payment is still in flight."""
    message = "a payment of this order is in progress"
    return PaymentResult(ResultCode.PROCESSING, message, extended_info={"paymentId": payment.payment_id})


def not_charged(exc: Exception, what: str) -> PaymentResult:
    """The ``4000`` answer of a payment the host failed before any money could move."""
    if isinstance(exc, InvalidInput):
        return refusal(str(exc))
    return refusal(f"{what} ({safe_text(type(exc).__name__, 80)}); nothing was charged", ErrorCode.SYSTEM_ERROR)
