"""Reconciliation: settle every payment a crash, a kill or an unknown answer left unsettled.

A payment is unsettled when it needs reconciliation, or when it is still ``processing`` but nobody has
touched it for longer than a live payment can take (twice the chain's deadline by default: younger ones may
be in flight in another process). For each, the one unsettled attempt (sent and unanswered, or unknown) is
asked about through its provider's inquiry, and cancelled if still unknown, exactly as the chain does; then:

* paid -> the payment succeeds and its order is paid;
* not paid (or the cancel confirmed) -> the payment fails; nothing moved, the order may be paid again;
* still unknown (or the provider is not configured) -> the payment stays ``needs_reconciliation``.

Nothing here ever tries another provider: a payment is only ever settled, never continued.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from ._answers import final_answer
from ._attempts import Attempt, ProviderStatus
from ._engine import unresolved_result
from ._models import ErrorCode, PaymentResult, ResultCode, ResultError
from ._records import Decision, Payment, PaymentStatus
from ._states import IllegalTransition

if TYPE_CHECKING:
    from ._host import Host

__all__ = ["Settlement", "reconcile", "run_sync"]

_log = structlog.get_logger("tradepay")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Settlement:
    """What reconciliation did with one payment."""

    payment_id: str
    trade_no: str
    before: PaymentStatus
    after: PaymentStatus
    detail: str


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="tradepay-reconcile")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]


def _unsettled_attempt(payment: Payment) -> Attempt | None:
    if payment.pending is not None:
        return payment.pending
    unknown = [r.attempt for r in payment.attempts if r.status is ProviderStatus.UNKNOWN]
    return unknown[-1] if unknown else None


async def _settle_one(host: Host, payment: Payment) -> Settlement:
    ledger, chain = host.ledger, host.chain
    before = payment.status
    attempt = _unsettled_attempt(payment)
    if attempt is None:  # every attempt settled: the host stopped between recording them and the payment
        paid_records = [r for r in payment.attempts if r.status is ProviderStatus.PAID]
        if paid_records:
            paid = paid_records[-1]
            answered = paid.result
            result = (
                answered
                if answered is not None and answered.result_code is ResultCode.SUCCESS
                else PaymentResult(ResultCode.SUCCESS, "paid (confirmed by reconciliation)")
            )
            ledger.settle_payment(
                payment.payment_id,
                PaymentStatus.SUCCEEDED,
                final_answer(result, payment.payment_id, paid.attempt.provider),
            )
            return Settlement(payment.payment_id, payment.trade_no, before, PaymentStatus.SUCCEEDED, "already paid")
        return _failed(host, payment, "no attempt moved money")
    order = ledger.get_order(payment.trade_no)
    handle = next((h for h in chain.handles if h.name == attempt.provider), None)
    if order is None or handle is None:
        why = f"provider {attempt.provider!r} is not configured" if handle is None else "its order is gone"
        return _left(host, payment, why, attempt)
    deadline = time.monotonic() + chain.settings.deadline_s
    decision, paid_now, note = await chain.settle(handle, order, attempt, deadline)
    if paid_now:
        ledger.settle_attempt(attempt, ProviderStatus.PAID, f"reconciliation: {note}")
        confirmed = PaymentResult(ResultCode.SUCCESS, "paid (confirmed by reconciliation)")
        ledger.settle_payment(
            payment.payment_id, PaymentStatus.SUCCEEDED, final_answer(confirmed, payment.payment_id, attempt.provider)
        )
        return Settlement(payment.payment_id, payment.trade_no, before, PaymentStatus.SUCCEEDED, note)
    if decision is Decision.FALLTHROUGH:
        ledger.settle_attempt(attempt, ProviderStatus.NOT_PAID, f"reconciliation: {note}")
        return _failed(host, payment, note)
    return _left(host, payment, note, attempt)


def _failed(host: Host, payment: Payment, why: str) -> Settlement:
    message = f"not paid (confirmed by reconciliation: {why}); the order may be paid again"
    failed = PaymentResult(ResultCode.FAILED, message, ResultError(ErrorCode.SYSTEM_ERROR, message))
    # No provider decided it: nothing moved anywhere, as when every provider of the chain declines.
    host.ledger.settle_payment(payment.payment_id, PaymentStatus.FAILED, final_answer(failed, payment.payment_id, None))
    return Settlement(payment.payment_id, payment.trade_no, payment.status, PaymentStatus.FAILED, why)


def _left(host: Host, payment: Payment, why: str, attempt: Attempt) -> Settlement:
    if payment.status is PaymentStatus.PROCESSING:
        answer = final_answer(unresolved_result(), payment.payment_id, attempt.provider)
        host.ledger.settle_payment(payment.payment_id, PaymentStatus.NEEDS_RECONCILIATION, answer)
    return Settlement(payment.payment_id, payment.trade_no, payment.status, PaymentStatus.NEEDS_RECONCILIATION, why)


def reconcile(
    host: Host,
    *,
    stale_after_s: float | None = None,
    progress: Callable[[Settlement], object] | None = None,
) -> list[Settlement]:
    """Settle every unsettled payment of ``host``'s ledger (see the module docstring); ``stale_after_s``
    (default twice ``chain.deadline_s``; ``0`` for all) says when a processing payment counts as abandoned.
    ``progress`` is called after each payment. Returns what was done, in order."""
    stale = 2 * host.chain.settings.deadline_s if stale_after_s is None else stale_after_s
    settlements = []
    for payment in host.ledger.unsettled(updated_before=time.time() - stale):
        try:
            settlement = run_sync(_settle_one(host, payment))
        except IllegalTransition:  # settled meanwhile by another process's reconciliation
            current = host.ledger.get_payment(payment.payment_id)
            after = current.status if current else payment.status
            settlement = Settlement(payment.payment_id, payment.trade_no, payment.status, after, "settled elsewhere")
        _log.info(
            "payment.reconciled",
            payment_id=payment.payment_id,
            trade_no=payment.trade_no,
            before=settlement.before.value,
            after=settlement.after.value,
            detail=settlement.detail,
        )
        settlements.append(settlement)
        if progress is not None:
            progress(settlement)
    return settlements
