"""Agreements, the attempts debited under them and their refunds, in one SQL database (a SQLite file or a
PostgreSQL schema) that every host process may share.

Every write, and every check that a write depends on, runs in one transaction of ``Database.write()``. On
SQLite that is ``BEGIN IMMEDIATE``: the write lock is taken before the first read, so everything is serial.
PostgreSQL (READ COMMITTED) has no such lock, so each check-then-write is made safe on its own:

* a payment locks the agreement row it judges by (``SELECT ... FOR UPDATE``) before it reads the usage, and
  its debit adds to the usage counters on that row, conditioned on the limits, in the same transaction as
  the attempt row; two payments under one agreement therefore run one after the other;
* the idempotency key is the attempts table's primary key: a payment that loses the race for a key rolls
  back (its counter update with it) and answers what the winner stored; a tombstone is inserted with
  ``ON CONFLICT DO NOTHING`` and the key re-read when another writer got there first;
* a reversal moves the attempt from ``debited`` to ``reversed`` with an update conditioned on ``debited``,
  and gives the amount and count back only if that update changed the row: once, however many cancels race;
* a refund locks the agreement row its payment was debited under before it sums the payment's refunds, so
  refunds and reversals of one payment run one after another; a refund key two writers record at once is
  settled by the refunds table's primary key (the loser rolls back, counters included, and answers from the
  winner's row);
* a transition locks the agreement row before it checks the status it leaves;
* signing numbers the pair's agreements (``pair_seq``, unique per pair): two signings that both saw no live
  agreement collide on the number, and the loser decides again and sees the winner's.

An agreement's usage (``used_amount``, ``used_count``) is kept on its row and changed only together with the
attempt row that debits or reverses it (or the refund row that gives part of it back), so a payment costs
the same however many came before it, and reversing or refunding an attempt gives its amount and its count
back exactly once: a refund gives back its amount, and the count once the payment is refunded in full; a
reversal gives back what refunds left. ``expired`` is derived, not stored: a
pending or active agreement whose ``expires_at`` has passed on the store's clock reads as expired, and no
process has to write that.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tradepay
from tradepay import (
    Attempt,
    Database,
    InvalidInput,
    Order,
    PaymentAmount,
    PaymentResult,
    ProviderStatus,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundKeys,
    RefundOutcome,
    RefundRow,
    RefundState,
    ResultCode,
    TradePayError,
    echo_value,
    format_amount,
    judge_refund,
    migrate,
    open_database,
    replay_refund,
)

from ._answers import Reason, decline, from_row, paid, to_row
from ._refunds import NOT_CHARGED, succeeded
from ._schema import SCHEMA_VERSION, migrations_for
from ._settings import DEFAULT_SCHEMA, MAX_LIMIT

__all__ = [
    "MAX_EXPIRES_IN",
    "SCHEMA_VERSION",
    "SCOPE",
    "Agreement",
    "AgreementError",
    "AgreementNotFound",
    "AgreementStatus",
    "AgreementStore",
    "database_errors",
]

SCOPE: Final = "AGREEMENT_PAY"
#: The longest an agreement may run before it expires: 100 years, in seconds.
MAX_EXPIRES_IN: Final = 100 * 365 * 24 * 3600
_MAX_KEY = 256
#: The most an agreement's used amount can hold (a signed 64-bit integer, on both databases).
_MAX_USED: Final = 2**63 - 1
#: How often ``sign`` decides again after losing a race for the pair's next number.
_SIGN_TRIES: Final = 3

_log = tradepay.get_logger("tradepay_agreement")

# The columns are the fields of Agreement, in order, then pair_seq (which signing needs).
_SELECT: Final = (
    "SELECT agreement_id, payer_id, merchant_id, scope, currency, status, per_payment_limit, cumulative_limit,"
    " count_limit, access_token, signed_at, expires_at, used_amount, used_count, pair_seq FROM agreements "
)
_BY_ID: Final = _SELECT + "WHERE agreement_id = ?"
# pair_seq numbers a pair's agreements in signing order: the highest is the pair's newest.
_LATEST_OF_PAIR: Final = _SELECT + "WHERE payer_id = ? AND merchant_id = ? ORDER BY pair_seq DESC LIMIT 1"
_OF_PAYER: Final = _SELECT + "WHERE payer_id = ? ORDER BY seq"
_ALL: Final = _SELECT + "ORDER BY seq"
_LOCK_AGREEMENT: Final = "SELECT 1 FROM agreements WHERE agreement_id = ?"
_ATTEMPT: Final = (
    "SELECT status, payer_id, merchant_id, amount, currency, result_code, result_message, error_code, error_desc,"
    " extended_info, agreement_id FROM attempts WHERE idempotency_key = ?"
)


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
    """The agreement in ``row`` (a :data:`_SELECT` row) as it reads at ``now``."""
    agreement = Agreement(*row[:-1])  # the columns of _SELECT are the fields of Agreement, then pair_seq
    status = AgreementStatus(agreement.status)
    if status in _LIVE and agreement.expires_at is not None and now >= agreement.expires_at:
        status = AgreementStatus.EXPIRED
    return dataclasses.replace(agreement, status=status)


def _check_limit(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(name, f"must be a whole number from 1 to {MAX_LIMIT}, got {echo_value(value)}")
    return value


def _check_expires_in(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))  # an int may be too large for a float
        or not 0 < value <= MAX_EXPIRES_IN
    ):
        raise InvalidInput("expires_in", f"must be a number of seconds from 1 to {MAX_EXPIRES_IN}, got {value!r}")
    return float(value)


def _key_problem(key: object) -> str | None:
    """Why ``key`` cannot be an idempotency key, or ``None``. No money ever moves under such a key.

    NUL and text that is not valid Unicode (lone surrogates) are refused: neither database can store them.
    """
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY or "\x00" in key:
        return f"idempotency key must be a string of 1 to {_MAX_KEY} characters"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "idempotency key must be valid Unicode text"
    return None


def _money(currency: str, minor_units: int) -> str:
    return format_amount(currency, minor_units)


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions the store's databases raise for a file or server they cannot use.

    psycopg is named only if something imported it already: it is needed (and imported by the core) only
    when a PostgreSQL URL is configured.
    """
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


class AgreementStore:
    """The agreement state at ``location`` (a SQLite path, ``sqlite:///PATH`` or ``postgresql://...``), read
    with ``clock`` (seconds since the epoch). Relative paths are relative to ``base`` (default: the working
    directory); PostgreSQL tables live in ``schema`` unless the URL's ``?schema=`` names another.

    The schema is created or migrated on open; a database written by a newer version is refused with
    :class:`tradepay.ConfigError` keyed ``where``. One instance may be shared by the host's threads; every
    process opens its own.
    """

    def __init__(
        self,
        location: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        base: Path | None = None,
        schema: str = DEFAULT_SCHEMA,
        where: str = "providers.agreement.database",
    ) -> None:
        self._clock = clock
        self._db = open_database(location, base=base, schema=schema)
        try:
            migrate(self._db, migrations_for(self._db.kind), where=where)
        except BaseException:
            self._db.close()
            raise
        # SQLite's BEGIN IMMEDIATE already serialises every write (and SQLite has no FOR UPDATE); PostgreSQL
        # must lock the rows that a decision rests on.
        self._for_update = " FOR UPDATE" if self._db.kind == "postgresql" else ""
        self._closed = False

    @property
    def database(self) -> Database:
        """The database the store runs on (``.kind`` is ``sqlite`` or ``postgresql``)."""
        return self._db

    def close(self) -> None:
        """Release the database connections; the store cannot be used afterwards. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._db.close()

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
        for attempt in range(1, _SIGN_TRIES + 1):
            try:
                agreement = self._sign_once(payer_id, merchant_id, currency, limits, lifetime)
                break
            except self._db.integrity_errors:
                # Another signing of this pair took the number we chose (PostgreSQL; SQLite is serial), or a
                # random id collided. Deciding again sees the winner's agreement, which is live.
                if attempt == _SIGN_TRIES:
                    raise AgreementError(
                        f"the agreements of payer {payer_id!r} with merchant {merchant_id!r} changed while signing"
                        f" {_SIGN_TRIES} times in a row; nothing was signed, try again"
                    ) from None
        _log.info("agreement_signed", agreement_id=agreement.agreement_id, payer=payer_id, merchant=merchant_id)
        return agreement

    def _sign_once(
        self,
        payer_id: str,
        merchant_id: str,
        currency: str,
        limits: tuple[int | None, int | None, int | None],
        lifetime: float | None,
    ) -> Agreement:
        agreement_id = "agr_" + secrets.token_hex(8)
        with self._db.write() as conn:
            now = self._clock()
            latest = self._latest_row(conn, payer_id, merchant_id)
            current = _agreement(latest, now) if latest is not None else None
            if current is not None and current.status in _LIVE:
                raise AgreementError(
                    f"payer {payer_id!r} already has agreement {current.agreement_id} ({current.status}) with "
                    f"merchant {merchant_id!r}; revoke it before signing another"
                )
            # The number follows the one this decision read (not a newer one a later statement could see): a
            # concurrent signing that read the same newest agreement picks the same number, and one of the two
            # inserts fails on agreements_by_pair_seq.
            pair_seq = int(latest[-1]) + 1 if latest is not None else 1
            conn.execute(
                "INSERT INTO agreements (agreement_id, payer_id, merchant_id, scope, currency, per_payment_limit,"
                " cumulative_limit, count_limit, access_token, status, signed_at, expires_at, pair_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (agreement_id, payer_id, merchant_id, SCOPE, currency, *limits, secrets.token_urlsafe(32), now,
                 now + lifetime if lifetime is not None else None, pair_seq),
            )  # fmt: skip
            return self._by_id(conn, agreement_id, now)

    def activate(self, agreement_id: str) -> Agreement:
        """Move a ``pending`` agreement to ``active``; :class:`AgreementError` from any other status."""
        return self._transition(agreement_id, "activate")

    def revoke(self, agreement_id: str) -> Agreement:
        """Move a ``pending`` or ``active`` agreement to ``revoked``; :class:`AgreementError` otherwise."""
        return self._transition(agreement_id, "revoke")

    def _transition(self, agreement_id: str, event: str) -> Agreement:
        allowed, target = _TRANSITIONS[event]
        with self._db.write() as conn:
            # Locked, so that a concurrent transition cannot change the status between this check and the update.
            agreement = self._by_id(conn, agreement_id, self._clock(), lock=True)
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
        with self._db.read() as conn:
            return self._by_id(conn, agreement_id, self._clock())

    def agreements(self, payer_id: str | None = None) -> list[Agreement]:
        """Every agreement (of ``payer_id`` if given) with its usage, oldest first."""
        if payer_id is not None and "\x00" in payer_id:
            return []  # no payer id holds NUL, and PostgreSQL text cannot
        with self._db.read() as conn:
            rows = (conn.execute(_OF_PAYER, (payer_id,)) if payer_id is not None else conn.execute(_ALL)).fetchall()
            now = self._clock()
        return [_agreement(row, now) for row in rows]

    def _by_id(self, conn: Any, agreement_id: str, now: float, *, lock: bool = False) -> Agreement:
        if "\x00" in agreement_id:  # never an agreement id, and PostgreSQL text cannot hold it
            raise AgreementNotFound(agreement_id)
        row = conn.execute(_BY_ID + (self._for_update if lock else ""), (agreement_id,)).fetchone()
        if row is None:
            raise AgreementNotFound(agreement_id)
        return _agreement(row, now)

    def _latest_row(self, conn: Any, payer_id: str, merchant_id: str, *, lock: bool = False) -> Any:
        """The pair's newest agreement row (a :data:`_SELECT` row), or ``None``."""
        return conn.execute(_LATEST_OF_PAIR + (self._for_update if lock else ""), (payer_id, merchant_id)).fetchone()

    def _latest_of_pair(
        self, conn: Any, payer_id: str, merchant_id: str, now: float, *, lock: bool = False
    ) -> Agreement | None:
        """The pair's newest agreement: the one that decides its payments (older ones are revoked or expired)."""
        row = self._latest_row(conn, payer_id, merchant_id, lock=lock)
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

        The key check, the limit checks, the debit of the agreement's counters and the attempt row are one
        transaction. A key seen before gets its first answer back (or a refusal if it was voided, reversed or
        the order differs) and moves nothing. ``currencies`` and ``max_amount`` are the provider's own
        settings, checked before the agreement.
        """
        problem = _key_problem(idempotency_key)
        if problem is not None:
            return decline(Reason.INVALID_REQUEST, problem)
        try:
            result, event = self._charge_once(order, idempotency_key, currencies, max_amount)
        except self._db.integrity_errors:
            # Another process stored this key between our read and our insert (PostgreSQL; SQLite is serial).
            # Our transaction rolled back, counters included; answer as a repeat of what that process stored.
            with self._db.read() as conn:
                row = conn.execute(_ATTEMPT, (idempotency_key,)).fetchone()
            if row is None:
                raise  # not the key: some other constraint said no, which is a bug to see, not to hide
            result, event = self._repeat(row, order)
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

    def _charge_once(
        self, order: Order, idempotency_key: str, currencies: frozenset[str] | None, max_amount: int | None
    ) -> tuple[PaymentResult, str]:
        with self._db.write() as conn:
            now = self._clock()
            row = conn.execute(_ATTEMPT, (idempotency_key,)).fetchone()
            if row is not None:
                return self._repeat(row, order)
            result, agreement_id = self._decide(conn, order, now, currencies, max_amount)
            # Read the key again now that the agreement is locked (PostgreSQL): a payment of this key that held
            # the lock before us has committed its row by now; answer as a repeat instead of failing on its key.
            row = conn.execute(_ATTEMPT, (idempotency_key,)).fetchone()
            if row is not None:
                return self._repeat(row, order)
            debited = result.result_code is ResultCode.SUCCESS
            if debited:
                assert agreement_id is not None  # a debit is always judged by an agreement
                self._use(conn, agreement_id, order.amount.minor_units)
            conn.execute(
                "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
                " agreement_id, result_code, result_message, error_code, error_desc, extended_info, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idempotency_key, "debited" if debited else "declined", order.payer_id, order.merchant_id,
                 order.trade_no, order.amount.minor_units, order.amount.currency, agreement_id, *to_row(result),
                 now, now),
            )  # fmt: skip
        return result, "payment_debited" if debited else "payment_declined"

    @staticmethod
    def _use(conn: Any, agreement_id: str, amount: int) -> None:
        """Add one payment of ``amount`` to the agreement's counters.

        The row is locked and the limits were checked on it; the update repeats the limits as its condition so
        that the database itself never stores a usage over a limit.
        """
        updated = conn.execute(
            "UPDATE agreements SET used_amount = used_amount + ?, used_count = used_count + 1"
            " WHERE agreement_id = ? AND used_amount <= ? AND (cumulative_limit IS NULL OR used_amount <="
            " cumulative_limit - ?) AND (count_limit IS NULL OR used_count < count_limit)",
            (amount, agreement_id, _MAX_USED - amount, amount),
        ).rowcount
        if updated != 1:
            raise RuntimeError(f"agreement {agreement_id} changed under its row lock; nothing was debited")

    @staticmethod
    def _repeat(row: tuple[Any, ...], order: Order) -> tuple[PaymentResult, str]:
        status, payer, merchant, amount, currency, code, message, error_code, error_desc, info, _ = row
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
        conn: Any,
        order: Order,
        now: float,
        currencies: frozenset[str] | None,
        max_amount: int | None,
    ) -> tuple[PaymentResult, str | None]:
        """The answer to a new payment and the agreement it was judged by; called inside the transaction.

        The agreement row is locked (PostgreSQL) from here to the end of the transaction: its usage cannot
        change between the limit checks and the debit.
        """
        amount, currency = order.amount.minor_units, order.amount.currency
        if currencies is not None and currency not in currencies:
            return decline(Reason.CURRENCY_NOT_SUPPORTED, f"this provider does not pay in {currency}"), None
        if max_amount is not None and amount > max_amount:
            desc = f"{order.amount} is over this provider's maximum {_money(currency, max_amount)}"
            return decline(Reason.PAYMENT_AMOUNT_EXCEED_LIMIT, desc), None
        agreement = self._latest_of_pair(conn, order.payer_id, order.merchant_id, now, lock=True)
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
        with self._db.write() as conn:
            row = self._attempt_or_void(conn, order, idempotency_key)
        return ProviderStatus.PAID if row is not None and row[0] == "debited" else ProviderStatus.NOT_PAID

    def cancel(self, order: Order, idempotency_key: str) -> bool:
        """Reverse the key's debit (its amount and count are free again), or void an unseen key. Always ``True``."""
        if _key_problem(idempotency_key) is not None:
            return True
        with self._db.write() as conn:
            row = self._attempt_or_void(conn, order, idempotency_key)
            reversed_ = row is not None and row[0] == "debited" and self._reverse(conn, idempotency_key, row)
        if reversed_:
            _log.info(
                "payment_reversed", payer=order.payer_id, trade_no=order.trade_no, idempotency_key=idempotency_key
            )
        return True

    def _reverse(self, conn: Any, idempotency_key: str, row: tuple[Any, ...]) -> bool:
        """Mark the key's debit reversed and give back what its refunds left (its amount less theirs, and its
        count unless they gave it back already), in the caller's transaction; ``False`` if another cancel
        reversed it first (then nothing is given back twice)."""
        amount, agreement_id = row[3], row[10]
        # Locks are always taken agreement row first, attempt row second (as a payment does): the other order
        # could deadlock with a payment holding the agreement and inserting a key.
        conn.execute(_LOCK_AGREEMENT + self._for_update, (agreement_id,))
        taken = conn.execute(
            "UPDATE attempts SET status = 'reversed', updated_at = ? WHERE idempotency_key = ? AND status = 'debited'",
            (self._clock(), idempotency_key),
        ).rowcount
        if taken != 1:
            return False
        held = amount - RefundKeys(conn, self._clock()).refunded(idempotency_key)
        self._give_back(conn, agreement_id, held, 1 if held > 0 else 0, idempotency_key)
        return True

    def _give_back(self, conn: Any, agreement_id: str, amount: int, count: int, idempotency_key: str) -> None:
        """Take ``amount`` and ``count`` off the agreement's usage, in the caller's transaction."""
        given = conn.execute(
            "UPDATE agreements SET used_amount = used_amount - ?, used_count = used_count - ? WHERE agreement_id = ?",
            (amount, count, agreement_id),
        ).rowcount
        if given != 1:
            raise RuntimeError(f"the debit of {idempotency_key!r} names agreement {agreement_id}, which is missing")

    # --- refunds ------------------------------------------------------------------------------------------

    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Give ``refund.amount`` back under the agreement ``attempt``'s key was debited under, at most once per
        refund key, and take it off the agreement's usage (the count too, once the payment is refunded in full).

        One transaction, in the order of checks of :func:`tradepay.judge_refund`, run once more if another
        writer recorded the refund key meanwhile (PostgreSQL; SQLite is serial): the second run finds the key.
        """
        try:
            return self._refund_once(attempt, refund)
        except self._db.integrity_errors:
            return self._refund_once(attempt, refund)

    def _refund_once(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        payment_key = attempt.idempotency_key
        with self._db.write() as conn:
            row = conn.execute(_ATTEMPT, (payment_key,)).fetchone()
            if row is not None and row[10] is not None:
                # The agreement row first, as payments and reversals lock it: then the attempt's status and the
                # payment's refunds cannot change until this transaction ends.
                conn.execute(_LOCK_AGREEMENT + self._for_update, (row[10],))
                row = conn.execute(_ATTEMPT, (payment_key,)).fetchone()
            refunds = RefundKeys(conn, self._clock())
            known = refunds.find(refund.idempotency_key)
            if known is not None:
                return replay_refund(known, attempt, refund)
            charge = None
            if row is not None and row[0] in ("debited", "reversed"):
                charge = RefundCharge(row[4], row[3], refunds.refunded(payment_key), row[0] == "reversed")
            refusal = judge_refund(charge, refund, not_charged=NOT_CHARGED)
            if refusal is not None:
                refunds.record(attempt, refund, RefundState.FAILED, refusal)
                return refusal
            assert charge is not None  # judge refuses a key that debited nothing
            amount, agreement_id = refund.amount.minor_units, row[10]
            in_full = charge.refunded + amount == charge.amount
            self._give_back(conn, agreement_id, amount, 1 if in_full else 0, payment_key)
            answer = succeeded(refund.amount, agreement_id)
            # The refund key's row last: if another writer recorded the key meanwhile, this insert fails and the
            # counters given back above are rolled back with it.
            refunds.record(attempt, refund, RefundState.SUCCEEDED, answer)
            return answer

    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """What became of ``refund``'s key; a key never seen is voided first, so that no later refund can use it."""
        with self._db.write() as conn:
            return RefundKeys(conn, self._clock()).inquire(attempt, refund)

    def refunds(self, payment_key: str | None = None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (of every payment key when ``None``), oldest first."""
        with self._db.read() as conn:
            return RefundKeys(conn, self._clock()).of_payment(payment_key)

    def _attempt_or_void(self, conn: Any, order: Order, idempotency_key: str) -> tuple[Any, ...] | None:
        """The key's attempt row (columns of ``_ATTEMPT``); for an unseen key, insert a ``voided`` tombstone and
        return ``None``.

        The tombstone makes a delayed ``pay`` with this key refuse, after the host has moved on. If another
        process stores the key between the read and the insert, the insert does nothing and the row it
        stored is read and returned instead.
        """
        row = conn.execute(_ATTEMPT, (idempotency_key,)).fetchone()
        if row is not None:
            return tuple(row)
        now = self._clock()
        inserted = conn.execute(
            "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
            " created_at, updated_at) VALUES (?, 'voided', ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            (idempotency_key, order.payer_id, order.merchant_id, order.trade_no, order.amount.minor_units,
             order.amount.currency, now, now),
        ).rowcount  # fmt: skip
        if inserted == 1:
            _log.info("attempt_voided", payer=order.payer_id, trade_no=order.trade_no, idempotency_key=idempotency_key)
            return None
        # READ COMMITTED: this statement sees the row that the other, now committed, transaction stored.
        row = conn.execute(_ATTEMPT, (idempotency_key,)).fetchone()
        return tuple(row)


def _over_limit(agreement: Agreement, amount: int, currency: str) -> PaymentResult | None:
    """The decline for the first of the agreement's rules that ``amount`` of ``currency`` breaks, or ``None``."""
    if currency != agreement.currency:
        return decline(
            Reason.CURRENCY_NOT_SUPPORTED, f"agreement {agreement.agreement_id} pays in {agreement.currency}"
        )
    limit = agreement.per_payment_limit
    if limit is not None and amount > limit:
        return decline(Reason.PAYMENT_AMOUNT_EXCEED_LIMIT, f"over the per-payment limit {_money(currency, limit)}")
    if agreement.used_amount > _MAX_USED - amount:
        # No cumulative limit, but the total would pass what the database can count: refuse, never wrap.
        return decline(Reason.USER_AMOUNT_EXCEED_LIMIT, "over the most an agreement can record in total")
    limit = agreement.cumulative_limit
    if limit is not None and agreement.used_amount + amount > limit:
        used = _money(currency, agreement.used_amount)
        desc = f"over the cumulative limit {_money(currency, limit)} ({used} used)"
        return decline(Reason.USER_AMOUNT_EXCEED_LIMIT, desc)
    limit = agreement.count_limit
    if limit is not None and agreement.used_count + 1 > limit:
        return decline(Reason.PAYMENT_COUNT_EXCEED_LIMIT, f"all {limit} payments of the count limit are used")
    return None
