"""The wallet's state in SQL: accounts, the journal of money moves, attempts and refunds by key, fault profiles.

One SQLite file (the default) or one schema of a PostgreSQL database, opened with ``tradepay.open_database``
and brought up to date with ``tradepay.migrate`` (``_schema.py``: one list of migrations per database). The
queries are written once, with ``?`` placeholders; the one difference is :attr:`_Session.for_update`.

Every check-then-write runs in one write transaction (``db.write()``) and is safe for several processes at
once on both databases:

* SQLite begins every write transaction with ``BEGIN IMMEDIATE``, which takes the file's one write lock: no
  other process writes between a transaction's reads and its writes.
* PostgreSQL has no such lock and runs at READ COMMITTED. There, each transaction locks the rows it decides on
  (``SELECT ... FOR UPDATE``), makes the debit conditional on the balance it needs (``UPDATE ... WHERE
  balance >= ?``, which PostgreSQL re-checks on the newest row after waiting for its lock), and relies on the
  primary key of ``attempts`` for a key that does not exist yet: when two transactions record one new key,
  the second waits for the first and then fails with a unique violation. Its whole transaction (debit
  included) is rolled back and run again once, and the second run finds the key and answers from it.

The methods are blocking: the provider runs them in a worker thread.
"""

from __future__ import annotations

import enum
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tradepay import (
    Attempt,
    Database,
    InvalidInput,
    Order,
    PaymentResult,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundKeys,
    RefundOutcome,
    RefundRow,
    RefundState,
    ResultError,
    judge_refund,
    migrate,
    open_database,
    replay_refund,
)

from ._answers import Reason, declined, paid
from ._checks import MAX_BALANCE
from ._faults import ALL_PAYERS, FaultKind, FaultProfile
from ._refunds import NOT_CHARGED, succeeded
from ._schema import migrations_for

__all__ = ["DEFAULT_SCHEMA", "AttemptStatus", "EntryKind", "LedgerEntry", "Settlement", "WalletStore"]

#: The PostgreSQL schema of the wallet's tables when the URL names none (``?schema=NAME``).
DEFAULT_SCHEMA = "tradepay_wallet"
_T = TypeVar("_T")


class _Connection(Protocol):
    """What ``db.read()`` and ``db.write()`` give on both databases."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Session:
    """One write transaction's connection, and the row-lock suffix of its database's ``SELECT``.

    ``for_update`` is ``" FOR UPDATE"`` on PostgreSQL and empty on SQLite, which has no row locks and needs
    none: its ``BEGIN IMMEDIATE`` already keeps every other writer out until the transaction ends.
    """

    conn: _Connection
    for_update: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def select_for_update(self, sql: str, params: Sequence[Any]) -> Any:
        """Run the ``SELECT`` in ``sql`` locking the rows it returns until the transaction ends (PostgreSQL)."""
        return self.conn.execute(sql + self.for_update, params)


class AttemptStatus(enum.StrEnum):
    """What became of an idempotency key."""

    PAID = "paid"
    """The amount was debited and stays debited."""
    DECLINED = "declined"
    """The wallet answered without moving money (a decline, a scripted error, a user cancel)."""
    REVERSED = "reversed"
    """The amount was debited, then credited back by a cancel."""
    VOIDED = "voided"
    """An inquiry or cancel came before any payment: the key may never move money."""


class EntryKind(enum.StrEnum):
    """A line of an account's journal."""

    CREDIT = "credit"
    DEBIT = "debit"
    REVERSAL = "reversal"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One money move on one account; ``amount`` and ``balance_after`` in minor units, ``at`` epoch seconds."""

    id: int
    payer: str
    currency: str
    kind: EntryKind
    amount: int
    balance_after: int
    idempotency_key: str | None
    trade_no: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Settlement:
    """The answer to one ``pay`` under a key, and whether this call is the one that debited."""

    result: PaymentResult
    debited: bool


class WalletStore:
    """The wallet's database. Safe to share between processes and threads.

    ``location`` is what ``tradepay.open_database`` takes: a SQLite path, or a ``postgresql://`` URL (the
    tables live in :data:`DEFAULT_SCHEMA` unless the URL's ``schema`` parameter names another). ``where`` is
    the configuration key reported when the database was written by a newer wallet. The database is opened
    (and migrated) at once, so that a bad location fails at start-up; again after :meth:`close` on the next
    call, and afresh in a child process after a ``fork()``: connections never cross one.
    """

    def __init__(self, location: str | Path, *, where: str = "providers.wallet.database") -> None:
        self.location = location
        self._where = where
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._pid = 0
        self._database()

    def close(self) -> None:
        """Close the connections this process opened (the next call opens the database again)."""
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None

    def _database(self) -> Database:
        if self._db is not None and self._pid != os.getpid():
            # A fork() child: the database object reconnects itself in this process (a tradepay.Database never
            # carries a connection across fork); a lock a parent thread held at the fork is replaced.
            self._lock, self._pid = threading.Lock(), os.getpid()
        with self._lock:
            if self._db is None:
                db = open_database(self.location, schema=DEFAULT_SCHEMA)
                try:
                    migrate(db, migrations_for(db.kind), where=self._where)
                except BaseException:
                    db.close()
                    raise
                self._db, self._pid = db, os.getpid()
            return self._db

    def _transaction(self, work: Callable[[_Session], _T]) -> _T:
        """``work`` in one write transaction; run once more, from the start, if a key was taken meanwhile.

        Only PostgreSQL can get here twice: another process recorded the key this transaction found missing.
        PostgreSQL raises the unique violation only after that process committed, and rows of ``attempts`` and
        ``refunds`` are never deleted, so the second run finds the key and never inserts it: it cannot fail the
        same way. Any other integrity error fails the second run too, and is raised from it.
        """
        db = self._database()
        for_update = " FOR UPDATE" if db.kind == "postgresql" else ""
        try:
            with db.write() as conn:
                return work(_Session(conn, for_update))
        except db.integrity_errors:
            with db.write() as conn:
                return work(_Session(conn, for_update))

    # --- payments ------------------------------------------------------------------------------------------

    def settle(self, order: Order, attempt: Attempt, refusal: PaymentResult | None) -> Settlement:
        """Pay ``order`` under ``attempt``'s key, at most once, in one transaction.

        A key seen before gets its first answer back (or a refusal: voided, reversed, inconsistent) and moves
        nothing. A new key with a ``refusal`` records that answer and moves nothing. Otherwise the order's
        amount is debited if the balance covers it, else the key is recorded as declined.
        """
        key, amount, currency = attempt.idempotency_key, order.amount.minor_units, order.amount.currency

        def work(tx: _Session) -> Settlement:
            row = tx.select_for_update(
                "SELECT status, payer, currency, amount, trade_no, result_code, result_message, error_code,"
                " error_desc, extended_info FROM attempts WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                return Settlement(_replay(row, order), debited=False)
            if refusal is not None:
                _insert_attempt(tx, attempt, order, AttemptStatus.DECLINED, refusal)
                return Settlement(refusal, debited=False)
            # The balance check is the UPDATE's own condition, so no other debit can come between the check and
            # the debit. fetchall, not fetchone: SQLite finishes a RETURNING statement only at its end.
            debit = tx.execute(
                "UPDATE accounts SET balance = balance - ? WHERE payer = ? AND currency = ? AND balance >= ?"
                " RETURNING balance",
                (amount, order.payer_id, currency, amount),
            ).fetchall()
            if not debit:
                below = f"the payer's {currency} balance is below {order.amount}"
                answer = declined(Reason.USER_BALANCE_NOT_ENOUGH, below)
                _insert_attempt(tx, attempt, order, AttemptStatus.DECLINED, answer)
                return Settlement(answer, debited=False)
            _insert_entry(tx, order.payer_id, currency, EntryKind.DEBIT, amount, debit[0][0], key, order.trade_no)
            answer = paid()
            # The key's row last: if another process recorded the key meanwhile, this insert fails and the debit
            # above is rolled back with it.
            _insert_attempt(tx, attempt, order, AttemptStatus.PAID, answer)
            return Settlement(answer, debited=True)

        return self._transaction(work)

    def inquire(self, order: Order, attempt: Attempt) -> AttemptStatus:
        """The key's status; a key never seen is voided first, so that no later ``pay`` can use it."""
        return self._transaction(lambda tx: _status_or_void(tx, order, attempt))

    def reverse(self, order: Order, attempt: Attempt) -> tuple[AttemptStatus, AttemptStatus]:
        """Credit back what a paid key still holds (its amount less its refunds), once; void a key never seen.

        Returns (status before, status after).
        """
        key = attempt.idempotency_key

        def work(tx: _Session) -> tuple[AttemptStatus, AttemptStatus]:
            # Locks the key's row on PostgreSQL: a concurrent cancel or refund of the key waits here, then finds
            # it reversed.
            before = _status_or_void(tx, order, attempt, lock=True)
            if before is not AttemptStatus.PAID:
                return before, before
            payer, currency, amount, trade_no = tx.execute(
                "SELECT payer, currency, amount, trade_no FROM attempts WHERE idempotency_key = ?", (key,)
            ).fetchone()
            # What refunds gave back already is not given twice.
            held = amount - RefundKeys(tx, _now()).refunded(key)
            if held > 0:
                # No balance cap here: a reversal returns money that was in the account and must always succeed.
                balance = _credit(tx, payer, currency, held)
                _insert_entry(tx, payer, currency, EntryKind.REVERSAL, held, balance, key, trade_no)
            tx.execute(
                "UPDATE attempts SET status = ?, updated_at = ? WHERE idempotency_key = ?",
                (AttemptStatus.REVERSED.value, _now(), key),
            )
            return before, AttemptStatus.REVERSED

        return self._transaction(work)

    # --- refunds -------------------------------------------------------------------------------------------

    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Credit ``refund.amount`` back to the account the paid key debited, at most once per refund key.

        One transaction, in the order of checks of :func:`tradepay.judge_refund`. The paid key's row is
        locked first (PostgreSQL), so refunds and cancels of one payment key run one after another and their
        sum is checked against what the key took with nothing in between.
        """
        payment_key = attempt.idempotency_key

        def work(tx: _Session) -> RefundAnswer:
            charged = tx.select_for_update(
                "SELECT status, payer, currency, amount FROM attempts WHERE idempotency_key = ?", (payment_key,)
            ).fetchone()
            refunds = RefundKeys(tx, _now())
            known = refunds.find(refund.idempotency_key)
            if known is not None:
                return replay_refund(known, attempt, refund)
            charge = None
            if charged is not None and charged[0] in (AttemptStatus.PAID, AttemptStatus.REVERSED):
                status, _, currency, amount = charged
                charge = RefundCharge(currency, amount, refunds.refunded(payment_key), status == AttemptStatus.REVERSED)
            refusal = judge_refund(charge, refund, not_charged=NOT_CHARGED)
            if refusal is not None:
                refunds.record(attempt, refund, RefundState.FAILED, refusal)
                return refusal
            payer, currency, amount = charged[1], refund.amount.currency, refund.amount.minor_units
            # No balance cap, as for a reversal: this money was in the account.
            balance = _credit(tx, payer, currency, amount)
            _insert_entry(
                tx, payer, currency, EntryKind.REFUND, amount, balance, refund.idempotency_key, refund.trade_no
            )
            answer = succeeded(refund.amount)
            # The refund key's row last: if another process recorded the key meanwhile, this insert fails and the
            # credit above is rolled back with it.
            refunds.record(attempt, refund, RefundState.SUCCEEDED, answer)
            return answer

        return self._transaction(work)

    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """What became of ``refund``'s key; a key never seen is voided first, so that no later refund can use it."""

        def work(tx: _Session) -> RefundOutcome:
            return RefundKeys(tx, _now()).inquire(attempt, refund)

        return self._transaction(work)

    def refunds(self, payment_key: str | None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first."""
        with self._database().read() as conn:
            return RefundKeys(conn, _now()).of_payment(payment_key)

    # --- accounts ------------------------------------------------------------------------------------------

    def topup(self, payer: str, currency: str, amount: int) -> int:
        """Credit ``amount`` to the payer's account in ``currency`` (opening it); return the new balance.

        Raises :class:`tradepay.InvalidInput` (and credits nothing) when the balance would pass
        :data:`MAX_BALANCE`.
        """

        def work(tx: _Session) -> int:
            # The cap is the write's own condition, so two top-ups at once cannot both pass a check made before
            # either of them wrote. (A new account starts at ``amount``, checked first.)
            credited = []
            if amount <= MAX_BALANCE:
                credited = tx.execute(
                    "INSERT INTO accounts (payer, currency, balance) VALUES (?, ?, ?)"
                    " ON CONFLICT (payer, currency) DO UPDATE SET balance = accounts.balance + excluded.balance"
                    " WHERE accounts.balance + excluded.balance <= ? RETURNING balance",
                    (payer, currency, amount, MAX_BALANCE),
                ).fetchall()
            if not credited:
                row = tx.execute(
                    "SELECT balance FROM accounts WHERE payer = ? AND currency = ?", (payer, currency)
                ).fetchone()
                current = row[0] if row else 0
                raise InvalidInput("amount", f"the balance would pass the maximum {MAX_BALANCE} (it is {current})")
            balance = int(credited[0][0])
            _insert_entry(tx, payer, currency, EntryKind.CREDIT, amount, balance, None, None)
            return balance

        return self._transaction(work)

    def balances(self, payer: str) -> dict[str, int]:
        """The payer's balances by currency (empty when the payer has no account)."""
        with self._database().read() as conn:
            rows = conn.execute("SELECT currency, balance FROM accounts WHERE payer = ?", (payer,)).fetchall()
        # Sorted here, not by ORDER BY: PostgreSQL's collation may order text unlike SQLite's byte order.
        return {currency: int(balance) for currency, balance in sorted(rows)}

    def history(self, payer: str) -> list[LedgerEntry]:
        """The payer's journal, oldest first."""
        with self._database().read() as conn:
            rows = conn.execute(
                "SELECT id, payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at"
                " FROM entries WHERE payer = ? ORDER BY id",
                (payer,),
            ).fetchall()
        return [LedgerEntry(r[0], r[1], r[2], EntryKind(r[3]), *r[4:]) for r in rows]

    # --- fault profiles ------------------------------------------------------------------------------------

    def set_fault(self, profile: FaultProfile) -> None:
        """Store ``profile``, replacing the payer's previous one."""

        def work(tx: _Session) -> None:
            tx.execute(
                "INSERT INTO faults (payer, kind, seconds, result_code, error_code, reason, times)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (payer) DO UPDATE SET kind = excluded.kind, seconds = excluded.seconds,"
                " result_code = excluded.result_code, error_code = excluded.error_code, reason = excluded.reason,"
                " times = excluded.times",
                (
                    profile.payer,
                    profile.kind.value,
                    profile.seconds,
                    None if profile.result_code is None else str(profile.result_code),
                    None if profile.error_code is None else int(profile.error_code),
                    profile.reason,
                    profile.times,
                ),
            )

        self._transaction(work)

    def clear_fault(self, payer: str | None) -> int:
        """Remove the profile of ``payer`` (every profile when ``None``); return how many were removed."""

        def work(tx: _Session) -> int:
            if payer is None:
                return int(tx.execute("DELETE FROM faults").rowcount)
            return int(tx.execute("DELETE FROM faults WHERE payer = ?", (payer,)).rowcount)

        return self._transaction(work)

    def faults(self) -> list[FaultProfile]:
        """Every stored profile, the all-payers one first."""
        with self._database().read() as conn:
            rows = conn.execute(
                "SELECT payer, kind, seconds, result_code, error_code, reason, times FROM faults"
            ).fetchall()
        # Sorted here, not by ORDER BY: PostgreSQL's collation may order text unlike SQLite's byte order.
        return [_fault(row) for row in sorted(rows, key=lambda row: (row[0] != ALL_PAYERS, row[0]))]

    def take_fault(self, payer: str) -> FaultProfile | None:
        """The profile that applies to ``payer``'s next ``pay`` (its own, else the all-payers one), used once.

        A profile with ``times`` is counted down and removed at zero, in one transaction, so N uses are N
        calls even across processes.
        """
        # Most calls find no profile at all: answer those without a write transaction.
        with self._database().read() as conn:
            if conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is None:
                return None

        def work(tx: _Session) -> FaultProfile | None:
            # One row at a time, each locked on PostgreSQL before it is used: a process that waited for another
            # to use up the payer's last call finds the row gone and goes on to the all-payers profile. Locking
            # one row per transaction leaves no order of locks to deadlock on.
            for owner in (payer, ALL_PAYERS):
                row = tx.select_for_update(
                    "SELECT payer, kind, seconds, result_code, error_code, reason, times FROM faults WHERE payer = ?",
                    (owner,),
                ).fetchone()
                if row is None:
                    continue
                profile = _fault(row)
                if profile.times == 1:
                    tx.execute("DELETE FROM faults WHERE payer = ?", (owner,))
                elif profile.times is not None:
                    tx.execute("UPDATE faults SET times = times - 1 WHERE payer = ?", (owner,))
                return profile
            return None

        return self._transaction(work)


def _fault(row: tuple[Any, ...]) -> FaultProfile:
    payer, kind, seconds, result_code, error_code, reason, times = row
    return FaultProfile(payer, FaultKind(kind), seconds, result_code, error_code, reason, times)


def _now() -> float:
    return time.time()


def _credit(tx: _Session, payer: str, currency: str, amount: int) -> int:
    """Add ``amount`` to the account (opening it) and return the new balance, in one statement."""
    [(balance,)] = tx.execute(
        "INSERT INTO accounts (payer, currency, balance) VALUES (?, ?, ?)"
        " ON CONFLICT (payer, currency) DO UPDATE SET balance = accounts.balance + excluded.balance"
        " RETURNING balance",
        (payer, currency, amount),
    ).fetchall()
    return int(balance)


def _insert_entry(
    tx: _Session,
    payer: str,
    currency: str,
    kind: EntryKind,
    amount: int,
    balance_after: int,
    key: str | None,
    trade_no: str | None,
) -> None:
    tx.execute(
        "INSERT INTO entries (payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (payer, currency, kind.value, amount, balance_after, key, trade_no, _now()),
    )


def _insert_attempt(
    tx: _Session, attempt: Attempt, order: Order, status: AttemptStatus, answer: PaymentResult | None
) -> None:
    """Record the key; a unique violation if another transaction recorded it first (see the module doc)."""
    error = answer.result_error if answer else None
    now = _now()
    tx.execute(
        "INSERT INTO attempts (idempotency_key, status, payer, currency, amount, trade_no, result_code,"
        " result_message, error_code, error_desc, extended_info, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            attempt.idempotency_key,
            status.value,
            order.payer_id,
            order.amount.currency,
            order.amount.minor_units,
            order.trade_no,
            answer.result_code.value if answer else None,
            answer.result_message if answer else None,
            int(error.error_code) if error else None,
            error.error_desc if error else None,
            json.dumps(dict(answer.extended_info) if answer else {}),
            now,
            now,
        ),
    )


def _status_or_void(tx: _Session, order: Order, attempt: Attempt, *, lock: bool = False) -> AttemptStatus:
    """The key's status, recording a ``voided`` tombstone first for a key never seen.

    ``lock`` locks the key's row (PostgreSQL) for a caller that changes it next.
    """
    select = tx.select_for_update if lock else tx.execute
    row = select("SELECT status FROM attempts WHERE idempotency_key = ?", (attempt.idempotency_key,)).fetchone()
    if row is not None:
        return AttemptStatus(row[0])
    _insert_attempt(tx, attempt, order, AttemptStatus.VOIDED, None)
    return AttemptStatus.VOIDED


def _replay(row: tuple[Any, ...], order: Order) -> PaymentResult:
    """The answer to a key seen before: its first answer, unless it was voided, reversed or asked differently."""
    status, payer, currency, amount, trade_no, code, message, error_code, error_desc, info = row
    if status == AttemptStatus.VOIDED:
        return declined(Reason.ATTEMPT_VOIDED, "an inquiry or cancel voided this key before it was paid")
    if (payer, currency, amount, trade_no) != (
        order.payer_id,
        order.amount.currency,
        order.amount.minor_units,
        order.trade_no,
    ):
        return declined(Reason.REPEAT_REQ_INCONSISTENT, "this key was used before for another payer, order or amount")
    if status == AttemptStatus.REVERSED:
        # Replaying the first 9000 would report money that is no longer taken.
        return declined(Reason.ATTEMPT_REVERSED, "this key's payment was reversed by a cancel")
    return PaymentResult(
        code, message, None if error_code is None else ResultError(error_code, error_desc), json.loads(info)
    )
