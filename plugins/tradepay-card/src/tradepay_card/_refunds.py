"""The card provider's own words on refunds: money given back to the card a paid key charged.

The order of checks, the reasons and the ``refunds`` table are the core's (:func:`tradepay.judge_refund`);
the card adds one check, last: a card whose scenario declines refunds (``refund_fails``) is refused
``REFUND_DECLINED`` by the network (:func:`declined_by_network`).
"""

from __future__ import annotations

from typing import Final

from tradepay import PaymentAmount, RefundAnswer, RefundOutcome, RefundReason, refund_refused

from ._enrolment import Brand
from ._network import Scenario

__all__ = ["NOT_CHARGED", "declined_by_network", "succeeded"]

#: The ``ATTEMPT_NOT_CHARGED`` message.
NOT_CHARGED: Final = "this payment key charged no card here"


def succeeded(amount: PaymentAmount, brand: Brand, last4: str) -> RefundAnswer:
    """The one success: ``amount`` went back to the card the payment charged."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} refunded to {brand.value} ending {last4}")


def declined_by_network(scenario: Scenario) -> RefundAnswer | None:
    """The network's refusal of a refund on a card of ``scenario``, or ``None`` if it refunds."""
    if scenario is Scenario.REFUND_FAILS:
        return refund_refused(RefundReason.REFUND_DECLINED, "the card network declined the refund")
    return None
