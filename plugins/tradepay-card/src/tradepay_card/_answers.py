"""The card provider's answers: its charges and declines, and its words on refunds.

A decline is the kit's :func:`tradepay.decline`: it moved nothing and is about this payment alone (its card,
the order's currency or amount, the attempt's key), the network's processing error on a card included, so one
payer's card never counts towards the provider's circuit breaker. The provider's own failures (its database)
raise. Refunds follow the core's refund rules (:func:`tradepay.judge_refund`); the card adds one check, last:
a card whose scenario declines refunds (``refund_fails``) is refused ``REFUND_DECLINED`` by the network.
"""

from __future__ import annotations

from typing import Final

from tradepay import (
    ErrorCode,
    PaymentAmount,
    PaymentResult,
    RefundAnswer,
    RefundOutcome,
    RefundReason,
    ResultCode,
    decline,
    refund_refused,
)

from ._enrolment import Brand
from ._network import Scenario

__all__ = ["NOT_CHARGED", "charged", "declined", "declined_by_network", "refunded"]

#: The ``ATTEMPT_NOT_CHARGED`` message of a refund.
NOT_CHARGED: Final = "this payment key charged no card here"


def charged(brand: Brand, last4: str) -> PaymentResult:
    """The one success: the order's amount was charged on the card ``brand`` ending ``last4``."""
    info = {"card_brand": brand.value, "card_last4": last4}
    return PaymentResult(ResultCode.SUCCESS, f"charged {brand.value} ending {last4}", extended_info=info)


def declined(
    reason: str, desc: str, error_code: ErrorCode = ErrorCode.APP_SERVICE_ERROR, **details: str
) -> PaymentResult:
    """A refusal that moved nothing: ``4000`` with ``error_code`` and the ``reason`` in ``extended_info``."""
    return decline(reason, desc, message=f"card payment failed: {desc}", code=error_code, **details)


def refunded(amount: PaymentAmount, brand: Brand, last4: str) -> RefundAnswer:
    """The one refund success: ``amount`` went back to the card the payment charged."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} refunded to {brand.value} ending {last4}")


def declined_by_network(scenario: Scenario) -> RefundAnswer | None:
    """The network's refusal of a refund on a card of ``scenario``, or ``None`` if it refunds."""
    if scenario is Scenario.REFUND_FAILS:
        return refund_refused(RefundReason.REFUND_DECLINED, "the card network declined the refund")
    return None
