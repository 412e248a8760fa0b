"""The mock card network: how it answers a charge (and a refund) on each card, following the widely published
test numbers, and two numbers of its own whose refunds fail or hang.

The outcome is decided once, at enrolment, from the full number, and stored as the card's :class:`Scenario`:
the number itself is never kept, so the network never needs it again.
"""

from __future__ import annotations

import enum
from typing import Final

from tradepay import CardNumber, ErrorCode

__all__ = ["Scenario", "scenario_for"]


class Scenario(enum.StrEnum):
    """What the mock network answers to a charge on a card; the value is what the store keeps."""

    SUCCESS = "success"
    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LOST_CARD = "lost_card"
    STOLEN_CARD = "stolen_card"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    REFUND_FAILS = "refund_fails"
    """Charges are approved; every refund is declined (``REFUND_DECLINED``) and moves nothing."""
    REFUND_HANGS = "refund_hangs"
    """Charges are approved; a refund never answers, and moves nothing."""

    @property
    def moves_money(self) -> bool:
        """True for the scenarios whose charges are approved (:attr:`SUCCESS` and the two refund faults):
        every other scenario is refused before anything moves."""
        return self in (Scenario.SUCCESS, Scenario.REFUND_FAILS, Scenario.REFUND_HANGS)

    @property
    def reason(self) -> str:
        """The ``reason`` answered in ``extended_info`` (matched by the host's rule table)."""
        return "CARD_DECLINED" if self is Scenario.GENERIC_DECLINE else self.name

    @property
    def decline_code(self) -> str:
        """The network's own decline code, answered as ``decline_code`` (Stripe's spelling)."""
        return self.value

    @property
    def error_code(self) -> ErrorCode:
        """1005 SYSTEM_ERROR for the network's own failure, 1002 APP_SERVICE_ERROR for a decline."""
        return ErrorCode.SYSTEM_ERROR if self is Scenario.PROCESSING_ERROR else ErrorCode.APP_SERVICE_ERROR

    @property
    def description(self) -> str:
        """A short human description of the outcome."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: Final[dict[Scenario, str]] = {
    Scenario.SUCCESS: "the charge was approved",
    Scenario.GENERIC_DECLINE: "the card was declined",
    Scenario.INSUFFICIENT_FUNDS: "the card has insufficient funds",
    Scenario.LOST_CARD: "the card is reported lost",
    Scenario.STOLEN_CARD: "the card is reported stolen",
    Scenario.EXPIRED_CARD: "the card has expired",
    Scenario.INCORRECT_CVC: "the card's CVC is incorrect",
    Scenario.PROCESSING_ERROR: "the card network failed to process the charge",
    Scenario.REFUND_FAILS: "the charge was approved; the card network declines its refunds",
    Scenario.REFUND_HANGS: "the charge was approved; the card network never answers its refunds",
}


# The published test numbers (Stripe's table), then this network's own two refund faults; any other valid
# number succeeds.
_TEST_NUMBERS: Final[dict[str, Scenario]] = {
    "4000000000000002": Scenario.GENERIC_DECLINE,
    "4000000000009995": Scenario.INSUFFICIENT_FUNDS,
    "4000000000009987": Scenario.LOST_CARD,
    "4000000000009979": Scenario.STOLEN_CARD,
    "4000000000000069": Scenario.EXPIRED_CARD,
    "4000000000000127": Scenario.INCORRECT_CVC,
    "4000000000000119": Scenario.PROCESSING_ERROR,
    "4000000000005126": Scenario.REFUND_FAILS,
    "4000000000007726": Scenario.REFUND_HANGS,
}


def scenario_for(digits: CardNumber) -> Scenario:
    """The network's scenario for a checked, digits-only card number."""
    return _TEST_NUMBERS.get(digits.reveal(), Scenario.SUCCESS)
