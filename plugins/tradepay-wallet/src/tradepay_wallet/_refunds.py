"""The wallet's own words on refunds: money given back to the account a paid key debited.

The order of checks, the reasons and the ``refunds`` table are the core's (:func:`tradepay.judge_refund`);
the wallet adds no check of its own.
"""

from __future__ import annotations

from typing import Final

from tradepay import PaymentAmount, RefundAnswer, RefundOutcome

__all__ = ["NOT_CHARGED", "succeeded"]

#: The ``ATTEMPT_NOT_CHARGED`` message.
NOT_CHARGED: Final = "this payment key took no money from the wallet"


def succeeded(amount: PaymentAmount) -> RefundAnswer:
    """The one success: ``amount`` went back to the payer's balance."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} credited back to the wallet balance")
