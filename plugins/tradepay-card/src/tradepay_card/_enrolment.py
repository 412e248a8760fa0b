"""Enrolment: check a payer id, card number, expiry and CVC, and keep only what may be stored.

The number and the CVC arrive as :class:`tradepay.CardNumber` / :class:`tradepay.CardSecret` and are only
revealed inside expressions or in small helpers that never raise: no frame that raises binds them to a plain
``str`` local, so a traceback rendered with its local variables shows nothing but masks. Error messages name
the field, never the value.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from tradepay import CardNumber, CardSecret, InvalidInput, check_identifier, luhn_valid

from ._network import Scenario, scenario_for

__all__ = ["Brand", "CardDetails", "Expiry", "brand_of", "check_card", "check_payer_id", "parse_expiry"]

PAYER_FIELD: Final = "payer"
NUMBER_FIELD: Final = "card number"
EXPIRY_FIELD: Final = "expiry"
CVC_FIELD: Final = "cvc"

_EXPIRY_RE: Final = re.compile(r"(\d{2})/(\d{2})", re.ASCII)
# Digits, optionally grouped by single spaces or dashes between them (4242 4242 ..., 4242-4242-...).
_GROUPED_DIGITS_RE: Final = re.compile(r"[0-9]+(?:[ -][0-9]+)*")


class Brand(enum.StrEnum):
    """The card brands the mock network accepts; the value is how the brand is shown and stored."""

    VISA = "Visa"
    MASTERCARD = "Mastercard"
    AMEX = "American Express"
    DISCOVER = "Discover"
    JCB = "JCB"
    UNIONPAY = "UnionPay"

    @property
    def cvc_length(self) -> int:
        """American Express prints a 4-digit CVC on the front; every other brand a 3-digit one."""
        return 4 if self is Brand.AMEX else 3


# (brand, prefix length, lowest prefix, highest prefix), checked in this order.
_PREFIXES: Final[tuple[tuple[Brand, int, int, int], ...]] = (
    (Brand.VISA, 1, 4, 4),
    (Brand.MASTERCARD, 2, 51, 55),
    (Brand.MASTERCARD, 4, 2221, 2720),
    (Brand.AMEX, 2, 34, 34),
    (Brand.AMEX, 2, 37, 37),
    (Brand.DISCOVER, 4, 6011, 6011),
    (Brand.DISCOVER, 2, 65, 65),
    (Brand.JCB, 4, 3528, 3589),
    (Brand.UNIONPAY, 2, 62, 62),
)


def brand_of(digits: CardNumber) -> Brand | None:
    """The brand of a digits-only card number, from its leading digits, or ``None`` if no accepted brand."""
    for brand, length, low, high in _PREFIXES:
        if low <= int(digits.reveal()[:length]) <= high:
            return brand
    return None


@dataclass(frozen=True, slots=True, order=True)
class Expiry:
    """A card's expiry month: the card is valid through the last day of that month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidInput(EXPIRY_FIELD, "month must be between 01 and 12")

    def is_past(self, today: date) -> bool:
        """True when the whole expiry month lies before ``today``."""
        return (self.year, self.month) < (today.year, today.month)

    def __str__(self) -> str:
        return f"{self.month:02d}/{self.year % 100:02d}"


@dataclass(frozen=True, slots=True)
class CardDetails:
    """Everything about a checked card that may be stored: no number, no CVC."""

    brand: Brand
    last4: str
    expiry: Expiry
    scenario: Scenario


def check_payer_id(value: object) -> str:
    """Return ``value`` if it is a usable payer id: the core's rule for identifiers (1-64 of ``A-Za-z0-9-_.:``,
    nothing that looks like a card number, so a card number given as the payer is never stored)."""
    return check_identifier(value, PAYER_FIELD)


def parse_expiry(text: object) -> Expiry:
    """Parse ``MM/YY`` (a year in 2000-2099) into an :class:`Expiry`; only the format is checked here."""
    match = _EXPIRY_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(EXPIRY_FIELD, "must be MM/YY, for example 12/30")
    return Expiry(year=2000 + int(match.group(2)), month=int(match.group(1)))


def check_card(number: CardNumber, expiry: Expiry, cvc: CardSecret, *, today: date) -> CardDetails:
    """Check a card for enrolment and return what may be stored; the CVC is checked and then forgotten.

    Raises :class:`tradepay.InvalidInput` naming ``card number``, ``expiry`` or ``cvc``; the message never
    contains the number or the CVC.
    """
    if not isinstance(number, CardNumber):
        raise InvalidInput(NUMBER_FIELD, f"must be a tradepay.CardNumber, got {type(number).__name__}")
    if not isinstance(cvc, CardSecret) or isinstance(cvc, CardNumber):
        raise InvalidInput(CVC_FIELD, f"must be a tradepay.CardSecret, got {type(cvc).__name__}")
    if not isinstance(number.reveal(), str):
        raise InvalidInput(NUMBER_FIELD, f"must hold a string, got {type(number.reveal()).__name__}")
    if not number.reveal().strip():
        raise InvalidInput(NUMBER_FIELD, "must not be empty")
    digits = _digits_only(number)
    if digits is None:
        raise InvalidInput(NUMBER_FIELD, "may hold only digits, grouped by single spaces or dashes")
    if not 13 <= len(digits.reveal()) <= 19:
        raise InvalidInput(NUMBER_FIELD, "must have 13 to 19 digits")
    if not luhn_valid(digits.reveal()):
        raise InvalidInput(NUMBER_FIELD, "fails the Luhn check")
    brand = brand_of(digits)
    if brand is None:
        raise InvalidInput(NUMBER_FIELD, f"brand not accepted (accepted: {', '.join(b.value for b in Brand)})")
    if expiry.is_past(today):
        raise InvalidInput(EXPIRY_FIELD, f"the card expired ({expiry})")
    if not _is_digits(cvc, brand.cvc_length):
        raise InvalidInput(CVC_FIELD, f"must be {brand.cvc_length} digits for {brand.value}")
    return CardDetails(brand=brand, last4=digits.last4, expiry=expiry, scenario=scenario_for(digits))


# The helpers below reveal into plain locals; none of them raises, so those locals never reach a traceback.


def _digits_only(number: CardNumber) -> CardNumber | None:
    """The number without its grouping, or ``None`` if it holds anything but grouped ASCII digits."""
    value = number.reveal().strip()
    return CardNumber(re.sub("[ -]", "", value)) if _GROUPED_DIGITS_RE.fullmatch(value) else None


def _is_digits(secret: CardSecret, length: int) -> bool:
    """True when ``secret`` is exactly ``length`` ASCII digits."""
    value = secret.reveal()
    return isinstance(value, str) and len(value) == length and value.isascii() and value.isdigit()
