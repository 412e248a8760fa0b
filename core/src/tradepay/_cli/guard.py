"""How the command line fails: every failure it expects becomes one ``Error: ...`` line and one exit status.

The rule, for the core's commands and the plugins' alike (``docs/cli.md``, *exit statuses*):

* ``2``: the request was refused and nothing was done: a usage error, a value the input rules refuse
  (:class:`InvalidInput`, which also says a name does not exist, or a state does not allow the request),
  an argument that is not UTF-8 text;
* ``1``: the command could not do its work: the configuration, a file, the disk, a database or a provider
  failed, it was interrupted, or it hit a bug (then the line says so, and ``TRADEPAY_DEBUG=1`` prints the
  traceback); also each command's documented "not done" outcome (a payment that did not succeed, payments
  left unsettled, a failed check).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .._ledger.records import PaymentStatus
from .._ledger.sqlite import database_file_of
from .._spi.errors import InvalidInput, TradePayError

if TYPE_CHECKING:
    from .._ledger.memory import Ledger

__all__ = ["DEBUG_ENV", "FAILED", "REFUSED", "Failure", "describe", "interrupted_payment", "run_guarded"]

#: Exit status of a command line refused before anything was done.
REFUSED = 2
#: Exit status of a command that could not do its work.
FAILED = 1
#: Set (to anything but ``""`` or ``0``) to print the traceback of every failure before its ``Error:`` line.
DEBUG_ENV = "TRADEPAY_DEBUG"
#: The environment variables the command line reads as text.
_TEXT_ENV = ("TRADEPAY_CONFIG",)


@dataclass(frozen=True, slots=True)
class Failure:
    """What the user is told of a failure: one line (without ``Error:``) and the exit status."""

    message: str
    status: int


def describe(exc: BaseException) -> Failure:
    """The one line and exit status of ``exc``. Expected failures name the key, path or value at fault;
    anything else is reported as a bug, with where to find its traceback."""
    if isinstance(exc, InvalidInput):
        return Failure(_one_line(str(exc)), REFUSED)
    if isinstance(exc, TradePayError):
        return Failure(_one_line(str(exc)), FAILED)
    if isinstance(exc, click.Abort):
        cause = exc.__cause__ or exc.__context__
        return Failure("interrupted" if isinstance(cause, KeyboardInterrupt) else "aborted: no input", FAILED)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", FAILED)
    return Failure(_environment(exc) or _bug(exc), FAILED)


def _environment(exc: BaseException) -> str | None:
    """The line for a failure of the machine rather than of the code, or ``None``."""
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, sqlite3.Error):
        return f"{database_file_of(exc) or 'SQLite database'}: {_one_line(str(exc))}"
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return f"PostgreSQL: {_one_line(str(exc))}"
    if isinstance(exc, UnicodeError):
        return f"text that is not valid UTF-8: {_one_line(str(exc))}"
    if isinstance(exc, RecursionError):
        return "data nested too deeply to be read"
    if isinstance(exc, OverflowError):
        return f"a number is too large: {_one_line(str(exc))}"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return None


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or _one_line(str(exc)) or type(exc).__name__
    if exc.filename is None:
        return reason
    where = _file_name(exc.filename)
    if exc.filename2 is not None:
        where = f"{where} -> {_file_name(exc.filename2)}"
    return f"{where}: {reason}"


def _file_name(name: object) -> str:
    # OSError names a file by str, bytes or path, or (os.fdopen) by its descriptor's number.
    return os.fsdecode(name) if isinstance(name, str | bytes | os.PathLike) else str(name)


def _bug(exc: BaseException) -> str:
    detail = _one_line(str(exc))
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"unexpected {what} (a bug; run again with {DEBUG_ENV}=1 to see the traceback)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def refuse_undecodable(args: Sequence[str]) -> None:
    """Refuse an argument (or a variable of the environment the command line reads) that is not UTF-8 text:
    the operating system hands over bytes, and Python keeps the undecodable ones as lone surrogates, which no
    output, file or database can hold."""
    for position, arg in enumerate(args):
        if not _is_text(arg):
            after = f" (after {args[position - 1]})" if position and _is_text(args[position - 1]) else ""
            raise click.UsageError(f"argument {_shown(arg)}{after} is not valid UTF-8 text")
    for name in _TEXT_ENV:
        value = os.environ.get(name)
        if value is not None and not _is_text(value):
            raise click.UsageError(f"${name} ({_shown(value)}) is not valid UTF-8 text")


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: str) -> str:
    return repr(value.encode("utf-8", "surrogateescape"))[1:]  # b'caf\xe9' -> 'caf\xe9'


def interrupted_payment(ledger: Ledger, trade_no: str) -> str:
    """What became of order ``trade_no``'s payment when the user interrupted ``tradepay pay``, read from the
    ledger (the host records a payment, and each attempt, before it calls a provider)."""
    try:
        newest = next(iter(ledger.payments(trade_no=trade_no, limit=1)), None)
    except Exception:
        return f"interrupted: any payment of order {trade_no} under way is left for `tradepay reconcile`"
    if newest is None:
        return f"interrupted before order {trade_no} was paid: no payment was started"
    if newest.status in (PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION):
        return f"interrupted: payment {newest.payment_id} of order {trade_no} is left for `tradepay reconcile`"
    return (
        f"interrupted: payment {newest.payment_id} of order {trade_no} had ended {newest.status.value}; "
        f"see `tradepay payments show {newest.payment_id}`"
    )


def run_guarded(run: Callable[[], object], args: Sequence[str]) -> int:
    """Run the command line (``run``, click in non-standalone mode) on ``args`` and return its exit status:
    click's own errors as click shows them, every other failure as one ``Error:`` line (see :func:`describe`),
    never a traceback unless :data:`DEBUG_ENV` asks for it."""
    try:
        refuse_undecodable(args)
        status = run()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (Exception, KeyboardInterrupt) as exc:
        if _debugging():
            traceback.print_exception(exc, file=sys.stderr)
        failure = describe(exc)
        click.echo(f"Error: {failure.message}", err=True)
        return failure.status
    # Non-standalone click returns the command's value, or the status of an explicit exit (--help: 0).
    return status if isinstance(status, int) else 0
