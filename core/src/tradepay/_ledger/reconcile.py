"""Reconciliation: settle every payment a crash, a kill or an unknown answer left unsettled.

A payment is unsettled when it needs reconciliation, or when it is still ``processing`` but nobody has
touched it for longer than a live payment can take (twice the chain's deadline by default: younger ones may
be in flight in another process). For each, the one unsettled attempt (sent and unanswered, or unknown) is
asked about through its provider's inquiry, and cancelled if still unknown, exactly as the chain does; then:

* paid -> the payment succeeds and its order is paid;
* not paid (or the cancel confirmed) -> the payment fails; nothing moved, the order may be paid again;
* still unknown (or the provider is not configured) -> the payment stays ``needs_reconciliation``.

Nothing here ever tries another provider: a payment is only ever settled, never continued. The provider is
asked about the order the payment recorded (its snapshot), whichever order book the order came from.

Several reconciliations may run at once (``tradepay reconcile`` on several machines, hosts starting together):
each payment is settled under the ledger's claim, held by one of them for twice the chain's deadline at most
(by then its inquiries have ended; a claim left by a killed process runs out). Only the holder asks the
provider and writes. Another finds the payment held, settles the rest of its list, then waits for the holder
to let go and reports the payment as the holder left it (``settled elsewhere``), or settles it in turn if the
holder left it unsettled.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._chain.answers import final_answer, unresolved_result
from .._chain.capabilities import Attempt, ProviderStatus
from .._logging import get_logger
from .._spi.models import ErrorCode, PaymentResult, ResultCode, ResultError
from .records import Decision, Payment, PaymentStatus
from .states import IllegalTransition

if TYPE_CHECKING:
    from .._host import Host

__all__ = ["Settlement", "reconcile", "reconcile_payment", "run_sync", "too_young_note", "too_young_to_settle"]

_log = get_logger("tradepay")
T = TypeVar("T")
_UNSETTLED = frozenset({PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION})
#: How long a reconciliation waiting for another to let a payment go sleeps between looks (doubling, up to).
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.01, 0.25


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
    order = payment.order
    handle = next((h for h in chain.handles if h.name == attempt.provider), None)
    if order is None or handle is None:
        why = f"provider {attempt.provider!r} is not configured" if handle is None else "the ledger recorded no order"
        return _left(host, payment, why, attempt)
    deadline = time.monotonic() + chain.settings.deadline_s
    decision, paid_now, note = await chain.inquire_then_cancel(handle, order, attempt, deadline)
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


def _found_settled(listed: Payment, current: Payment | None) -> Settlement:
    after = current.status if current is not None else listed.status
    return Settlement(listed.payment_id, listed.trade_no, listed.status, after, "settled elsewhere")


def _settle_claimed(host: Host, listed: Payment, lease_s: float) -> Settlement | None:
    """Settle ``listed`` under this reconciliation's claim; ``None`` while another reconciliation holds it."""
    ledger = host.ledger
    claim = ledger.claim_settlement(listed.payment_id, lease_s)
    if claim is None:
        current = ledger.get_payment(listed.payment_id)
        if current is not None and current.status in _UNSETTLED:
            return None
        return _found_settled(listed, current)
    try:
        payment = ledger.get_payment(listed.payment_id)  # as it is now that it is held: the list may be old
        if payment is None or payment.status not in _UNSETTLED:
            return _found_settled(listed, payment)
        return run_sync(_settle_one(host, payment))
    except IllegalTransition:  # ended meanwhile by a host still paying it (it was not as stale as it looked)
        return _found_settled(listed, ledger.get_payment(listed.payment_id))
    finally:
        ledger.release_settlement(listed.payment_id, claim)


def _settle_after_the_holder(host: Host, listed: Payment, lease_s: float) -> Settlement:
    """Wait for the reconciliation holding ``listed`` to let it go (at most as long as a claim lasts), then
    report how it was left, or settle it if it is still unsettled."""
    give_up = time.monotonic() + lease_s
    pause = _FIRST_PAUSE_S
    while (settlement := _settle_claimed(host, listed, lease_s)) is None:
        if time.monotonic() >= give_up:
            current = host.ledger.get_payment(listed.payment_id)
            after = current.status if current is not None else listed.status
            return Settlement(
                listed.payment_id, listed.trade_no, listed.status, after, "held by another reconciliation"
            )
        time.sleep(pause)
        pause = min(2 * pause, _LONGEST_PAUSE_S)
    return settlement


def _log_settlement(settlement: Settlement) -> None:
    _log.info(
        "payment.reconciled",
        payment_id=settlement.payment_id,
        trade_no=settlement.trade_no,
        before=settlement.before.value,
        after=settlement.after.value,
        detail=settlement.detail,
    )


def reconcile_payment(host: Host, payment: Payment) -> Settlement:
    """Settle the one unsettled ``payment`` now, as :func:`reconcile` would (under the ledger's claim; after
    another reconciliation holding it lets it go)."""
    settlement = _settle_after_the_holder(host, payment, 2 * host.chain.settings.deadline_s)
    _log_settlement(settlement)
    return settlement


def reconcile(
    host: Host,
    *,
    stale_after_s: float | None = None,
    progress: Callable[[Settlement], object] | None = None,
) -> list[Settlement]:
    """Settle every unsettled payment of ``host``'s ledger (see the module docstring); ``stale_after_s``
    (default twice ``chain.deadline_s``; ``0`` for all) says when a processing payment counts as abandoned.
    ``progress`` is called after each payment. Returns what was done, in the order it was done: a payment that
    another reconciliation held comes after the rest, once it was let go."""
    lease_s = 2 * host.chain.settings.deadline_s
    stale = lease_s if stale_after_s is None else stale_after_s
    settlements: list[Settlement] = []

    def done(settlement: Settlement) -> None:
        _log_settlement(settlement)
        settlements.append(settlement)
        if progress is not None:
            progress(settlement)

    held = []
    for payment in host.ledger.unsettled(updated_before=time.time() - stale):
        settlement = _settle_claimed(host, payment, lease_s)
        if settlement is None:
            held.append(payment)
        else:
            done(settlement)
    for payment in held:
        done(_settle_after_the_holder(host, payment, lease_s))
    return settlements


def too_young_to_settle(host: Host, *, stale_after_s: float | None = None) -> list[Payment]:
    """The ``processing`` payments that :func:`reconcile` (with the same ``stale_after_s``) leaves alone: touched
    too recently to be counted abandoned, as they may still be in flight in a running host."""
    stale = 2 * host.chain.settings.deadline_s if stale_after_s is None else stale_after_s
    cutoff = time.time() - stale
    return [p for p in host.ledger.payments(status=PaymentStatus.PROCESSING, limit=1_000_000) if p.updated_at >= cutoff]


def too_young_note(count: int, stale_after_s: float) -> str:
    """What ``reconcile`` and ``doctor`` say of the ``count`` processing payments they left alone."""
    return (
        f"{count} processing payment(s) left alone: touched less than {stale_after_s:g} s ago (twice "
        "chain.deadline_s), they may still be in flight in a running host; `tradepay reconcile --all` settles "
        "them too, once no host is paying"
    )
