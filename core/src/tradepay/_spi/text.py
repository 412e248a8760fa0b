"""The text a model may hold: what the ledger can store, and identifiers that cannot hold a card number.

Every text field of every public model goes through :func:`check_text` (free text) or
:func:`check_identifier` (trade numbers, merchant and payer ids) when it is constructed, so that a model that
exists can be written to SQLite and PostgreSQL, and printed, without an error. What a field does with a card
number is its ``card_numbers`` policy: identifiers and machine-read values refuse one, messages for people
hold its mask, and the few fields taken as the container gives them keep it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, NoReturn

from .echo import holds_card_number, mask_card_runs
from .errors import InvalidInput

__all__ = ["MAX_IDENTIFIER", "MAX_TEXT", "CardNumbers", "check_identifier", "check_text", "plain_texts"]

#: The longest identifier (the JSAPI's limit for ``tradeNO``, kept for every id).
MAX_IDENTIFIER: Final = 64
#: The longest free text of a model field that sets no limit of its own (messages, descriptions).
MAX_TEXT: Final = 1024

# UTF-8 cannot encode a lone surrogate (SQLite's and PostgreSQL's drivers raise on one), and PostgreSQL's text
# cannot hold NUL: the two things a Python string can hold that the ledger cannot.
_UNSTORABLE_RE: Final = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER_RE: Final = re.compile(r"[A-Za-z0-9_.:-]+")
_SHORTEST_CARD_NUMBER: Final = 13
_CARD_NUMBER_REASON: Final = "looks like a card number, which is never stored here (the value is not shown)"

CardNumbers = Literal["keep", "mask", "refuse"]


def check_text(
    value: object, field: str, *, limit: int = MAX_TEXT, required: bool = True, card_numbers: CardNumbers = "keep"
) -> str:
    """Return ``value`` if it is text the ledger can store: a string of at most ``limit`` characters with no NUL
    and no lone surrogate, and not blank when ``required``.

    ``card_numbers`` says what becomes of text in which :func:`tradepay.holds_card_number` finds one:
    ``"keep"`` it as given, ``"mask"`` it (the text returned holds ``424242******4242`` instead), or
    ``"refuse"`` it. Raises :class:`InvalidInput` naming ``field`` otherwise; the message never quotes the
    value.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(field, f"is longer than {limit} characters")
    if required and not value.strip():
        raise InvalidInput(field, "must not be empty")
    # An ASCII string (the common case, known without a scan) cannot hold a surrogate: look for NUL only.
    if "\x00" in value if value.isascii() else _UNSTORABLE_RE.search(value) is not None:
        _refuse_unstorable(value, field)
    if card_numbers == "keep" or len(value) < _SHORTEST_CARD_NUMBER:
        return value
    if card_numbers == "mask":
        return mask_card_runs(value)
    if holds_card_number(value):
        raise InvalidInput(field, _CARD_NUMBER_REASON)
    return value


def _refuse_unstorable(value: str, field: str) -> NoReturn:
    bad = _UNSTORABLE_RE.search(value)
    assert bad is not None  # the caller found one
    what = "NUL characters" if bad.group() == "\x00" else "lone surrogates (text that is not valid Unicode)"
    raise InvalidInput(field, f"must not contain {what}; the first is at character {bad.start()}")


def plain_texts(values: tuple[object, ...], limit: int) -> bool:
    """:func:`check_text`'s common case for several values in one call, for the records made on every payment:
    True when each value is a non-blank ASCII string of at most ``limit`` characters without NUL, which
    ``check_text`` passes (with any ``card_numbers`` policy, when shorter than a card number). False tells
    nothing: ask ``check_text`` for the reason."""
    for value in values:
        if type(value) is not str or not 0 < len(value) <= limit or not value.isascii() or "\x00" in value:
            return False
        if value.isspace():
            return False
    return True


def check_identifier(value: object, field: str, *, limit: int = MAX_IDENTIFIER) -> str:
    """Return ``value`` if it is a usable identifier: 1 to ``limit`` of ``A-Z a-z 0-9 - _ . :``, and nothing
    that looks like a card number (:func:`tradepay.holds_card_number`: ``4000.0000.0000.0069`` is refused).

    Raises :class:`InvalidInput` naming ``field`` otherwise; the message never quotes the value.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"is longer than {limit} characters")
    # Before the character check: a card number with spaces or full-width digits gets the true reason.
    if holds_card_number(value):
        raise InvalidInput(field, _CARD_NUMBER_REASON)
    if _IDENTIFIER_RE.fullmatch(value) is None:
        raise InvalidInput(field, "may hold only letters, digits and - _ . :")
    return value
