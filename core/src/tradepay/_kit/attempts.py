"""Payment keys: a provider's payments, at most once per idempotency key, and the one order of replay checks.

The rules every provider that keeps its own attempts shares, so that each answers a key the same way. A
provider keeps one row per idempotency key in an ``attempts`` table (:class:`AttemptKeys`, its columns named by
an :class:`AttemptTable`) and decides inside its write transaction (:meth:`tradepay.ProviderStore.write`). A
``pay`` is answered by the first of:

1. a key that cannot be recorded (:func:`payment_key_problem`): declined ``INVALID_REQUEST``, nothing
   recorded;
2. a key seen before (:func:`replay_payment`), in this order:

   a. voided by an inquiry or cancel that came first: declined ``ATTEMPT_VOIDED``;
   b. asked for another payer, merchant, order, currency or amount: declined ``REPEAT_REQ_INCONSISTENT``;
   c. paid, then reversed by a cancel: declined ``ATTEMPT_REVERSED`` (its first ``9000`` is no longer true);
   d. otherwise its first answer again;

3. otherwise the provider's own decision (its limits, the payer's funds, its network), recorded under the key
   as ``paid`` (money moved) or ``declined`` (nothing moved), in the same transaction as the money.

An inquiry or a cancel of a key never seen records a ``voided`` tombstone (:meth:`AttemptKeys.status_or_void`),
so that a ``pay`` still on its way moves nothing after the host was told nothing moved; a cancel of a ``paid``
key moves it to ``reversed`` once (:meth:`AttemptKeys.reverse`). Rows are never deleted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .._chain.capabilities import Attempt
from .._ledger.databases import Connection
from .._ledger.orders import Order
from .._spi.enums import CheckedEnumType
from .._spi.errors import InvalidInput
from .._spi.fields import check_instance, check_member, check_moment
from .._spi.models import PaymentResult, ResultCode
from .answers import decline, result_columns, result_from_columns

__all__ = [
    "ATTEMPTS_TABLE",
    "MAX_PAYMENT_KEY_LENGTH",
    "AttemptKeys",
    "AttemptRow",
    "AttemptStatus",
    "AttemptTable",
    "PaymentReason",
    "attempts_table",
    "payment_key_problem",
    "replay_payment",
]

#: The longest idempotency key a provider records (the host's are ``<payment_id>-<number>``, far shorter).
MAX_PAYMENT_KEY_LENGTH: Final = 256


#: The columns every ``attempts`` table ends with, in this order: the answer first given, and the row's times.
_ANSWER_COLUMNS: Final = (
    "result_code TEXT",
    "result_message TEXT",
    "error_code INTEGER",
    "error_desc TEXT",
    "extended_info TEXT",
    "created_at {double} NOT NULL",
    "updated_at {double} NOT NULL",
)


def attempts_table(*asked: str, if_not_exists: bool = False, indent: int = 0) -> str:
    """The ``CREATE TABLE attempts`` statement of a migration (for :func:`tradepay.migrate`, placeholders such as
    ``{double}`` left in): the column definitions ``asked`` (``idempotency_key``'s, ``status``'s, what the
    payment asked and the provider's own, in the provider's order), then the answer and times columns that
    :class:`AttemptKeys` writes. One column a line, ``indent + 4`` spaces in, the closing parenthesis ``indent``
    spaces in; ``if_not_exists`` says ``CREATE TABLE IF NOT EXISTS``. A migration that spelt its table by hand
    keeps its text byte for byte by naming its columns and layout here."""
    if not asked or not all(isinstance(column, str) and column.strip() for column in asked):
        raise InvalidInput("asked", "must be one or more column definitions, each a non-empty string")
    if type(indent) is not int or not 0 <= indent <= 16:
        raise InvalidInput("indent", "must be a whole number of spaces from 0 to 16")
    pad = " " * indent
    columns = f",\n{pad}    ".join((*asked, *_ANSWER_COLUMNS))
    create = "CREATE TABLE IF NOT EXISTS" if if_not_exists else "CREATE TABLE"
    return f"{create} attempts (\n{pad}    {columns}\n{pad})"


#: The ``attempts`` table that a plain :class:`AttemptTable` describes, as a migration for :func:`tradepay.migrate`.
ATTEMPTS_TABLE: Final = attempts_table(
    "idempotency_key TEXT PRIMARY KEY",
    "status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided'))",
    "payer_id TEXT NOT NULL",
    "trade_no TEXT NOT NULL",
    "currency TEXT NOT NULL",
    "amount {int64} NOT NULL CHECK (amount > 0)",
)


class AttemptStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """What became of an idempotency key."""

    PAID = "paid"
    """The amount moved under this key, and stays moved."""
    DECLINED = "declined"
    """The provider answered without moving money (a decline, a scripted error, a user cancel)."""
    REVERSED = "reversed"
    """The amount moved, then a cancel gave it back."""
    VOIDED = "voided"
    """A tombstone: an inquiry or cancel saw the key before any payment; it may never move money."""

    @staticmethod
    def answered(result: PaymentResult) -> AttemptStatus:
        """The status of a key first answered ``result``: ``paid`` for a ``9000`` (the money moved), else
        ``declined``."""
        return AttemptStatus.PAID if result.result_code is ResultCode.SUCCESS else AttemptStatus.DECLINED


class PaymentReason(enum.StrEnum, metaclass=CheckedEnumType):
    """The ``reason`` of the declines the key rules give; each one moved nothing."""

    INVALID_REQUEST = "INVALID_REQUEST"
    """The key is not a string of 1 to 256 characters: nothing can be recorded under it."""
    ATTEMPT_VOIDED = "ATTEMPT_VOIDED"
    """An inquiry or cancel voided the key before it was paid."""
    REPEAT_REQ_INCONSISTENT = "REPEAT_REQ_INCONSISTENT"
    """The key was used before for another payer, merchant, order, currency or amount."""
    ATTEMPT_REVERSED = "ATTEMPT_REVERSED"
    """The key's payment was given back by a cancel."""


@dataclass(frozen=True, slots=True)
class AttemptTable:
    """How a provider's ``attempts`` table spells what the kit reads and writes.

    Every table has ``idempotency_key`` (its primary key), ``status``, ``trade_no``, ``currency``, ``amount``,
    the answer's ``result_code``, ``result_message``, ``error_code``, ``error_desc``, ``extended_info`` (JSON)
    and ``created_at``, ``updated_at``. ``payer`` names the payer's column, ``merchant`` the merchant's (if the
    table keeps one: it is checked on replay too), ``paid`` how the status ``paid`` is spelt, and ``extra``
    the provider's own columns, written by :meth:`AttemptKeys.record` and read back in :attr:`AttemptRow.extra`.
    ``trade_no_asked`` ``False`` leaves the order's number out of the replay's comparison, for a provider whose
    payment is the payer's with the merchant whichever of its orders asks (the agreement's debits).
    """

    payer: str = "payer_id"
    merchant: str | None = None
    paid: str = "paid"
    extra: tuple[str, ...] = ()
    trade_no_asked: bool = True

    def __post_init__(self) -> None:
        check_instance(self.merchant, str, "merchant", optional=True)
        check_instance(self.extra, tuple, "extra")
        check_instance(self.trade_no_asked, bool, "trade_no_asked")
        for field_name, name in (("payer", self.payer), ("paid", self.paid), *(("extra", e) for e in self.extra)):
            check_instance(name, str, field_name)
            if not name.isascii() or not name.isidentifier():
                raise InvalidInput(field_name, f"{name[:64]!r} is not a column name (letters, digits, _)")
        if self.merchant is not None and not (self.merchant.isascii() and self.merchant.isidentifier()):
            raise InvalidInput("merchant", f"{self.merchant[:64]!r} is not a column name (letters, digits, _)")

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns :class:`AttemptKeys` reads, in :class:`AttemptRow`'s order."""
        asked = (self.payer, *((self.merchant,) if self.merchant else ()), "trade_no", "currency", "amount")
        answer = ("result_code", "result_message", "error_code", "error_desc", "extended_info")
        return ("idempotency_key", "status", *asked, *answer, *self.extra)


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """An idempotency key's row: what was asked, what became of it, and the answer first given (``None`` for a
    tombstone); ``merchant_id`` is ``None`` when the table keeps no merchant and ``trade_no`` when the replay does
    not compare it (:attr:`AttemptTable.trade_no_asked`), ``extra`` holds the provider's own columns."""

    idempotency_key: str
    status: AttemptStatus
    payer_id: str
    merchant_id: str | None
    trade_no: str | None
    currency: str
    amount: int
    result: PaymentResult | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", check_member(self.status, AttemptStatus, "status"))
        for name in ("idempotency_key", "payer_id", "currency"):
            check_instance(getattr(self, name), str, name)
        check_instance(self.merchant_id, str, "merchant_id", optional=True)
        check_instance(self.trade_no, str, "trade_no", optional=True)
        if type(self.amount) is not int or self.amount < 0:
            raise InvalidInput("amount", "must be a whole number of minor units, 0 or more")
        check_instance(self.result, PaymentResult, "result", optional=True)
        check_instance(self.extra, Mapping, "extra")


_PLAIN: Final = AttemptTable()


class AttemptKeys:
    """The provider's ``attempts`` table, read and written through ``conn`` in the caller's write transaction,
    at time ``now``. ``for_update`` is the suffix that locks a read row until the transaction ends
    (``" FOR UPDATE"`` on PostgreSQL; empty on SQLite, whose write transaction holds the whole file)."""

    def __init__(self, conn: Connection, now: float, table: AttemptTable = _PLAIN, for_update: str = "") -> None:
        if not callable(getattr(conn, "execute", None)):
            raise InvalidInput("conn", f"must be a database connection with execute(), got {type(conn).__name__}")
        check_instance(table, AttemptTable, "table")
        if for_update not in ("", " FOR UPDATE"):
            raise InvalidInput("for_update", "must be '' or ' FOR UPDATE'")
        self._conn, self._now, self._table, self._for_update = conn, check_moment(now, "now"), table, for_update
        columns = ", ".join(table.columns)  # identifiers checked by AttemptTable, never input
        self._select = f"SELECT {columns} FROM attempts WHERE idempotency_key = ?"  # noqa: S608

    def find(self, key: str, *, lock: bool = False) -> AttemptRow | None:
        """The row of ``key`` (locked until the transaction ends if ``lock``), or ``None`` if never seen."""
        row = self._conn.execute(self._select + (self._for_update if lock else ""), (key,)).fetchone()
        return None if row is None else self._row(row)

    def record(
        self, attempt: Attempt, order: Order, status: AttemptStatus, result: PaymentResult | None = None, **extra: Any
    ) -> None:
        """Insert the first row of ``attempt``'s key, asked for ``order``, with the provider's ``extra`` columns.

        A unique violation if the key has a row already: :meth:`~tradepay.ProviderStore.write` then runs the
        transaction again, and its :meth:`find` sees the row the other writer committed."""
        columns, values = self._insert(attempt, order, status, result, extra)
        marks = ", ".join("?" * len(columns))
        self._conn.execute(f"INSERT INTO attempts ({', '.join(columns)}) VALUES ({marks})", values)  # noqa: S608

    def status_or_void(self, attempt: Attempt, order: Order, *, lock: bool = False, **extra: Any) -> AttemptRow | None:
        """The row of ``attempt``'s key; for a key never seen, a ``voided`` tombstone is recorded and ``None``
        returned. If another writer records the key meanwhile, the insert is a unique violation, and
        :meth:`~tradepay.ProviderStore.write` runs the transaction again: it then finds that writer's row."""
        row = self.find(attempt.idempotency_key, lock=lock)
        if row is None:
            self.record(attempt, order, AttemptStatus.VOIDED, **extra)
        return row

    def reverse(self, key: str) -> bool:
        """Move ``key`` from ``paid`` to ``reversed``; ``False`` if it was not ``paid`` (another cancel got there
        first: then nothing may be given back twice)."""
        changed = self._conn.execute(
            "UPDATE attempts SET status = 'reversed', updated_at = ? WHERE idempotency_key = ? AND status = ?",
            (self._now, key, self._table.paid),
        ).rowcount
        return bool(changed == 1)

    def _insert(
        self,
        attempt: Attempt,
        order: Order,
        status: AttemptStatus,
        result: PaymentResult | None,
        extra: Mapping[str, Any],
    ) -> tuple[list[str], list[Any]]:
        table = self._table
        unknown = set(extra) - set(table.extra)
        if unknown:
            raise InvalidInput("extra", f"no such attempts column: {', '.join(sorted(unknown))}")
        spelt = table.paid if status is AttemptStatus.PAID else status.value
        answer = result_columns(result) if result is not None else (None, None, None, None, None)
        values: dict[str, Any] = {
            "idempotency_key": attempt.idempotency_key,
            "status": spelt,
            table.payer: order.payer_id,
            "trade_no": order.trade_no,
            "currency": order.amount.currency,
            "amount": order.amount.minor_units,
            **dict(
                zip(("result_code", "result_message", "error_code", "error_desc", "extended_info"), answer, strict=True)
            ),
            "created_at": self._now,
            "updated_at": self._now,
            **extra,
        }
        if table.merchant:
            values[table.merchant] = order.merchant_id
        if answer[4] is None:
            del values["extended_info"]  # a tombstone keeps the column's default
        return list(values), list(values.values())

    def _row(self, row: Sequence[Any]) -> AttemptRow:
        table = self._table
        merchant = 1 if table.merchant else 0
        key, status, payer = row[0], row[1], row[2]
        trade_no, currency, amount = row[3 + merchant : 6 + merchant]
        answer = row[6 + merchant : 11 + merchant]
        extra = dict(zip(table.extra, row[11 + merchant :], strict=True))
        status = AttemptStatus.PAID if status == table.paid else AttemptStatus(status)
        result = None if status is AttemptStatus.VOIDED else result_from_columns(answer)  # a tombstone answers nothing
        merchant_id = row[3] if merchant else None
        asked_no = trade_no if table.trade_no_asked else None
        return AttemptRow(key, status, payer, merchant_id, asked_no, currency, int(amount), result, extra)


def payment_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be an idempotency key, or ``None``; the host's keys always can.

    NUL and text that is not valid Unicode (lone surrogates) are refused: neither database can store them.
    """
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_PAYMENT_KEY_LENGTH or "\x00" in key:
        return f"the idempotency key must be a string of 1 to {MAX_PAYMENT_KEY_LENGTH} characters"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "the idempotency key must be valid Unicode text"
    return None


def replay_payment(row: AttemptRow, order: Order, *, message: str | None = None) -> PaymentResult:
    """The answer to a ``pay`` of a key seen before: step 2 of the order of checks. ``message`` is the
    provider's result message for the declines (default: their description)."""
    if row.status is AttemptStatus.VOIDED:
        desc = "an inquiry or cancel voided this idempotency key before it was paid"
        return decline(PaymentReason.ATTEMPT_VOIDED, desc, message=message)
    asked = (order.payer_id, order.amount.currency, order.amount.minor_units)
    if (
        (row.payer_id, row.currency, row.amount) != asked
        or (row.merchant_id is not None and row.merchant_id != order.merchant_id)
        or (row.trade_no is not None and row.trade_no != order.trade_no)
    ):
        desc = "this idempotency key was used before for another payer, merchant, order, currency or amount"
        return decline(PaymentReason.REPEAT_REQ_INCONSISTENT, desc, message=message)
    if row.status is AttemptStatus.REVERSED or row.result is None:
        # Replaying the first 9000 would report money that a cancel gave back.
        return decline(
            PaymentReason.ATTEMPT_REVERSED, "this idempotency key's payment was reversed by a cancel", message=message
        )
    return row.result
