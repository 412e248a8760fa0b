"""A provider's command line: refused input named as the user typed it, the same way in every provider's commands.

The provider's Python API names its fields (``payer``, ``per_payment_limit``); a person at the command line
typed ``PAYER`` and ``--per-payment-limit``. The running command's parameters are named like the fields they
fill, so most fields name their parameter by themselves; ``hints`` spells the others. Imports click: loaded
only when a command line asks for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import click

from .._cli.render import printable
from .._spi.errors import InvalidInput

__all__ = ["usage_errors"]


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
