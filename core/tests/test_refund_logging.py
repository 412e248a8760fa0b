"""Logging never decides a refund: whatever the log stream or a processor does at any event of a refund, the
refund is answered once, and the ledger and the provider hold its true state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tradepay import OrderStatus, RefundService, RefundStatus, ResultStatus
from tradepay._ledger.refund_reconcile import reconcile_refunds
from tradepay.testing import ReferenceProvider

from .test_logging_failures import HOWS
from .test_logging_failures import break_logging as break_logging  # the fixture, found by its name

#: Every event the core logs on the way of a refund, an order's close or a refund's reconciliation.
REFUND_EVENTS = (
    "refund.finished",
    "refund.refused",
    "refund.repeated",
    "refund.reconciled",
    "refund.interrupted",
    "refund.failed_unrecorded",
    "refund.inquiry_failed",
    "order.closed",
)


@dataclass
class Run:
    bench: Any
    card: ReferenceProvider
    refunds: RefundService
    trade_no: str


def _paid(bench_factory: Any, **settings: Any) -> Run:
    card = ReferenceProvider(**settings)
    bench = bench_factory(card=card)
    order = bench.order("1000")
    assert bench.pay(order).result_code.value == "9000"
    return Run(bench, card, RefundService(bench.service.host), order.trade_no)


def _fails_once(ledger: Any, name: str, when: Callable[..., bool] = lambda *args: True) -> None:
    """Make ``ledger.name`` raise a full disk once, on the first call ``when`` accepts."""
    real = getattr(ledger, name)

    def broken(*args: Any) -> Any:
        if when(*args):
            setattr(ledger, name, real)
            raise OSError(28, "No space left on device")
        return real(*args)

    setattr(ledger, name, broken)


def finished(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    answer = run.refunds.refund(run.trade_no, "300", "r-1")
    assert answer.result_status is ResultStatus.SUCCESS
    assert [r.status for r in run.bench.ledger.refunds()] == [RefundStatus.SUCCEEDED]
    assert run.card.refund_desk.refunded() == 300


def refused(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    answer = run.refunds.refund(run.trade_no, "1001", "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "REFUND_AMOUNT_EXCEED")
    assert run.bench.ledger.refunds() == []


def repeated(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    first = run.refunds.refund(run.trade_no, "300", "r-1")
    assert run.refunds.refund(run.trade_no, "300", "r-1") == first
    assert run.card.refund_desk.refunded() == 300


def reconciled(bench_factory: Any) -> None:
    run = _paid(bench_factory, refund_script=["late_success"], refund_inquiry="unknown")
    assert run.refunds.refund(run.trade_no, "300", "r-1").result_status is ResultStatus.UNKNOWN
    run.card.refund_desk.inquiry = "truth"
    [settled] = reconcile_refunds(run.bench.service.host)
    assert settled.after is RefundStatus.SUCCEEDED
    assert run.refunds.inquire_refund(run.trade_no, "r-1").result_status is ResultStatus.SUCCESS


def interrupted(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    _fails_once(run.bench.ledger, "finish_refund", lambda _id, status, _answer: status is RefundStatus.SUCCEEDED)
    answer = run.refunds.refund(run.trade_no, "300", "r-1")
    assert answer.result_status is ResultStatus.UNKNOWN
    assert [r.status for r in run.bench.ledger.refunds()] == [RefundStatus.NEEDS_RECONCILIATION]
    assert run.card.refund_desk.refunded() == 300  # moved: reconciliation finds it
    assert reconcile_refunds(run.bench.service.host)[0].after is RefundStatus.SUCCEEDED


def failed_unrecorded(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    _fails_once(run.bench.ledger, "begin_refund")
    answer = run.refunds.refund(run.trade_no, "300", "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "SYSTEM_ERROR")
    assert run.bench.ledger.refunds() == []
    assert run.card.refund_desk.calls == []
    assert run.refunds.refund(run.trade_no, "300", "r-1").result_status is ResultStatus.SUCCESS


def inquiry_failed(bench_factory: Any) -> None:
    run = _paid(bench_factory)
    assert run.refunds.refund(run.trade_no, "300", "r-1").result_status is ResultStatus.SUCCESS
    _fails_once(run.bench.ledger, "find_refund")
    answer = run.refunds.inquire_refund(run.trade_no, "r-1")
    assert (answer.result_status, answer.result_code) == (ResultStatus.UNKNOWN, "SYSTEM_ERROR")
    assert run.refunds.inquire_refund(run.trade_no, "r-1").result_status is ResultStatus.SUCCESS


def closed(bench_factory: Any) -> None:
    bench = bench_factory(card=ReferenceProvider())
    order = bench.order()
    assert RefundService(bench.service.host).close_order(order.trade_no).status is OrderStatus.CLOSED
    assert bench.ledger.get_order(order.trade_no).status is OrderStatus.CLOSED


SCENARIOS: dict[str, Callable[[Any], None]] = {
    "refund.finished": finished,
    "refund.refused": refused,
    "refund.repeated": repeated,
    "refund.reconciled": reconciled,
    "refund.interrupted": interrupted,
    "refund.failed_unrecorded": failed_unrecorded,
    "refund.inquiry_failed": inquiry_failed,
    "order.closed": closed,
}


def test_every_refund_event_has_a_scenario() -> None:
    assert tuple(SCENARIOS) == REFUND_EVENTS


@pytest.mark.parametrize("every_line", [False, True], ids=["that-event", "every-event"])
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("event", REFUND_EVENTS)
def test_a_log_failure_changes_neither_the_answer_nor_the_state(
    bench_factory: Any, break_logging: Any, event: str, how: str, every_line: bool
) -> None:
    """Logging breaks at the scenario's event (or at every line): the scenario's checks hold all the same."""
    breakage = break_logging(None if every_line else event, how)
    SCENARIOS[event](bench_factory)
    assert breakage.failures >= 1, f"the scenario did not log {event}"
