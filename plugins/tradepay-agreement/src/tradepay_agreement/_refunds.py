"""The agreement provider's own words on refunds: money given back under the agreement a paid key debited.

The order of checks, the reasons and the ``refunds`` table are the core's (:func:`tradepay.judge_refund`);
the agreement adds no check of its own, and gives its usage counters back with the money (see the store).
"""

from __future__ import annotations

from typing import Final

from tradepay import PaymentAmount, RefundAnswer, RefundOutcome

__all__ = ["NOT_CHARGED", "succeeded"]

#: The ``ATTEMPT_NOT_CHARGED`` message.
NOT_CHARGED: Final = "this payment key was debited under no agreement here"


def succeeded(amount: PaymentAmount, agreement_id: str) -> RefundAnswer:
    """The one success: ``amount`` went back under the agreement the payment was debited under."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} refunded under {agreement_id}")
