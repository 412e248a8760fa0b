"""The card provider's state, on SQLite or PostgreSQL: cards on file, attempts and refunds by idempotency key,
and the money that moved.

Nothing here ever sees a card number or a CVC: a card is a random token, its brand, last four digits, expiry
and the mock network's scenario.

The SQL is written once and runs on both databases (``tradepay.open_database``; ``?`` placeholders). Every
write is one transaction, and every decision taken in it is safe against other processes:

* On SQLite the transaction is ``BEGIN IMMEDIATE``: it holds the file's write lock from its first statement,
  so a check and the write that depends on it can never interleave with another writer.
* On PostgreSQL (READ COMMITTED, no database-wide write lock) the rows a decision is taken on are locked:
  an attempt row ``FOR UPDATE`` (a second pay, inquire or cancel of the key waits, then reads what the first
  one committed), the payer's cards ``FOR SHARE`` (a removal waits for the charge, or the charge sees the
  removal). A key that has no row yet cannot be locked: two transactions may both find it missing and both
  insert, and then the primary key refuses the second insert, which :meth:`CardStore.run` answers by
  running the transaction once more, where the lookup finds the row the first one committed.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tradepay import (
    Attempt,
    ConfigError,
    Database,
    ErrorCode,
    Order,
    PaymentResult,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundKeys,
    RefundOutcome,
    RefundRow,
    RefundState,
    ResultCode,
    ResultError,
    judge_refund,
    migrate,
    open_database,
    replay_refund,
)

from ._enrolment import Brand, CardDetails, Expiry
from ._network import Scenario
from ._refunds import NOT_CHARGED, declined_by_network, succeeded

__all__ = ["DEFAULT_SCHEMA", "MIGRATIONS", "AttemptRow", "AttemptStatus", "Card", "CardStore", "Ledger", "Movement"]

#: The PostgreSQL schema of the tables, unless the URL's ``schema`` parameter names another.
DEFAULT_SCHEMA: Final = "tradepay_card"

# Migration 1 is the schema tradepay-card 0.1.0 created (``PRAGMA user_version`` 1), statement for statement, so
# that its files open unchanged: on SQLite the placeholders render it byte for byte as it was. Only the types
# that SQLite and PostgreSQL spell differently are placeholders: ``{id}`` (SQLite's rowid alias, PostgreSQL's
# identity column), ``{int64}`` (SQLite's INTEGER is 64-bit, PostgreSQL's is 32-bit) and ``{double}`` (times;
# PostgreSQL's REAL is single precision).
_V1: Final = (
    """CREATE TABLE IF NOT EXISTS cards (
        id {id},
        token TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL CHECK (length(last4) = 4),
        exp_year INTEGER NOT NULL,
        exp_month INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        scenario TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        added_at {double} NOT NULL,
        removed_at {double}
    )""",
    "CREATE INDEX IF NOT EXISTS cards_by_payer ON cards (payer_id, active, id)",
    """CREATE TABLE IF NOT EXISTS attempts (
        idempotency_key TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        trade_no TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount {int64} NOT NULL CHECK (amount > 0),
        status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
        card_token TEXT REFERENCES cards (token),
        result_code TEXT,
        result_message TEXT,
        error_code INTEGER,
        error_desc TEXT,
        extended_info TEXT,
        created_at {double} NOT NULL,
        updated_at {double} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS movements (
        id {id},
        idempotency_key TEXT NOT NULL REFERENCES attempts (idempotency_key),
        kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
        card_token TEXT NOT NULL REFERENCES cards (token),
        currency TEXT NOT NULL,
        amount {int64} NOT NULL CHECK (amount > 0),
        created_at {double} NOT NULL,
        UNIQUE (idempotency_key, kind)
    )""",
)

# Migration 2: the refunds, one row per refund key (the money of a succeeded one went back to the card the
# payment key charged: ``attempts.card_token``).
_V2: Final = (
    """CREATE TABLE refunds (
        refund_key TEXT PRIMARY KEY,
        payment_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'voided')),
        currency TEXT NOT NULL,
        amount {int64} NOT NULL CHECK (amount > 0),
        trade_no TEXT NOT NULL,
        reason TEXT,
        message TEXT NOT NULL,
        created_at {double} NOT NULL
    )""",
    "CREATE INDEX refunds_by_payment ON refunds (payment_key, status)",
)

#: The schema as ordered migrations (migration N brings a database from version N-1 to N); see :func:`migrations`.
MIGRATIONS: Final[tuple[str, ...]] = (";\n".join(_V1), ";\n".join(_V2))
SCHEMA_VERSION: Final = len(MIGRATIONS)

# What the placeholders of MIGRATIONS stand for, by database kind ({double} is left to tradepay.migrate).
_TYPES: Final = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "int64": "INTEGER"},
    "postgresql": {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "int64": "BIGINT"},
}
# How a read that a write depends on locks its rows, by database kind: SQLite's BEGIN IMMEDIATE already holds
# the whole file, and SQLite has no FOR UPDATE.
_LOCKS: Final = {"sqlite": ("", ""), "postgresql": (" FOR UPDATE", " FOR SHARE")}

_CARD_COLUMNS: Final = "token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at"
# The card a key's charge was made on (its row stays when the card is removed from file).
_CHARGED_CARD: Final = (
    f"SELECT {_CARD_COLUMNS} FROM cards WHERE token = (SELECT card_token FROM attempts WHERE idempotency_key = ?)"  # noqa: S608
)
_ATTEMPT_COLUMNS: Final = (
    "idempotency_key, payer_id, currency, amount, status, "
    "result_code, result_message, error_code, error_desc, extended_info"
)

T = TypeVar("T")


def migrations(kind: str) -> list[str]:
    """:data:`MIGRATIONS` for a database of ``kind`` (``sqlite`` or ``postgresql``), as ``tradepay.migrate``
    takes them."""
    return [script.format(double="{double}", **_TYPES[kind]) for script in MIGRATIONS]


class Connection(Protocol):
    """What the store needs of a connection of a ``tradepay.Database`` (sqlite3's and the PostgreSQL one)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


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
    """The reads and writes of one open write transaction (see :meth:`CardStore.transaction`).

    Its reads lock the rows they return until the transaction ends (on PostgreSQL; SQLite's write transaction
    holds the whole file), so what a write decides on stays true until it commits.
    """

    def __init__(self, conn: Connection, now: float, kind: str) -> None:
        self._conn = conn
        self._now = now
        self._for_update, self._for_share = _LOCKS[kind]

    def attempt(self, key: str) -> AttemptRow | None:
        """The row of ``key``, locked, or ``None`` if the key was never seen (nothing to lock: see
        :meth:`record`)."""
        row = self._conn.execute(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE idempotency_key = ?{self._for_update}",  # noqa: S608
            (key,),
        ).fetchone()
        return None if row is None else _attempt_row(row)

    def default_card(self, payer_id: str) -> Card | None:
        """The payer's default card: the most recently added one that is still active.

        All of the payer's active cards are locked ``FOR SHARE``, so a removal waits for this transaction, and
        a removal committed meanwhile is seen. (No ``LIMIT 1``: a locked read that finds its first row removed
        under it would then return no card at all instead of the next one.)
        """
        rows = self._conn.execute(
            f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1"  # noqa: S608 - fixed columns
            f" ORDER BY id DESC{self._for_share}",
            (payer_id,),
        ).fetchall()
        return _card(rows[0]) if rows else None

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

        Raises one of :attr:`CardStore.integrity_errors` if the key already has a row: callers check
        :meth:`attempt` first, in the same transaction, and on PostgreSQL another transaction may still have
        inserted the key since (see :meth:`CardStore.run`).
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

    @property
    def refunds(self) -> RefundKeys:
        """The refunds table, in this transaction."""
        return RefundKeys(self._conn, self._now)

    def charged_card(self, key: str) -> Card | None:
        """The card that ``key``'s charge was made on, or ``None`` if the key charged no card."""
        row = self._conn.execute(_CHARGED_CARD, (key,)).fetchone()
        return None if row is None else _card(row)

    def reverse(self, key: str) -> None:
        """Give back what the charge of a ``paid`` key still holds (its amount less its refunds) and mark it
        ``reversed``: one refund movement at most, never two (the schema refuses a second one even if this were
        called twice), and none when refunds gave everything back already."""
        charge = self._conn.execute(
            "SELECT card_token, currency, amount FROM movements WHERE idempotency_key = ? AND kind = 'charge'",
            (key,),
        ).fetchone()
        if charge is None:
            raise ValueError(f"attempt {key!r} has no charge to reverse")
        held = charge[2] - self.refunds.refunded(key)
        if held > 0:
            self._move(key, "refund", charge[0], charge[1], held)
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
    """The card provider's database, opened (and migrated) on construction.

    ``location`` is a SQLite file (a path, absolute or relative to the working directory) or a
    ``postgresql://`` URL (tables in the schema ``tradepay_card`` unless the URL's ``schema`` parameter names
    another). ``where`` is the configuration key named by a :class:`tradepay.ConfigError` when the database
    cannot be opened or was written by a newer tradepay-card.

    Safe to share between threads (SQLite: one connection per process, taken in turns; PostgreSQL: a
    connection pool) and between processes. After ``close()`` the next call opens the database again; after a
    ``fork()`` the child opens its own and never touches (nor closes) the parent's.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        where: str = "providers.card.database",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.location = location
        self.where = where
        self._clock = clock
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._pid = os.getpid()
        self._open_here()  # now, so that an unusable database fails at start-up rather than at the first payment

    @property
    def database(self) -> Database:
        """This process's open database (opened again after ``close()`` or a ``fork()``)."""
        return self._open_here()

    @property
    def kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database.kind

    @property
    def integrity_errors(self) -> tuple[type[Exception], ...]:
        """The exceptions a refused unique or primary key raises."""
        return self.database.integrity_errors

    def close(self) -> None:
        """Close the database's connections; the next call opens it again."""
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        database = self.database
        with database.write() as conn:
            yield Ledger(conn, self._clock(), database.kind)

    def run(self, body: Callable[[Ledger], T]) -> T:
        """``body`` in one write transaction; run once more if a unique key refused one of its inserts.

        On PostgreSQL two transactions can both find a key unseen and both insert it: the primary key makes the
        second wait for the first and then refuses it, and its transaction is rolled back whole. Run again,
        the lookup finds (and locks) the row the first one committed, so the second run never inserts the key
        and answers from that row. On SQLite the write lock rules the race out.
        """
        try:
            with self.transaction() as ledger:
                return body(ledger)
        except self.integrity_errors:
            with self.transaction() as ledger:
                return body(ledger)

    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Refund ``refund.amount`` to the card ``attempt``'s key charged, at most once per refund key.

        One transaction, in the order of checks of :func:`tradepay.judge_refund`. The paid key's row is locked
        first (PostgreSQL), so refunds and cancels of one payment key run one after another and their sum is
        checked against what the key took with nothing in between; two transactions recording one new refund key
        meet on its primary key (see :meth:`run`).
        """
        payment_key = attempt.idempotency_key

        def decide(ledger: Ledger) -> RefundAnswer:
            charged = ledger.attempt(payment_key)
            refunds = ledger.refunds
            known = refunds.find(refund.idempotency_key)
            if known is not None:
                return replay_refund(known, attempt, refund)
            charge, card = None, None
            if charged is not None and charged.status in (AttemptStatus.PAID, AttemptStatus.REVERSED):
                reversed_ = charged.status is AttemptStatus.REVERSED
                charge = RefundCharge(charged.currency, charged.amount, refunds.refunded(payment_key), reversed_)
                card = ledger.charged_card(payment_key)
            refusal = judge_refund(
                charge,
                refund,
                not_charged=NOT_CHARGED,
                provider_check=lambda: declined_by_network(card.scenario) if card else None,
            )
            if refusal is not None:
                refunds.record(attempt, refund, RefundState.FAILED, refusal)
                return refusal
            if card is None:
                raise ValueError(f"attempt {payment_key!r} is paid but names no card")
            answer = succeeded(refund.amount, card.brand, card.last4)
            refunds.record(attempt, refund, RefundState.SUCCEEDED, answer)
            return answer

        return self.run(decide)

    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """What became of ``refund``'s key; a key never seen is voided first, so that no later refund can use it."""

        def look(ledger: Ledger) -> RefundOutcome:
            return ledger.refunds.inquire(attempt, refund)

        return self.run(look)

    def refunds(self, payment_key: str | None = None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first; the money of a
        ``succeeded`` one went back to the card the payment key charged."""
        with self.database.read() as conn:
            return RefundKeys(conn, self._clock()).of_payment(payment_key)

    def charged_card(self, key: str) -> Card | None:
        """The card that ``key``'s charge was made on, or ``None`` if the key charged no card (a plain read)."""
        with self.database.read() as conn:
            row = conn.execute(_CHARGED_CARD, (key,)).fetchone()
        return None if row is None else _card(row)

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
        with self.database.write() as conn:
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
        with self.database.read() as conn:
            rows = conn.execute(
                f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1 ORDER BY id DESC",  # noqa: S608
                (payer_id,),
            ).fetchall()
        return [_card(row) for row in rows]

    def remove_card(self, payer_id: str, token: str) -> bool:
        """Deactivate the payer's card ``token``; False if the payer has no such active card.

        The row stays, deactivated, because attempts and movements refer to it. The update names the state it
        expects (``active = 1``), so of two removals at once exactly one succeeds, on either database.
        """
        with self.database.write() as conn:
            cursor = conn.execute(
                "UPDATE cards SET active = 0, removed_at = ? WHERE payer_id = ? AND token = ? AND active = 1",
                (self._clock(), payer_id, token),
            )
            removed: bool = cursor.rowcount == 1
        return removed

    def movements(self, key: str | None = None) -> list[Movement]:
        """Money moved, oldest first: every movement, or those of one idempotency key."""
        sql = "SELECT idempotency_key, kind, card_token, currency, amount FROM movements"
        with self.database.read() as conn:
            if key is None:
                rows = conn.execute(f"{sql} ORDER BY id").fetchall()
            else:
                rows = conn.execute(f"{sql} WHERE idempotency_key = ? ORDER BY id", (key,)).fetchall()
        return [Movement(*row) for row in rows]

    def _open_here(self) -> Database:
        """This process's database, opened (and migrated) on first use."""
        if self._pid != os.getpid():
            # A fork() child: the database object reconnects itself in this process (a tradepay.Database never
            # carries a connection across fork, and never closes the parent's PostgreSQL sessions); a lock some
            # parent thread held at the fork would never be released, so this process gets its own.
            self._lock, self._pid = threading.Lock(), os.getpid()
        with self._lock:
            if self._db is None:
                self._db = self._open()
            return self._db

    def _open(self) -> Database:
        """Open the database and bring its schema up to date; every failure is a ConfigError naming ``where``."""
        try:
            database = open_database(self.location, schema=DEFAULT_SCHEMA)
        except ConfigError as exc:  # the core names its own key ("ledger.url"): name this provider's
            raise ConfigError(self.where, exc.reason) from None
        except _database_errors() as exc:
            raise ConfigError(self.where, f"cannot use {_shown(self.location)}: {exc}") from exc
        try:
            migrate(database, migrations(database.kind), where=self.where)
        except ConfigError:
            database.close()
            raise
        except _database_errors() as exc:
            database.close()
            raise ConfigError(self.where, f"cannot use {_shown(self.location)}: {exc}") from exc
        return database


def _database_errors() -> tuple[type[Exception], ...]:
    """What opening a database raises when the database, not the code, is at fault. psycopg's errors count only
    once something imported it (a PostgreSQL database was opened): it is never imported for SQLite."""
    psycopg = sys.modules.get("psycopg")
    extra: tuple[type[Exception], ...] = (psycopg.Error,) if psycopg is not None else ()
    return (OSError, sqlite3.Error, *extra)


def _shown(location: str | os.PathLike[str]) -> str:
    """``location`` as it may be shown: a URL's password replaced by ``***``."""
    text = os.fspath(location)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _card(row: Sequence[Any]) -> Card:
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


def _attempt_row(row: Sequence[Any]) -> AttemptRow:
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
