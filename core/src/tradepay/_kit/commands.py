"""A provider's command line: refused input named as the user typed it, the same way in every provider's commands.

The provider's Python API names its fields (``payer_id``, ``per_payment_limit``); a person at the command line
typed ``PAYER`` and ``--per-payment-limit``. Imports click: loaded only when a command line asks for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import click

from .._cli.render import printable
from .._spi.errors import InvalidInput

__all__ = ["usage_errors"]


@contextlib.contextmanager
def usage_errors(hints: Mapping[str, str | Sequence[str]]) -> Iterator[None]:
    """Within the block, the API's :class:`tradepay.InvalidInput` becomes click's one-line usage error (exit
    status 2, ``Invalid value for 'PAYER': ...``, the reason made printable) naming what ``hints`` gives for its
    field: an argument as its usage line shows it (``PAYER``), an option (``--times``), or a sequence of them; the
    field itself when ``hints`` has none. Nothing else is caught."""
    if not isinstance(hints, Mapping):
        raise InvalidInput("hints", f"must be a mapping of field to parameter, got {type(hints).__name__}")
    try:
        yield
    except InvalidInput as exc:
        hint = hints.get(exc.field, exc.field)
        named = [hint] if isinstance(hint, str) else list(hint)
        raise click.BadParameter(printable(exc.reason), param_hint=named) from None
