"""Card data that can never leak: masking, and a type whose every rendering is masked.

PCI DSS allows showing at most the first six and last four digits of a card number, and never storing or
logging the CVC. :class:`CardNumber` and :class:`CardSecret` hold the real value for the one place that needs
it (``.reveal()``) and render masked everywhere else: ``repr``, ``str``, f-strings, tracebacks with locals.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, NoReturn

__all__ = [
    "CardNumber",
    "CardSecret",
    "looks_like_card_number",
    "luhn_valid",
    "mask_card_number",
    "redact_card_numbers",
]

# What may stand between the digits of a card number as people, programs and reprs write it: any white space
# (no-break and ideographic spaces included), dashes, dots, underscores, zero-width characters, and the escape
# sequences that ``repr`` and JSON write for the invisible ones (``\xa0``, ``\u202f``, ``\t``).
_SEPARATOR: Final = (
    r"(?:[\s\-._\u00b7\u2010-\u2015\u2022\u2024\u2212\u200b-\u200d\u2060\u30fb\ufe58\ufe63\ufeff\uff0d\uff0e\uff61]"
    r"|\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[tnr]))"
)
# A run of at least 13 decimal digits (any script's: full-width ones too), up to three separators between two.
_RUN: Final = re.compile(rf"\d(?:{_SEPARATOR}{{0,3}}\d){{12,}}")
# Inside a run: a separator (escape sequences first, so that their hex digits are not read as digits) or digits.
_PART: Final = re.compile(rf"{_SEPARATOR}|(\d+)")
# The issuer prefixes of the card networks (3: Amex, Diners, JCB; 4: Visa; 5: Mastercard, Maestro; 6: Discover,
# UnionPay; 2221-2720: Mastercard). Other Luhn-valid digit runs, such as 16-digit app ids starting 2021, are ids.
_ISSUER_RE: Final = re.compile(r"[3-6]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)")
# The pre-check of ASCII text: what _SEPARATOR matches in it without a backslash (the ASCII characters ``\s``
# matches, dashes, dots, underscores) is deleted, every digit becomes ``0`` and every other byte ``x``. A run that
# _RUN would find then reads as 13 zeros in a row, so text without them holds no card number (hex ids such as
# ``T4f0c...`` have letters between their digits, which is why most never reach the regular expression).
_ASCII_SEPARATORS: Final = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f -._"
_ZEROS: Final = bytes.maketrans(bytes(range(256)), b"x" * 48 + b"0" * 10 + b"x" * 198)
_SHORTEST_RUN: Final = b"0" * 13
_MIN_DIGITS: Final = 13
_MAX_DIGITS: Final = 19


_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits summed (the Luhn step)
_NON_DIGITS: Final = re.compile(r"\D+")


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    if not digits.isascii() or not digits.isdigit():
        return False
    return (sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(d)] for d in digits[-2::-2])) % 10 == 0


def _ascii(digits: str) -> str:
    """``digits`` (decimal digits of any script: a full-width four, U+FF14, is ``4``) as ASCII digits."""
    return digits if digits.isascii() else "".join(str(unicodedata.decimal(ch)) for ch in digits)


def _mask(digits: str) -> str:
    if len(digits) < _MIN_DIGITS:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_card_number(number: str) -> str:
    """Mask a card number to at most its first six and last four digits: ``424242******4242``.

    Separators are dropped and digits of any script are shown as ASCII digits; a value with fewer than 13
    digits (not a whole card number) is all asterisks."""
    return _mask(_ascii("".join(ch for ch in number if ch.isdecimal())))


def looks_like_card_number(digits: str) -> bool:
    """True when ``digits`` (13-19 ASCII digits) has a card network's issuer prefix and passes Luhn."""
    return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS and _ISSUER_RE.match(digits) is not None and luhn_valid(digits)


def _masked_run(run: str) -> str | None:
    """``run`` (digits and separators) with each card number in it masked; ``None`` when it holds none.

    A card number is any sequence of whole digit groups (13 to 19 digits) that looks like one, so that a PAN
    followed or preceded by other numbers (``4242 4242 4242 4242 123``) is still found; overlapping candidates
    are masked together, so that no digit of either shows beyond the first six and last four of the whole."""
    if "\\" not in run:  # no escape sequence, whose hex digits would be taken for digits
        whole = _ascii(_NON_DIGITS.sub("", run))
        if looks_like_card_number(whole):  # the usual case: the run is one card number
            return _mask(whole)
    groups = [(m.start(1), m.end(1), _ascii(m.group(1))) for m in _PART.finditer(run) if m.group(1)]
    spans: list[list[int]] = []  # [first, last] group of each card number found, overlapping ones merged
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > _MAX_DIGITS:
                break
            if len(digits) >= _MIN_DIGITS and looks_like_card_number(digits):
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = max(spans[-1][1], j)
                else:
                    spans.append([i, j])
    if not spans:
        return None
    pieces: list[str] = []
    done = 0
    for first, last in spans:
        pieces += [run[done : groups[first][0]], _mask("".join(g[2] for g in groups[first : last + 1]))]
        done = groups[last][1]
    pieces.append(run[done:])
    return "".join(pieces)


def _no_run_in_ascii(text: str) -> bool:
    """True when ASCII ``text`` surely holds no run that ``_RUN`` finds (False tells nothing): it has no
    backslash, and no 13 digits in a row once the separators are deleted.

    Measured: a 21-character trade number with 13 or more of its hex digits decimal costs about 48,000
    instructions through ``_RUN``, and about 4,500 through this check (docs/performance.md)."""
    return "\\" not in text and _SHORTEST_RUN not in text.encode("ascii").translate(_ZEROS, _ASCII_SEPARATORS)


def redact_card_numbers(text: str) -> str:
    """Replace every card number in ``text`` with its mask: 13 to 19 digits with a card network's issuer prefix
    that pass the Luhn check, written with any separators (spaces of every kind, dashes, dots, underscores,
    zero-width characters, ``repr`` escapes such as ``\\xa0``) and in digits of any script (full-width too).

    Returns ``text`` itself (the same object) when there is nothing to mask. Cheap checks come first: text
    shorter than 13 characters, and ASCII text without a backslash and without 13 digits in a row once its
    separators are taken out, is never scanned."""
    if len(text) < _MIN_DIGITS:
        return text
    if text.isascii():
        if text.isdigit():  # a bare number, such as an id: only a whole card number is masked
            return mask_card_number(text) if looks_like_card_number(text) else text
        if _no_run_in_ascii(text):
            return text
    return _masked_runs(text)


def _masked_runs(text: str) -> str:
    """``text`` with each card number of each run that ``_RUN`` finds masked (``text`` itself when none)."""
    pieces: list[str] = []
    done = 0
    for match in _RUN.finditer(text):
        masked = _masked_run(match.group())
        if masked is not None:
            pieces += [text[done : match.start()], masked]
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


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
