"""The answer a payment ends with: the one place that gives it the payment's own fields.

Every path that ends a payment (the chain, an interrupted payment, reconciliation) builds the answer it stores
with :func:`final_answer`, so that a repeat of the order finds the same ``extended_info`` fields whichever path
ended the payment. A payment cut off while its caller still waits (the service closed mid-payment) also
publishes that answer (:func:`publish_cut_off`), for the service to give its caller.
"""

from __future__ import annotations

from contextvars import ContextVar

from .._spi.models import PaymentResult, with_info

__all__ = ["cut_off_answer", "final_answer", "publish_cut_off"]

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
