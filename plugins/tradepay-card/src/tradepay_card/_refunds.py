"""Refunds: money given back to the card a paid key charged, at most once per refund key, never more than the
key took.

The store keeps one row per refund key in ``refunds`` and decides inside its write transaction, with the paid
key's row locked (PostgreSQL) or the file's write lock held (SQLite). A refund is answered by the first of:

1. a refund key that cannot be recorded: ``FAILED`` ``INVALID_REQUEST``, nothing recorded;
2. a refund key seen before: voided by an inquiry, ``FAILED`` ``REFUND_VOIDED``; asked for another payment
   key, currency or amount, ``FAILED`` ``REPEAT_REQ_INCONSISTENT``; else its first answer again;
3. a payment key that took no money here (never seen, declined, voided): ``FAILED`` ``ATTEMPT_NOT_CHARGED``;
   one reversed by a cancel: ``FAILED`` ``ATTEMPT_REVERSED``;
4. a currency other than the payment's: ``FAILED`` ``INVALID_REQUEST``;
5. more than the payment key has left (what it took less its succeeded refunds): ``FAILED``
   ``REFUND_AMOUNT_EXCEED``;
6. a card whose scenario declines refunds (``refund_fails``): ``FAILED`` ``REFUND_DECLINED``;
7. otherwise the money goes back to the card and the refund key is recorded ``succeeded``.

Every answer from 2 on is recorded under the refund key (or already was), so a repeat gets it again: a
refund answered ``FAILED`` never moves money later.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tradepay import Attempt, PaymentAmount, Refund, RefundAnswer, RefundOutcome

from ._enrolment import Brand
from ._network import Scenario

__all__ = [
    "Charge",
    "RefundReason",
    "RefundRow",
    "RefundState",
    "Refunds",
    "declined_by_network",
    "failed",
    "judge",
    "key_problem",
    "replay",
    "succeeded",
]

#: The longest refund or payment key accepted (the host's are far shorter).
MAX_KEY_LENGTH: Final = 256


class RefundReason(enum.StrEnum):
    """The ``reason`` of the card provider's ``FAILED`` refund answers; each one moved nothing."""

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
    """The card network declined the refund (the card's ``refund_fails`` scenario)."""


class RefundState(enum.StrEnum):
    """What became of a refund key; all three are final."""

    SUCCEEDED = "succeeded"
    """The amount went back to the card."""
    FAILED = "failed"
    """The refund was refused; nothing moved."""
    VOIDED = "voided"
    """A tombstone: an inquiry saw the key before any refund; a later refund with it is refused."""


@dataclass(frozen=True, slots=True)
class RefundRow:
    """A refund key's row: what was asked, and the answer first given."""

    refund_key: str
    payment_key: str
    state: RefundState
    currency: str
    amount: int
    reason: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Charge:
    """What a paid payment key took (``currency``, ``amount`` in minor units), and what it has given back:
    ``refunded`` by succeeded refunds, and whether a cancel ``reversed`` it."""

    currency: str
    amount: int
    refunded: int
    reversed: bool


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


_COLUMNS: Final = "refund_key, payment_key, status, currency, amount, reason, message"


class Refunds:
    """The ``refunds`` table, read and written in the caller's write transaction at time ``now``."""

    def __init__(self, conn: _Connection, now: float) -> None:
        self._conn = conn
        self._now = now

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

    def record(self, attempt: Attempt, refund: Refund, state: RefundState, answer: RefundAnswer) -> None:
        """Insert the refund key's row; a unique violation if another transaction recorded it first."""
        self._conn.execute(
            "INSERT INTO refunds (refund_key, payment_key, status, currency, amount, trade_no, reason, message,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                refund.idempotency_key,
                attempt.idempotency_key,
                state.value,
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

    def of_payment(self, payment_key: str | None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first."""
        where = "" if payment_key is None else " WHERE payment_key = ?"
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM refunds{where} ORDER BY created_at, refund_key",  # noqa: S608 - fixed parts
            () if payment_key is None else (payment_key,),
        ).fetchall()
        return [_row(row) for row in rows]


def _row(row: Sequence[Any]) -> RefundRow:
    key, payment_key, state, currency, amount, reason, message = row
    return RefundRow(key, payment_key, RefundState(state), currency, int(amount), reason, message)


def key_problem(attempt: Attempt, refund: Refund) -> str | None:
    """Why the payment or refund key cannot be recorded, or ``None``; the host's keys always can.

    NUL and text that is not valid Unicode (lone surrogates) are refused: neither database can store them.
    """
    for name, key in (("refund", refund.idempotency_key), ("payment", attempt.idempotency_key)):
        checked: object = key
        if not isinstance(checked, str) or not checked.strip() or len(checked) > MAX_KEY_LENGTH or "\x00" in checked:
            return f"the {name} key must be a string of 1 to {MAX_KEY_LENGTH} characters"
        try:
            checked.encode("utf-8")
        except UnicodeEncodeError:
            return f"the {name} key must be valid Unicode text"
    return None


def failed(reason: RefundReason, message: str) -> RefundAnswer:
    """A refusal: nothing moved, and nothing will under this refund key."""
    return RefundAnswer(RefundOutcome.FAILED, reason.value, message)


def succeeded(amount: PaymentAmount, brand: Brand, last4: str) -> RefundAnswer:
    """The one success: ``amount`` went back to the card the payment charged."""
    return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{amount} refunded to {brand.value} ending {last4}")


def replay(row: RefundRow, attempt: Attempt, refund: Refund) -> RefundAnswer:
    """The answer to a refund key seen before: its first answer, unless it was voided or asked differently."""
    if row.state is RefundState.VOIDED:
        return failed(RefundReason.REFUND_VOIDED, "an inquiry voided this refund key before any refund")
    asked = (attempt.idempotency_key, refund.amount.currency, refund.amount.minor_units)
    if (row.payment_key, row.currency, row.amount) != asked:
        return failed(
            RefundReason.REPEAT_REQ_INCONSISTENT, "this refund key was used before for another payment or amount"
        )
    outcome = RefundOutcome.SUCCEEDED if row.state is RefundState.SUCCEEDED else RefundOutcome.FAILED
    return RefundAnswer(outcome, row.reason, row.message)


def declined_by_network(scenario: Scenario) -> RefundAnswer | None:
    """The network's refusal of a refund on a card of ``scenario``, or ``None`` if it refunds."""
    if scenario is Scenario.REFUND_FAILS:
        return failed(RefundReason.REFUND_DECLINED, "the card network declined the refund")
    return None


def judge(charge: Charge | None, refund: Refund) -> RefundAnswer | None:
    """The refusal of a new refund of ``charge`` (``None``: the key took nothing), or ``None`` if it may go."""
    if charge is None:
        return failed(RefundReason.ATTEMPT_NOT_CHARGED, "this payment key charged no card here")
    if charge.reversed:
        return failed(RefundReason.ATTEMPT_REVERSED, "this payment key's money was given back by a cancel")
    currency, amount = refund.amount.currency, refund.amount.minor_units
    if currency != charge.currency:
        return failed(
            RefundReason.INVALID_REQUEST, f"the refund is in {currency}, the payment was in {charge.currency}"
        )
    left = charge.amount - charge.refunded
    if amount > left:
        shown = PaymentAmount(currency, str(left)) if left else f"{currency} 0"
        return failed(RefundReason.REFUND_AMOUNT_EXCEED, f"{refund.amount} is more than the {shown} left to refund")
    return None
