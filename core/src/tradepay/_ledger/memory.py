"""The ledger seam: what the chain records, and the in-memory implementation.

The chain talks only to the :class:`Ledger` protocol; :class:`MemoryLedger` (here) and
:class:`tradepay.SQLiteLedger` implement it, and one contract test suite runs against both. The contract:

* ``begin_payment`` is atomic per order: of any number of concurrent calls for one order, exactly one
  creates a payment; the others get the existing one. A succeeded order never gets another payment; an order
  whose payment failed or was cancelled (nothing moved) may be paid again by a new payment.
* ``begin_payment`` records the order the payment is for, as it was resolved (a snapshot, ``Payment.order``),
  whichever order book resolved it: the ledger's own book need not know the order.
* ``start_attempt`` records the attempt, with its idempotency key, *before* the provider is called, and is
  refused while the payment's previous attempt is unsettled.
* Every state change goes through :mod:`tradepay._ledger.states`: terminal states never change.
* ``begin_refund`` decides a refund request (:func:`tradepay._ledger.refunds.decide_refund`) atomically per
  order: the sum of an order's succeeded and in-flight refunds never exceeds what its payment took, whatever
  the number of concurrent requests and processes; a merchant's request id names one refund.
* The state change that ends a payment (succeeded, failed, cancelled) or a refund (succeeded, failed) writes
  its notification event in the same transaction, when the order's merchant is registered with a
  notification URL at that moment: an event exists if and only if its state change does
  (:mod:`tradepay._ledger.notifications`).
* Reconciliation settles a payment under a claim (``claim_settlement``): of any number of reconciliations at
  once, in any number of processes, one holds the payment; settling an attempt again the way it was settled
  changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from .._chain.capabilities import Attempt, ProviderStatus
from .._chain.hookspecs import hookimpl
from .._config import check_cashier_url, check_merchant_secrets
from .._spi.errors import InvalidInput
from .._spi.models import APIContext, PaymentAmount, PaymentRequest, PaymentResult, PaymentType
from .._spi.refunds import Refund, RefundAnswer, RefundStatus
from .ids import random_hex
from .memory_outbox import MemoryOutbox
from .notifications import FINAL_REFUND, Outbox
from .orders import Order, OrderStatus, check_trade_no, order_with_status
from .orderstring import sign_order_string, verify_order_string
from .records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus
from .refunds import COUNTED, RefundRequest, decide_refund
from .states import ATTEMPT_SENT, IllegalTransition, check_attempt, check_payment, check_refund, is_terminal

__all__ = [
    "DEFAULT_CASHIER_URL",
    "Ledger",
    "LedgerConflict",
    "MemoryLedger",
    "OrderNames",
    "new_order",
    "new_payment_id",
    "signed_by",
    "trade_no_from_request",
]

DEFAULT_CASHIER_URL = "https://cashier.tradepay.invalid/pay"
_RETRYABLE = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED})
# The members every payment compares against, read once (a member read through its class costs about 900
# instructions on CPython 3.11, a module constant 40: docs/performance.md). Seven reads per 3-attempt payment;
# core/tests/test_chain_fast_paths.py checks that each constant is the member its name says.
_PROCESSING, _SUCCEEDED = PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED
_UNKNOWN, _ORDER_PAID = ProviderStatus.UNKNOWN, OrderStatus.PAID
_ORDER_ID = PaymentType.ORDER_ID
_UNSETTLED = frozenset({PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION})
_UNSETTLED_REFUND = frozenset({RefundStatus.PROCESSING, RefundStatus.NEEDS_RECONCILIATION})


class LedgerConflict(RuntimeError):
    """A write the ledger's contract forbids (a new attempt while the last is unsettled, and the like)."""


def new_order(
    amount: PaymentAmount, merchant_id: str, payer_id: str, trade_no: str | None, expires_at: float | None
) -> Order:
    """A validated open order; ``trade_no`` defaults to a fresh random one (``T`` and 20 hex digits)."""
    trade_no = f"T{random_hex(10)}" if trade_no is None else trade_no  # "" is refused, not replaced
    return Order(trade_no, amount, merchant_id, payer_id, expires_at=expires_at)


def new_payment_id() -> str:
    """A fresh payment id: ``pay_`` and 16 random hex digits."""
    return f"pay_{random_hex(8)}"


class Ledger(Outbox, Protocol):
    """Where orders, payments and attempts are recorded (see the module docstring for the contract), with the
    notification outbox (:class:`~tradepay._ledger.notifications.Outbox`)."""

    # --- orders: the super app's create-order API ---

    def create_order(
        self,
        amount: PaymentAmount,
        *,
        merchant_id: str,
        payer_id: str,
        trade_no: str | None = None,
        expires_at: float | None = None,
    ) -> Order:
        """Create an open order; ``trade_no`` defaults to a fresh random one (a taken one is refused)."""

    def get_order(self, trade_no: str) -> Order | None:
        """The order ``trade_no``, or ``None``."""

    def close_order(self, trade_no: str) -> Order:
        """Close an open order with no payment under way, so it can no longer be paid."""

    def cashier_url(self, trade_no: str) -> str:
        """The cashier URL that names order ``trade_no`` (a ``CASHIER_URL`` payment string)."""

    def order_string(self, trade_no: str) -> str:
        """The signed order string of order ``trade_no`` (its merchant needs a configured secret)."""

    # --- payments and attempts: the chain's writes ---

    def get_payment(self, payment_id: str) -> Payment | None:
        """The payment ``payment_id`` with its attempts, or ``None``."""

    def payments(
        self, *, status: PaymentStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Payment]:
        """Payments, newest first, optionally only those with ``status`` or of order ``trade_no``."""

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        """The order's current payment and ``False``, or a new processing payment of ``order`` (recorded with
        it as its snapshot, from whichever order book) and ``True``."""

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        """Record (durably, before the provider is called) and return the payment's next attempt."""

    def finish_attempt(self, record: AttemptRecord) -> None:
        """Record an attempt's outcome, the rule, the decision and its money status."""

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        """Move a processing payment to ``status`` with its one ``result``; a success marks the order paid."""

    # --- reconciliation ---

    def unsettled(self, *, updated_before: float) -> list[Payment]:
        """Payments needing reconciliation, and processing ones not touched since ``updated_before``."""

    def claim_settlement(self, payment_id: str, lease_s: float) -> float | None:
        """Claim the unsettled payment ``payment_id`` for one reconciliation, for ``lease_s`` seconds (by the
        ledger's clock): the claim (the time it runs out), or ``None`` when the payment is settled, unknown,
        or claimed by another reconciliation whose claim has not run out. Atomic across processes."""

    def release_settlement(self, payment_id: str, claim: float) -> None:
        """End ``claim`` on ``payment_id`` (nothing, if the payment has been claimed again since)."""

    def settle_attempt(self, attempt: Attempt, status: ProviderStatus, detail: str) -> None:
        """Settle a sent or unknown attempt as ``paid`` or ``not_paid`` (reconciliation); an attempt already
        settled as ``status`` is left as it is. Settling a paid attempt as not paid (or the reverse) raises
        :class:`~tradepay._ledger.states.IllegalTransition`."""

    def settle_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        """End a stale processing or a needs-reconciliation payment (reconciliation)."""

    # --- refunds ---

    def begin_refund(self, request: RefundRequest) -> tuple[Refund, bool]:
        """The refund recorded under the merchant's request id and ``False`` (a repeat with the same fields), or
        a new ``processing`` refund of the order's paying attempt and ``True``, decided and recorded in one
        transaction. Raises :class:`~tradepay._ledger.refunds.RefundRefused` (or ``InvalidInput``) and records
        nothing when the order is not paid, the amount is more than is left to refund, or the request id was
        used for another refund."""

    def finish_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        """Move a processing refund to ``status`` with the provider's ``answer``."""

    def settle_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        """End a processing or needs-reconciliation refund (reconciliation); ``answer`` ``None`` keeps the one
        recorded."""

    def get_refund(self, refund_id: str) -> Refund | None:
        """The refund ``refund_id``, or ``None``."""

    def find_refund(self, merchant_id: str, request_id: str) -> Refund | None:
        """The refund merchant ``merchant_id`` requested under ``request_id``, or ``None``."""

    def refunds(
        self, *, status: RefundStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Refund]:
        """Refunds, newest first, optionally only those with ``status`` or of order ``trade_no``."""

    def unsettled_refunds(self, *, updated_before: float) -> list[Refund]:
        """Refunds needing reconciliation, and processing ones not touched since ``updated_before``."""

    def close(self) -> None:
        """Release the ledger's resources."""


def trade_no_from_request(
    request: PaymentRequest, cashier_url: str, merchant_secrets: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """``(trade_no, signer)``: the trade number a request names, for the request types that name one directly,
    and the merchant that signed it, for an order string.

    ``ORDER_ID``: the payment string itself. ``CASHIER_URL``: the ``tradeNO`` query parameter of a URL under
    this host's ``cashier_url``. ``ORDER_STRING``: the ``tradeNO`` of a correctly signed order string, and its
    ``merchantId``. ``PAYMENT_ID`` names a payment instead: ``(None, None)``.
    """
    text = request.payment_string
    if request.type is PaymentType.ORDER_ID:
        return check_trade_no(text, "payment_string"), None
    if request.type is PaymentType.PAYMENT_ID:
        return None, None
    if request.type is PaymentType.ORDER_STRING:
        signer, trade_no = verify_order_string(text, merchant_secrets)
        return trade_no, signer
    parts, base = urlsplit(text), urlsplit(cashier_url)
    if (parts.scheme, parts.netloc, parts.path) != (base.scheme, base.netloc, base.path):
        raise InvalidInput("payment_string", f"is not a cashier URL of this host ({cashier_url}?tradeNO=...)")
    values = parse_qs(parts.query, keep_blank_values=True).get("tradeNO", [])
    if len(values) != 1:
        raise InvalidInput("payment_string", "must carry exactly one tradeNO")
    return check_trade_no(values[0], "payment_string.tradeNO"), None


def signed_by(order: Order | None, signer: str | None) -> Order | None:
    """``order``, unless an order string signed by merchant ``signer`` named it and it is not ``signer``'s.

    A merchant's valid signature proves only what that merchant issued: naming another merchant's order (or
    an order of a merchant without a secret) is refused, with the same words whether or not the order exists,
    so that a signature cannot be used to probe for other merchants' trade numbers.
    """
    if signer is None or (order is not None and order.merchant_id == signer):
        return order
    raise InvalidInput("payment_string", f"names no order of merchant {signer!r}")


def settled_record(
    attempt: Attempt, existing: AttemptRecord | None, status: ProviderStatus, detail: str
) -> AttemptRecord:
    """The record of an attempt after reconciliation settled it as ``status``."""
    if existing is None:  # sent, and the host stopped before recording an outcome
        return AttemptRecord(
            attempt,
            OutcomeKind.INTERRUPTED,
            None,
            "reconciliation",
            Decision.INQUIRE,
            Decision.STOP,
            detail,
            0.0,
            status,
        )
    check_attempt(existing.status, status)
    return replace(existing, status=status, detail=f"{existing.detail}; {detail}" if existing.detail else detail)


def check_lease(lease_s: float) -> float:
    """``lease_s`` if it is a usable claim duration (a number of seconds, not negative)."""
    if isinstance(lease_s, bool) or not isinstance(lease_s, int | float) or not lease_s >= 0:
        raise InvalidInput("lease_s", f"must be a number of seconds >= 0, got {lease_s!r}")
    return float(lease_s)


class OrderNames:
    """How a ledger names its orders to mini programs: cashier URLs and signed order strings. Shared by every
    ledger; a subclass provides ``get_order``."""

    def __init__(self, cashier_url: str, merchant_secrets: Mapping[str, str] | None) -> None:
        # The configuration's rules for [host] cashier_url and [merchants]: a ledger built in code obeys them too.
        self._cashier_url = check_cashier_url(cashier_url)
        self._secrets = dict(check_merchant_secrets({} if merchant_secrets is None else merchant_secrets))

    def get_order(self, trade_no: str) -> Order | None:
        raise NotImplementedError

    def cashier_url(self, trade_no: str) -> str:
        return f"{self._cashier_url}?tradeNO={trade_no}"

    def order_string(self, trade_no: str) -> str:
        order = self.get_order(trade_no)
        if order is None:
            raise InvalidInput("trade_no", f"no order {trade_no!r}")
        secret = self._secrets.get(order.merchant_id)
        if secret is None:
            raise InvalidInput("merchant_id", f"no signing secret is configured for {order.merchant_id!r}")
        return sign_order_string(order.merchant_id, trade_no, secret)

    def _named_trade_no(self, request: PaymentRequest) -> tuple[str | None, str | None]:
        return trade_no_from_request(request, self._cashier_url, self._secrets)


class _Live:
    """What changes while a payment is processing, kept in place under the ledger's lock: a payment makes two
    writes per attempt, and a new frozen :class:`Payment` for each cost more than the rest of the write.

    Its attempts are a tuple grown per attempt, not a list: the empty tuple is shared and untracked, and the
    payment's views take it as it is. Measured: one object fewer for the garbage collector per payment in
    flight (24 to 23; docs/performance.md)."""

    __slots__ = ("attempts", "pending", "unsettled", "updated_at")

    def __init__(self, updated_at: float) -> None:
        self.attempts: tuple[AttemptRecord, ...] = ()
        self.pending: Attempt | None = None
        self.unsettled = False  # an attempt recorded with unknown money: no new attempt until it is settled
        self.updated_at = updated_at


class MemoryLedger(MemoryOutbox, OrderNames):
    """The in-memory ledger and order book: thread-safe, gone with the process.

    It is also a plugin: its ``resolve_order`` hook answers for the orders it holds.
    """

    def __init__(
        self,
        *,
        cashier_url: str = DEFAULT_CASHIER_URL,
        merchant_secrets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cashier_url, merchant_secrets)
        self._lock = threading.Lock()
        self._orders: dict[str, Order] = {}
        # Every payment as it was when it began or last ended; a processing one's attempts are in ``_live``.
        self._payments: dict[str, Payment] = {}
        self._live: dict[str, _Live] = {}
        self._current: dict[str, str] = {}  # trade_no -> payment_id of its latest payment
        self._claims: dict[str, float] = {}  # payment_id -> when the reconciliation's claim on it runs out
        self._refunds: dict[str, Refund] = {}
        self._refund_ids: dict[tuple[str, str], str] = {}  # (merchant_id, request_id) -> refund_id
        self._clock = clock
        self._init_outbox()

    def _view(self, payment: Payment) -> Payment:
        """``payment`` as it is now (caller holds the lock)."""
        live = self._live.get(payment.payment_id)
        if live is None:
            return payment
        p = payment
        return Payment(
            p.payment_id,
            p.trade_no,
            p.status,
            p.result,
            live.attempts,
            p.app_id,
            p.created_at,
            live.updated_at,
            live.pending,
            p.order,
        )

    # --- orders ---

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
        with self._lock:
            if order.trade_no in self._orders:
                raise InvalidInput("trade_no", f"{order.trade_no!r} already exists")
            self._orders[order.trade_no] = order
        return order

    def get_order(self, trade_no: str) -> Order | None:
        with self._lock:
            return self._orders.get(trade_no)

    def close_order(self, trade_no: str) -> Order:
        with self._lock:
            order = self._orders.get(trade_no)
            if order is None:
                raise InvalidInput("trade_no", f"no order {trade_no!r}")
            if order.status is OrderStatus.PAID:
                raise InvalidInput("trade_no", f"order {trade_no!r} is paid and cannot be closed")
            current = self._payments.get(self._current.get(trade_no, ""))
            if current is not None and current.status not in _RETRYABLE:
                raise InvalidInput("trade_no", f"order {trade_no!r} has a payment {current.status.value}")
            order = order_with_status(order, OrderStatus.CLOSED)
            self._orders[trade_no] = order
            return order

    @hookimpl
    def resolve_order(self, payment_request: PaymentRequest, api_context: APIContext) -> Order | None:
        if payment_request.type is _ORDER_ID:
            # An order held under the payment string itself: every key here is a checked trade number (an
            # Order's), so the request's string passes the check the full way makes, and names this order. Only
            # a miss takes the full way, for its precise refusal. Measured: 14,000 instructions of a payment's
            # 305,000 at warning (docs/performance.md).
            found = self._orders.get(payment_request.payment_string)
            if found is not None:
                return found
        return self._resolve_named(payment_request)

    def _resolve_named(self, payment_request: PaymentRequest) -> Order | None:
        """:meth:`resolve_order` the full way: the trade number the request names, checked, then its order."""
        trade_no, signer = self._named_trade_no(payment_request)
        with self._lock:
            if trade_no is None:
                payment = self._payments.get(payment_request.payment_string)
                trade_no = payment.trade_no if payment else None
            return signed_by(self._orders.get(trade_no) if trade_no else None, signer)

    # --- payments and attempts ---

    def get_payment(self, payment_id: str) -> Payment | None:
        with self._lock:
            payment = self._payments.get(payment_id)
            return self._view(payment) if payment is not None else None

    def payments(
        self, *, status: PaymentStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Payment]:
        with self._lock:
            found = [
                self._view(p)
                for p in reversed(self._payments.values())
                if (status is None or p.status is status) and (trade_no is None or p.trade_no == trade_no)
            ]
        return found[:limit]

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        with self._lock:
            current_id = self._current.get(order.trade_no)
            current = self._payments.get(current_id) if current_id else None
            if current is not None and current.status not in _RETRYABLE:
                return self._view(current), False
            now = self._clock()
            payment = Payment(new_payment_id(), order.trade_no, _PROCESSING, None, (), app_id, now, now, None, order)
            self._payments[payment.payment_id] = payment
            self._live[payment.payment_id] = _Live(now)
            self._current[order.trade_no] = payment.payment_id
            return payment, True

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        with self._lock:
            live = self._live.get(payment_id)
            if live is None:
                status = self._payments[payment_id].status
                raise LedgerConflict(f"payment {payment_id} is {status.value}: no new attempt")
            if live.pending is not None or live.unsettled:
                raise LedgerConflict(f"payment {payment_id} has an unsettled attempt: no new attempt")
            number = len(live.attempts) + 1
            attempt = Attempt(payment_id, number, provider, f"{payment_id}-{number}")
            live.pending = attempt
            live.updated_at = self._clock()
            return attempt

    def finish_attempt(self, record: AttemptRecord) -> None:
        attempt = record.attempt
        with self._lock:
            live = self._live.get(attempt.payment_id)
            if live is None:  # the payment has ended (left for reconciliation) with this attempt still sent
                payment = self._payments[attempt.payment_id]
                if payment.pending != attempt:
                    raise LedgerConflict(f"attempt {attempt.idempotency_key} is not the one in flight")
                check_attempt(ATTEMPT_SENT, record.status)
                self._payments[payment.payment_id] = replace(
                    payment, attempts=(*payment.attempts, record), pending=None, updated_at=self._clock()
                )
                return
            pending = live.pending
            if pending is None or (pending is not attempt and pending != attempt):
                raise LedgerConflict(f"attempt {attempt.idempotency_key} is not the one in flight")
            check_attempt(ATTEMPT_SENT, record.status)
            live.attempts += (record,)
            live.pending = None
            live.unsettled = live.unsettled or record.status is _UNKNOWN
            live.updated_at = self._clock()

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        with self._lock:
            payment = self._payments[payment_id]
            if payment.status is not _PROCESSING:
                raise IllegalTransition("a payment", payment.status.value, status.value)
            return self._end(payment, status, result)

    def _end(self, payment: Payment, status: PaymentStatus, result: PaymentResult) -> Payment:
        check_payment(payment.status, status)
        p = payment
        # Read in place, with no intermediate view: one Payment fewer (measured: 39,000 instructions per payment).
        live = self._live.get(p.payment_id)
        payment = Payment(
            p.payment_id,
            p.trade_no,
            status,
            result,
            live.attempts if live is not None else p.attempts,
            p.app_id,
            p.created_at,
            self._clock(),
            live.pending if live is not None else p.pending,
            p.order,
        )
        # Made before anything is stored: should it fail, the payment stays as it was, with no event.
        event = self._payment_event(payment) if is_terminal(status) else None
        self._live.pop(p.payment_id, None)
        self._payments[payment.payment_id] = payment
        self._store_event(event)
        if status is _SUCCEEDED:
            order = self._orders.get(payment.trade_no)
            if order is not None:
                self._orders[order.trade_no] = order_with_status(order, _ORDER_PAID)
        return payment

    # --- reconciliation ---

    def unsettled(self, *, updated_before: float) -> list[Payment]:
        with self._lock:
            return [
                view
                for view in map(self._view, self._payments.values())
                if view.status is PaymentStatus.NEEDS_RECONCILIATION
                or (view.status is PaymentStatus.PROCESSING and view.updated_at < updated_before)
            ]

    def claim_settlement(self, payment_id: str, lease_s: float) -> float | None:
        lease_s = check_lease(lease_s)
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None or payment.status not in _UNSETTLED:
                return None
            now = self._clock()
            if self._claims.get(payment_id, now) > now:
                return None
            self._claims[payment_id] = claim = now + lease_s
            return claim

    def release_settlement(self, payment_id: str, claim: float) -> None:
        with self._lock:
            if self._claims.get(payment_id) == claim:
                del self._claims[payment_id]

    def settle_attempt(self, attempt: Attempt, status: ProviderStatus, detail: str) -> None:
        with self._lock:
            payment = self._view(self._payments[attempt.payment_id])
            records = list(payment.attempts)
            if payment.pending == attempt:
                records.append(settled_record(attempt, None, status, detail))
                pending = None
            else:
                index = next((i for i, r in enumerate(records) if r.attempt == attempt), None)
                if index is None:
                    raise LedgerConflict(f"no attempt {attempt.idempotency_key}")
                if records[index].status is status:  # settled so already (by another reconciliation)
                    return
                records[index] = settled_record(attempt, records[index], status, detail)
                pending = payment.pending
            now = self._clock()
            live = self._live.get(attempt.payment_id)
            if live is not None:  # still processing (a stale payment being reconciled): keep the live record
                live.attempts, live.pending, live.updated_at = tuple(records), pending, now
                live.unsettled = any(r.status is ProviderStatus.UNKNOWN for r in records)
            else:
                self._payments[payment.payment_id] = replace(
                    payment, attempts=tuple(records), pending=pending, updated_at=now
                )

    def settle_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        with self._lock:
            return self._end(self._payments[payment_id], status, result)

    # --- refunds ---

    def begin_refund(self, request: RefundRequest) -> tuple[Refund, bool]:
        with self._lock:
            found = self._payments.get(self._current.get(request.trade_no, ""))
            payment = self._view(found) if found is not None else None
            existing: Refund | None = None
            counted = 0
            if payment is not None and payment.order is not None:
                key = (payment.order.merchant_id, request.request_id)
                existing = self._refunds.get(self._refund_ids.get(key, ""))
                counted = sum(
                    r.amount.minor_units
                    for r in self._refunds.values()
                    if r.payment_id == payment.payment_id and r.status in COUNTED
                )
            refund, created = decide_refund(payment, request, existing, counted, self._clock())
            if created:
                self._refunds[refund.refund_id] = refund
                self._refund_ids[(refund.merchant_id, refund.request_id)] = refund.refund_id
            return refund, created

    def _end_refund(
        self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None, allowed_from: frozenset[RefundStatus]
    ) -> Refund:
        with self._lock:
            refund = self._refunds.get(refund_id)
            if refund is None:
                raise LedgerConflict(f"no refund {refund_id}")
            if refund.status not in allowed_from:
                raise IllegalTransition("a refund", refund.status.value, status.value)
            check_refund(refund.status, status)
            ended = replace(refund, status=status, answer=answer or refund.answer, updated_at=self._clock())
            event = self._refund_event(ended) if status in FINAL_REFUND else None
            self._refunds[refund_id] = ended
            self._store_event(event)
            return ended

    def finish_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        return self._end_refund(refund_id, status, answer, frozenset({RefundStatus.PROCESSING}))

    def settle_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        return self._end_refund(refund_id, status, answer, _UNSETTLED_REFUND)

    def get_refund(self, refund_id: str) -> Refund | None:
        with self._lock:
            return self._refunds.get(refund_id)

    def find_refund(self, merchant_id: str, request_id: str) -> Refund | None:
        with self._lock:
            return self._refunds.get(self._refund_ids.get((merchant_id, request_id), ""))

    def refunds(
        self, *, status: RefundStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Refund]:
        with self._lock:
            found = [
                r
                for r in reversed(self._refunds.values())
                if (status is None or r.status is status) and (trade_no is None or r.trade_no == trade_no)
            ]
        return found[:limit]

    def unsettled_refunds(self, *, updated_before: float) -> list[Refund]:
        with self._lock:
            return [
                r
                for r in self._refunds.values()
                if r.status is RefundStatus.NEEDS_RECONCILIATION
                or (r.status is RefundStatus.PROCESSING and r.updated_at < updated_before)
            ]

    def close(self) -> None:
        """Nothing to release."""
