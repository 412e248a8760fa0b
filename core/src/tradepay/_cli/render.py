"""How the command line shows things: to people (amounts, times, tables, text from outside) and to programs
(JSON). Every command, the core's and the plugins', prints through these helpers, so that an amount, a time
or a control character looks the same wherever it appears.

* People: :func:`echo_text` prints text with control characters escaped (:func:`printable`), because a
  provider's message, a payer id or a stored reason can hold ``ESC ] 0 ; ... BEL`` and would otherwise retitle
  or repaint the operator's terminal. Amounts are :func:`format_amount` (``USD 25.00``), times
  :func:`format_time` (``2026-11-25 17:20:40 UTC``), tables :func:`format_table`.
* Programs: :func:`echo_json` prints one JSON document, indented by two spaces, keys sorted, non-ASCII and
  control characters escaped. Keys are camelCase, amounts are :func:`json_amount` objects (the SPI's
  ``PaymentAmount``: ``{"currency": "USD", "value": "2500"}``), times :func:`json_time` strings (ISO 8601, UTC).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

from .._spi.money import recorded_exponent

__all__ = [
    "echo_json",
    "echo_text",
    "format_amount",
    "format_table",
    "format_time",
    "json_amount",
    "json_time",
    "printable",
]

#: Characters that reorder or hide text on a terminal without being control characters (Unicode "Cf"
#: bidirectional marks and overrides): shown escaped too, so that what is printed reads as what is stored.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def _escaped(char: str) -> str:
    if char == "\n" or (char not in _BIDI and unicodedata.category(char) not in _UNSAFE_CATEGORIES):
        return char
    return ascii(char)[1:-1]  # '\x1b', '\t', '\u202e': Python's own escapes, one per character


def printable(text: str) -> str:
    """``text`` with every control character but the line feed, every line or paragraph separator and every
    bidirectional control escaped as Python writes it (``ESC`` becomes ``\\x1b``, a tab ``\\t``); the rest,
    letters of any script included, unchanged."""
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(_escaped(char) for char in text)


def echo_text(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` and a line feed for a person (standard output, or standard error with ``err``), its
    control characters escaped (:func:`printable`)."""
    import click  # here: `import tradepay` must not pay for the command line

    click.echo(printable(text), err=err)


def echo_json(data: object) -> None:
    """Print ``data`` as one JSON document for a program: indented by two spaces, keys sorted, every
    non-ASCII and control character escaped (``\\u001b``), a line feed at the end."""
    import click

    click.echo(json.dumps(data, indent=2, sort_keys=True))


def format_amount(currency: str, minor_units: int | str) -> str:
    """An amount for a person: the ISO 4217 code once, then the value in major units with the currency's
    decimals (``format_amount("USD", 2500)`` is ``USD 25.00``, JPY ``JPY 2500``, KWD ``KWD 2.500``). Zero and
    negative amounts (a balance, a difference) are shown too: ``USD 0.00``, ``USD -1.50``."""
    exponent = recorded_exponent(currency)  # a stored amount in a since-withdrawn currency is shown too
    value = int(minor_units)
    sign, digits = ("-" if value < 0 else ""), str(abs(value))
    if exponent == 0:
        return f"{currency} {sign}{digits}"
    digits = digits.rjust(exponent + 1, "0")
    return f"{currency} {sign}{digits[:-exponent]}.{digits[-exponent:]}"


def json_amount(currency: str, minor_units: int | str) -> dict[str, str]:
    """An amount for a program, as the SPI spells ``PaymentAmount``: ``{"currency": "USD", "value": "2500"}``
    (the value a string of the minor units)."""
    return {"currency": currency, "value": str(int(minor_units))}


def format_time(timestamp: float) -> str:
    """A time (seconds since the epoch) for a person, to the second and in UTC, saying so:
    ``2026-11-25 17:20:40 UTC``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def json_time(timestamp: float | None) -> str | None:
    """A time (seconds since the epoch) for a program: ISO 8601 in UTC to the millisecond,
    ``2026-11-25T17:20:40.123Z``; ``None`` stays ``None`` (JSON ``null``)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table for a person: the ``header`` row (upper-case column names, by convention), then ``rows``,
    each column as wide as its widest cell, columns two spaces apart, no trailing spaces. The cells are shown
    escaped (:func:`printable`), so that a column stays a column."""
    table = [[printable(cell) for cell in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)
