"""How a value is shown in a message, and the one rule for "this looks like a card number".

An error message may quote what it refuses, but only as :func:`echo_value` renders it: at most a few dozen
characters, every card number masked, control characters escaped. :func:`holds_card_number` is the rule that
the identifiers refuse (:func:`tradepay.check_identifier`) and that the echo masks.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from .cards import _ISSUER_RE, mask_card_number

__all__ = ["ECHO_LIMIT", "echo_value", "holds_card_number", "mask_card_runs", "safe_text"]

#: How many characters of a refused value a message shows.
ECHO_LIMIT: Final = 40

# What people put between the groups of a card number: any space (no-break and full-width ones included),
# dots, hyphens and the Unicode dashes, and their full-width forms.
_SEPARATOR: Final = r"[\s.\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d\uff0e]"
# 13 to 19 digits of any script (full-width digits included), at most one separator between two of them, not
# part of a longer word: ``T4242...`` and ``pay_4242...`` are generated ids (random hex), not card numbers.
_CARD_RUN_RE: Final = re.compile(rf"(?<!\w)\d(?:{_SEPARATOR}?\d){{12,18}}(?!\w)")
# The longest text a card run can span (19 digits and 18 separators): an echo looks that far past its cut.
_LONGEST_RUN: Final = 37


def _ascii_digits(run: str) -> str:
    return "".join(chr(48 + unicodedata.decimal(ch)) for ch in run if ch.isdecimal())


def _is_card_number(run: str) -> bool:
    # Luhn-valid or not: a mistyped card number is still most of one, and a rule that refused one identifier in
    # ten of a kind would look random. A card network's issuer prefix keeps ids such as 2088... and timestamps.
    return _ISSUER_RE.match(_ascii_digits(run)) is not None


def holds_card_number(text: str) -> bool:
    """True when ``text`` holds something that looks like a card number.

    That is 13 to 19 digits in a row, of any script (full-width digits count), with at most one separator
    between two digits (spaces of any kind, dots, dashes), not glued to a letter, a digit or ``_``, that begin
    with a card network's issuer prefix (2221-2720, 3, 4, 5, 6). The Luhn check is not asked for: a mistyped
    card number is card data too.
    """
    if len(text) < 13 or _CARD_RUN_RE.search(text) is None:  # the usual case, decided by one scan
        return False
    return any(_is_card_number(match.group()) for match in _CARD_RUN_RE.finditer(text))


def mask_card_runs(text: str) -> str:
    """``text`` with every run that :func:`holds_card_number` finds replaced by its mask (``424242******4242``)."""
    if len(text) < 13 or _CARD_RUN_RE.search(text) is None:  # the usual case: the text itself, unchanged
        return text

    def mask(match: re.Match[str]) -> str:
        run = match.group()
        return mask_card_number(_ascii_digits(run)) if _is_card_number(run) else run

    return _CARD_RUN_RE.sub(mask, text)


def _escape(text: str) -> str:
    """Control characters, lone surrogates and other unprintable characters as Python escapes (``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def safe_text(text: str, limit: int) -> str:
    """``text`` made safe to put in a message, a log line or a terminal: card numbers masked, unprintable
    characters escaped, and cut to ``limit`` characters (ending ``...``) when longer."""
    cut = text[: limit + _LONGEST_RUN]
    shown = _escape(mask_card_runs(cut))
    if len(shown) > limit or len(text) > len(cut):
        return shown[: max(limit - 3, 0)] + "..."
    return shown


def echo_value(value: object, *, limit: int = ECHO_LIMIT) -> str:
    """How a message quotes a refused ``value``: a string as its (masked, escaped) ``repr``, cut to ``limit``
    characters with its full length said; a number as written, unless it is absurdly long; anything else by
    its type only, as its ``repr`` could be huge or fail."""
    if isinstance(value, str):
        text = str.__str__(value)
        head = mask_card_runs(text[: limit + _LONGEST_RUN])  # a mask is never longer than what it hides
        if len(text) <= limit:
            return repr(head)
        return f"{head[:limit]!r}... ({len(text)} characters)"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 64:  # str() of a huge int is slow, and fails past 4300 digits
            return f"an integer of {value.bit_length()} bits"
        return mask_card_runs(str(int(value)))
    if isinstance(value, float):
        return mask_card_runs(repr(float(value)))
    return f"a value of type {safe_text(type(value).__name__, limit)}"
