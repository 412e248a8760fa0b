"""RefundService: a refund goes to the attempt that took the money, answers exactly once and never raises; its
inquiry and reconciliation settle what was left unknown; close refuses a paid order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from tradepay import (
    Attempt,
    InvalidInput,
    Order,
    OrderStatus,
    PaymentAmount,
    PaymentResult,
    PaymentStatus,
    Refund,
    RefundAnswer,
    RefundOutcome,
    RefundService,
    RefundStatus,
    ResultStatus,
    hookimpl,
)
from tradepay._ledger.refund_reconcile import reconcile_refunds
from tradepay.testing import AsyncReferenceProvider, PayOnlyReferenceProvider, ReferenceProvider

from .conftest import Bench


def refunds_of(bench: Bench) -> RefundService:
    return RefundService(bench.service.host)


def card_bench(bench_factory: Any, **settings: Any) -> tuple[ReferenceProvider, Bench, Any, RefundService]:
    """A chain of one reference card (with ``settings``), an order of USD 10.00 it paid, and the refunds."""
    card = ReferenceProvider(**settings)
    bench = bench_factory(card=card)
    order = paid(bench)
    return card, bench, order, refunds_of(bench)


def paid(bench: Bench, value: str = "1000") -> Any:
    order = bench.order(value)
    assert bench.pay(order).result_code.value == "9000"
    return order


def test_a_refund_after_two_fallthroughs_goes_to_the_third_provider(bench_factory: Any) -> None:
    wallet, card, agreement = (
        ReferenceProvider(script=["decline"]),
        ReferenceProvider(script=["insufficient"]),
        ReferenceProvider(),
    )
    bench = bench_factory(wallet=wallet, card=card, agreement=agreement)
    order = paid(bench)
    answer = refunds_of(bench).refund(order.trade_no, "300", "r-1", "damaged")
    assert (answer.result_status, answer.result_code) == (ResultStatus.SUCCESS, "SUCCESS")
    assert answer.refund is not None
    assert answer.refund.attempt.provider == "agreement"
    assert answer.refund.attempt.number == 3
    assert (wallet.refund_desk.calls, card.refund_desk.calls) == ([], [])
    assert agreement.refund_desk.refunded() == 300
    assert bench.ledger.get_refund(answer.refund.refund_id).status is RefundStatus.SUCCEEDED


def test_partial_refunds_then_the_rest_then_nothing(bench_factory: Any) -> None:
    card, bench, order, service = card_bench(bench_factory)
    assert service.refund(order.trade_no, "400", "r-1").result_code == "SUCCESS"
    assert service.refund(order.trade_no, PaymentAmount("USD", "600"), "r-2").result_code == "SUCCESS"
    over = service.refund(order.trade_no, "1", "r-3")
    assert (over.result_status, over.result_code, over.refund) == (ResultStatus.FAILED, "REFUND_AMOUNT_EXCEED", None)
    assert card.refund_desk.refunded() == 1000
    assert len(bench.ledger.refunds()) == 2


def test_a_repeat_gets_the_first_answer_and_an_inconsistent_one_is_refused(bench_factory: Any) -> None:
    card, _bench, order, service = card_bench(bench_factory)
    first = service.refund(order.trade_no, "300", "r-1")
    again = service.refund(order.trade_no, "300", "r-1")
    assert again == first
    other = service.refund(order.trade_no, "301", "r-1")
    assert (other.result_status, other.result_code) == (ResultStatus.FAILED, "REPEAT_REQ_INCONSISTENT")
    assert card.refund_desk.calls == [("refund", first.refund.refund_id)]  # type: ignore[union-attr]
    assert card.refund_desk.refunded() == 300


def test_a_provider_without_refund_is_not_refundable_and_nothing_is_recorded(bench_factory: Any) -> None:
    bench = bench_factory(wallet=PayOnlyReferenceProvider())
    order = paid(bench)
    answer = refunds_of(bench).refund(order.trade_no, "300", "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "NOT_REFUNDABLE")
    assert "'wallet'" in answer.result_message
    assert bench.ledger.refunds() == []


def test_bad_input_and_unpaid_orders_are_refused_with_nothing_recorded(bench_factory: Any) -> None:
    bench = bench_factory(card=ReferenceProvider(script=["decline", "success"]))
    service = refunds_of(bench)
    unpaid = bench.order()
    bench.pay(unpaid)
    assert service.refund(unpaid.trade_no, "1", "r-1").result_code == "INVALID_REQUEST"  # no currency to take
    assert service.refund(unpaid.trade_no, PaymentAmount("USD", "1"), "r-1").result_code == "ORDER_NOT_PAID"
    order = paid(bench)
    for amount, request_id, field in (
        ("0", "r-2", "payment_amount.value"),
        ("-5", "r-2", "payment_amount.value"),
        (PaymentAmount("USD", "5"), "", "refund_request_id"),
        (5, "r-2", "amount"),
    ):
        answer = service.refund(order.trade_no, amount, request_id)  # type: ignore[arg-type]
        assert answer.result_status is ResultStatus.FAILED
        assert field in answer.result_message
    assert bench.ledger.refunds() == []


def test_a_declined_refund_fails_and_its_amount_stays_refundable(bench_factory: Any) -> None:
    card, _bench, order, service = card_bench(bench_factory, refund_script=["decline", "truth"])
    declined = service.refund(order.trade_no, "1000", "r-1")
    assert (declined.result_status, declined.result_code) == (ResultStatus.FAILED, "REFUND_DECLINED")
    assert declined.refund is not None
    assert declined.refund.status is RefundStatus.FAILED
    assert service.refund(order.trade_no, "1000", "r-2").result_code == "SUCCESS"
    assert card.refund_desk.refunded() == 1000


@pytest.mark.parametrize("behaviour", ["late_success", "exception", "hang"])
def test_an_unknown_answer_is_settled_by_inquiry_at_once(bench_factory: Any, behaviour: str) -> None:
    card = ReferenceProvider(refund_script=[behaviour], hang_s=5.0)
    bench = bench_factory(card=card, chain={"provider_deadline_s": 0.2})
    order = paid(bench)
    answer = refunds_of(bench).refund(order.trade_no, "300", "r-1")
    card.release_hangs()
    moved = behaviour == "late_success"
    assert answer.result_status is (ResultStatus.SUCCESS if moved else ResultStatus.FAILED)
    assert card.refund_desk.refunded() == (300 if moved else 0)
    assert answer.refund is not None
    assert ("inquire_refund", answer.refund.refund_id) in card.refund_desk.calls


def test_an_unknown_refund_awaits_reconciliation_and_counts_meanwhile(bench_factory: Any) -> None:
    card, bench, order, service = card_bench(bench_factory, refund_script=["late_success"], refund_inquiry="unknown")
    answer = service.refund(order.trade_no, "800", "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.UNKNOWN, "REFUND_IN_PROCESS")
    assert answer.refund is not None
    assert answer.refund.status is RefundStatus.NEEDS_RECONCILIATION
    assert service.refund(order.trade_no, "300", "r-2").result_code == "REFUND_AMOUNT_EXCEED"
    assert service.inquire_refund(order.trade_no, "r-1").result_status is ResultStatus.UNKNOWN
    card.refund_desk.inquiry = "truth"
    [settled] = reconcile_refunds(bench.service.host)
    assert (settled.before, settled.after) == (RefundStatus.NEEDS_RECONCILIATION, RefundStatus.SUCCEEDED)
    assert service.inquire_refund(order.trade_no, "r-1").result_status is ResultStatus.SUCCESS
    assert card.refund_desk.refunded() == 800
    assert reconcile_refunds(bench.service.host) == []


def test_inquiry_settles_a_refund_left_for_reconciliation(bench_factory: Any) -> None:
    card, _bench, order, service = card_bench(bench_factory, refund_script=["exception"], refund_inquiry="unknown")
    assert service.refund(order.trade_no, "300", "r-1").result_status is ResultStatus.UNKNOWN
    card.refund_desk.inquiry = "truth"
    answer = service.inquire_refund(order.trade_no, "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "REFUND_FAILED")
    assert card.refund_desk.refunded() == 0
    missing = service.inquire_refund(order.trade_no, "r-404")
    assert (missing.result_status, missing.result_code) == (ResultStatus.FAILED, "REFUND_NOT_FOUND")


def test_the_awaitable_form_with_an_async_provider(bench_factory: Any) -> None:
    card = AsyncReferenceProvider()
    bench = bench_factory(card=card)
    order = paid(bench)
    answer = asyncio.run(refunds_of(bench).refund_async(order.trade_no, "250", "r-1"))
    assert answer.result_status is ResultStatus.SUCCESS
    assert card.refund_desk.refunded() == 250


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, RefundStatus]] = []

    @hookimpl
    def refund_started(self, refund: Refund) -> None:
        self.seen.append(("started", refund.refund_id, refund.status))

    @hookimpl
    def refund_finished(self, refund: Refund) -> None:
        self.seen.append(("finished", refund.refund_id, refund.status))
        raise RuntimeError("an observer's bug")


def test_observers_hear_the_refund_and_their_errors_stay_theirs(bench_factory: Any) -> None:
    observer = Observer()
    bench = bench_factory(card=ReferenceProvider(), _plugins={"observer": observer})
    order = paid(bench)
    with capture_logs() as logs:
        answer = refunds_of(bench).refund(order.trade_no, "300", "r-1")
    assert answer.result_status is ResultStatus.SUCCESS
    refund_id = answer.refund.refund_id  # type: ignore[union-attr]
    assert observer.seen == [
        ("started", refund_id, RefundStatus.PROCESSING),
        ("finished", refund_id, RefundStatus.SUCCEEDED),
    ]
    events = [e["event"] for e in logs]
    assert "observer.failed" in events
    finished = next(e for e in logs if e["event"] == "refund.finished")
    assert (finished["refund_id"], finished["status"], finished["provider"]) == (refund_id, "succeeded", "card")


def test_a_ledger_failure_after_recording_is_unknown_never_a_raise(bench_factory: Any) -> None:
    card = ReferenceProvider()
    bench = bench_factory(card=card)
    order = paid(bench)
    ledger = bench.ledger
    real = ledger.finish_refund
    calls: list[RefundStatus] = []

    def broken(refund_id: str, status: RefundStatus, answer: Any) -> Any:
        calls.append(status)
        if status is RefundStatus.SUCCEEDED:
            raise OSError("disk full")
        return real(refund_id, status, answer)

    ledger.finish_refund = broken
    answer = refunds_of(bench).refund(order.trade_no, "300", "r-1")
    assert answer.result_status is ResultStatus.UNKNOWN
    assert calls == [RefundStatus.SUCCEEDED, RefundStatus.NEEDS_RECONCILIATION]
    [settled] = reconcile_refunds(bench.service.host)
    assert settled.after is RefundStatus.SUCCEEDED  # the provider did move it: reconciliation finds out
    assert card.refund_desk.refunded() == 300


# --- close ---------------------------------------------------------------------------------------------------


def test_close_an_unpaid_order_and_it_can_no_longer_be_paid(bench_factory: Any) -> None:
    bench = bench_factory(card=ReferenceProvider(script=["decline", "success"]))
    order = bench.order()
    bench.pay(order)  # declined: nothing moved
    closed = refunds_of(bench).close_order(order.trade_no)
    assert closed.status is OrderStatus.CLOSED
    answer = bench.pay(order)
    assert answer.result_code.value == "4000"
    assert "closed" in answer.result_message


def test_close_refuses_a_paid_order(bench_factory: Any) -> None:
    bench = bench_factory(card=ReferenceProvider())
    order = paid(bench)
    with pytest.raises(InvalidInput, match=r"trade_no: .* is paid and cannot be closed"):
        refunds_of(bench).close_order(order.trade_no)


def test_close_settles_an_unsettled_payment_first(bench_factory: Any) -> None:
    # The payment's outcome is unknown (no inquiry answer), then the provider confirms a cancel on close.
    card = ReferenceProvider(script=["unknown_result"], inquiry="unknown", cancel="refuse")
    bench = bench_factory(card=card)
    order = bench.order()
    assert bench.pay(order).result_code.value == "6004"
    with pytest.raises(InvalidInput, match="has a payment needs_reconciliation"):
        refunds_of(bench).close_order(order.trade_no)  # still unknown after reconciliation: not closed
    card.cancel_mode = "truth"
    closed = refunds_of(bench).close_order(order.trade_no)
    assert closed.status is OrderStatus.CLOSED
    [payment] = bench.ledger.payments(trade_no=order.trade_no)
    assert payment.status is PaymentStatus.FAILED
    assert ("cancel", payment.attempts[0].attempt.idempotency_key) in card.calls


class SlowAsyncRefunds:
    """A provider whose ``refund`` is a coroutine that never answers in time (and moves nothing); it pays and
    inquires as the reference provider does."""

    def __init__(self) -> None:
        self.inner = ReferenceProvider()

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        answer: PaymentResult = self.inner.pay(order, attempt)
        return answer

    @hookimpl
    async def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        await asyncio.sleep(60)
        return self.inner.refund(attempt, refund)

    @hookimpl
    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        return self.inner.inquire_refund(attempt, refund)


def test_an_async_refund_past_its_deadline_is_cancelled_and_settled_by_inquiry(bench_factory: Any) -> None:
    card = SlowAsyncRefunds()
    bench = bench_factory(card=card, chain={"provider_deadline_s": 0.05})
    order = paid(bench)
    answer = refunds_of(bench).refund(order.trade_no, "300", "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "REFUND_FAILED")
    assert answer.refund is not None
    desk = card.inner.refund_desk
    assert desk.calls == [("inquire_refund", answer.refund.refund_id)]  # tombstoned: nothing moved, nothing will
    assert desk.refunded() == 0
