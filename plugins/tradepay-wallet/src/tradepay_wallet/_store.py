"""The wallet's state in SQL: accounts, the journal of money moves, attempts and refunds by key, fault profiles.

One SQLite file (the default) or one schema of a PostgreSQL database, opened by the kit's
:class:`tradepay.ProviderStore` with the migrations of ``_schema.py``. The queries are written once, with
``?`` placeholders. Payment keys follow the kit's rules (:mod:`tradepay`'s ``AttemptKeys``, one order of
replay checks), refund keys the core's refund rules (:func:`tradepay.judge_refund`).

Every check-then-write runs in one write transaction (:meth:`tradepay.ProviderStore.write`) and is safe for
several processes at once on both databases: SQLite's ``BEGIN IMMEDIATE`` keeps every other writer out; on
PostgreSQL each transaction locks the rows it decides on (``FOR UPDATE``), makes the debit conditional on the
balance it needs (``UPDATE ... WHERE balance >= ?``, re-checked on the newest row after waiting for its lock),
and relies on the primary key of ``attempts`` for a key that does not exist yet: the loser of that race is
rolled back (its debit with it) and run again, and finds the key.

The methods are blocking: the provider runs them in a worker thread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradepay import (
    Attempt,
    AttemptRow,
    AttemptStatus,
    AttemptTable,
    InvalidInput,
    Order,
    PaymentResult,
    ProviderStore,
    Refund,
    RefundAnswer,
    StoreTransaction,
    replay_payment,
)

from ._answers import DECLINED, NOT_CHARGED, Reason, declined, paid, refunded
from ._checks import MAX_BALANCE
from ._faults import ALL_PAYERS, FaultKind, FaultProfile
from ._schema import MIGRATIONS

__all__ = ["DEFAULT_SCHEMA", "EntryKind", "LedgerEntry", "WalletStore"]

#: The PostgreSQL schema of the wallet's tables when the URL names none (``?schema=NAME``).
DEFAULT_SCHEMA = "tradepay_wallet"
_TABLE = AttemptTable(payer="payer")
_FAULT_COLUMNS = "payer, kind, seconds, result_code, error_code, reason, times"


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


class WalletStore(ProviderStore[StoreTransaction]):
    """The wallet's database at ``location`` (what :func:`tradepay.open_database` takes; tables in
    :data:`DEFAULT_SCHEMA` unless the URL's ``schema`` parameter names another). ``where`` is the configuration
    key that a database it cannot use, or one written by a newer wallet, is reported under."""

    def __init__(self, location: str | Path, *, where: str = "providers.wallet.database") -> None:
        super().__init__(location, schema=DEFAULT_SCHEMA, migrations=MIGRATIONS, where=where, attempts=_TABLE)

    # --- payments ------------------------------------------------------------------------------------------

    def pay(self, order: Order, attempt: Attempt, refusal: PaymentResult | None) -> tuple[PaymentResult, bool]:
        """Pay ``order`` under ``attempt``'s key, at most once, in one transaction; the answer, and whether
        this call is the one that debited.

        A key seen before gets its first answer back (or the kit's refusal: voided, inconsistent, reversed) and
        moves nothing. A new key with a ``refusal`` records that answer and moves nothing. Otherwise the order's
        amount is debited if the balance covers it, else the key is recorded as declined.
        """
        amount, currency = order.amount.minor_units, order.amount.currency

        def work(tx: StoreTransaction) -> tuple[PaymentResult, bool]:
            row = tx.attempts.find(attempt.idempotency_key, lock=True)
            if row is not None:
                return replay_payment(row, order, message=DECLINED), False
            if refusal is not None:
                tx.attempts.record(attempt, order, AttemptStatus.DECLINED, refusal)
                return refusal, False
            # The balance check is the UPDATE's own condition, so no other debit can come between the check and
            # the debit. fetchall, not fetchone: SQLite finishes a RETURNING statement only at its end.
            debit = tx.execute(
                "UPDATE accounts SET balance = balance - ? WHERE payer = ? AND currency = ? AND balance >= ?"
                " RETURNING balance",
                (amount, order.payer_id, currency, amount),
            ).fetchall()
            if not debit:
                answer = declined(
                    Reason.USER_BALANCE_NOT_ENOUGH, f"the payer's {currency} balance is below {order.amount}"
                )
                tx.attempts.record(attempt, order, AttemptStatus.DECLINED, answer)
                return answer, False
            _entry(
                tx,
                order.payer_id,
                currency,
                EntryKind.DEBIT,
                amount,
                debit[0][0],
                attempt.idempotency_key,
                order.trade_no,
            )
            # The key's row last: if another process recorded the key meanwhile, this insert fails and the debit
            # above is rolled back with it.
            tx.attempts.record(attempt, order, AttemptStatus.PAID, paid())
            return paid(), True

        return self.write(work)

    not_charged = NOT_CHARGED

    def give_back(self, tx: StoreTransaction, paid: AttemptRow, held: int) -> None:
        """Credit back what the reversed key still holds. No balance cap here: a reversal returns money that was
        in the account and must always succeed."""
        if held > 0:
            _credit(tx, paid.payer_id, paid.currency, held, EntryKind.REVERSAL, paid.idempotency_key, paid.trade_no)

    def refund_money(self, tx: StoreTransaction, paid: AttemptRow, refund: Refund) -> RefundAnswer:
        """Credit ``refund.amount`` back to the account the paid key debited (no balance cap, as for a reversal)."""
        currency, amount = refund.amount.currency, refund.amount.minor_units
        _credit(tx, paid.payer_id, currency, amount, EntryKind.REFUND, refund.idempotency_key, refund.trade_no)
        return refunded(refund.amount)

    # --- accounts ------------------------------------------------------------------------------------------

    def topup(self, payer: str, currency: str, amount: int) -> int:
        """Credit ``amount`` to the payer's account in ``currency`` (opening it); return the new balance.

        Raises :class:`tradepay.InvalidInput` (and credits nothing) when the balance would pass
        :data:`MAX_BALANCE`.
        """

        def work(tx: StoreTransaction) -> int:
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
            _entry(tx, payer, currency, EntryKind.CREDIT, amount, balance, None, None)
            return balance

        return self.write(work)

    def balances(self, payer: str) -> dict[str, int]:
        """The payer's balances by currency (empty when the payer has no account)."""
        with self.read() as conn:
            rows = conn.execute("SELECT currency, balance FROM accounts WHERE payer = ?", (payer,)).fetchall()
        # Sorted here, not by ORDER BY: PostgreSQL's collation may order text unlike SQLite's byte order.
        return {currency: int(balance) for currency, balance in sorted(rows)}

    def history(self, payer: str) -> list[LedgerEntry]:
        """The payer's journal, oldest first."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at"
                " FROM entries WHERE payer = ? ORDER BY id",
                (payer,),
            ).fetchall()
        return [LedgerEntry(r[0], r[1], r[2], EntryKind(r[3]), *r[4:]) for r in rows]

    # --- fault profiles ------------------------------------------------------------------------------------

    def set_fault(self, profile: FaultProfile) -> None:
        """Store ``profile``, replacing the payer's previous one."""
        values = (
            profile.payer,
            profile.kind.value,
            profile.seconds,
            None if profile.result_code is None else str(profile.result_code),
            None if profile.error_code is None else int(profile.error_code),
            profile.reason,
            profile.times,
        )
        self.write(
            lambda tx: tx.execute(
                f"INSERT INTO faults ({_FAULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - fixed columns
                " ON CONFLICT (payer) DO UPDATE SET kind = excluded.kind, seconds = excluded.seconds,"
                " result_code = excluded.result_code, error_code = excluded.error_code, reason = excluded.reason,"
                " times = excluded.times",
                values,
            )
        )

    def clear_fault(self, payer: str | None) -> int:
        """Remove the profile of ``payer`` (every profile when ``None``); return how many were removed."""

        def work(tx: StoreTransaction) -> int:
            if payer is None:
                return int(tx.execute("DELETE FROM faults").rowcount)
            return int(tx.execute("DELETE FROM faults WHERE payer = ?", (payer,)).rowcount)

        return self.write(work)

    def faults(self) -> list[FaultProfile]:
        """Every stored profile, the all-payers one first."""
        with self.read() as conn:
            rows = conn.execute(f"SELECT {_FAULT_COLUMNS} FROM faults").fetchall()  # noqa: S608 - fixed columns
        # Sorted here, not by ORDER BY: PostgreSQL's collation may order text unlike SQLite's byte order.
        return [_fault(row) for row in sorted(rows, key=lambda row: (row[0] != ALL_PAYERS, row[0]))]

    def take_fault(self, payer: str) -> FaultProfile | None:
        """The profile that applies to ``payer``'s next ``pay`` (its own, else the all-payers one), used once.

        A profile with ``times`` is counted down and removed at zero, in one transaction, so N uses are N
        calls even across processes.
        """
        # Most calls find no profile at all: answer those without a write transaction.
        with self.read() as conn:
            if conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is None:
                return None

        def work(tx: StoreTransaction) -> FaultProfile | None:
            # One row at a time, each locked on PostgreSQL before it is used: a process that waited for another
            # to use up the payer's last call finds the row gone and goes on to the all-payers profile. Locking
            # one row per transaction leaves no order of locks to deadlock on.
            for owner in (payer, ALL_PAYERS):
                row = tx.execute(
                    f"SELECT {_FAULT_COLUMNS} FROM faults WHERE payer = ?{tx.for_update}",  # noqa: S608
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

        return self.write(work)


def _fault(row: tuple[Any, ...]) -> FaultProfile:
    payer, kind, seconds, result_code, error_code, reason, times = row
    return FaultProfile(payer, FaultKind(kind), seconds, result_code, error_code, reason, times)


def _credit(
    tx: StoreTransaction, payer: str, currency: str, amount: int, kind: EntryKind, key: str, trade_no: str | None
) -> None:
    """Add ``amount`` to the account (opening it) in one statement, and journal it as ``kind``."""
    [(balance,)] = tx.execute(
        "INSERT INTO accounts (payer, currency, balance) VALUES (?, ?, ?)"
        " ON CONFLICT (payer, currency) DO UPDATE SET balance = accounts.balance + excluded.balance"
        " RETURNING balance",
        (payer, currency, amount),
    ).fetchall()
    _entry(tx, payer, currency, kind, amount, int(balance), key, trade_no)


def _entry(
    tx: StoreTransaction,
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
        (payer, currency, kind.value, amount, balance_after, key, trade_no, tx.now),
    )
