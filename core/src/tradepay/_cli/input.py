"""Refused input on the command line, named as the user typed it.

The Python API names its fields (``payment_amount.value``, ``payer_id``); a person at the command line typed
``--amount`` and ``--payer``. :func:`typed_as` turns the API's :class:`InvalidInput` into one ``Error:`` line
that names the option: ``Invalid value for '--amount': '1.50' is not a natural number in the minor unit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import click

from .._spi.errors import InvalidInput
from .render import printable

__all__ = ["AMOUNT_OPTIONS", "InputError", "typed_as"]

#: The options of a command that makes an order, by the field of the Python API each one fills.
AMOUNT_OPTIONS: Mapping[str, str] = {
    "payment_amount.value": "--amount",
    "payment_amount.currency": "--currency",
    "trade_no": "--trade-no",
    "payer_id": "--payer",
    "merchant_id": "--merchant",
}


class InputError(click.ClickException):
    """A value typed on the command line was refused; nothing was stored or charged. The message names the
    option (or argument) as typed, and says why. Exit status 2, as every refused request
    ([exit statuses](cli.md#exit-statuses-and-errors))."""

    exit_code = 2

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(printable(f"Invalid value for '{option}': {reason}"))
        self.option = option
        self.reason = reason


@contextlib.contextmanager
def typed_as(options: Mapping[str, str]) -> Iterator[None]:
    """Within the block, an :class:`InvalidInput` about a field of ``options`` (field -> option as typed)
    becomes an :class:`InputError` naming the option; any other field is left to propagate as it is."""
    try:
        yield
    except InvalidInput as exc:
        option = options.get(exc.field)
        if option is None:
            raise
        raise InputError(option, exc.reason) from None
