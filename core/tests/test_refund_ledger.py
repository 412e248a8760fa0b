"""Refunds in every ledger (memory, SQLite, PostgreSQL): the request's rules, the state machine, and the sum of
counted refunds never above what was paid under 50 threads (tests/test_refund_races.py: under processes)."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tradepay import (
    InvalidInput,
    Ledger,
    OrderRefundState,
    PaymentAmount,
    PaymentStatus,
    ProviderStatus,
    RefundAnswer,
    RefundOutcome,
    RefundStatus,
    order_refund_state,
)
from tradepay._ledger.memory import LedgerConflict
from tradepay._ledger.records import Decision
from tradepay._ledger.refunds import RefundRefused, RefundRequest
from tradepay._ledger.states import IllegalTransition, check_refund

from .test_ledger_contract import OK, order, record
from .test_ledger_contract import ledger as ledger  # the fixture of every ledger, found by its name

USD = "USD"


def paid_order(ledger: Ledger, value: str = "1000", *, declined_first: bool = True) -> tuple[Any, Any]:
    """An order paid by its payment's second attempt (the first fell through): ``(order, paying attempt)``."""
    made = order(ledger, value)
    payment, _ = ledger.begin_payment(made, None)
    if declined_first:
        first = ledger.start_attempt(payment.payment_id, "wallet")
        ledger.finish_attempt(record(first, ProviderStatus.NOT_PAID, Decision.FALLTHROUGH))
    paying = ledger.start_attempt(payment.payment_id, "card")
    ledger.finish_attempt(record(paying, ProviderStatus.PAID))
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    return made, paying


def ask(trade_no: str, value: str, request_id: str, reason: str | None = None) -> RefundRequest:
    return RefundRequest(trade_no, PaymentAmount(USD, value), request_id, reason)


# --- the state machine ---------------------------------------------------------------------------------------

ALLOWED = {
    (RefundStatus.PROCESSING, RefundStatus.SUCCEEDED),
    (RefundStatus.PROCESSING, RefundStatus.FAILED),
    (RefundStatus.PROCESSING, RefundStatus.NEEDS_RECONCILIATION),
    (RefundStatus.NEEDS_RECONCILIATION, RefundStatus.SUCCEEDED),
    (RefundStatus.NEEDS_RECONCILIATION, RefundStatus.FAILED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(RefundStatus, RefundStatus)))
def test_every_refund_transition_pair(old: RefundStatus, new: RefundStatus) -> None:
    if (old, new) in ALLOWED:
        check_refund(old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"a refund cannot go from {old.value} to {new.value}"):
            check_refund(old, new)


# --- one ledger ----------------------------------------------------------------------------------------------


def test_a_refund_is_recorded_for_the_attempt_that_took_the_money(ledger: Ledger) -> None:
    made, paying = paid_order(ledger)
    refund, created = ledger.begin_refund(ask(made.trade_no, "300", "r-1", "damaged"))
    assert created
    assert refund.attempt == paying  # the card's attempt, not the wallet's that fell through
    assert (refund.status, refund.amount, refund.merchant_id, refund.reason) == (
        RefundStatus.PROCESSING,
        PaymentAmount(USD, "300"),
        "m1",
        "damaged",
    )
    assert refund.refund_id.startswith("rfd_")
    assert ledger.get_refund(refund.refund_id) == refund
    assert ledger.find_refund("m1", "r-1") == refund
    assert ledger.refunds(trade_no=made.trade_no) == [refund]
    assert ledger.refunds(status=RefundStatus.SUCCEEDED) == []


def test_a_repeat_answers_the_first_refund_and_a_different_one_is_refused(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    first, _ = ledger.begin_refund(ask(made.trade_no, "300", "r-1"))
    again, created = ledger.begin_refund(ask(made.trade_no, "300", "r-1"))
    assert (again, created) == (first, False)
    for different in (ask(made.trade_no, "301", "r-1"), ask(made.trade_no, "300", "r-1", "another reason")):
        with pytest.raises(RefundRefused) as refused:
            ledger.begin_refund(different)
        assert refused.value.code == "REPEAT_REQ_INCONSISTENT"
    other, _ = paid_order(ledger)
    with pytest.raises(RefundRefused, match="was used for another refund"):
        ledger.begin_refund(ask(other.trade_no, "300", "r-1"))  # one merchant's request id names one refund
    assert ledger.refunds() == [first]


def test_counted_refunds_never_exceed_the_payment(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    a, _ = ledger.begin_refund(ask(made.trade_no, "600", "r-1"))
    with pytest.raises(RefundRefused) as refused:
        ledger.begin_refund(ask(made.trade_no, "500", "r-2"))  # the processing one counts
    assert refused.value.code == "REFUND_AMOUNT_EXCEED"
    assert "USD 4.00" in refused.value.message
    ledger.finish_refund(a.refund_id, RefundStatus.FAILED, RefundAnswer(RefundOutcome.FAILED, "REFUND_DECLINED"))
    b, _ = ledger.begin_refund(ask(made.trade_no, "500", "r-2"))  # a failed one gives its amount back
    ledger.finish_refund(b.refund_id, RefundStatus.NEEDS_RECONCILIATION, None)
    c, _ = ledger.begin_refund(ask(made.trade_no, "500", "r-3"))
    with pytest.raises(RefundRefused, match="USD 0"):
        ledger.begin_refund(ask(made.trade_no, "1", "r-4"))
    assert {r.refund_id for r in ledger.refunds()} == {a.refund_id, b.refund_id, c.refund_id}


def test_only_a_paid_order_is_refunded_and_in_its_currency(ledger: Ledger) -> None:
    unpaid = order(ledger)
    with pytest.raises(RefundRefused) as refused:
        ledger.begin_refund(ask(unpaid.trade_no, "1", "r-1"))
    assert refused.value.code == "ORDER_NOT_PAID"
    with pytest.raises(RefundRefused, match="no succeeded payment"):
        ledger.begin_refund(ask("T-none", "1", "r-1"))
    made, _ = paid_order(ledger)
    with pytest.raises(InvalidInput, match="amount: is in EUR, the order was paid in USD"):
        ledger.begin_refund(RefundRequest(made.trade_no, PaymentAmount("EUR", "1"), "r-1"))
    assert ledger.refunds() == []


def test_refund_states_are_enforced_by_the_ledger(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    refund, _ = ledger.begin_refund(ask(made.trade_no, "100", "r-1"))
    ledger.finish_refund(refund.refund_id, RefundStatus.NEEDS_RECONCILIATION, None)
    with pytest.raises(IllegalTransition):  # only a processing refund is finished by its request
        ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, None)
    assert [r.refund_id for r in ledger.unsettled_refunds(updated_before=0)] == [refund.refund_id]
    answer = RefundAnswer(RefundOutcome.SUCCEEDED, None, "back")
    settled = ledger.settle_refund(refund.refund_id, RefundStatus.SUCCEEDED, answer)
    assert (settled.status, settled.answer) == (RefundStatus.SUCCEEDED, answer)
    assert ledger.get_refund(refund.refund_id) == settled
    with pytest.raises(IllegalTransition):
        ledger.settle_refund(refund.refund_id, RefundStatus.FAILED, None)
    with pytest.raises(LedgerConflict):
        ledger.settle_refund("rfd_missing", RefundStatus.FAILED, None)
    assert ledger.unsettled_refunds(updated_before=4e9) == []


def test_a_stale_processing_refund_is_unsettled(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    refund, _ = ledger.begin_refund(ask(made.trade_no, "100", "r-1"))
    assert ledger.unsettled_refunds(updated_before=refund.updated_at) == []
    assert ledger.unsettled_refunds(updated_before=refund.updated_at + 1) == [refund]


def test_the_order_refund_state_follows_the_succeeded_refunds(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    assert order_refund_state(made.amount, ledger.refunds()) is OrderRefundState.PAID
    a, _ = ledger.begin_refund(ask(made.trade_no, "400", "r-1"))
    assert order_refund_state(made.amount, ledger.refunds()) is OrderRefundState.PAID  # not back yet
    ledger.finish_refund(a.refund_id, RefundStatus.SUCCEEDED, None)
    assert order_refund_state(made.amount, ledger.refunds()) is OrderRefundState.PARTIALLY_REFUNDED
    b, _ = ledger.begin_refund(ask(made.trade_no, "600", "r-2"))
    ledger.finish_refund(b.refund_id, RefundStatus.SUCCEEDED, None)
    assert order_refund_state(made.amount, ledger.refunds()) is OrderRefundState.REFUNDED


# --- 50 at once ----------------------------------------------------------------------------------------------


def try_refund(ledger: Ledger, trade_no: str, n: int) -> str:
    """Refund 300 of ``trade_no`` under request id ``r-n``; the answer's code (the refund succeeds at once)."""
    try:
        refund, created = ledger.begin_refund(ask(trade_no, "300", f"r-{n}"))
    except RefundRefused as refused:
        return refused.code
    assert created
    ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, None)
    return "SUCCESS"


def check_three_of_fifty(ledger: Ledger, trade_no: str, codes: list[str]) -> None:
    assert sorted(set(codes)) == ["REFUND_AMOUNT_EXCEED", "SUCCESS"]
    assert codes.count("SUCCESS") == 3
    refunds = ledger.refunds(trade_no=trade_no, limit=1000)
    assert len(refunds) == 3
    assert sum(r.amount.minor_units for r in refunds) == 900 <= 1000


def test_fifty_concurrent_refunds_of_thirty_percent_on_threads(ledger: Ledger) -> None:
    made, _ = paid_order(ledger)
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda n: try_refund(ledger, made.trade_no, n), range(50)))
    check_three_of_fifty(ledger, made.trade_no, codes)
