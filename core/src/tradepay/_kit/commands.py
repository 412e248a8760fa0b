"""A provider's command line: refused input named as the user typed it, and listings printed, the same way in
every provider's commands.

The provider's Python API names its fields (``payer``, ``per_payment_limit``); a person at the command line
typed ``PAYER`` and ``--per-payment-limit``. The running command's parameters are named like the fields they
fill, so most fields name their parameter by themselves; ``hints`` spells the others. Imports click: loaded
only when a command line asks for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import click

from .._cli.render import echo_json, echo_text, format_amount, format_table, format_time, printable
from .._spi.errors import InvalidInput

__all__ = ["echo_records", "json_option", "table_amount", "table_time", "usage_errors"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def usage_errors(hints: Mapping[str, str | Sequence[str]] | None = None) -> Iterator[None]:
    """Within the block, the API's :class:`tradepay.InvalidInput` becomes click's one-line usage error (exit
    status 2, ``Invalid value for 'PAYER': ...``, the reason made printable) naming the parameter its field
    stands for: what ``hints`` gives for the field (an argument as its usage line shows it, ``PAYER``; an
    option, ``--times``; or a sequence of them), else the running command's parameter of that name (``payer``
    is the argument ``PAYER``, ``expires_in`` the option ``--expires-in``), else the field itself. Nothing else
    is caught."""
    if hints is not None and not isinstance(hints, Mapping):
        raise InvalidInput("hints", f"must be a mapping of field to parameter, got {type(hints).__name__}")
    try:
        yield
    except InvalidInput as exc:
        reason = printable(exc.reason)
        hint = (hints or {}).get(exc.field)
        if hint is not None:
            raise click.BadParameter(reason, param_hint=[hint] if isinstance(hint, str) else list(hint)) from None
        raise click.BadParameter(reason, param_hint=_parameter_named(exc.field)) from None


def _parameter_named(field: str) -> list[str]:
    """The running command's parameter called ``field``, as its usage line spells it: an option's flags, an
    argument's name (``PAYER``, brackets or not); ``field`` itself when the command has none of that name."""
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx is not None else ():
        if param.name == field:
            return list(param.opts) if isinstance(param, click.Option) else [param.human_readable_name]
    return [field]


def json_option(help: str) -> Callable[[F], F]:
    """The ``--json`` flag of a command that prints for programs too, passed to it as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def echo_records(
    records: Sequence[T],
    *,
    as_json: bool,
    to_json: Callable[[T], object],
    empty: str,
    line: Callable[[T], str] | None = None,
    header: Sequence[str] = (),
    row: Callable[[T], Sequence[str]] | None = None,
    envelope: Callable[[list[object]], object] | None = None,
) -> None:
    """Print a listing command's ``records``: with ``--json`` (``as_json``) the JSON array of ``to_json(record)``,
    or ``envelope(array)`` (the array inside an object); else ``empty`` when there are none, a ``line(record)``
    per record, or a table of ``header`` and a ``row(record)`` per record. Exactly one of ``line`` and ``row``."""
    if (line is None) == (row is None):
        raise InvalidInput("line", "give either line (one line per record) or row (a table), not both")
    if as_json:
        array = [to_json(record) for record in records]
        echo_json(array if envelope is None else envelope(array))
    elif not records:
        echo_text(empty)
    elif row is not None:
        echo_text(format_table(header, [row(record) for record in records]))
    elif line is not None:
        for record in records:
            echo_text(line(record))


def table_time(timestamp: float | None) -> str:
    """A time in a table cell: as :func:`tradepay.format_time` without its `` UTC`` (the column's header says
    it), ``-`` for none."""
    return "-" if timestamp is None else format_time(timestamp).removesuffix(" UTC")


def table_amount(currency: str, minor_units: int | None) -> str:
    """An amount in a table cell: as :func:`tradepay.format_amount` (``USD 10.00``), ``-`` for none."""
    return "-" if minor_units is None else format_amount(currency, minor_units)
