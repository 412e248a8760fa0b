"""The wallet's state in one SQLite file: accounts, the journal of money moves, attempts by key, fault profiles.

Every write runs in one ``BEGIN IMMEDIATE`` transaction, so the check of a key, the check of a balance, the
debit and the record of the key are one step for every process sharing the file. The methods are blocking:
the provider runs them in a worker thread.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tradepay import Attempt, InvalidInput, Order, PaymentResult, ResultError, immediate_transaction, open_sqlite

from ._answers import Reason, declined, paid
from ._checks import MAX_BALANCE
from ._faults import ALL_PAYERS, FaultKind, FaultProfile

__all__ = ["AttemptStatus", "EntryKind", "LedgerEntry", "Settlement", "WalletStore"]

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS accounts (
    payer    TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- SQLite turns an overflowing integer sum into a float: refuse that instead of storing it.
    balance  INTEGER NOT NULL CHECK (typeof(balance) = 'integer' AND balance >= 0),
    PRIMARY KEY (payer, currency)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reversal')),
    amount          INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    balance_after   INTEGER NOT NULL,
    idempotency_key TEXT,
    trade_no        TEXT,
    at              REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_payer ON entries (payer, id);
-- The last line of defence: a key debits at most once and is reversed at most once.
CREATE UNIQUE INDEX IF NOT EXISTS entries_once_per_key ON entries (idempotency_key, kind)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS attempts (
    idempotency_key TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    trade_no        TEXT NOT NULL,
    result_code     TEXT,
    result_message  TEXT,
    error_code      INTEGER,
    error_desc      TEXT,
    extended_info   TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS faults (
    payer       TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    seconds     REAL,
    result_code TEXT,
    error_code  INTEGER,
    reason      TEXT,
    times       INTEGER CHECK (times IS NULL OR times > 0)
) WITHOUT ROWID;
"""


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
    """The wallet's SQLite file. Safe to share between processes; within one, calls are serialised by a lock.

    The connection is opened lazily and again after a ``fork()``: a SQLite connection must never cross one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        with self._lock:
            self._connection()

    def close(self) -> None:
        """Close the connection (the next call opens it again)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        """The open connection of this process; the caller holds the lock."""
        if self._conn is None or self._pid != os.getpid():
            conn = open_sqlite(self.path)
            try:
                _migrate(conn, self.path)
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    # --- payments ------------------------------------------------------------------------------------------

    def settle(self, order: Order, attempt: Attempt, refusal: PaymentResult | None) -> Settlement:
        """Pay ``order`` under ``attempt``'s key, at most once, in one transaction.

        A key seen before gets its first answer back (or a refusal: voided, reversed, inconsistent) and moves
        nothing. A new key with a ``refusal`` records that answer and moves nothing. Otherwise the order's
        amount is debited if the balance covers it, else the key is recorded as declined.
        """
        key, amount = attempt.idempotency_key, order.amount.minor_units
        with self._lock, immediate_transaction(self._connection()) as conn:
            row = conn.execute(
                "SELECT status, payer, currency, amount, trade_no, result_code, result_message, error_code,"
                " error_desc, extended_info FROM attempts WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                return Settlement(_replay(row, order), debited=False)
            if refusal is not None:
                _insert_attempt(conn, attempt, order, AttemptStatus.DECLINED, refusal)
                return Settlement(refusal, debited=False)
            # fetchall, not fetchone: a RETURNING statement is finished only once stepped to its end.
            debit = conn.execute(
                "UPDATE accounts SET balance = balance - ? WHERE payer = ? AND currency = ? AND balance >= ?"
                " RETURNING balance",
                (amount, order.payer_id, order.amount.currency, amount),
            ).fetchall()
            if not debit:
                answer = declined(
                    Reason.USER_BALANCE_NOT_ENOUGH, f"the payer's {order.amount.currency} balance is below {amount}"
                )
                _insert_attempt(conn, attempt, order, AttemptStatus.DECLINED, answer)
                return Settlement(answer, debited=False)
            _insert_entry(
                conn, order.payer_id, order.amount.currency, EntryKind.DEBIT, amount, debit[0][0], key, order.trade_no
            )
            answer = paid()
            _insert_attempt(conn, attempt, order, AttemptStatus.PAID, answer)
            return Settlement(answer, debited=True)

    def inquire(self, order: Order, attempt: Attempt) -> AttemptStatus:
        """The key's status; a key never seen is voided first, so that no later ``pay`` can use it."""
        with self._lock, immediate_transaction(self._connection()) as conn:
            return _status_or_void(conn, order, attempt)

    def reverse(self, order: Order, attempt: Attempt) -> tuple[AttemptStatus, AttemptStatus]:
        """Credit a paid key's amount back, once; void a key never seen. Returns (status before, status after)."""
        with self._lock, immediate_transaction(self._connection()) as conn:
            before = _status_or_void(conn, order, attempt)
            if before is not AttemptStatus.PAID:
                return before, before
            payer, currency, amount, trade_no = conn.execute(
                "SELECT payer, currency, amount, trade_no FROM attempts WHERE idempotency_key = ?",
                (attempt.idempotency_key,),
            ).fetchone()
            # No balance cap here: a reversal returns money that was in the account and must always succeed.
            balance = _credit(conn, payer, currency, amount)
            _insert_entry(conn, payer, currency, EntryKind.REVERSAL, amount, balance, attempt.idempotency_key, trade_no)
            conn.execute(
                "UPDATE attempts SET status = ?, updated_at = ? WHERE idempotency_key = ?",
                (AttemptStatus.REVERSED.value, _now(), attempt.idempotency_key),
            )
            return before, AttemptStatus.REVERSED

    # --- accounts ------------------------------------------------------------------------------------------

    def topup(self, payer: str, currency: str, amount: int) -> int:
        """Credit ``amount`` to the payer's account in ``currency`` (opening it); return the new balance.

        Raises :class:`tradepay.InvalidInput` (and credits nothing) when the balance would pass
        :data:`MAX_BALANCE`.
        """
        with self._lock, immediate_transaction(self._connection()) as conn:
            row = conn.execute(
                "SELECT balance FROM accounts WHERE payer = ? AND currency = ?", (payer, currency)
            ).fetchone()
            current = row[0] if row else 0
            if current + amount > MAX_BALANCE:
                raise InvalidInput("amount", f"the balance would pass the maximum {MAX_BALANCE} (it is {current})")
            balance = _credit(conn, payer, currency, amount)
            _insert_entry(conn, payer, currency, EntryKind.CREDIT, amount, balance, None, None)
            return balance

    def balances(self, payer: str) -> dict[str, int]:
        """The payer's balances by currency (empty when the payer has no account)."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT currency, balance FROM accounts WHERE payer = ? ORDER BY currency", (payer,)
            )
            return dict(rows)

    def history(self, payer: str) -> list[LedgerEntry]:
        """The payer's journal, oldest first."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT id, payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at"
                " FROM entries WHERE payer = ? ORDER BY id",
                (payer,),
            )
            return [LedgerEntry(r[0], r[1], r[2], EntryKind(r[3]), *r[4:]) for r in rows]

    # --- fault profiles ------------------------------------------------------------------------------------

    def set_fault(self, profile: FaultProfile) -> None:
        """Store ``profile``, replacing the payer's previous one."""
        with self._lock, immediate_transaction(self._connection()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO faults (payer, kind, seconds, result_code, error_code, reason, times)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
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

    def clear_fault(self, payer: str | None) -> int:
        """Remove the profile of ``payer`` (every profile when ``None``); return how many were removed."""
        with self._lock, immediate_transaction(self._connection()) as conn:
            if payer is None:
                return conn.execute("DELETE FROM faults").rowcount
            return conn.execute("DELETE FROM faults WHERE payer = ?", (payer,)).rowcount

    def faults(self) -> list[FaultProfile]:
        """Every stored profile, the all-payers one first."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT payer, kind, seconds, result_code, error_code, reason, times FROM faults"
                " ORDER BY payer != ?, payer",
                (ALL_PAYERS,),
            )
            return [_fault(row) for row in rows]

    def take_fault(self, payer: str) -> FaultProfile | None:
        """The profile that applies to ``payer``'s next ``pay`` (its own, else the all-payers one), used once.

        A profile with ``times`` is counted down and removed at zero, in one transaction, so N uses are N
        calls even across processes.
        """
        with self._lock:
            conn = self._connection()
            # Most calls find no profile at all: answer those without taking the write lock.
            if conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is None:
                return None
            with immediate_transaction(conn):
                row = conn.execute(
                    "SELECT payer, kind, seconds, result_code, error_code, reason, times FROM faults"
                    " WHERE payer IN (?, ?) ORDER BY payer = ? LIMIT 1",
                    (payer, ALL_PAYERS, ALL_PAYERS),
                ).fetchone()
                if row is None:
                    return None
                profile = _fault(row)
                if profile.times == 1:
                    conn.execute("DELETE FROM faults WHERE payer = ?", (profile.payer,))
                elif profile.times is not None:
                    conn.execute("UPDATE faults SET times = times - 1 WHERE payer = ?", (profile.payer,))
                return profile


def _fault(row: tuple[Any, ...]) -> FaultProfile:
    payer, kind, seconds, result_code, error_code, reason, times = row
    return FaultProfile(payer, FaultKind(kind), seconds, result_code, error_code, reason, times)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema on a new file; refuse a file written by a newer version of the wallet."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"{path}: wallet schema version {version} is newer than this tradepay-wallet ({SCHEMA_VERSION})"
        )
    if version == SCHEMA_VERSION:
        return
    with immediate_transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _now() -> float:
    return time.time()


def _credit(conn: sqlite3.Connection, payer: str, currency: str, amount: int) -> int:
    """Add ``amount`` to the account (opening it) and return the new balance."""
    [(balance,)] = conn.execute(
        "INSERT INTO accounts (payer, currency, balance) VALUES (?, ?, ?)"
        " ON CONFLICT (payer, currency) DO UPDATE SET balance = balance + excluded.balance RETURNING balance",
        (payer, currency, amount),
    ).fetchall()
    return int(balance)


def _insert_entry(
    conn: sqlite3.Connection,
    payer: str,
    currency: str,
    kind: EntryKind,
    amount: int,
    balance_after: int,
    key: str | None,
    trade_no: str | None,
) -> None:
    conn.execute(
        "INSERT INTO entries (payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (payer, currency, kind.value, amount, balance_after, key, trade_no, _now()),
    )


def _insert_attempt(
    conn: sqlite3.Connection, attempt: Attempt, order: Order, status: AttemptStatus, answer: PaymentResult | None
) -> None:
    error = answer.result_error if answer else None
    now = _now()
    conn.execute(
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


def _status_or_void(conn: sqlite3.Connection, order: Order, attempt: Attempt) -> AttemptStatus:
    """The key's status, recording a ``voided`` tombstone first for a key never seen."""
    row = conn.execute("SELECT status FROM attempts WHERE idempotency_key = ?", (attempt.idempotency_key,)).fetchone()
    if row is not None:
        return AttemptStatus(row[0])
    _insert_attempt(conn, attempt, order, AttemptStatus.VOIDED, None)
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
