"""Card data that can never leak: masking, and a type whose every rendering is masked.

PCI DSS allows showing at most the first six and last four digits of a card number, and never storing or
logging the CVC. :class:`CardNumber` and :class:`CardSecret` hold the real value for the one place that needs
it (``.reveal()``) and render masked everywhere else: ``repr``, ``str``, f-strings, tracebacks with locals.
"""

from __future__ import annotations

import re
from typing import Final, NoReturn

__all__ = [
    "CardNumber",
    "CardSecret",
    "looks_like_card_number",
    "luhn_valid",
    "mask_card_number",
    "redact_card_numbers",
]

# 13 to 19 digits, optionally grouped by single spaces or dashes, not inside a longer run of digits.
_PAN_RE: Final = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
# The issuer prefixes of the card networks (3: Amex, Diners, JCB; 4: Visa; 5: Mastercard, Maestro; 6: Discover,
# UnionPay; 2221-2720: Mastercard). Other Luhn-valid digit runs, such as 16-digit app ids starting 2021, are ids.
_ISSUER_RE: Final = re.compile(r"[3-6]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)")


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_card_number(number: str) -> str:
    """Mask a card number to at most its first six and last four digits: ``424242******4242``."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def looks_like_card_number(digits: str) -> bool:
    """True when ``digits`` (13-19 ASCII digits) has a card network's issuer prefix and passes Luhn."""
    return 13 <= len(digits) <= 19 and _ISSUER_RE.match(digits) is not None and luhn_valid(digits)


def redact_card_numbers(text: str) -> str:
    """Replace every card number in ``text`` (13-19 digits, spaces or dashes allowed, a network's issuer prefix,
    Luhn-valid) with its mask."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        return mask_card_number(digits) if looks_like_card_number(digits) else match.group()

    return _PAN_RE.sub(_mask, text)


class CardSecret:
    """A secret (CVC, PIN, track data) that renders as ``'***'`` everywhere; ``reveal()`` gives the value."""

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        self.__value = value

    def reveal(self) -> str:
        """The real value: use it only where it is sent to the card network, never to store or log it."""
        return self.__value

    def __repr__(self) -> str:
        return f"{type(self).__name__}('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CardSecret) and other.__value == self.__value

    def __hash__(self) -> int:
        return hash(self.__value)


class CardNumber(CardSecret):
    """A full card number (PAN) that renders as its mask (first six, last four)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"CardNumber({mask_card_number(self.reveal())!r})"

    def __str__(self) -> str:
        return mask_card_number(self.reveal())

    def __format__(self, spec: str) -> str:
        return str(self)

    @property
    def last4(self) -> str:
        """The last four digits, which may be stored and shown."""
        return self.reveal()[-4:]
