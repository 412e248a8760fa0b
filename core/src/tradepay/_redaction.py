"""The card-data redaction of log events: the structlog processor :func:`redact_card_data`.

Every value of an event is walked, however it is nested (mappings, lists, tuples, sets, bytes, any object
whose ``repr`` a renderer would print), and the result is always a finite tree of plain values that any
renderer can write: a cycle becomes ``"<cycle>"`` and anything nested deeper than :data:`MAX_DEPTH` becomes
``"<nested too deeply>"``, so that no event makes the log call fail.

* Under a key that names a secret (``cvc``, ``card_cvc``, ``securityCode``, ``pin``, ``track2``, ``password``
  ...), the whole value becomes ``"***"``.
* Under a key that names a card number (``pan``, ``card_number``, ``cardNo``, ``number``), a value with 13 or
  more digits becomes its mask (first six and last four digits).
* Anywhere else, card numbers inside text are masked (:func:`tradepay.redact_card_numbers`).

Ordinary events stay cheap: keys are classified once and remembered, and short strings, small numbers,
``None`` and booleans are passed through without a look at their content.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, MutableMapping
from enum import IntEnum
from typing import Any, Final

from ._spi.cards import CardSecret, mask_card_number, redact_card_numbers

__all__ = ["MAX_DEPTH", "SECRET_WORDS", "redact_card_data"]

#: How deep containers are walked; deeper values are replaced, so that rendering cannot recurse without end.
MAX_DEPTH: Final = 32
#: Words that make a key name a secret wherever they occur in it (``card_cvc``, ``cvv2``, ``pinBlock``).
SECRET_WORDS: Final = frozenset(
    {
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
        "cvn",
        "cvn2",
        "cid",
        "csc",
        "cav2",
        "pin",
        "pinblock",
        "track",
        "track1",
        "track2",
        "trackdata",
        "password",
        "passwd",
        "passphrase",
        "secret",
        "securitycode",
        "verificationcode",
        "verificationvalue",
    }
)
# Secret names written run together with other words, found at the end of a key (``cardcvc``, ``userpassword``).
_SECRET_ENDINGS: Final = ("cvc", "cvc2", "cvv", "cvv2", "securitycode", "verificationcode", "password", "pinblock")
#: Keys (lower case, separators removed) whose value is a card number.
CARD_NUMBER_KEYS: Final = frozenset(
    {"pan", "number", "cardnumber", "cardno", "cardnum", "ccnumber", "ccnum", "accountnumber", "primaryaccountnumber"}
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SHORT: Final = 13  # no card number fits in fewer characters or digits
_SMALL: Final = 10**12  # no card number is smaller than this
_PLAIN_LEAVES: Final = (type(None), bool)
_CYCLE: Final = "<cycle>"
_TOO_DEEP: Final = "<nested too deeply>"


class _Kind(IntEnum):
    PLAIN = 0
    SECRET = 1
    CARD = 2


_KINDS: dict[str, _Kind] = {"event": _Kind.PLAIN, "timestamp": _Kind.PLAIN, "level": _Kind.PLAIN}
_KINDS_CAP: Final = 4096
# Text values already found to hold no card number: a payment's id, trade number and app id recur in each of its
# events, a rule's name and a reason in many payments'. Only text that needed no mask is kept, so the set holds
# no card data; short and bounded, so it holds little memory. Measured: a look-up here costs about 150
# instructions against about 2,500 for redact_card_numbers on a 20-character id (docs/performance.md).
_CLEAN: set[str] = set()
_CLEAN_CAP: Final = 4096
_CLEAN_LONGEST: Final = 256


def _classify(key: str) -> _Kind:
    words = [w.lower() for w in _WORD.findall(key)]
    joined = "".join(words)
    # Adjacent words joined, so that "security_code", "track_2" and "pin_block" are found as one word.
    pairs = {a + b for a, b in itertools.pairwise(words)}
    if SECRET_WORDS.intersection(words) or SECRET_WORDS.intersection(pairs) or joined.endswith(_SECRET_ENDINGS):
        return _Kind.SECRET
    if joined in CARD_NUMBER_KEYS or "pan" in words or ("card" in words and {"number", "no", "num"} & set(words)):
        return _Kind.CARD
    return _Kind.PLAIN


def _kind(key: object) -> _Kind:
    if not isinstance(key, str):
        return _Kind.PLAIN
    kind = _KINDS.get(key)
    if kind is None:
        kind = _classify(key)
        if len(_KINDS) >= _KINDS_CAP:  # keys made from data: keep the memory bounded
            _KINDS.clear()
        _KINDS[key] = kind
    return kind


def _text(value: str, kind: _Kind) -> str:
    if kind is _Kind.CARD and len(value) >= _SHORT and sum(ch.isdecimal() for ch in value) >= _SHORT:
        return mask_card_number(value)
    return redact_card_numbers(value)


def _bytes(value: bytes | bytearray | memoryview, kind: _Kind) -> Any:
    raw = bytes(value)
    text = raw.decode("utf-8", "surrogateescape")
    redacted = _text(text, kind)
    return value if redacted is text else redacted.encode("utf-8", "surrogateescape")


def _object(value: object, kind: _Kind) -> Any:
    """Any other object: what a renderer would print (its ``repr``), redacted, when that differs from it."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} whose repr failed>"
    redacted = _text(text, kind)
    return value if redacted is text else redacted


def _value(value: Any, kind: _Kind, depth: int, path: set[int]) -> Any:
    """``value`` redacted; containers are copied, plain values returned as they are when nothing changed."""
    if kind is _Kind.SECRET and not isinstance(value, CardSecret):
        return "***"
    cls = type(value)
    if cls is str:
        return value if len(value) < _SHORT else _text(value, kind)
    if cls in _PLAIN_LEAVES:
        return value
    if cls is int:
        return value if -_SMALL < value < _SMALL else _number(value, kind)
    if cls is float:
        return value if -_SMALL < value < _SMALL or value != value else _number(value, kind)
    if isinstance(value, CardSecret):  # before its key: a CardNumber renders as its mask, a CardSecret as ***
        return str(value)
    if isinstance(value, str):  # str enums and other subclasses
        return value if len(value) < _SHORT else _text(value, kind)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth >= MAX_DEPTH:
            return _TOO_DEEP
        marker = id(value)
        if marker in path:
            return _CYCLE
        path.add(marker)
        try:
            if isinstance(value, Mapping):
                return {
                    _key(k): _value(v, _kind(k) if kind is _Kind.PLAIN else kind, depth + 1, path)
                    for k, v in value.items()
                }
            return [_value(v, kind, depth + 1, path) for v in value]
        finally:
            path.discard(marker)
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(value, kind)
    if isinstance(value, int | float):  # int and float subclasses (IntEnum codes)
        return value if -_SMALL < value < _SMALL else _number(value, kind)
    return _object(value, kind)


def _number(value: float, kind: _Kind) -> Any:
    try:
        text = repr(value)
    except ValueError:  # an int beyond the interpreter's limit on digits: no renderer could print it either
        return f"<int of {int(value).bit_length()} bits>"
    redacted = _text(text, kind)
    return value if redacted is text else redacted


def _key(key: object) -> Any:
    if type(key) is str:
        return key if len(key) < _SHORT else redact_card_numbers(key)
    if key is None or isinstance(key, bool | int | float | str):
        return key
    return _object(key, _Kind.PLAIN)


def _remember_clean(text: str) -> None:
    """Remember ``text``, which :func:`redact_card_numbers` left as it is (so it holds no card number)."""
    if len(text) <= _CLEAN_LONGEST:
        if len(_CLEAN) >= _CLEAN_CAP:  # a payment id per payment: start afresh rather than grow
            _CLEAN.clear()
        _CLEAN.add(text)


def redact_card_data(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: mask card numbers anywhere in the event (exception text included), drop CVCs,
    PINs, track data and passwords, and make the event finite (cycles and over-deep nesting replaced).

    Put it after context merging (``merge_contextvars``) and exception formatting (``format_exc_info``,
    ``dict_tracebacks``), and before the renderer. ``exc_info`` is left for the exception formatter, so an
    exception is redacted only once it is formatted."""
    kinds = _KINDS
    plain = _Kind.PLAIN
    clean = _CLEAN
    for key, value in event_dict.items():
        kind = kinds.get(key)
        if kind is None:
            kind = _kind(key)
        cls = type(value)
        # The values of ordinary events, first and without a call: short text, None, booleans, small numbers.
        if kind is plain:
            if cls is str:
                if len(value) < _SHORT or value in clean:
                    continue
                new = redact_card_numbers(value)
                if new is value:
                    _remember_clean(value)
                    continue
            elif cls is int or cls is float:
                if -_SMALL < value < _SMALL:
                    continue
                new = _value(value, kind, 0, set())
            elif cls in _PLAIN_LEAVES or key == "exc_info":
                continue
            elif isinstance(value, str):  # str enums
                if len(value) < _SHORT:
                    continue
                new = redact_card_numbers(value)
            else:
                new = _value(value, kind, 0, set())
        else:
            new = _value(value, kind, 0, set())
        if new is not value:
            event_dict[key] = new
    return event_dict
