"""Numbers given to public constructors and the configuration: what a duration, a count or a moment may be.

Each function returns why a value is refused (``None`` when it is not), so that a model raises
:class:`InvalidInput` and a setting :class:`ConfigError` with the same reason. Booleans are never numbers here
(``True`` is an ``int`` to Python, never a count or a deadline to a payment host), and a refused value is
echoed in a bounded form: an integer of thousands of digits is named by its length, not printed.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "MAX_SECONDS",
    "MAX_TIMESTAMP",
    "count_refusal",
    "seconds_refusal",
    "shown_number",
    "shown_value",
    "timestamp_refusal",
]

#: The longest duration a setting may hold: one day.
MAX_SECONDS: Final = 86_400
#: The last moment a timestamp may name (9999-12-31T23:59:59Z, in seconds since the epoch).
MAX_TIMESTAMP: Final = 253_402_300_799
_SHOWN_DIGITS: Final = 20


def shown_number(value: int | float) -> str:
    """``value`` as an error message may echo it: in full up to 20 digits, else by its number of digits."""
    if isinstance(value, float) or abs(value) < 10**_SHOWN_DIGITS:
        return repr(value)
    return f"an integer of more than {_SHOWN_DIGITS} digits"


def shown_value(value: object) -> str:
    """Any refused value as a message may echo it: a number as :func:`shown_number` shows it, a string cut to
    20 characters, anything else by its type."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return shown_number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= _SHOWN_DIGITS else value[:_SHOWN_DIGITS] + "...")
    if value is None or isinstance(value, bool):
        return repr(value)
    return f"a value of type {type(value).__name__}"


def _finite(value: int | float) -> bool:
    # math.isfinite converts an int to a float, which overflows for a huge one; every int is finite.
    return isinstance(value, int) or math.isfinite(value)


def seconds_refusal(value: object, *, high: int = MAX_SECONDS) -> str | None:
    """Why ``value`` is not a duration in seconds: a finite int or float, more than 0 and at most ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number of seconds, got {type(value).__name__}"
    if not (_finite(value) and 0 < value <= high):
        return f"must be more than 0 and at most {high} seconds, got {shown_number(value)}"
    return None


def count_refusal(value: object, low: int, high: int) -> str | None:
    """Why ``value`` is not a count between ``low`` and ``high`` (inclusive): an int, not a float or a bool."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {type(value).__name__}"
    if not low <= value <= high:
        return f"must be between {low} and {high}, got {shown_number(value)}"
    return None


def timestamp_refusal(value: object) -> str | None:
    """Why ``value`` is not a moment in seconds since the epoch: finite, from 1970 to the year 9999."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number of seconds since the epoch, got {type(value).__name__}"
    if not (_finite(value) and 0 <= value <= MAX_TIMESTAMP):
        return f"must be a moment from 1970 to 9999 in seconds since the epoch, got {shown_number(value)}"
    return None
