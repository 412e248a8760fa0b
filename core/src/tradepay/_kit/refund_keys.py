"""Refund keys: a provider's refunds, at most once per refund key, never more than the paid key took.

The rules every provider that keeps its own refunds shares, so that each answers a refund the same way. A
provider keeps one row per refund key in a ``refunds`` table (:class:`RefundKeys`) and decides inside its
write transaction, with the paid key's row locked (PostgreSQL) or the file's write lock held (SQLite). A
refund is answered by the first of:

1. a refund key that cannot be recorded (:func:`refund_key_problem`): ``FAILED`` ``INVALID_REQUEST``, nothing
   recorded;
2. a refund key seen before (:func:`replay_refund`): voided by an inquiry, ``FAILED`` ``REFUND_VOIDED``; asked
   for another payment key, currency or amount, ``FAILED`` ``REPEAT_REQ_INCONSISTENT``; else its first answer
   again;
3. a payment key that took no money here (never seen, declined, voided): ``FAILED`` ``ATTEMPT_NOT_CHARGED``, in
   the provider's words; one reversed by a cancel: ``FAILED`` ``ATTEMPT_REVERSED``;
4. a currency other than the payment's: ``FAILED`` ``INVALID_REQUEST``;
5. more than the payment key has left (what it took less its succeeded refunds): ``FAILED``
   ``REFUND_AMOUNT_EXCEED``;
6. the provider's own check, if it has one (a card network that declines the refund: ``FAILED``
   ``REFUND_DECLINED``);
7. otherwise the money goes back and the refund key is recorded ``succeeded``.

Steps 3 to 6 are :func:`judge_refund`. Every answer from 2 on is recorded under the refund key (or already
was), so a repeat gets it again: a refund answered ``FAILED`` never moves money later.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .._chain.capabilities import Attempt
from .._ledger.databases import Connection
from .._spi.enums import CheckedEnumType
from .._spi.errors import InvalidInput
from .._spi.fields import check_count, check_instance, check_member, check_moment
from .._spi.models import PaymentAmount
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome

__all__ = [
    "REFUNDS_TABLE",
    "RefundCharge",
    "RefundKeys",
    "RefundReason",
    "RefundRow",
    "RefundKeyStatus",
    "judge_refund",
    "refund_key_problem",
    "refund_refused",
    "replay_refund",
]

#: The longest refund or payment key a provider records (the host's are far shorter).
MAX_REFUND_KEY_LENGTH: Final = 256


class RefundReason(enum.StrEnum, metaclass=CheckedEnumType):
    """The ``reason`` of a provider's ``FAILED`` refund answers; each one moved nothing."""

    INVALID_REQUEST = "INVALID_REQUEST"
    """A key that is not a string of 1 to 256 characters, or a refund in another currency than the payment."""
    REFUND_VOIDED = "REFUND_VOIDED"
    """An inquiry came before the refund and voided its key: it may never move money."""
    REPEAT_REQ_INCONSISTENT = "REPEAT_REQ_INCONSISTENT"
    """The refund key was used before for another payment key, currency or amount."""
    ATTEMPT_NOT_CHARGED = "ATTEMPT_NOT_CHARGED"
    """The payment key took no money here: never seen, declined, or voided."""
    ATTEMPT_REVERSED = "ATTEMPT_REVERSED"
    """The payment key's money was given back already, by a cancel."""
    REFUND_AMOUNT_EXCEED = "REFUND_AMOUNT_EXCEED"
    """The refund is more than the payment key has left: what it took less its succeeded refunds."""
    REFUND_DECLINED = "REFUND_DECLINED"
    """The provider's own network declined the refund (a provider's check, such as the card's
    ``refund_fails`` scenario); a provider without such a check never answers it."""


class RefundKeyStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """What became of a refund key; all three are final."""

    SUCCEEDED = "succeeded"
    """The amount went back to the payer."""
    FAILED = "failed"
    """The refund was refused; nothing moved."""
    VOIDED = "voided"
    """A tombstone: an inquiry saw the key before any refund; a later refund with it is refused."""


@dataclass(frozen=True, slots=True)
class RefundRow:
    """A refund key's row: what was asked (``payment_key``, ``currency``, ``amount`` in minor units), its
    ``status`` (the column of that name), and the answer first given (``reason``, ``message``)."""

    refund_key: str
    payment_key: str
    status: RefundKeyStatus
    currency: str
    amount: int
    reason: str | None
    message: str

    def __post_init__(self) -> None:
        for name in ("refund_key", "payment_key", "currency", "message"):
            check_instance(getattr(self, name), str, name)
        object.__setattr__(self, "status", check_member(self.status, RefundKeyStatus, "status"))
        check_count(self.amount, "amount")
        check_instance(self.reason, str, "reason", optional=True)


@dataclass(frozen=True, slots=True)
class RefundCharge:
    """What a paid payment key took (``currency``, ``amount`` in minor units), and what it has given back:
    ``refunded`` by succeeded refunds, and whether a cancel ``reversed`` it."""

    currency: str
    amount: int
    refunded: int
    reversed: bool

    def __post_init__(self) -> None:
        check_instance(self.currency, str, "currency")
        check_count(self.amount, "amount")
        check_count(self.refunded, "refunded", low=0)
        check_instance(self.reversed, bool, "reversed")


_COLUMNS: Final = "refund_key, payment_key, status, currency, amount, reason, message"

#: The ``refunds`` table :class:`RefundKeys` keeps, and its index, as a migration for :func:`tradepay.migrate`.
REFUNDS_TABLE: Final = """CREATE TABLE refunds (
        refund_key TEXT PRIMARY KEY,
        payment_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'voided')),
        currency TEXT NOT NULL,
        amount {int64} NOT NULL CHECK (amount > 0),
        trade_no TEXT NOT NULL,
        reason TEXT,
        message TEXT NOT NULL,
        created_at {double} NOT NULL
    );
CREATE INDEX refunds_by_payment ON refunds (payment_key, status)"""


class RefundKeys:
    """The provider's ``refunds`` table, read and written through ``conn`` (in the caller's write transaction,
    for a refund or an inquiry) at time ``now`` (seconds since the epoch).

    The table has the columns ``refund_key`` (the primary key), ``payment_key``, ``status`` (a
    :class:`RefundKeyStatus` value), ``currency``, ``amount``, ``trade_no``, ``reason``, ``message`` and
    ``created_at``; ``conn.execute`` takes ``?`` placeholders.
    """

    def __init__(self, conn: Connection, now: float) -> None:
        if not callable(getattr(conn, "execute", None)):
            raise InvalidInput("conn", f"must be a database connection with execute(), got {type(conn).__name__}")
        self._conn = conn
        self._now = check_moment(now, "now")

    def find(self, refund_key: str) -> RefundRow | None:
        """The row of ``refund_key``, or ``None`` if the key was never seen."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM refunds WHERE refund_key = ?",  # noqa: S608 - fixed columns
            (refund_key,),
        ).fetchone()
        return None if row is None else _row(row)

    def refunded(self, payment_key: str) -> int:
        """What the succeeded refunds of ``payment_key`` gave back, in minor units."""
        (total,) = self._conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_key = ? AND status = 'succeeded'",
            (payment_key,),
        ).fetchone()
        return int(total)

    def record(self, attempt: Attempt, refund: Refund, status: RefundKeyStatus, answer: RefundAnswer) -> None:
        """Insert the refund key's row; a unique violation if another transaction recorded it first."""
        self._conn.execute(
            "INSERT INTO refunds (refund_key, payment_key, status, currency, amount, trade_no, reason, message,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                refund.idempotency_key,
                attempt.idempotency_key,
                status.value,
                refund.amount.currency,
                refund.amount.minor_units,
                refund.trade_no,
                answer.reason,
                answer.message,
                self._now,
            ),
        )

    def void(self, attempt: Attempt, refund: Refund) -> RefundRow | None:
        """Record a ``voided`` tombstone for ``refund``'s key; ``None`` if it was recorded, else the row that
        another transaction stored first (READ COMMITTED: this statement sees it once that one committed)."""
        inserted = self._conn.execute(
            "INSERT INTO refunds (refund_key, payment_key, status, currency, amount, trade_no, reason, message,"
            " created_at) VALUES (?, ?, 'voided', ?, ?, ?, NULL, '', ?) ON CONFLICT (refund_key) DO NOTHING",
            (
                refund.idempotency_key,
                attempt.idempotency_key,
                refund.amount.currency,
                refund.amount.minor_units,
                refund.trade_no,
                self._now,
            ),
        ).rowcount
        return None if inserted == 1 else self.find(refund.idempotency_key)

    def inquire(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """What became of ``refund``'s key: ``SUCCEEDED`` if its money went back, else ``FAILED``. A key never
        seen is voided first, so that no later refund can use it."""
        row = self.find(refund.idempotency_key)
        if row is None:
            row = self.void(attempt, refund)
        if row is not None and row.status is RefundKeyStatus.SUCCEEDED:
            return RefundOutcome.SUCCEEDED
        return RefundOutcome.FAILED

    def of_payment(self, payment_key: str | None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first."""
        where = "" if payment_key is None else " WHERE payment_key = ?"
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM refunds{where} ORDER BY created_at, refund_key",  # noqa: S608 - fixed parts
            () if payment_key is None else (payment_key,),
        ).fetchall()
        return [_row(row) for row in rows]


def _row(row: Sequence[Any]) -> RefundRow:
    key, payment_key, status, currency, amount, reason, message = row
    return RefundRow(key, payment_key, RefundKeyStatus(status), currency, int(amount), reason, message)


def refund_key_problem(attempt: Attempt, refund: Refund) -> str | None:
    """Why the payment or refund key cannot be recorded, or ``None``; the host's keys always can.

    NUL and text that is not valid Unicode (lone surrogates) are refused: neither database can store them.
    """
    for name, key in (("refund", refund.idempotency_key), ("payment", attempt.idempotency_key)):
        checked: object = key
        if (
            not isinstance(checked, str)
            or not checked.strip()
            or len(checked) > MAX_REFUND_KEY_LENGTH
            or "\x00" in checked
        ):
            return f"the {name} key must be a string of 1 to {MAX_REFUND_KEY_LENGTH} characters"
        try:
            checked.encode("utf-8")
        except UnicodeEncodeError:
            return f"the {name} key must be valid Unicode text"
    return None


def refund_refused(reason: RefundReason, message: str) -> RefundAnswer:
    """A refusal: nothing moved, and nothing will under this refund key."""
    return RefundAnswer(RefundOutcome.FAILED, reason.value, message)


def replay_refund(row: RefundRow, attempt: Attempt, refund: Refund) -> RefundAnswer:
    """The answer to a refund key seen before: its first answer, unless it was voided or asked differently."""
    if row.status is RefundKeyStatus.VOIDED:
        return refund_refused(RefundReason.REFUND_VOIDED, "an inquiry voided this refund key before any refund")
    asked = (attempt.idempotency_key, refund.amount.currency, refund.amount.minor_units)
    if (row.payment_key, row.currency, row.amount) != asked:
        return refund_refused(
            RefundReason.REPEAT_REQ_INCONSISTENT, "this refund key was used before for another payment or amount"
        )
    outcome = RefundOutcome.SUCCEEDED if row.status is RefundKeyStatus.SUCCEEDED else RefundOutcome.FAILED
    return RefundAnswer(outcome, row.reason, row.message)


def judge_refund(
    charge: RefundCharge | None,
    refund: Refund,
    *,
    not_charged: str,
    provider_check: Callable[[], RefundAnswer | None] | None = None,
) -> RefundAnswer | None:
    """The refusal of a new refund of ``charge`` (``None``: the payment key took nothing), or ``None`` if it
    may go: steps 3 to 6 of the order of checks.

    ``not_charged`` is the provider's message for ``ATTEMPT_NOT_CHARGED`` (where the money would have been,
    such as "this payment key took no money from the wallet"). ``provider_check``, called only once every
    shared check passed, is the provider's own last word: a refusal (for instance ``REFUND_DECLINED``), or
    ``None`` to let the refund go.
    """
    if charge is None:
        return refund_refused(RefundReason.ATTEMPT_NOT_CHARGED, not_charged)
    if charge.reversed:
        return refund_refused(RefundReason.ATTEMPT_REVERSED, "this payment key's money was given back by a cancel")
    currency, amount = refund.amount.currency, refund.amount.minor_units
    if currency != charge.currency:
        return refund_refused(
            RefundReason.INVALID_REQUEST, f"the refund is in {currency}, the payment was in {charge.currency}"
        )
    left = charge.amount - charge.refunded
    if amount > left:
        shown = PaymentAmount(currency, str(left)) if left else f"{currency} 0"
        return refund_refused(
            RefundReason.REFUND_AMOUNT_EXCEED, f"{refund.amount} is more than the {shown} left to refund"
        )
    return None if provider_check is None else provider_check()
