"""The card provider's SQLite state: cards on file, attempts by idempotency key, and the money that moved.

Nothing here ever sees a card number or a CVC: a card is a random token, its brand, last four digits, expiry
and the mock network's scenario. Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a check and the
write that depends on it are atomic across threads and processes.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tradepay import (
    Attempt,
    ErrorCode,
    Order,
    PaymentResult,
    ResultCode,
    ResultError,
    immediate_transaction,
    open_sqlite,
)

from ._enrolment import Brand, CardDetails, Expiry
from ._network import Scenario

__all__ = ["AttemptRow", "AttemptStatus", "Card", "CardStore", "Ledger", "Movement"]

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS cards (
        id INTEGER PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL CHECK (length(last4) = 4),
        exp_year INTEGER NOT NULL,
        exp_month INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        scenario TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        added_at REAL NOT NULL,
        removed_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS cards_by_payer ON cards (payer_id, active, id)",
    """CREATE TABLE IF NOT EXISTS attempts (
        idempotency_key TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        trade_no TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
        card_token TEXT REFERENCES cards (token),
        result_code TEXT,
        result_message TEXT,
        error_code INTEGER,
        error_desc TEXT,
        extended_info TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS movements (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL REFERENCES attempts (idempotency_key),
        kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
        card_token TEXT NOT NULL REFERENCES cards (token),
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        created_at REAL NOT NULL,
        UNIQUE (idempotency_key, kind)
    )""",
)

_CARD_COLUMNS: Final = "token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at"
_ATTEMPT_COLUMNS: Final = (
    "idempotency_key, payer_id, currency, amount, status, "
    "result_code, result_message, error_code, error_desc, extended_info"
)


class AttemptStatus(enum.StrEnum):
    """What became of an idempotency key."""

    PAID = "paid"
    """The charge moved money, and it was not reversed."""
    DECLINED = "declined"
    """The first answer refused the payment; nothing moved."""
    REVERSED = "reversed"
    """The charge moved money and cancel refunded it."""
    VOIDED = "voided"
    """A tombstone: inquiry or cancel saw the key before any pay(); a later pay() with it is refused."""


@dataclass(frozen=True, slots=True)
class Card:
    """A card on file: never its number, never its CVC."""

    token: str
    payer_id: str
    brand: Brand
    last4: str
    expiry: Expiry
    scenario: Scenario
    added_at: float

    def to_dict(self) -> dict[str, str]:
        """The card as JSON-friendly strings (the CLI's ``--json``)."""
        return {
            "token": self.token,
            "payer": self.payer_id,
            "brand": self.brand.value,
            "last4": self.last4,
            "expiry": str(self.expiry),
            "scenario": self.scenario.value,
        }


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """An idempotency key's row: what was asked, what became of it, and the answer first given (if any)."""

    idempotency_key: str
    payer_id: str
    currency: str
    amount: int
    status: AttemptStatus
    result: PaymentResult | None


@dataclass(frozen=True, slots=True)
class Movement:
    """Money that moved on a card: a ``charge`` or its ``refund``, at most one of each per key."""

    idempotency_key: str
    kind: str
    card_token: str
    currency: str
    amount: int


class Ledger:
    """The reads and writes of one open ``BEGIN IMMEDIATE`` transaction (see :meth:`CardStore.transaction`)."""

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self._conn = conn
        self._now = now

    def attempt(self, key: str) -> AttemptRow | None:
        """The row of ``key``, or ``None`` if the key was never seen."""
        row = self._conn.execute(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE idempotency_key = ?",  # noqa: S608 - fixed columns
            (key,),
        ).fetchone()
        return None if row is None else _attempt_row(row)

    def default_card(self, payer_id: str) -> Card | None:
        """The payer's default card: the most recently added one that is still active."""
        row = self._conn.execute(
            f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1 ORDER BY id DESC LIMIT 1",  # noqa: S608
            (payer_id,),
        ).fetchone()
        return None if row is None else _card(row)

    def record(
        self,
        attempt: Attempt,
        order: Order,
        status: AttemptStatus,
        *,
        card: Card | None = None,
        result: PaymentResult | None = None,
    ) -> None:
        """Insert the first row of ``attempt``'s key, asked for ``order``; a ``paid`` row also records the charge
        of the order's amount on ``card``.

        Raises ``sqlite3.IntegrityError`` if the key already has a row: callers check :meth:`attempt` first,
        in the same transaction.
        """
        key, currency, amount = attempt.idempotency_key, order.amount.currency, order.amount.minor_units
        error = result.result_error if result else None
        self._conn.execute(
            "INSERT INTO attempts (idempotency_key, payment_id, trade_no, payer_id, currency, amount, status,"
            " card_token, result_code, result_message, error_code, error_desc, extended_info, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                attempt.payment_id,
                order.trade_no,
                order.payer_id,
                currency,
                amount,
                status.value,
                card.token if card else None,
                result.result_code.value if result else None,
                result.result_message if result else None,
                int(error.error_code) if error else None,
                error.error_desc if error else None,
                json.dumps(dict(result.extended_info), sort_keys=True) if result else None,
                self._now,
                self._now,
            ),
        )
        if status is AttemptStatus.PAID:
            if card is None:
                raise ValueError("a paid attempt needs the card it charged")
            self._move(key, "charge", card.token, currency, amount)

    def reverse(self, key: str) -> None:
        """Refund the charge of a ``paid`` key and mark it ``reversed``: one refund row, never two."""
        charge = self._conn.execute(
            "SELECT card_token, currency, amount FROM movements WHERE idempotency_key = ? AND kind = 'charge'",
            (key,),
        ).fetchone()
        if charge is None:
            raise ValueError(f"attempt {key!r} has no charge to reverse")
        self._move(key, "refund", charge[0], charge[1], charge[2])
        self._conn.execute(
            "UPDATE attempts SET status = 'reversed', updated_at = ? WHERE idempotency_key = ? AND status = 'paid'",
            (self._now, key),
        )

    def _move(self, key: str, kind: str, card_token: str, currency: str, amount: int) -> None:
        self._conn.execute(
            "INSERT INTO movements (idempotency_key, kind, card_token, currency, amount, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, kind, card_token, currency, amount, self._now),
        )


class CardStore:
    """The SQLite file of the card provider, opened (and its schema created or checked) on construction.

    One connection per process, guarded by a lock so that threads take turns; processes are kept apart by
    SQLite's own locking. After ``close()`` the next call opens the file again; after a ``fork()`` the child
    opens its own connection and never touches the parent's.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        with self._connection():
            pass  # open now, so that an unusable file fails at start-up rather than at the first payment

    def close(self) -> None:
        """Close the connection; the next call opens it again."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back if it raises."""
        with self._write() as conn:
            yield Ledger(conn, self._clock())

    def add_card(self, payer_id: str, details: CardDetails) -> Card:
        """Put a checked card on file for ``payer_id`` under a new random token; it becomes the default card."""
        card = Card(
            token=f"card_{secrets.token_hex(12)}",
            payer_id=payer_id,
            brand=details.brand,
            last4=details.last4,
            expiry=details.expiry,
            scenario=details.scenario,
            added_at=self._clock(),
        )
        with self._write() as conn:
            conn.execute(
                "INSERT INTO cards (token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    card.token,
                    payer_id,
                    card.brand.value,
                    card.last4,
                    card.expiry.year,
                    card.expiry.month,
                    card.scenario.value,
                    card.added_at,
                ),
            )
        return card

    def cards(self, payer_id: str) -> list[Card]:
        """The payer's active cards, default (most recently added) first."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1 ORDER BY id DESC",  # noqa: S608
                (payer_id,),
            ).fetchall()
        return [_card(row) for row in rows]

    def remove_card(self, payer_id: str, token: str) -> bool:
        """Deactivate the payer's card ``token``; False if the payer has no such active card.

        The row stays, deactivated, because attempts and movements refer to it.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE cards SET active = 0, removed_at = ? WHERE payer_id = ? AND token = ? AND active = 1",
                (self._clock(), payer_id, token),
            )
        return cursor.rowcount == 1

    def movements(self, key: str | None = None) -> list[Movement]:
        """Money moved, oldest first: every movement, or those of one idempotency key."""
        sql = "SELECT idempotency_key, kind, card_token, currency, amount FROM movements"
        with self._connection() as conn:
            if key is None:
                rows = conn.execute(f"{sql} ORDER BY id").fetchall()
            else:
                rows = conn.execute(f"{sql} WHERE idempotency_key = ? ORDER BY id", (key,)).fetchall()
        return [Movement(*row) for row in rows]

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This process's connection, under the lock; opened (and the schema checked) on first use."""
        if self._pid != os.getpid():
            # A fork() child: the parent's connection must be neither used nor finalised here (closing it would
            # disturb the parent's locks), and a lock some parent thread held at the fork would never be released.
            if self._conn is not None:
                self._inherited.append(self._conn)
            self._conn, self._lock, self._pid = None, threading.Lock(), os.getpid()
        with self._lock:
            if self._conn is None:
                self._conn = _open(self.path)
            yield self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, immediate_transaction(conn):
            yield conn


def _open(path: Path) -> sqlite3.Connection:
    """Open the file the safe way (tradepay.open_sqlite) and create or check its schema."""
    conn = open_sqlite(path)
    try:
        with immediate_transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this tradepay-card's ({SCHEMA_VERSION})"
                )
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _card(row: tuple[Any, ...]) -> Card:
    token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at = row
    return Card(
        token=token,
        payer_id=payer_id,
        brand=Brand(brand),
        last4=last4,
        expiry=Expiry(year=exp_year, month=exp_month),
        scenario=Scenario(scenario),
        added_at=added_at,
    )


def _attempt_row(row: tuple[Any, ...]) -> AttemptRow:
    key, payer_id, currency, amount, status, code, message, error_code, error_desc, info = row
    result = None
    if code is not None:
        error = None if error_code is None else ResultError(ErrorCode(error_code), error_desc)
        result = PaymentResult(ResultCode(code), message, error, json.loads(info))
    return AttemptRow(
        idempotency_key=key,
        payer_id=payer_id,
        currency=currency,
        amount=amount,
        status=AttemptStatus(status),
        result=result,
    )
