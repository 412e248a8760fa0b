"""The durable ledger: orders, payments and attempts in SQL, on SQLite (one file) or PostgreSQL.

The SQL is written once (:class:`SQLLedger`); :class:`SQLiteLedger` runs it on a SQLite file opened with WAL,
``synchronous=FULL`` and a busy timeout, every write one ``BEGIN IMMEDIATE`` transaction;
:class:`PostgresLedger` runs it on PostgreSQL. The database itself enforces what must never happen: a second
live payment of one order (a partial unique index), a second unsettled attempt of one payment (another), and
a state change from a state the row is no longer in (every update names the state it expects). A write that
decides from what it reads reads inside its own transaction, the payment's row locked first on PostgreSQL
(SQLite's write transaction holds the whole file already).

A payment row carries the order it was made for (``order_*``, ``merchant_id``, ``payer_id``): orders of any
order book are paid, while the ``orders`` table is the ledger's own book only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._chain.capabilities import Attempt, ProviderStatus
from .._chain.hookspecs import hookimpl
from .._spi.errors import ConfigError, InvalidInput
from .._spi.models import (
    APIContext,
    ErrorCode,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    ResultError,
    recorded_amount,
)
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome, RefundStatus
from .databases import Connection, Database, SQLiteDatabase, listing_where
from .memory import (
    DEFAULT_CASHIER_URL,
    LedgerConflict,
    OrderNames,
    check_lease,
    new_order,
    new_payment_id,
    settled_record,
    signed_by,
)
from .migrations import migrate
from .notifications import FINAL_REFUND
from .orders import Order, OrderStatus
from .records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus
from .refunds import COUNTED, RefundRequest, decide_refund
from .sql_outbox import SQLOutbox
from .states import ATTEMPT_SENT, IllegalTransition, check_attempt, check_payment, check_refund, is_terminal

__all__ = ["PostgresLedger", "SQLLedger", "SQLiteLedger", "result_from_json", "result_to_json"]

_LIVE = ("processing", "succeeded", "needs_reconciliation")
_PAYMENT_COLUMNS = (
    "payment_id, trade_no, status, result, app_id, created_at, updated_at,"
    " order_currency, order_amount, merchant_id, payer_id, order_status, order_expires_at"
)
_ATTEMPT_COLUMNS = (
    "payment_id, number, provider, idempotency_key, status, kind, result, rule, decision, final, detail, duration_ms"
)

_REFUND_COLUMNS = (
    "refund_id, trade_no, payment_id, attempt_number, provider, attempt_key, currency, amount, merchant_id,"
    " request_id, reason, status, outcome, answer_reason, answer_message, created_at, updated_at"
)
_COUNTED = tuple(sorted(s.value for s in COUNTED))


def _refund(row: tuple[Any, ...]) -> Refund:
    refund_id, trade_no, payment_id, number, provider, key, currency, amount, merchant, request_id = row[:10]
    reason, status, outcome, answer_reason, answer_message, created_at, updated_at = row[10:]
    answer = RefundAnswer(RefundOutcome(outcome), answer_reason, answer_message or "") if outcome else None
    return Refund(
        refund_id,
        trade_no,
        payment_id,
        Attempt(payment_id, number, provider, key),
        recorded_amount(currency, str(amount)),
        request_id,
        merchant,
        reason,
        RefundStatus(status),
        answer,
        created_at,
        updated_at,
    )


def result_to_json(result: PaymentResult | None) -> str | None:
    """A result as stored: the SDK's JSON spelling."""
    return None if result is None else json.dumps(result.to_dict(), sort_keys=True)


def result_from_json(text: str | None) -> PaymentResult | None:
    """The stored result back as a :class:`PaymentResult`."""
    if text is None:
        return None
    data = json.loads(text)
    error = data.get("resultError")
    return PaymentResult(
        data["resultCode"],
        data.get("resultMessage", ""),
        ResultError(ErrorCode(error["errorCode"]), error["errorDesc"]) if error else None,
        data.get("extendedInfo", {}),
    )


class SQLLedger(SQLOutbox, OrderNames):
    """The ledger on a SQL :class:`~tradepay._ledger.databases.Database`, migrated to the latest schema on open.
    Thread-safe and safe across processes (the database serialises what must be serialised)."""

    def __init__(
        self,
        database: Database,
        *,
        cashier_url: str = DEFAULT_CASHIER_URL,
        merchant_secrets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cashier_url, merchant_secrets)
        self.database = database
        self._clock = clock
        # Appended to a SELECT whose rows the transaction decides by: PostgreSQL locks them until it ends.
        self._for_update = " FOR UPDATE" if database.kind == "postgresql" else ""
        migrate(database, where="ledger.url")

    def _read(self) -> Any:
        return self.database.read()

    def _write(self) -> Any:
        return self.database.write()

    def close(self) -> None:
        self.database.close()

    # --- orders ---------------------------------------------------------------------------------------------

    def create_order(
        self,
        amount: PaymentAmount,
        *,
        merchant_id: str,
        payer_id: str,
        trade_no: str | None = None,
        expires_at: float | None = None,
    ) -> Order:
        order = new_order(amount, merchant_id, payer_id, trade_no, expires_at)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
                    (order.trade_no, amount.currency, amount.value, merchant_id, payer_id, expires_at, self._clock()),
                )
        except self.database.integrity_errors:
            raise InvalidInput("trade_no", f"{order.trade_no!r} already exists") from None
        return order

    def get_order(self, trade_no: str) -> Order | None:
        with self._read() as db:
            row = db.execute(
                "SELECT trade_no, currency, amount, merchant_id, payer_id, status, expires_at FROM orders"
                " WHERE trade_no = ?",
                (trade_no,),
            ).fetchone()
        if row is None:
            return None
        trade, currency, amount, merchant, payer, status, expires = row
        return Order(trade, recorded_amount(currency, amount), merchant, payer, OrderStatus(status), expires)

    def close_order(self, trade_no: str) -> Order:
        with self._write() as db:
            row = db.execute("SELECT status FROM orders WHERE trade_no = ?", (trade_no,)).fetchone()
            if row is None:
                raise InvalidInput("trade_no", f"no order {trade_no!r}")
            if row[0] == OrderStatus.PAID:
                raise InvalidInput("trade_no", f"order {trade_no!r} is paid and cannot be closed")
            live = db.execute(
                "SELECT status FROM payments WHERE trade_no = ? AND status IN (?, ?, ?)", (trade_no, *_LIVE)
            ).fetchone()
            if live is not None:
                raise InvalidInput("trade_no", f"order {trade_no!r} has a payment {live[0]}")
            db.execute("UPDATE orders SET status = 'closed' WHERE trade_no = ?", (trade_no,))
        order = self.get_order(trade_no)
        assert order is not None
        return order

    @hookimpl
    def resolve_order(self, payment_request: PaymentRequest, api_context: APIContext) -> Order | None:
        trade_no, signer = self._named_trade_no(payment_request)
        if trade_no is None:
            with self._read() as db:
                row = db.execute(
                    "SELECT trade_no FROM payments WHERE payment_id = ?", (payment_request.payment_string,)
                ).fetchone()
            trade_no = row[0] if row else None
        return signed_by(self.get_order(trade_no) if trade_no else None, signer)

    # --- payments and attempts ------------------------------------------------------------------------------

    def _payment(self, db: Connection, row: tuple[Any, ...]) -> Payment:
        payment_id, trade_no, status, result, app_id, created_at, updated_at = row[:7]
        currency, amount, merchant, payer, order_status, expires = row[7:]
        order = Order(trade_no, PaymentAmount(currency, amount), merchant, payer, OrderStatus(order_status), expires)
        records: list[AttemptRecord] = []
        pending: Attempt | None = None
        for a in db.execute(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE payment_id = ? ORDER BY number", (payment_id,)
        ).fetchall():
            attempt = Attempt(a[0], a[1], a[2], a[3])
            if a[4] == ATTEMPT_SENT:
                pending = attempt
                continue
            records.append(
                AttemptRecord(
                    attempt,
                    OutcomeKind(a[5]),
                    result_from_json(a[6]),
                    a[7],
                    Decision(a[8]),
                    Decision(a[9]),
                    a[10],
                    a[11],
                    ProviderStatus(a[4]),
                )
            )
        return Payment(
            payment_id,
            trade_no,
            PaymentStatus(status),
            result_from_json(result),
            tuple(records),
            app_id,
            created_at,
            updated_at,
            pending,
            order,
        )

    def get_payment(self, payment_id: str) -> Payment | None:
        with self._read() as db:
            row = db.execute(f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?", (payment_id,)).fetchone()
            return self._payment(db, row) if row else None

    def payments(
        self, *, status: PaymentStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Payment]:
        where, params = listing_where(status, trade_no)
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments {where} ORDER BY created_at DESC, payment_id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [self._payment(db, row) for row in rows]

    def _live_payment(self, db: Connection, trade_no: str) -> Payment | None:
        row = db.execute(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE trade_no = ? AND status IN (?, ?, ?)", (trade_no, *_LIVE)
        ).fetchone()
        return self._payment(db, row) if row is not None else None

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        try:
            with self._write() as db:
                live = self._live_payment(db, order.trade_no)
                if live is not None:
                    return live, False
                now = self._clock()
                payment = Payment(
                    new_payment_id(), order.trade_no, PaymentStatus.PROCESSING, None, (), app_id, now, now, None, order
                )
                db.execute(
                    f"INSERT INTO payments ({_PAYMENT_COLUMNS})"
                    " VALUES (?, ?, 'processing', NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        payment.payment_id,
                        order.trade_no,
                        app_id,
                        now,
                        now,
                        order.amount.currency,
                        order.amount.value,
                        order.merchant_id,
                        order.payer_id,
                        order.status.value,
                        order.expires_at,
                    ),
                )
                return payment, True
        except self.database.integrity_errors:
            # Another process inserted the order's payment between our read and our insert (PostgreSQL; SQLite's
            # write lock rules this out): the unique index said no, so theirs is the one.
            with self._read() as db:
                live = self._live_payment(db, order.trade_no)
            if live is None:
                raise
            return live, False

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        with self._write() as db:
            row = db.execute(
                "SELECT status, (SELECT count(*) FROM attempts WHERE payment_id = ?)"
                " FROM payments WHERE payment_id = ?",
                (payment_id, payment_id),
            ).fetchone()
            if row is None or row[0] != PaymentStatus.PROCESSING:
                raise LedgerConflict(f"payment {payment_id} is {row[0] if row else 'unknown'}: no new attempt")
            number = row[1] + 1
            attempt = Attempt(payment_id, number, provider, f"{payment_id}-{number}")
            now = self._clock()
            try:
                db.execute(
                    "INSERT INTO attempts (payment_id, number, provider, idempotency_key, status, sent_at)"
                    " VALUES (?, ?, ?, ?, 'sent', ?)",
                    (payment_id, number, provider, attempt.idempotency_key, now),
                )
            except self.database.integrity_errors:
                raise LedgerConflict(f"payment {payment_id} has an unsettled attempt: no new attempt") from None
            db.execute("UPDATE payments SET updated_at = ? WHERE payment_id = ?", (now, payment_id))
        return attempt

    def _write_record(self, db: Connection, record: AttemptRecord, expected: str) -> None:
        a = record.attempt
        updated = db.execute(
            "UPDATE attempts SET status = ?, kind = ?, result = ?, rule = ?, decision = ?, final = ?, detail = ?,"
            " duration_ms = ?, finished_at = ? WHERE payment_id = ? AND number = ? AND status = ?",
            (
                record.status.value,
                record.kind.value,
                result_to_json(record.result),
                record.rule,
                record.decision.value,
                record.final.value,
                record.detail,
                record.duration_ms,
                self._clock(),
                a.payment_id,
                a.number,
                expected,
            ),
        ).rowcount
        if updated != 1:
            raise LedgerConflict(f"attempt {a.idempotency_key} is not {expected}")
        db.execute("UPDATE payments SET updated_at = ? WHERE payment_id = ?", (self._clock(), a.payment_id))

    def finish_attempt(self, record: AttemptRecord) -> None:
        check_attempt(ATTEMPT_SENT, record.status)
        with self._write() as db:
            self._write_record(db, record, ATTEMPT_SENT)

    def _locked_payment(self, db: Connection, payment_id: str) -> tuple[Any, ...] | None:
        """The payment's row, read inside the write transaction ``db``, locked until it ends."""
        row: tuple[Any, ...] | None = db.execute(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?{self._for_update}", (payment_id,)
        ).fetchone()
        return row

    def _end(
        self,
        db: Connection,
        payment_id: str,
        status: PaymentStatus,
        result: PaymentResult,
        allowed_from: tuple[PaymentStatus, ...],
    ) -> Payment:
        row = self._locked_payment(db, payment_id)
        if row is None:
            raise LedgerConflict(f"no payment {payment_id}")
        old = PaymentStatus(row[2])
        if old not in allowed_from:
            raise IllegalTransition("a payment", old.value, status.value)
        check_payment(old, status)
        stored, now = result_to_json(result), self._clock()
        changed = db.execute(
            "UPDATE payments SET status = ?, result = ?, updated_at = ? WHERE payment_id = ? AND status = ?",
            (status.value, stored, now, payment_id, old.value),
        ).rowcount
        if changed != 1:  # another process moved it since we read it
            raise IllegalTransition("a payment", old.value, status.value)
        # The row as just written (this transaction holds it): no second read of the payment.
        payment = self._payment(db, (*row[:2], status.value, stored, *row[4:6], now, *row[7:]))
        if is_terminal(status):  # in this transaction: the event exists if and only if the state change does
            self._payment_event(db, payment)
        if status is PaymentStatus.SUCCEEDED:
            db.execute("UPDATE orders SET status = 'paid' WHERE trade_no = ?", (row[1],))
        return payment

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        with self._write() as db:
            return self._end(db, payment_id, status, result, (PaymentStatus.PROCESSING,))

    # --- reconciliation -------------------------------------------------------------------------------------

    def unsettled(self, *, updated_before: float) -> list[Payment]:
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status = 'needs_reconciliation'"
                " OR (status = 'processing' AND updated_at < ?) ORDER BY created_at",
                (updated_before,),
            ).fetchall()
            return [self._payment(db, row) for row in rows]

    def claim_settlement(self, payment_id: str, lease_s: float) -> float | None:
        lease_s = check_lease(lease_s)
        with self._write() as db:
            now = self._clock()
            claim = now + lease_s
            # One conditional update: of claims racing on PostgreSQL, the others wait for the row and find it held.
            claimed = db.execute(
                "UPDATE payments SET settling_until = ? WHERE payment_id = ?"
                " AND status IN ('processing', 'needs_reconciliation')"
                " AND (settling_until IS NULL OR settling_until <= ?)",
                (claim, payment_id, now),
            ).rowcount
        return claim if claimed == 1 else None

    def release_settlement(self, payment_id: str, claim: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE payments SET settling_until = NULL WHERE payment_id = ? AND settling_until = ?",
                (payment_id, claim),
            )

    def settle_attempt(self, attempt: Attempt, status: ProviderStatus, detail: str) -> None:
        with self._write() as db:
            row = self._locked_payment(db, attempt.payment_id)
            if row is None:
                raise LedgerConflict(f"no payment {attempt.payment_id}")
            payment = self._payment(db, row)
            existing = next((r for r in payment.attempts if r.attempt == attempt), None)
            if existing is None and payment.pending != attempt:
                raise LedgerConflict(f"no attempt {attempt.idempotency_key}")
            if existing is not None and existing.status is status:  # settled so already (by another reconciliation)
                return
            record = settled_record(attempt, existing, status, detail)
            self._write_record(db, record, existing.status.value if existing else ATTEMPT_SENT)

    def settle_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        with self._write() as db:
            return self._end(
                db, payment_id, status, result, (PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION)
            )

    # --- refunds --------------------------------------------------------------------------------------------

    def begin_refund(self, request: RefundRequest) -> tuple[Refund, bool]:
        try:
            return self._begin_refund(request)
        except self.database.integrity_errors:
            # Another process recorded the merchant's request id meanwhile, for another order (one order's
            # requests are serialised by its payment's lock): decided again, it is that refund's repeat.
            return self._begin_refund(request)

    def _begin_refund(self, request: RefundRequest) -> tuple[Refund, bool]:
        with self._write() as db:
            # The order's succeeded payment, locked (PostgreSQL) until the refund is recorded: refunds of one
            # order are decided one at a time, each seeing what the ones before it took.
            row = db.execute(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments"
                f" WHERE trade_no = ? AND status = 'succeeded'{self._for_update}",
                (request.trade_no,),
            ).fetchone()
            payment = self._payment(db, row) if row is not None else None
            existing: Refund | None = None
            counted = 0
            if payment is not None and payment.order is not None:
                found = db.execute(
                    f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE merchant_id = ? AND request_id = ?",
                    (payment.order.merchant_id, request.request_id),
                ).fetchone()
                existing = _refund(found) if found is not None else None
                (counted,) = db.execute(
                    "SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = ? AND status IN (?, ?, ?)",
                    (payment.payment_id, *_COUNTED),
                ).fetchone()
            refund, created = decide_refund(payment, request, existing, int(counted), self._clock())
            if created:
                a = refund.attempt
                db.execute(
                    f"INSERT INTO refunds ({_REFUND_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'processing', NULL, NULL, NULL, ?, ?)",
                    (
                        refund.refund_id,
                        refund.trade_no,
                        refund.payment_id,
                        a.number,
                        a.provider,
                        a.idempotency_key,
                        refund.amount.currency,
                        refund.amount.minor_units,
                        refund.merchant_id,
                        refund.request_id,
                        refund.reason,
                        refund.created_at,
                        refund.updated_at,
                    ),
                )
            return refund, created

    def _end_refund(
        self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None, allowed_from: tuple[RefundStatus, ...]
    ) -> Refund:
        with self._write() as db:
            row = db.execute(
                f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE refund_id = ?{self._for_update}", (refund_id,)
            ).fetchone()
            if row is None:
                raise LedgerConflict(f"no refund {refund_id}")
            refund = _refund(row)
            if refund.status not in allowed_from:
                raise IllegalTransition("a refund", refund.status.value, status.value)
            check_refund(refund.status, status)
            answer = answer or refund.answer
            now = self._clock()
            changed = db.execute(
                "UPDATE refunds SET status = ?, outcome = ?, answer_reason = ?, answer_message = ?, updated_at = ?"
                " WHERE refund_id = ? AND status = ?",
                (
                    status.value,
                    answer.outcome.value if answer else None,
                    answer.reason if answer else None,
                    answer.message if answer else None,
                    now,
                    refund_id,
                    refund.status.value,
                ),
            ).rowcount
            if changed != 1:  # another process moved it since we read it (SQLite's lock rules this out)
                raise IllegalTransition("a refund", refund.status.value, status.value)
            ended = replace(refund, status=status, answer=answer, updated_at=now)
            if status in FINAL_REFUND:  # in this transaction: the event exists if and only if the change does
                self._refund_event(db, ended)
        return ended

    def finish_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        return self._end_refund(refund_id, status, answer, (RefundStatus.PROCESSING,))

    def settle_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        return self._end_refund(refund_id, status, answer, (RefundStatus.PROCESSING, RefundStatus.NEEDS_RECONCILIATION))

    def _select_refunds(self, where: str, params: tuple[Any, ...], tail: str = "") -> list[Refund]:
        with self._read() as db:
            rows = db.execute(f"SELECT {_REFUND_COLUMNS} FROM refunds {where} {tail}", params).fetchall()
        return [_refund(row) for row in rows]

    def get_refund(self, refund_id: str) -> Refund | None:
        found = self._select_refunds("WHERE refund_id = ?", (refund_id,))
        return found[0] if found else None

    def find_refund(self, merchant_id: str, request_id: str) -> Refund | None:
        found = self._select_refunds("WHERE merchant_id = ? AND request_id = ?", (merchant_id, request_id))
        return found[0] if found else None

    def refunds(
        self, *, status: RefundStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Refund]:
        where, params = listing_where(status, trade_no)
        return self._select_refunds(where, (*params, limit), "ORDER BY created_at DESC, refund_id DESC LIMIT ?")

    def unsettled_refunds(self, *, updated_before: float) -> list[Refund]:
        return self._select_refunds(
            "WHERE status = 'needs_reconciliation' OR (status = 'processing' AND updated_at < ?)",
            (updated_before,),
            "ORDER BY created_at",
        )


class SQLiteLedger(SQLLedger):
    """The ledger in the SQLite file at ``path`` (created and migrated as needed)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cashier_url: str = DEFAULT_CASHIER_URL,
        merchant_secrets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        OrderNames.__init__(self, cashier_url, merchant_secrets)  # checked before the file is made
        if not isinstance(path, str | os.PathLike) or not os.fspath(path) or "\x00" in str(path):
            raise ConfigError(
                "ledger.url", f"the SQLite ledger's path must be a non-empty path, got {type(path).__name__}"
            )
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError("ledger.url", f"the SQLite ledger's path {str(self.path)[:80]!r} is a folder, not a file")
        self.sqlite = SQLiteDatabase(self.path)
        super().__init__(self.sqlite, cashier_url=cashier_url, merchant_secrets=merchant_secrets, clock=clock)

    def _connection(self) -> Any:
        """This process's SQLite connection (for tests and tools that read the file directly)."""
        return self.sqlite.connection()


class PostgresLedger(SQLLedger):
    """The ledger in PostgreSQL at ``url`` (``postgresql://...``; the ``schema`` query parameter names the
    schema, ``tradepay`` by default), created and migrated as needed. Needs ``tradepay[postgres]``."""

    def __init__(
        self,
        url: str,
        *,
        cashier_url: str = DEFAULT_CASHIER_URL,
        merchant_secrets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        max_connections: int = 10,
    ) -> None:
        from .postgres import PostgresDatabase

        OrderNames.__init__(self, cashier_url, merchant_secrets)  # checked before anything is connected
        if not isinstance(url, str) or not url.startswith("postgresql://"):
            raise ConfigError("ledger.url", 'must be a "postgresql://..." URL')
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or not 1 <= max_connections <= 1000
        ):
            raise ConfigError("max_connections", "must be an integer between 1 and 1000")
        self.postgres = PostgresDatabase(url, max_connections=max_connections)
        super().__init__(self.postgres, cashier_url=cashier_url, merchant_secrets=merchant_secrets, clock=clock)
