"""A world for the notification flow tests: a real ledger, a host paying and refunding through the reference
provider, merchant ``shop-1`` notified at a real receiver, and what the ledger says every event should tell."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradepay import Host, PaymentAmount, PaymentRequest, PaymentService, PaymentType, ResultCode
from tradepay._ledger.merchants import merchant_book
from tradepay._ledger.notifications import Notification
from tradepay._ledger.records import PaymentStatus
from tradepay._refunding import RefundService
from tradepay._spi.refunds import RefundStatus
from tradepay.server import public_pem
from tradepay.testing import ReferenceProvider, sample_context

sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:
    from tests.server_kit import make_host, rsa_key
else:
    from server_kit import make_host, rsa_key

#: Final states that are notified.
NOTIFIED_PAYMENTS = (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED)
NOTIFIED_REFUNDS = (RefundStatus.SUCCEEDED, RefundStatus.FAILED)


def paying_host(tmp_path: Path, ledger: Any, notify_url: str, provider: ReferenceProvider | None = None) -> Host:
    """A host on ``ledger`` whose reference provider (by default) declines one payment in three and one refund
    in two, and merchant ``shop-1`` registered with ``notify_url``."""
    provider = provider or ReferenceProvider(
        script=["success", "decline", "success"], refund_script=["truth", "decline"]
    )
    host = make_host(tmp_path, provider, ledger=ledger)
    book = merchant_book(ledger)
    if book.get_merchant("shop-1") is None:
        book.add_merchant("shop-1", public_pem(rsa_key("shop-1")), notify_url)
    return host


def make_traffic(host: Host, count: int, *, until: threading.Event | None = None, pause_s: float = 0.0) -> int:
    """Orders of ``shop-1``, ``count`` of them or (``until``) as many as come before the event is set, one
    every ``pause_s``: each paid (again after a decline), every other one partly refunded twice. How many."""
    made = 0
    with PaymentService(host) as payments:
        refunds = RefundService(host)
        while made < count if until is None else not until.is_set():
            order = host.ledger.create_order(PaymentAmount("USD", "1000"), merchant_id="shop-1", payer_id="alice")
            request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
            result = payments.pay_blocking(request, sample_context("alice"))
            if result.result_code is not ResultCode.SUCCESS:
                result = payments.pay_blocking(request, sample_context("alice"))
            if result.result_code is ResultCode.SUCCESS and made % 2 == 0:
                refunds.refund(order.trade_no, "300", f"{order.trade_no}-a")
                refunds.refund(order.trade_no, "200", f"{order.trade_no}-b")
            made += 1
            time.sleep(pause_s)
    return made


def final_states(ledger: Any) -> dict[str, str]:
    """Payment id or refund id -> final status, for every payment and refund whose end is notified."""
    states = {p.payment_id: p.status.value for p in ledger.payments(limit=100_000) if p.status in NOTIFIED_PAYMENTS}
    states |= {r.refund_id: r.status.value for r in ledger.refunds(limit=100_000) if r.status in NOTIFIED_REFUNDS}
    return states


def paid_orders(tmp_path: Path, ledger: Any, notify_url: str, count: int) -> list[Notification]:
    """``count`` orders of ``shop-1`` (notified at ``notify_url``) paid on ``ledger`` at once: one
    ``notifyPayment`` event each, oldest first."""
    host = paying_host(tmp_path, ledger, notify_url, ReferenceProvider())
    with PaymentService(host) as payments:
        for _ in range(count):
            order = ledger.create_order(PaymentAmount("USD", "1000"), merchant_id="shop-1", payer_id="alice")
            payments.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
    events: list[Notification] = ledger.notifications(limit=1000)
    return events[::-1]
