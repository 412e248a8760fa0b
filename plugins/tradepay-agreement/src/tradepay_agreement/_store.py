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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tradepay
from tradepay import (
    Attempt,
    AttemptRow,
    AttemptStatus,
    AttemptTable,
    Capabilities,
    InvalidInput,
    Order,
    PaymentAmount,
    PaymentResult,
    ProviderStore,
    Refund,
    RefundAnswer,
    StoreTransaction,
    TradePayError,
    beyond_capabilities,
    echo_value,
    format_amount,
    payment_key_problem,
    replay_payment,
)

from ._answers import NOT_CHARGED, Reason, decline, paid, refunded
from ._schema import MIGRATIONS, SCHEMA_VERSION
from ._settings import MAX_LIMIT

__all__ = [
    "DEFAULT_SCHEMA",
    "MAX_EXPIRES_IN",
    "SCHEMA_VERSION",
    "SCOPE",
    "Agreement",
    "AgreementError",
    "AgreementNotFound",
    "AgreementStatus",
    "AgreementStore",
]

#: The PostgreSQL schema of the agreement tables when the ``database`` URL names none (``?schema=NAME``).
DEFAULT_SCHEMA: Final = "tradepay_agreement"
SCOPE: Final = "AGREEMENT_PAY"
#: The longest an agreement may run before it expires: 100 years, in seconds.
MAX_EXPIRES_IN: Final = 100 * 365 * 24 * 3600
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
#: The attempts table: a key was asked for a payer with a merchant (whichever of its orders), a debit is spelt
#: ``debited``.
_TABLE: Final = AttemptTable(merchant="merchant_id", paid="debited", extra=("agreement_id",), trade_no_asked=False)


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


class AgreementStore(ProviderStore[StoreTransaction]):
    """The agreement state at ``location`` (a SQLite path, ``sqlite:///PATH`` or ``postgresql://...``), read
    with ``clock`` (seconds since the epoch). Relative paths are relative to ``base`` (default: the working
    directory); PostgreSQL tables live in ``schema`` unless the URL's ``?schema=`` names another.

    The schema is created or migrated on open; a database written by a newer version is refused with
    :class:`tradepay.ConfigError` keyed ``where``. One instance may be shared by the host's threads and
    processes.
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
        super().__init__(
            location, schema=schema, migrations=MIGRATIONS, where=where, attempts=_TABLE, clock=clock, base=base
        )

    @property
    def _for_update(self) -> str:
        # SQLite's BEGIN IMMEDIATE already serialises every write (and SQLite has no FOR UPDATE); PostgreSQL
        # must lock the rows that a decision rests on.
        return " FOR UPDATE" if self.kind == "postgresql" else ""

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
            except self.integrity_errors:
                # Another signing of this pair took the number we chose (PostgreSQL; SQLite is serial), or a
                # random id collided. Deciding again sees the winner's agreement, which is live.
                if attempt == _SIGN_TRIES:
                    raise AgreementError(
                        f"the agreements of payer {payer_id!r} with merchant {merchant_id!r} changed while signing"
                        f" {_SIGN_TRIES} times in a row; nothing was signed, try again"
                    ) from None
        _log.info("agreement.signed", agreement_id=agreement.agreement_id, payer=payer_id, merchant=merchant_id)
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
        with self.transaction() as conn:
            now = self.clock()
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
        with self.transaction() as conn:
            # Locked, so that a concurrent transition cannot change the status between this check and the update.
            agreement = self._by_id(conn, agreement_id, self.clock(), lock=True)
            if agreement.status not in allowed:
                raise AgreementError(
                    f"cannot {event} agreement {agreement_id}: it is {agreement.status}"
                    f" (only {' or '.join(sorted(allowed))} agreements can be)"
                )
            conn.execute("UPDATE agreements SET status = ? WHERE agreement_id = ?", (target.value, agreement_id))
        _log.info(f"agreement.{event}d", agreement_id=agreement_id, payer=agreement.payer_id)
        return dataclasses.replace(agreement, status=target)

    def get(self, agreement_id: str) -> Agreement:
        """The agreement ``agreement_id`` as it is now; :class:`AgreementNotFound` if there is none."""
        with self.read() as conn:
            return self._by_id(conn, agreement_id, self.clock())

    def agreements(self, payer_id: str | None = None) -> list[Agreement]:
        """Every agreement (of ``payer_id`` if given) with its usage, oldest first."""
        if payer_id is not None and "\x00" in payer_id:
            return []  # no payer id holds NUL, and PostgreSQL text cannot
        with self.read() as conn:
            rows = (conn.execute(_OF_PAYER, (payer_id,)) if payer_id is not None else conn.execute(_ALL)).fetchall()
            now = self.clock()
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

    def charge(self, order: Order, attempt: Attempt, capabilities: Capabilities) -> PaymentResult:
        """Debit ``order`` under its payer's active agreement with its merchant, once per ``attempt``'s key.

        The key check, the limit checks, the debit of the agreement's counters and the attempt row are one
        transaction, in the kit's order of checks. A key seen before gets its first answer back (or a refusal
        if it was voided, the order differs, or it was reversed) and moves nothing. ``capabilities`` are the
        provider's own settings, checked before the agreement.
        """
        key = attempt.idempotency_key
        if problem := payment_key_problem(key):
            return decline(Reason.INVALID_REQUEST, problem)
        result, event = self.write(lambda tx: self._charge_once(tx, order, attempt, capabilities))
        _log.info(
            event,
            payer=order.payer_id,
            trade_no=order.trade_no,
            idempotency_key=key,
            amount=order.amount.minor_units,
            currency=order.amount.currency,
            reason=result.reason,
        )
        return result

    def _charge_once(
        self, tx: StoreTransaction, order: Order, attempt: Attempt, capabilities: Capabilities
    ) -> tuple[PaymentResult, str]:
        row = tx.attempts.find(attempt.idempotency_key)
        if row is not None:
            return _repeat(row, order)
        result, agreement_id = self._decide(tx, order, capabilities)
        # Read the key again now that the agreement is locked (PostgreSQL): a payment of this key that held the
        # lock before us has committed its row by now; answer as a repeat instead of failing on its key.
        row = tx.attempts.find(attempt.idempotency_key)
        if row is not None:
            return _repeat(row, order)
        status = AttemptStatus.answered(result)
        debited = status is AttemptStatus.PAID
        if debited:
            assert agreement_id is not None  # a debit is always judged by an agreement
            self._use(tx, agreement_id, order.amount.minor_units)
        # The key's row last: if another writer recorded the key meanwhile, this insert fails and the counters
        # debited above are rolled back with it; the transaction then runs again and answers as a repeat.
        tx.attempts.record(attempt, order, status, result, agreement_id=agreement_id)
        return result, "agreement.payment_debited" if debited else "agreement.payment_declined"

    @staticmethod
    def _use(tx: StoreTransaction, agreement_id: str, amount: int) -> None:
        """Add one payment of ``amount`` to the agreement's counters.

        The row is locked and the limits were checked on it; the update repeats the limits as its condition so
        that the database itself never stores a usage over a limit.
        """
        updated = tx.execute(
            "UPDATE agreements SET used_amount = used_amount + ?, used_count = used_count + 1"
            " WHERE agreement_id = ? AND used_amount <= ? AND (cumulative_limit IS NULL OR used_amount <="
            " cumulative_limit - ?) AND (count_limit IS NULL OR used_count < count_limit)",
            (amount, agreement_id, _MAX_USED - amount, amount),
        ).rowcount
        if updated != 1:
            raise RuntimeError(f"agreement {agreement_id} changed under its row lock; nothing was debited")

    def _decide(
        self, tx: StoreTransaction, order: Order, capabilities: Capabilities
    ) -> tuple[PaymentResult, str | None]:
        """The answer to a new payment and the agreement it was judged by; called inside the transaction.

        The agreement row is locked (PostgreSQL) from here to the end of the transaction: its usage cannot
        change between the limit checks and the debit.
        """
        refusal = beyond_capabilities(order, capabilities)
        if refusal is not None:
            return refusal, None
        amount, currency = order.amount.minor_units, order.amount.currency
        agreement = self._latest_of_pair(tx, order.payer_id, order.merchant_id, tx.now, lock=True)
        if agreement is None or agreement.status is not AgreementStatus.ACTIVE:
            status = agreement.status.value if agreement is not None else "none"
            desc = f"payer {order.payer_id} has no active agreement with merchant {order.merchant_id} ({status})"
            judged_by = agreement.agreement_id if agreement is not None else None
            return decline(Reason.AUTH_PENDING_AGREEMENT, desc, agreement_status=status), judged_by
        refusal = _over_limit(agreement, amount, currency)
        if refusal is not None:
            return refusal, agreement.agreement_id
        debited = paid(agreement.agreement_id, f"{order.amount} debited under {agreement.agreement_id}")
        return debited, agreement.agreement_id

    def lock_payment(self, tx: StoreTransaction, key: str) -> AttemptRow | None:
        """The agreement row first, as payments lock it (the other order could deadlock with a payment holding
        the agreement and inserting a key), then the key's row: its status and its refunds cannot change until
        the transaction ends."""
        row = tx.attempts.find(key)
        if row is not None and row.extra["agreement_id"] is not None:
            tx.execute(_LOCK_AGREEMENT + tx.for_update, (row.extra["agreement_id"],))
            row = tx.attempts.find(key, lock=True)
        return row

    def give_back(self, tx: StoreTransaction, paid: AttemptRow, held: int) -> None:
        """A reversed debit gives back what its refunds left: its amount less theirs, and its count unless they
        gave it back already."""
        self._release(tx, paid.extra["agreement_id"], held, 1 if held > 0 else 0, paid.idempotency_key)

    def _release(self, tx: StoreTransaction, agreement_id: str, amount: int, count: int, key: str) -> None:
        """Take ``amount`` and ``count`` off the agreement's usage, in the caller's transaction."""
        given = tx.execute(
            "UPDATE agreements SET used_amount = used_amount - ?, used_count = used_count - ? WHERE agreement_id = ?",
            (amount, count, agreement_id),
        ).rowcount
        if given != 1:
            raise RuntimeError(f"the debit of {key!r} names agreement {agreement_id}, which is missing")

    # --- refunds ------------------------------------------------------------------------------------------

    not_charged = NOT_CHARGED

    def refund_money(self, tx: StoreTransaction, paid: AttemptRow, refund: Refund) -> RefundAnswer:
        """A refund is given back under the agreement the key was debited under: its amount comes off the
        agreement's usage, and the count too once the payment is refunded in full."""
        agreement_id, amount = paid.extra["agreement_id"], refund.amount.minor_units
        in_full = tx.refunds.refunded(paid.idempotency_key) + amount == paid.amount
        self._release(tx, agreement_id, amount, 1 if in_full else 0, paid.idempotency_key)
        return refunded(refund.amount, agreement_id)


def _repeat(row: AttemptRow, order: Order) -> tuple[PaymentResult, str]:
    """The kit's answer to a key seen before, and the event it is logged as."""
    result = replay_payment(row, order)
    return result, ("agreement.payment_repeated" if result is row.result else "agreement.payment_refused")


def _over_limit(agreement: Agreement, amount: int, currency: str) -> PaymentResult | None:
    """The decline for the first of the agreement's rules that ``amount`` of ``currency`` breaks, or ``None``."""
    if currency != agreement.currency:
        return decline(
            Reason.CURRENCY_NOT_SUPPORTED, f"agreement {agreement.agreement_id} pays in {agreement.currency}"
        )
    limit = agreement.per_payment_limit
    if limit is not None and amount > limit:
        return decline(
            Reason.PAYMENT_AMOUNT_EXCEED_LIMIT, f"over the per-payment limit {format_amount(currency, limit)}"
        )
    if agreement.used_amount > _MAX_USED - amount:
        # No cumulative limit, but the total would pass what the database can count: refuse, never wrap.
        return decline(Reason.USER_AMOUNT_EXCEED_LIMIT, "over the most an agreement can record in total")
    limit = agreement.cumulative_limit
    if limit is not None and agreement.used_amount + amount > limit:
        used = format_amount(currency, agreement.used_amount)
        desc = f"over the cumulative limit {format_amount(currency, limit)} ({used} used)"
        return decline(Reason.USER_AMOUNT_EXCEED_LIMIT, desc)
    limit = agreement.count_limit
    if limit is not None and agreement.used_count + 1 > limit:
        return decline(Reason.PAYMENT_COUNT_EXCEED_LIMIT, f"all {limit} payments of the count limit are used")
    return None
