"""Reconciliation of refunds: settle every refund a crash, a kill or an unknown answer left unsettled.

A refund is unsettled when it needs reconciliation, or when it is still ``processing`` and untouched for
longer than a refund can take (twice the chain's deadline by default). Each is asked about through its
provider's ``inquire_refund``, for the attempt and the key it was recorded with:

* succeeded -> the refund succeeded;
* failed (a key the provider never saw is tombstoned first, so a late call moves nothing) -> it failed, and
  its amount may be refunded again under a new request id;
* still unknown, no inquiry, or the provider is not configured -> it stays (or becomes)
  ``needs_reconciliation`` and keeps counting against what can be refunded.

A refund is only ever settled, never sent again. Several reconciliations may ask about one refund at once
(inquiries are idempotent); the ledger's conditional update lets one of them write, and the others report it
as it was left (``settled elsewhere``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._chain.refunds import RefundObservers, settle_by_inquiry
from .._logging import get_logger
from .._spi.refunds import Refund, RefundStatus
from .orders import Order
from .reconcile import run_sync
from .states import IllegalTransition

if TYPE_CHECKING:
    from .._host import Host

__all__ = ["RefundSettlement", "reconcile_refunds", "settle_refund"]

_log = get_logger("tradepay")


@dataclass(frozen=True, slots=True)
class RefundSettlement:
    """What reconciliation did with one refund."""

    refund_id: str
    trade_no: str
    before: RefundStatus
    after: RefundStatus
    detail: str


async def _settle(host: Host, refund: Refund, order: Order | None) -> tuple[Refund, str]:
    if order is None:
        status, note = RefundStatus.NEEDS_RECONCILIATION, "the ledger recorded no order for its payment"
    else:
        handle = host.refunders.get(refund.attempt.provider)
        deadline = time.monotonic() + host.chain.settings.deadline_s
        status, note = await settle_by_inquiry(handle, order, refund, host.pool, deadline)
    if status is refund.status:
        return refund, note
    try:
        settled = host.ledger.settle_refund(refund.refund_id, status, None)
    except IllegalTransition:  # settled meanwhile, by the request still running or another reconciliation
        return host.ledger.get_refund(refund.refund_id) or refund, "settled elsewhere"
    _log.info(
        "refund.reconciled",
        refund_id=refund.refund_id,
        trade_no=refund.trade_no,
        before=refund.status.value,
        after=status.value,
        detail=note,
    )
    if order is not None and settled.status is not RefundStatus.NEEDS_RECONCILIATION:
        RefundObservers(host.pm.hook).notify("refund_finished", settled, order)
    return settled, note


async def settle_refund(host: Host, refund: Refund, order: Order) -> Refund:
    """Settle the unsettled ``refund`` of ``order`` through its provider's inquiry; the refund as it is now."""
    settled, _note = await _settle(host, refund, order)
    return settled


def reconcile_refunds(host: Host, *, stale_after_s: float | None = None) -> list[RefundSettlement]:
    """Settle every unsettled refund of ``host``'s ledger (see the module docstring); ``stale_after_s``
    (default twice ``chain.deadline_s``; ``0`` for all) says when a processing refund counts as abandoned."""
    stale = 2 * host.chain.settings.deadline_s if stale_after_s is None else stale_after_s
    done = []
    for refund in host.ledger.unsettled_refunds(updated_before=time.time() - stale):
        payment = host.ledger.get_payment(refund.payment_id)
        settled, note = run_sync(_settle(host, refund, payment.order if payment is not None else None))
        done.append(RefundSettlement(refund.refund_id, refund.trade_no, refund.status, settled.status, note))
    return done
