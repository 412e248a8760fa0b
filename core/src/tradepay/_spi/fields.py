"""Checks of a model's fields other than text: their type, enum members, counts, moments and durations.

Each raises :class:`InvalidInput` naming the field, with the same reasons the configuration gives for the same
kind of number (:mod:`tradepay._spi.numbers`), and returns the value as the model keeps it (an enum member for a
plain value, a float for an int number of seconds).
"""

from __future__ import annotations

import enum
import math
import re
from typing import Any, TypeVar

from .errors import InvalidInput
from .numbers import MAX_TIMESTAMP, count_refusal, shown_number, timestamp_refusal

__all__ = ["NAME_RE", "check_count", "check_duration_ms", "check_instance", "check_member", "check_moment"]

E = TypeVar("E", bound=enum.Enum)
#: What a provider name is (in ``chain.providers``, a rule's ``provider``, a provider given in code).
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
#: The largest count a ledger can store (a signed 64-bit integer).
MAX_STORED_COUNT = 2**63 - 1
#: The longest duration an attempt may record: about 31 years, in milliseconds.
MAX_DURATION_MS = 10**12


def check_instance(value: object, kind: type | tuple[type, ...], field: str, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is a ``kind`` (or ``None`` when ``optional``)."""
    if not isinstance(value, kind) and not (optional and value is None):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InvalidInput(field, f"must be a {names}, got {type(value).__name__}")


def check_member(value: object, enum_type: type[E], field: str) -> E:
    """``value`` as a member of ``enum_type`` (a plain value is converted), or :class:`InvalidInput`."""
    if type(value) is enum_type:  # the common case, on every record a payment makes: no lookup
        return value
    try:
        member: Any = enum_type(value)
    except InvalidInput as exc:
        raise InvalidInput(field, exc.reason) from None
    return member  # type: ignore[no-any-return]


def check_count(value: object, field: str, low: int = 1, high: int = MAX_STORED_COUNT) -> int:
    """``value`` if it is an int (not a bool) from ``low`` to ``high``."""
    if type(value) is int and low <= value <= high:
        return value
    refused = count_refusal(value, low, high)
    if refused is not None:
        raise InvalidInput(field, refused)
    return value  # type: ignore[return-value]  # count_refusal accepted an int


def check_moment(value: object, field: str) -> float:
    """``value`` as a float if it is a moment from 1970 to 9999 in seconds since the epoch."""
    if type(value) is float and 0.0 <= value <= MAX_TIMESTAMP:  # NaN fails the comparison
        return value
    refused = timestamp_refusal(value)
    if refused is not None:
        raise InvalidInput(field, refused)
    return float(value)  # type: ignore[arg-type]  # timestamp_refusal accepted an int or a float


def check_duration_ms(value: object, field: str) -> float:
    """``value`` as a float if it is a number of milliseconds from 0 to ``MAX_DURATION_MS``."""
    if type(value) is float and 0.0 <= value <= MAX_DURATION_MS:  # NaN fails the comparison
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number of milliseconds, got {type(value).__name__}")
    if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= MAX_DURATION_MS:
        raise InvalidInput(field, f"must be from 0 to {MAX_DURATION_MS} milliseconds, got {shown_number(value)}")
    return float(value)
