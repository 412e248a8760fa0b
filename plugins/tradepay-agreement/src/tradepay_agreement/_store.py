"""Agreements and the attempts debited under them, in one SQLite file that every host process may share.

Every write, and every check that a write depends on, runs in one ``BEGIN IMMEDIATE`` transaction: the
write lock is taken before the first read, so two processes can never both see room under a limit.

Two things are derived rather than stored, so they cannot drift from the rows they summarise:

* an agreement's usage (amount and count used) is the sum of its attempts whose status is ``debited``, so
  reversing an attempt gives its amount and its count back exactly once;
* ``expired`` is computed at read time from ``expires_at`` and the store's clock: a pending or active
  agreement whose ``expires_at`` has passed reads as expired, and no process has to write that.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog

from tradepay import (
    InvalidInput,
    Order,
    PaymentAmount,
    PaymentResult,
    ProviderStatus,
    ResultCode,
    TradePayError,
    immediate_transaction,
    open_sqlite,
)

from ._answers import Reason, decline, from_row, paid, to_row
from ._settings import MAX_LIMIT

__all__ = [
    "MAX_EXPIRES_IN",
    "SCHEMA_VERSION",
    "SCOPE",
    "Agreement",
    "AgreementError",
    "AgreementNotFound",
    "AgreementStatus",
    "AgreementStore",
]

SCOPE: Final = "AGREEMENT_PAY"
SCHEMA_VERSION: Final = 1
#: The longest an agreement may run before it expires: 100 years, in seconds.
MAX_EXPIRES_IN: Final = 100 * 365 * 24 * 3600
_MAX_KEY = 256

_log = structlog.get_logger("tradepay_agreement")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS agreements (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        agreement_id TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        currency TEXT NOT NULL,
        per_payment_limit INTEGER CHECK (per_payment_limit > 0),
        cumulative_limit INTEGER CHECK (cumulative_limit > 0),
        count_limit INTEGER CHECK (count_limit > 0),
        access_token TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
        signed_at REAL NOT NULL,
        expires_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS agreements_by_pair ON agreements (payer_id, merchant_id, seq)",
    # One row per idempotency key: the debit itself when status is 'debited'. A 'voided' row is a tombstone
    # left by an inquiry or cancel that came first; it carries no answer.
    """CREATE TABLE IF NOT EXISTS attempts (
        idempotency_key TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('debited', 'declined', 'reversed', 'voided')),
        payer_id TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        trade_no TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        agreement_id TEXT REFERENCES agreements (agreement_id),
        result_code TEXT,
        result_message TEXT,
        error_code INTEGER,
        error_desc TEXT,
        extended_info TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    # Covers the usage sum, so a payment's limit check reads the index only.
    "CREATE INDEX IF NOT EXISTS attempts_by_agreement ON attempts (agreement_id, status, amount)",
)

_AGREEMENTS: Final = """
    SELECT a.agreement_id, a.payer_id, a.merchant_id, a.scope, a.currency, a.status, a.per_payment_limit,
           a.cumulative_limit, a.count_limit, a.access_token, a.signed_at, a.expires_at,
           COALESCE(SUM(t.amount), 0), COUNT(t.idempotency_key)
    FROM agreements a
    LEFT JOIN attempts t ON t.agreement_id = a.agreement_id AND t.status = 'debited'
"""
_BY_ID: Final = _AGREEMENTS + "WHERE a.agreement_id = ? GROUP BY a.seq"
_LATEST_OF_PAIR: Final = (
    _AGREEMENTS + "WHERE a.payer_id = ? AND a.merchant_id = ? GROUP BY a.seq ORDER BY a.seq DESC LIMIT 1"
)
_OF_PAYER: Final = _AGREEMENTS + "WHERE a.payer_id = ? GROUP BY a.seq ORDER BY a.seq"
_ALL: Final = _AGREEMENTS + "GROUP BY a.seq ORDER BY a.seq"


class AgreementStatus(enum.StrEnum):
    """Where an agreement is in its life: sign -> pending -> active; revoked and expired are final."""

    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


_LIVE: Final = frozenset({AgreementStatus.PENDING, AgreementStatus.ACTIVE})
# event -> (the statuses it may leave, the status it reaches)
_TRANSITIONS: Final = {
    "activate": (frozenset({AgreementStatus.PENDING}), AgreementStatus.ACTIVE),
    "revoke": (_LIVE, AgreementStatus.REVOKED),
}


class AgreementError(TradePayError):
    """An agreement operation that its current state does not allow; nothing was changed."""


class AgreementNotFound(AgreementError):
    """No agreement has the given id."""

    def __init__(self, agreement_id: str) -> None:
        self.agreement_id = agreement_id
        super().__init__(f"no agreement {agreement_id!r}")


@dataclass(frozen=True, slots=True)
class Agreement:
    """An agreement as read at one moment: ``status`` is already ``expired`` if its expiry has passed.

    Limits are ``None`` when the agreement has none; amounts are in minor units of ``currency``. The
    ``access_token`` never appears in ``repr``; show :attr:`token_last4` instead.
    """

    agreement_id: str
    payer_id: str
    merchant_id: str
    scope: str
    currency: str
    status: AgreementStatus
    per_payment_limit: int | None
    cumulative_limit: int | None
    count_limit: int | None
    access_token: str = dataclasses.field(repr=False)
    signed_at: float
    expires_at: float | None
    used_amount: int
    used_count: int

    @property
    def token_last4(self) -> str:
        """The last four characters of the access token: all of it that may be shown."""
        return self.access_token[-4:]


def _agreement(row: tuple[Any, ...], now: float) -> Agreement:
    """The agreement in ``row`` (a :data:`_AGREEMENTS` row) as it reads at ``now``."""
    agreement = Agreement(*row)  # the columns of _AGREEMENTS are the fields of Agreement, in order
    status = AgreementStatus(agreement.status)
    if status in _LIVE and agreement.expires_at is not None and now >= agreement.expires_at:
        status = AgreementStatus.EXPIRED
    return dataclasses.replace(agreement, status=status)


def _check_limit(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(name, f"must be a whole number from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def _check_expires_in(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_EXPIRES_IN
    ):
        raise InvalidInput("expires_in", f"must be a number of seconds from 1 to {MAX_EXPIRES_IN}, got {value!r}")
    return float(value)


def _key_problem(key: object) -> str | None:
    """Why ``key`` cannot be an idempotency key, or ``None``. No money ever moves under such a key."""
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY or "\x00" in key:
        return f"idempotency key must be a string of 1 to {_MAX_KEY} characters"
    return None


def _money(currency: str, minor_units: int) -> str:
    return str(PaymentAmount(currency, str(minor_units)))


class AgreementStore:
    """The agreement state in the SQLite file at ``path``, read with ``clock`` (seconds since the epoch).

    One instance holds one connection, serialised by a lock, so it may be shared by the host's threads;
    every process opens its own.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = open_sqlite(path)
        try:
            with self._write() as conn:
                self._create_schema(conn)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate_transaction(self._conn) as conn:
            yield conn

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"agreement database schema {version} is newer than this tradepay-agreement ({SCHEMA_VERSION})"
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- agreements ---------------------------------------------------------------------------------------

    def sign(
        self,
        payer_id: str,
        merchant_id: str,
        currency: str,
        *,
        per_payment_limit: int | None = None,
        cumulative_limit: int | None = None,
        count_limit: int | None = None,
        expires_in: float | None = None,
    ) -> Agreement:
        """Sign a new ``pending`` agreement of ``payer_id`` with ``merchant_id`` and return it (with its token).

        Raises :class:`tradepay.InvalidInput` naming the bad argument, or :class:`AgreementError` when the pair
        already has a pending or active agreement (revoke it first). Nothing is stored when it raises.
        """
        try:
            probe = PaymentAmount(currency, "1")
        except InvalidInput as exc:
            raise InvalidInput("currency", exc.reason) from None
        # Party ids follow the core's one rule (in Order): an agreement whose ids no order can carry is useless.
        Order("agreement-sign", probe, merchant_id, payer_id)
        limits = (
            _check_limit("per_payment_limit", per_payment_limit),
            _check_limit("cumulative_limit", cumulative_limit),
            _check_limit("count_limit", count_limit),
        )
        lifetime = _check_expires_in(expires_in)
        agreement_id = "agr_" + secrets.token_hex(8)
        with self._write() as conn:
            now = self._clock()
            current = self._latest_of_pair(conn, payer_id, merchant_id, now)
            if current is not None and current.status in _LIVE:
                raise AgreementError(
                    f"payer {payer_id!r} already has agreement {current.agreement_id} ({current.status}) with "
                    f"merchant {merchant_id!r}; revoke it before signing another"
                )
            conn.execute(
                "INSERT INTO agreements (agreement_id, payer_id, merchant_id, scope, currency, per_payment_limit,"
                " cumulative_limit, count_limit, access_token, status, signed_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (agreement_id, payer_id, merchant_id, SCOPE, currency, *limits, secrets.token_urlsafe(32), now,
                 now + lifetime if lifetime is not None else None),
            )  # fmt: skip
            agreement = self._by_id(conn, agreement_id, now)
        _log.info("agreement_signed", agreement_id=agreement_id, payer=payer_id, merchant=merchant_id)
        return agreement

    def activate(self, agreement_id: str) -> Agreement:
        """Move a ``pending`` agreement to ``active``; :class:`AgreementError` from any other status."""
        return self._transition(agreement_id, "activate")

    def revoke(self, agreement_id: str) -> Agreement:
        """Move a ``pending`` or ``active`` agreement to ``revoked``; :class:`AgreementError` otherwise."""
        return self._transition(agreement_id, "revoke")

    def _transition(self, agreement_id: str, event: str) -> Agreement:
        allowed, target = _TRANSITIONS[event]
        with self._write() as conn:
            agreement = self._by_id(conn, agreement_id, self._clock())
            if agreement.status not in allowed:
                raise AgreementError(
                    f"cannot {event} agreement {agreement_id}: it is {agreement.status}"
                    f" (only {' or '.join(sorted(allowed))} agreements can be)"
                )
            conn.execute("UPDATE agreements SET status = ? WHERE agreement_id = ?", (target.value, agreement_id))
        _log.info(f"agreement_{event}d", agreement_id=agreement_id, payer=agreement.payer_id)
        return dataclasses.replace(agreement, status=target)

    def get(self, agreement_id: str) -> Agreement:
        """The agreement ``agreement_id`` as it is now; :class:`AgreementNotFound` if there is none."""
        with self._lock:
            return self._by_id(self._conn, agreement_id, self._clock())

    def agreements(self, payer_id: str | None = None) -> list[Agreement]:
        """Every agreement (of ``payer_id`` if given) with its usage, oldest first."""
        with self._lock:
            rows = (
                self._conn.execute(_OF_PAYER, (payer_id,)) if payer_id is not None else self._conn.execute(_ALL)
            ).fetchall()
            now = self._clock()
        return [_agreement(row, now) for row in rows]

    @staticmethod
    def _by_id(conn: sqlite3.Connection, agreement_id: str, now: float) -> Agreement:
        row = conn.execute(_BY_ID, (agreement_id,)).fetchone()
        if row is None:
            raise AgreementNotFound(agreement_id)
        return _agreement(row, now)

    @staticmethod
    def _latest_of_pair(conn: sqlite3.Connection, payer_id: str, merchant_id: str, now: float) -> Agreement | None:
        """The pair's newest agreement: the one that decides its payments (older ones are revoked or expired)."""
        row = conn.execute(_LATEST_OF_PAIR, (payer_id, merchant_id)).fetchone()
        return _agreement(row, now) if row is not None else None

    # --- payments -----------------------------------------------------------------------------------------

    def charge(
        self,
        order: Order,
        idempotency_key: str,
        *,
        currencies: frozenset[str] | None = None,
        max_amount: int | None = None,
    ) -> PaymentResult:
        """Debit ``order`` under its payer's active agreement with its merchant, once per ``idempotency_key``.

        The key check, the limit checks and the debit are one immediate transaction. A key seen before gets
        its first answer back (or a refusal if it was voided or the order differs) and moves nothing.
        ``currencies`` and ``max_amount`` are the provider's own settings, checked before the agreement.
        """
        problem = _key_problem(idempotency_key)
        if problem is not None:
            return decline(Reason.INVALID_REQUEST, problem)
        with self._write() as conn:
            now = self._clock()
            row = conn.execute(
                "SELECT status, payer_id, merchant_id, amount, currency, result_code, result_message, error_code,"
                " error_desc, extended_info FROM attempts WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
            if row is not None:
                result, event = self._repeat(row, order)
            else:
                result, agreement_id = self._decide(conn, order, now, currencies, max_amount)
                debited = result.result_code is ResultCode.SUCCESS
                conn.execute(
                    "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
                    " agreement_id, result_code, result_message, error_code, error_desc, extended_info, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (idempotency_key, "debited" if debited else "declined", order.payer_id, order.merchant_id,
                     order.trade_no, order.amount.minor_units, order.amount.currency, agreement_id, *to_row(result),
                     now, now),
                )  # fmt: skip
                event = "payment_debited" if debited else "payment_declined"
        _log.info(
            event,
            payer=order.payer_id,
            trade_no=order.trade_no,
            idempotency_key=idempotency_key,
            amount=order.amount.minor_units,
            currency=order.amount.currency,
            reason=result.reason,
        )
        return result

    @staticmethod
    def _repeat(row: tuple[Any, ...], order: Order) -> tuple[PaymentResult, str]:
        status, payer, merchant, amount, currency, code, message, error_code, error_desc, info = row
        if status == "voided":
            return decline(Reason.ATTEMPT_VOIDED, "this attempt was voided by an inquiry or cancel"), "payment_refused"
        if status == "reversed":
            # Replaying the first 9000 would report money that was given back by a cancel.
            return decline(Reason.ATTEMPT_REVERSED, "this key's payment was reversed by a cancel"), "payment_refused"
        if (payer, merchant, amount, currency) != (
            order.payer_id,
            order.merchant_id,
            order.amount.minor_units,
            order.amount.currency,
        ):
            desc = "this idempotency key was used for a different payer, merchant, amount or currency"
            return decline(Reason.REPEAT_REQ_INCONSISTENT, desc), "payment_refused"
        return from_row(code, message, error_code, error_desc, info), "payment_repeated"

    def _decide(
        self,
        conn: sqlite3.Connection,
        order: Order,
        now: float,
        currencies: frozenset[str] | None,
        max_amount: int | None,
    ) -> tuple[PaymentResult, str | None]:
        """The answer to a new payment and the agreement it was judged by; called inside the transaction."""
        amount, currency = order.amount.minor_units, order.amount.currency
        if currencies is not None and currency not in currencies:
            return decline(Reason.CURRENCY_NOT_SUPPORTED, f"this provider does not pay in {currency}"), None
        if max_amount is not None and amount > max_amount:
            desc = f"{order.amount} is over this provider's maximum {_money(currency, max_amount)}"
            return decline(Reason.PAYMENT_AMOUNT_EXCEED_LIMIT, desc), None
        agreement = self._latest_of_pair(conn, order.payer_id, order.merchant_id, now)
        if agreement is None or agreement.status is not AgreementStatus.ACTIVE:
            status = agreement.status.value if agreement is not None else "none"
            desc = f"payer {order.payer_id} has no active agreement with merchant {order.merchant_id} ({status})"
            judged_by = agreement.agreement_id if agreement is not None else None
            return decline(Reason.AUTH_PENDING_AGREEMENT, desc, agreement_status=status), judged_by
        refusal = _over_limit(agreement, amount, currency)
        if refusal is not None:
            return refusal, agreement.agreement_id
        return paid(agreement.agreement_id, f"{order.amount} debited under {agreement.agreement_id}"), (
            agreement.agreement_id
        )

    def inquire(self, order: Order, idempotency_key: str) -> ProviderStatus:
        """``PAID`` if the key's debit stands; ``NOT_PAID`` otherwise. An unseen key is voided first."""
        if _key_problem(idempotency_key) is not None:
            return ProviderStatus.NOT_PAID
        with self._write() as conn:
            status = self._status_or_void(conn, order, idempotency_key)
        return ProviderStatus.PAID if status == "debited" else ProviderStatus.NOT_PAID

    def cancel(self, order: Order, idempotency_key: str) -> bool:
        """Reverse the key's debit (its amount and count are free again), or void an unseen key. Always ``True``."""
        if _key_problem(idempotency_key) is not None:
            return True
        with self._write() as conn:
            status = self._status_or_void(conn, order, idempotency_key)
            if status == "debited":
                conn.execute(
                    "UPDATE attempts SET status = 'reversed', updated_at = ? WHERE idempotency_key = ?",
                    (self._clock(), idempotency_key),
                )
        if status == "debited":
            _log.info(
                "payment_reversed", payer=order.payer_id, trade_no=order.trade_no, idempotency_key=idempotency_key
            )
        return True

    def _status_or_void(self, conn: sqlite3.Connection, order: Order, idempotency_key: str) -> str | None:
        """The key's attempt status; for an unseen key, insert a ``voided`` tombstone and return ``None``.

        The tombstone makes a delayed ``pay`` with this key refuse, after the host has moved on.
        """
        row = conn.execute("SELECT status FROM attempts WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        if row is not None:
            return str(row[0])
        now = self._clock()
        conn.execute(
            "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
            " created_at, updated_at) VALUES (?, 'voided', ?, ?, ?, ?, ?, ?, ?)",
            (idempotency_key, order.payer_id, order.merchant_id, order.trade_no, order.amount.minor_units,
             order.amount.currency, now, now),
        )  # fmt: skip
        _log.info("attempt_voided", payer=order.payer_id, trade_no=order.trade_no, idempotency_key=idempotency_key)
        return None


def _over_limit(agreement: Agreement, amount: int, currency: str) -> PaymentResult | None:
    """The decline for the first of the agreement's rules that ``amount`` of ``currency`` breaks, or ``None``."""
    if currency != agreement.currency:
        return decline(
            Reason.CURRENCY_NOT_SUPPORTED, f"agreement {agreement.agreement_id} pays in {agreement.currency}"
        )
    limit = agreement.per_payment_limit
    if limit is not None and amount > limit:
        return decline(Reason.PAYMENT_AMOUNT_EXCEED_LIMIT, f"over the per-payment limit {_money(currency, limit)}")
    limit = agreement.cumulative_limit
    if limit is not None and agreement.used_amount + amount > limit:
        used = _money(currency, agreement.used_amount) if agreement.used_amount else f"{currency} 0"
        desc = f"over the cumulative limit {_money(currency, limit)} ({used} used)"
        return decline(Reason.USER_AMOUNT_EXCEED_LIMIT, desc)
    limit = agreement.count_limit
    if limit is not None and agreement.used_count + 1 > limit:
        return decline(Reason.PAYMENT_COUNT_EXCEED_LIMIT, f"all {limit} payments of the count limit are used")
    return None
