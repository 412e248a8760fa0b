"""A provider's own database: opened and migrated at start-up, one write transaction per decision.

:class:`ProviderStore` opens ``location`` with :func:`tradepay.open_database` (a SQLite file, or a schema of a
PostgreSQL database), brings it up to date with the provider's migrations (:func:`tradepay.migrate`), and
turns a location it cannot use into a :class:`ConfigError` naming the provider's ``database`` key, with a
URL's password hidden. Connections never cross ``fork()`` (the core's databases reopen in the child), and
after :meth:`ProviderStore.close` the next use opens the database again.

Every decision runs in :meth:`ProviderStore.write`: one write transaction (SQLite's ``BEGIN IMMEDIATE`` holds
the file's write lock; PostgreSQL, READ COMMITTED, locks the rows read with :attr:`StoreTransaction.for_update`),
run once more from the start if a unique key refused an insert. Only PostgreSQL gets there: another process
recorded a key this transaction found missing, and committed it before the violation was raised. Rows of keys
are never deleted, so the second run finds the key and answers from it; any other integrity error fails the
second run too, and is raised from it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from .._chain.capabilities import Attempt
from .._ledger.databases import Connection, Database, open_database
from .._ledger.migrations import Migration, migrate
from .._ledger.orders import Order
from .._spi.echo import echo_value
from .._spi.errors import ConfigError, InvalidInput
from .._spi.fields import check_instance, check_moment
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome
from .attempts import AttemptKeys, AttemptRow, AttemptStatus, AttemptTable
from .locations import database_errors, shown_location
from .refund_keys import (
    RefundCharge,
    RefundKeys,
    RefundKeyStatus,
    RefundRow,
    judge_refund,
    refund_key_problem,
    replay_refund,
)

__all__ = ["ProviderStore", "StoreTransaction"]

T = TypeVar("T")


class StoreTransaction:
    """One write transaction of a :class:`ProviderStore`: its connection, its time, its row locks, and the kit's
    ``attempts`` and ``refunds`` tables in it. Providers subclass it to add their own reads and writes."""

    def __init__(self, conn: Connection, now: float, kind: str, table: AttemptTable) -> None:
        if kind not in ("sqlite", "postgresql"):
            raise InvalidInput("kind", f"must be sqlite or postgresql, got {echo_value(kind)}")
        self.conn, self.now, self.kind = conn, check_moment(now, "now"), kind
        #: The suffix of a ``SELECT`` that locks its rows until the transaction ends (PostgreSQL); empty on
        #: SQLite, which has no row locks and needs none.
        self.for_update = " FOR UPDATE" if kind == "postgresql" else ""
        #: The same, for rows only read: a writer of them waits, readers do not.
        self.for_share = " FOR SHARE" if kind == "postgresql" else ""
        self.attempts = AttemptKeys(conn, now, table, self.for_update)
        self.refunds = RefundKeys(conn, now)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders) in this transaction."""
        return self.conn.execute(sql, params)

    def refund(
        self,
        attempt: Attempt,
        refund: Refund,
        paid: AttemptRow | None,
        *,
        not_charged: str,
        give_back: Callable[[AttemptRow], RefundAnswer],
        provider_check: Callable[[], RefundAnswer | None] | None = None,
    ) -> RefundAnswer:
        """Answer ``refund`` of ``attempt``'s key, whose row is ``paid`` (read, and locked, by the caller), in the
        refund rules' order of checks (:mod:`tradepay`'s ``judge_refund``): a refund key seen before gets its
        first answer; a refusal is recorded and returned; otherwise ``give_back(paid)`` moves the money back and
        returns the success, which is recorded last (if another writer recorded the refund key meanwhile, that
        insert fails and the money moved back is rolled back with it). ``not_charged`` and ``provider_check``
        are :func:`tradepay.judge_refund`'s."""
        known = self.refunds.find(refund.idempotency_key)
        if known is not None:
            return replay_refund(known, attempt, refund)
        charge = None
        if paid is not None and paid.status in (AttemptStatus.PAID, AttemptStatus.REVERSED):
            given = self.refunds.refunded(attempt.idempotency_key)
            charge = RefundCharge(paid.currency, paid.amount, given, paid.status is AttemptStatus.REVERSED)
        refusal = judge_refund(charge, refund, not_charged=not_charged, provider_check=provider_check)
        if refusal is not None:
            self.refunds.record(attempt, refund, RefundKeyStatus.FAILED, refusal)
            return refusal
        assert paid is not None  # judge_refund refuses a key that took nothing
        answer = give_back(paid)
        self.refunds.record(attempt, refund, RefundKeyStatus.SUCCEEDED, answer)
        return answer


Tx = TypeVar("Tx", bound=StoreTransaction)


class ProviderStore(Generic[Tx]):
    """The provider's database at ``location`` (a ``postgresql://`` URL, ``sqlite:///PATH`` or a path), its
    tables in ``schema`` on PostgreSQL unless the URL's ``schema`` parameter names another, brought up to date
    with ``migrations``; a relative path is relative to ``base`` (default: the working directory; the kit's
    settings resolve it against the host's ``data_dir`` already). ``where`` is the configuration key that every
    :class:`ConfigError` names. Write
    transactions are ``transaction`` objects (a subclass of :class:`StoreTransaction`; a plain one when left
    out) over an ``attempts`` table spelt as ``attempts`` says, at ``clock``'s time. Safe to share between
    threads and processes."""

    @overload
    def __init__(
        self: ProviderStore[StoreTransaction],
        location: str | os.PathLike[str],
        *,
        schema: str,
        migrations: Sequence[Migration],
        where: str,
        transaction: None = None,
        attempts: AttemptTable | None = None,
        clock: Callable[[], float] = time.time,
        base: Path | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        schema: str,
        migrations: Sequence[Migration],
        where: str,
        transaction: Callable[[Connection, float, str, AttemptTable], Tx],
        attempts: AttemptTable | None = None,
        clock: Callable[[], float] = time.time,
        base: Path | None = None,
    ) -> None: ...

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        schema: str,
        migrations: Sequence[Migration],
        where: str,
        transaction: Callable[[Connection, float, str, AttemptTable], Tx] | None = None,
        attempts: AttemptTable | None = None,
        clock: Callable[[], float] = time.time,
        base: Path | None = None,
    ) -> None:
        _check_store(location, schema, migrations, where, transaction, attempts, clock, base)
        self.location, self.where, self.clock, self._base = location, where, clock, base
        self._schema, self._migrations = schema, tuple(migrations)
        # A store whose transactions add nothing (no ``transaction``) writes in plain StoreTransactions.
        self._transaction: Callable[[Connection, float, str, AttemptTable], Any] = transaction or StoreTransaction
        self._attempts = attempts or AttemptTable()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db: Database | None = None
        self._db = self.database  # a location that cannot be used fails at start-up, not at the first payment

    @property
    def database(self) -> Database:
        """The open database (``.kind`` is ``sqlite`` or ``postgresql``), opened again after :meth:`close`."""
        if self._pid != os.getpid():
            # A fork() child: the database reconnects itself here; a lock a parent thread held at the fork would
            # never be released in this process.
            self._lock, self._pid = threading.Lock(), os.getpid()
        with self._lock:
            if self._db is None:
                self._db = self._open()
            return self._db

    @property
    def kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database.kind

    @property
    def integrity_errors(self) -> tuple[type[Exception], ...]:
        """The exceptions a refused unique or primary key raises."""
        return self.database.integrity_errors

    def close(self) -> None:
        """Close the database's connections; the next use opens it again. Closing twice is harmless."""
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads."""
        with self.database.read() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        database = self.database
        with database.write() as conn:
            yield self._transaction(conn, self.clock(), database.kind, self._attempts)

    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """What became of ``refund``'s key: ``SUCCEEDED`` if its money went back, else ``FAILED``. A refund key
        never seen is voided first, so that no later refund can use it; a key that cannot be recorded
        (:func:`tradepay.refund_key_problem`) is ``FAILED``: a refund refuses it, so it never moved money."""
        if refund_key_problem(attempt, refund):
            return RefundOutcome.FAILED
        return self.write(lambda tx: tx.refunds.inquire(attempt, refund))

    def refunds(self, payment_key: str | None = None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first."""
        with self.read() as conn:
            return RefundKeys(conn, self.clock()).of_payment(payment_key)

    # --- the payment and refund decisions every provider shares; a subclass fills in its money --------------

    #: The message of a refund of a payment key that took no money here (:func:`tradepay.judge_refund`'s
    #: ``not_charged``).
    not_charged: str = "this payment key took no money here"

    def inquire(self, order: Order, attempt: Attempt) -> AttemptRow | None:
        """The row of ``attempt``'s key, locked while it is read, or ``None`` for a key never seen, which gets a
        ``voided`` tombstone (with :meth:`tombstone`'s columns) first: a ``pay`` still on its way then moves
        nothing."""
        return self.write(lambda tx: tx.attempts.status_or_void(attempt, order, lock=True, **self.tombstone(attempt)))

    def reverse(self, order: Order, attempt: Attempt) -> tuple[AttemptRow | None, int | None]:
        """Cancel ``attempt``'s key, in one transaction: a ``paid`` key is locked (:meth:`lock_payment`), moved to
        ``reversed`` and :meth:`give_back` returns what it still holds (its amount, less its refunds in a store
        that refunds: one with :meth:`refund_money`), once; a key never seen gets a ``voided`` tombstone. The
        key's row as first read (``None``: never seen), and the minor units this call gave back (``None`` when it
        reversed nothing: the key was not paid, or another cancel got there first)."""
        key = attempt.idempotency_key

        def work(tx: Tx) -> tuple[AttemptRow | None, int | None]:
            row = tx.attempts.status_or_void(attempt, order, **self.tombstone(attempt))
            if row is None or row.status is not AttemptStatus.PAID:
                return row, None
            paid = self.lock_payment(tx, key)
            if paid is None or not tx.attempts.reverse(key):
                return row, None
            held = paid.amount - (tx.refunds.refunded(key) if self._refunds else 0)
            self.give_back(tx, paid, held)
            return row, held

        return self.write(work)

    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Refund ``refund.amount`` of ``attempt``'s key, at most once per refund key, in one transaction: the paid
        key is locked first (:meth:`lock_payment`), so refunds and cancels of one payment key run one after
        another, then :meth:`StoreTransaction.refund` answers in the refund rules' order of checks, with
        :meth:`refund_check` as the provider's own check and :meth:`refund_money` moving the money back."""

        def work(tx: Tx) -> RefundAnswer:
            paid = self.lock_payment(tx, attempt.idempotency_key)
            return tx.refund(
                attempt,
                refund,
                paid,
                not_charged=self.not_charged,
                give_back=lambda row: self.refund_money(tx, row, refund),
                provider_check=lambda: self.refund_check(tx, paid) if paid is not None else None,
            )

        return self.write(work)

    @property
    def _refunds(self) -> bool:
        # A store refunds when it says how (refund_money); one that does not may have no refunds table at all.
        return type(self).refund_money is not ProviderStore.refund_money

    def tombstone(self, attempt: Attempt) -> Mapping[str, Any]:
        """The provider's own columns of the ``voided`` tombstone of ``attempt``'s key (none by default)."""
        return {}

    def lock_payment(self, tx: Tx, key: str) -> AttemptRow | None:
        """The row of payment key ``key``, locked until the transaction ends, before a cancel or refund decides on
        it. A provider whose payments lock another row first (the agreement's) locks that one here, then the
        key's, so that every write takes its locks in one order."""
        return tx.attempts.find(key, lock=True)

    def give_back(self, tx: Tx, paid: AttemptRow, held: int) -> None:
        """Give back ``held`` minor units (0 or more: what refunds left) of the ``paid`` key a cancel reversed, in
        its transaction. The default gives back nothing: for money that lives elsewhere, or none."""

    def refund_money(self, tx: Tx, paid: AttemptRow, refund: Refund) -> RefundAnswer:
        """Move ``refund.amount`` back to what the ``paid`` key charged, in its transaction, and return the
        success (the refund rules passed). A store that refunds overrides this."""
        raise NotImplementedError(f"{type(self).__name__} does not refund")

    def refund_check(self, tx: Tx, paid: AttemptRow) -> RefundAnswer | None:
        """The provider's own refusal of a refund of the ``paid`` key, checked last (:func:`tradepay.judge_refund`'s
        ``provider_check``); ``None``, the default, refuses nothing."""
        return None

    def write(self, work: Callable[[Tx], T]) -> T:
        """``work`` in one write transaction; run once more, from the start, if a unique key refused an insert
        (see the module's documentation)."""
        try:
            with self.transaction() as tx:
                return work(tx)
        except self.integrity_errors:
            with self.transaction() as tx:
                return work(tx)

    def _open(self) -> Database:
        shown = shown_location(self.location)
        try:
            database = open_database(self.location, base=self._base, schema=self._schema, where=self.where)
        except ConfigError as exc:
            raise ConfigError(self.where, exc.reason) from None
        except database_errors() as exc:
            raise ConfigError(self.where, f"cannot use {shown}: {' '.join(str(exc).split())}") from exc
        try:
            migrate(database, self._migrations, where=self.where)
        except BaseException as exc:
            database.close()
            if isinstance(exc, database_errors()):
                raise ConfigError(self.where, f"cannot use {shown}: {' '.join(str(exc).split())}") from exc
            raise
        return database


def _check_store(
    location: object,
    schema: object,
    migrations: object,
    where: object,
    transaction: object,
    attempts: object,
    clock: object,
    base: object,
) -> None:
    """Refuse :class:`ProviderStore`'s arguments that are not what it documents, before anything is opened."""
    text = os.fspath(location) if isinstance(location, str | os.PathLike) else None
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise InvalidInput("location", "must be a non-empty path or postgresql:// URL")
    check_instance(schema, str, "schema")
    check_instance(where, str, "where")
    check_instance(attempts, AttemptTable, "attempts", optional=True)
    check_instance(base, Path, "base", optional=True)
    if not isinstance(migrations, Sequence) or isinstance(migrations, str):
        raise InvalidInput("migrations", "must be a sequence of SQL scripts")
    for script in migrations:
        if not isinstance(script, str | Mapping) or (
            isinstance(script, Mapping) and not all(isinstance(v, str) for v in script.values())
        ):
            raise InvalidInput("migrations", "each must be a SQL script, or a mapping of database kind to one")
    for name, value in (("transaction", transaction or StoreTransaction), ("clock", clock)):
        if not callable(value):
            raise InvalidInput(name, f"must be callable, got {type(value).__name__}")
