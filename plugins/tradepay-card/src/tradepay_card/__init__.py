"""tradepay-card: a tradepay provider that charges cards on file through a mock card network.

The mock network answers each card as the widely published test numbers say (4242 4242 4242 4242 succeeds,
4000 0000 0000 9995 is declined for insufficient funds, ...). Only a token, the brand, the last four digits,
the expiry and that scenario are stored; card numbers and CVCs never reach disk, logs or error messages.
"""

from __future__ import annotations

from tradepay import AttemptRow, AttemptStatus, RefundKeyStatus, RefundReason, RefundRow

from ._enrolment import Brand, CardDetails, Expiry, check_card, parse_expiry
from ._network import Scenario
from ._provider import HANG_SECONDS, CardProvider
from ._settings import CardSettings, parse_settings
from ._store import Card, CardStore, Movement

__all__ = [
    "AttemptRow",
    "AttemptStatus",
    "Brand",
    "Card",
    "CardDetails",
    "CardProvider",
    "CardSettings",
    "CardStore",
    "Expiry",
    "HANG_SECONDS",
    "Movement",
    "RefundReason",
    "RefundRow",
    "RefundKeyStatus",
    "Scenario",
    "check_card",
    "parse_expiry",
    "parse_settings",
]
