"""The ledger seam: what the chain needs to record, and the in-memory implementation shipped by default.

The chain talks only to the :class:`Ledger` protocol. Its contract, which every implementation keeps:

* ``begin_payment`` is atomic per order: of any number of concurrent calls for one order, exactly one
  creates a payment; the others get the existing one. A succeeded order never gets another payment; an order
  whose payment failed or was cancelled (nothing moved) may be paid again with a new payment.
* ``start_attempt`` records the attempt, with its idempotency key, *before* the provider is called.
* A payment in a terminal state never changes.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from ._attempts import Attempt
from ._errors import InvalidInput
from ._hookspecs import hookimpl
from ._models import APIContext, PaymentAmount, PaymentRequest, PaymentResult, PaymentType
from ._orders import Order, OrderStatus, check_trade_no
from ._records import AttemptRecord, Payment, PaymentStatus

__all__ = ["Ledger", "MemoryLedger", "trade_no_from_request"]

_TERMINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED})
_RETRYABLE = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED})


class Ledger(Protocol):
    """Where orders, payments and attempts are recorded (see the module docstring for the contract)."""

    def create_order(
        self,
        amount: PaymentAmount,
        *,
        merchant_id: str,
        payer_id: str,
        trade_no: str | None = None,
        expires_at: float | None = None,
    ) -> Order:
        """Create an open order (the super app's create-order API); ``trade_no`` defaults to a new one."""

    def close_order(self, trade_no: str) -> Order:
        """Close an open order with no payment under way, so it can no longer be paid."""

    def cashier_url(self, trade_no: str) -> str:
        """The cashier URL that names order ``trade_no``."""

    def get_order(self, trade_no: str) -> Order | None:
        """The order ``trade_no``, or ``None``."""

    def get_payment(self, payment_id: str) -> Payment | None:
        """The payment ``payment_id`` with its attempts, or ``None``."""

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        """The order's current payment and ``False``, or a new processing payment and ``True``."""

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        """Record and return the payment's next attempt, numbered from 1, with its idempotency key."""

    def finish_attempt(self, record: AttemptRecord) -> None:
        """Record an attempt's outcome and the chain's decision."""

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        """Move a processing payment to ``status`` with its one ``result``; a succeeded one marks its order paid."""


def trade_no_from_request(request: PaymentRequest, cashier_url: str) -> str | None:
    """The trade number a request names, for the request types that name one directly.

    ``ORDER_ID``: the payment string itself. ``CASHIER_URL``: the ``tradeNO`` query parameter of a URL under
    this host's ``cashier_url``. ``ORDER_STRING``: the ``tradeNO`` field of a form-encoded order string.
    ``PAYMENT_ID`` names a payment instead: ``None``.
    """
    text = request.payment_string
    if request.type is PaymentType.ORDER_ID:
        return check_trade_no(text, "payment_string")
    if request.type is PaymentType.PAYMENT_ID:
        return None
    if request.type is PaymentType.CASHIER_URL:
        parts = urlsplit(text)
        base = urlsplit(cashier_url)
        if (parts.scheme, parts.netloc, parts.path) != (base.scheme, base.netloc, base.path):
            raise InvalidInput("payment_string", f"is not a cashier URL of this host ({cashier_url}?tradeNO=...)")
        query = parts.query
    else:
        query = text
    values = parse_qs(query, keep_blank_values=True).get("tradeNO", [])
    if len(values) != 1:
        raise InvalidInput("payment_string", "must carry exactly one tradeNO")
    return check_trade_no(values[0], "payment_string.tradeNO")


class MemoryLedger:
    """The in-memory ledger and order book: thread-safe, gone with the process.

    It is also a plugin: its ``resolve_order`` hook answers for the orders it holds.
    """

    def __init__(self, *, cashier_url: str = "https://cashier.tradepay.invalid/pay") -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, Order] = {}
        self._payments: dict[str, Payment] = {}
        self._current: dict[str, str] = {}  # trade_no -> payment_id of its latest payment
        self._pending: dict[str, Attempt] = {}  # payment_id -> attempt started, outcome not yet recorded
        self._cashier_url = cashier_url

    # --- orders: the super app's create-order API -----------------------------------------------------------

    def create_order(
        self,
        amount: PaymentAmount,
        *,
        merchant_id: str,
        payer_id: str,
        trade_no: str | None = None,
        expires_at: float | None = None,
    ) -> Order:
        """Create an open order and return it; ``trade_no`` defaults to a fresh random one."""
        order = Order(trade_no or f"T{secrets.token_hex(10)}", amount, merchant_id, payer_id, expires_at=expires_at)
        with self._lock:
            if order.trade_no in self._orders:
                raise InvalidInput("trade_no", f"{order.trade_no!r} already exists")
            self._orders[order.trade_no] = order
        return order

    def cashier_url(self, trade_no: str) -> str:
        """The cashier URL that names order ``trade_no`` (a ``CASHIER_URL`` payment string)."""
        return f"{self._cashier_url}?tradeNO={trade_no}"

    def close_order(self, trade_no: str) -> Order:
        """Close an open order so it can no longer be paid; a paid order cannot be closed."""
        with self._lock:
            order = self._orders.get(trade_no)
            if order is None:
                raise InvalidInput("trade_no", f"no order {trade_no!r}")
            if order.status is OrderStatus.PAID:
                raise InvalidInput("trade_no", f"order {trade_no!r} is paid and cannot be closed")
            current = self._payments.get(self._current.get(trade_no, ""))
            if current is not None and current.status not in _RETRYABLE:
                raise InvalidInput("trade_no", f"order {trade_no!r} has a payment {current.status.value}")
            order = replace(order, status=OrderStatus.CLOSED)
            self._orders[trade_no] = order
            return order

    def get_order(self, trade_no: str) -> Order | None:
        with self._lock:
            return self._orders.get(trade_no)

    @hookimpl
    def resolve_order(self, payment_request: PaymentRequest, api_context: APIContext) -> Order | None:
        trade_no = trade_no_from_request(payment_request, self._cashier_url)
        with self._lock:
            if trade_no is None:
                payment = self._payments.get(payment_request.payment_string)
                trade_no = payment.trade_no if payment else None
            return self._orders.get(trade_no) if trade_no else None

    # --- payments and attempts -------------------------------------------------------------------------------

    def get_payment(self, payment_id: str) -> Payment | None:
        with self._lock:
            return self._payments.get(payment_id)

    def payments(self) -> list[Payment]:
        """Every payment, oldest first."""
        with self._lock:
            return list(self._payments.values())

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        with self._lock:
            current_id = self._current.get(order.trade_no)
            current = self._payments.get(current_id) if current_id else None
            if current is not None and current.status not in _RETRYABLE:
                return current, False
            payment = Payment(f"pay_{secrets.token_hex(8)}", order.trade_no, PaymentStatus.PROCESSING, None, (), app_id)
            self._payments[payment.payment_id] = payment
            self._current[order.trade_no] = payment.payment_id
            return payment, True

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        with self._lock:
            payment = self._payments[payment_id]
            if payment.status is not PaymentStatus.PROCESSING:
                raise RuntimeError(f"payment {payment_id} is {payment.status.value}: no new attempt")
            number = len(payment.attempts) + 1
            attempt = Attempt(payment_id, number, provider, f"{payment_id}-{number}")
            self._pending[payment_id] = attempt
            return attempt

    def finish_attempt(self, record: AttemptRecord) -> None:
        with self._lock:
            payment = self._payments[record.attempt.payment_id]
            self._payments[payment.payment_id] = replace(payment, attempts=(*payment.attempts, record))
            self._pending.pop(payment.payment_id, None)

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        with self._lock:
            payment = self._payments[payment_id]
            if payment.status is not PaymentStatus.PROCESSING:
                raise RuntimeError(f"payment {payment_id} is already {payment.status.value}")
            payment = replace(payment, status=status, result=result)
            self._payments[payment_id] = payment
            if status is PaymentStatus.SUCCEEDED:
                order = self._orders.get(payment.trade_no)
                if order is not None:
                    self._orders[order.trade_no] = replace(order, status=OrderStatus.PAID)
            return payment

    def pending_attempt(self, payment_id: str) -> Attempt | None:
        """The attempt of ``payment_id`` that was started and has no outcome yet, if any."""
        with self._lock:
            return self._pending.get(payment_id)
