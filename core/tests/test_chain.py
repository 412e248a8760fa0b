"""The chain walks providers by the rule table and never moves money twice for one order."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tradepay import (
    Attempt,
    AttemptRecord,
    ConfigError,
    ErrorCode,
    Host,
    Order,
    OutcomeKind,
    Payment,
    PaymentAmount,
    PaymentRequest,
    PaymentStatus,
    PaymentType,
    ResultCode,
    hookimpl,
)
from tradepay.testing import (
    AsyncReferenceProvider,
    Outcome,
    PayOnlyReferenceProvider,
    ReferenceProvider,
    sample_context,
)

Ref = ReferenceProvider


def calls(provider: ReferenceProvider, hook: str = "pay") -> int:
    return sum(1 for name, _ in provider.calls if name == hook)


def test_a_decline_falls_through_and_each_attempt_has_its_own_key(bench_factory: Any) -> None:
    a, b = Ref(script=["decline"]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "b"
    payment = bench.payment(result)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert [(r.attempt.provider, r.rule, r.final.value) for r in payment.attempts] == [
        ("a", "app-service-error", "fallthrough"),
        ("b", "success", "stop"),
    ]
    keys = [r.attempt.idempotency_key for r in payment.attempts]
    assert keys == [f"{payment.payment_id}-1", f"{payment.payment_id}-2"]
    assert bench.charged() == {"a": 0, "b": 250}


@pytest.mark.parametrize("outcome", [Outcome.USER_CANCEL])
def test_a_user_cancel_ends_the_payment(bench_factory: Any, outcome: Outcome) -> None:
    a, b = Ref(script=[outcome]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.USER_CANCEL
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.USER_CANCEL
    assert bench.payment(result).status is PaymentStatus.CANCELLED
    assert b.calls == []


def test_a_cancel_error_on_a_4000_is_answered_as_6001(bench_factory: Any) -> None:
    class CancelAs4000:
        @hookimpl
        def pay(self) -> Any:
            from tradepay import PaymentResult, ResultError

            return PaymentResult(ResultCode.FAILED, "closed cashier", ResultError(ErrorCode.USER_CANCEL, "closed"))

    b = Ref()
    bench = bench_factory(a=CancelAs4000(), b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.USER_CANCEL
    assert b.calls == []


@pytest.mark.parametrize("outcome", [Outcome.STOLEN, Outcome.RISK_DECLINE])
def test_a_risk_decline_stops(bench_factory: Any, outcome: Outcome) -> None:
    a, b = Ref(script=[outcome]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.FAILED
    assert result.reason in {"STOLEN_CARD", "RISK_REJECT"}
    assert bench.payment(result).status is PaymentStatus.FAILED
    assert b.calls == []


@pytest.mark.parametrize("cls", [Ref, AsyncReferenceProvider])
def test_a_late_success_is_found_by_inquiry_and_nothing_else_is_charged(bench_factory: Any, cls: type[Ref]) -> None:
    a, b = cls(script=["late_success"]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "a"
    record = bench.payment(result).attempts[0]
    assert (record.rule, record.decision.value, record.final.value) == ("unknown-result", "inquire", "stop")
    assert "inquiry: paid" in record.detail
    assert bench.charged() == {"a": 250, "b": 0}
    assert b.calls == []


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.TIMEOUT_ERROR,
        Outcome.UNKNOWN_ERROR,
        Outcome.PROCESSING,
        Outcome.NETWORK_ERROR,
        Outcome.UNKNOWN_RESULT,
        Outcome.EXCEPTION,
        Outcome.GARBAGE,
    ],
)
def test_an_ambiguous_outcome_that_moved_nothing_falls_through_after_inquiry(
    bench_factory: Any, outcome: Outcome
) -> None:
    a, b = Ref(script=[outcome]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    first = bench.payment(result).attempts[0]
    assert first.decision.value == "inquire"
    assert first.final.value == "fallthrough"
    assert calls(a, "inquire") == 1
    assert bench.charged() == {"a": 0, "b": 250}


def test_unknown_then_cancel_confirmed_falls_through_and_the_money_is_given_back(bench_factory: Any) -> None:
    a, b = Ref(script=["late_success"], inquiry="unknown"), Ref()
    bench = bench_factory(a=a, b=b, chain={"inquiry_attempts": 3})
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "b"
    assert calls(a, "inquire") == 3
    assert calls(a, "cancel") == 1
    assert a.book.refunds == 1
    assert bench.charged() == {"a": 0, "b": 250}


def test_unknown_and_cancel_refused_stops_for_reconciliation(bench_factory: Any) -> None:
    a, b = Ref(script=["late_success"], inquiry="unknown", cancel="refuse"), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.UNKNOWN
    assert bench.payment(result).status is PaymentStatus.NEEDS_RECONCILIATION
    assert b.calls == []
    # The order is blocked until reconciled: a repeat gets the stored "unknown" answer and calls nobody.
    again = bench.pay(bench.orders[0])
    assert again == result
    assert calls(a) == 1


def test_a_provider_without_inquiry_leaves_an_ambiguous_outcome_to_reconciliation(bench_factory: Any) -> None:
    a, b = PayOnlyReferenceProvider(script=["timeout_error"]), Ref()
    bench = bench_factory(a=a, b=b)
    result = bench.pay()
    assert result.result_code is ResultCode.UNKNOWN
    assert "no inquiry" in bench.payment(result).attempts[0].detail
    assert b.calls == []


@pytest.mark.parametrize("cls", [Ref, AsyncReferenceProvider])
def test_a_hang_misses_its_deadline_and_is_inquired(bench_factory: Any, cls: type[Ref]) -> None:
    a, b = cls(script=["hang"]), Ref()
    bench = bench_factory(a=a, b=b, chain={"provider_deadline_s": 0.05})
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    first = bench.payment(result).attempts[0]
    assert first.kind is OutcomeKind.TIMEOUT
    assert first.final.value == "fallthrough"
    assert bench.charged() == {"a": 0, "b": 250}


@pytest.mark.parametrize("cls", [Ref, AsyncReferenceProvider])
def test_a_hang_after_charging_is_found_paid(bench_factory: Any, cls: type[Ref]) -> None:
    a, b = cls(script=["late_success_hang"]), Ref()
    bench = bench_factory(a=a, b=b, chain={"provider_deadline_s": 0.05})
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "a"
    assert bench.charged() == {"a": 250, "b": 0}


def test_a_hung_sync_provider_does_not_block_other_payments(bench_factory: Any) -> None:
    a = Ref(script=["hang", "success"])
    bench = bench_factory(a=a, chain={"provider_deadline_s": 30.0})
    first, second = bench.order(), bench.order()
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(bench.pay(first)))
    worker.start()
    while calls(a) < 1:  # wait until the first payment is inside its hang
        time.sleep(0.001)
    assert bench.pay(second).result_code is ResultCode.SUCCESS
    a.release_hangs()
    worker.join(10)
    assert answers[0].result_code is not ResultCode.SUCCESS  # answered after the hang: unknown -> inquired


def test_the_whole_payment_deadline_leaves_an_unanswered_attempt_to_reconciliation(bench_factory: Any) -> None:
    a, b = AsyncReferenceProvider(script=["hang"]), Ref()
    bench = bench_factory(a=a, b=b, chain={"deadline_s": 0.05, "provider_deadline_s": 5.0})
    result = bench.pay()
    assert result.result_code is ResultCode.UNKNOWN
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.TIMEOUT
    assert bench.payment(result).status is PaymentStatus.NEEDS_RECONCILIATION
    assert b.calls == []


def test_when_every_provider_declines_the_answer_lists_the_attempts(bench_factory: Any) -> None:
    a, b, c = Ref(script=["agreement_pending"]), Ref(script=["insufficient"]), Ref(script=["system_error"])
    bench = bench_factory(a=a, b=b, c=c)
    result = bench.pay()
    assert result.result_code is ResultCode.FAILED
    assert result.result_message == (
        "every provider declined: a: 2001 AUTH_PENDING_AGREEMENT; b: 1002 USER_BALANCE_NOT_ENOUGH; c: 1005 SYSTEM_ERROR"
    )
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR
    payment = bench.payment(result)
    assert payment.status is PaymentStatus.FAILED
    assert len(payment.attempts) == 3
    # Nothing moved, so the order stays open and a new payment may be made.
    c.script = [Outcome.SUCCESS]
    assert bench.pay(bench.orders[0]).result_code is ResultCode.SUCCESS


def test_providers_whose_capabilities_exclude_the_order_are_skipped(bench_factory: Any) -> None:
    a, b, c = Ref(currencies=["EUR"]), Ref(max_amount=100), Ref()
    bench = bench_factory(a=a, b=b, c=c)
    result = bench.pay()
    assert result.extended_info["provider"] == "c"
    assert [r.attempt.provider for r in bench.payment(result).attempts] == ["c"]
    assert a.calls == b.calls == []
    only = bench_factory(a=Ref(currencies=["EUR"]))
    refused = only.pay()
    assert refused.result_code is ResultCode.FAILED
    assert "no provider can pay this order: a: currency USD not supported" in refused.result_message


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda bench: ("T-missing", None), "order not found"),
        (lambda bench: (bench.ledger.close_order(bench.order().trade_no).trade_no, None), "is closed"),
        (lambda bench: (bench.order(expires_at=time.time() - 1).trade_no, None), "has expired"),
        (lambda bench: (bench.order().trade_no, PaymentAmount("USD", "251")), "disagrees with order"),
        (lambda bench: (bench.order().trade_no, PaymentAmount("EUR", "250")), "disagrees with order"),
        (lambda bench: (bench.order(payer_id="mallory").trade_no, None), "is not the payer"),
    ],
)
def test_refusals_call_no_provider_and_store_nothing(bench_factory: Any, prepare: Any, message: str) -> None:
    a = Ref()
    bench = bench_factory(a=a)
    trade_no, amount = prepare(bench)
    result = bench.service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no, amount), sample_context("alice"))
    assert result.result_code is ResultCode.FAILED
    assert message in result.result_message
    assert a.calls == []
    assert bench.ledger.payments() == []


def test_a_repeat_of_a_paid_order_returns_the_stored_result(bench_factory: Any) -> None:
    a = Ref()
    bench = bench_factory(a=a)
    order = bench.order()
    first = bench.pay(order)
    again = bench.pay(order, payment_amount=PaymentAmount("USD", "250"))
    assert again == first
    assert calls(a) == 1
    assert len(bench.ledger.payments()) == 1


def test_a_repeat_while_in_flight_answers_processing_at_once(bench_factory: Any) -> None:
    a = AsyncReferenceProvider(script=["hang", "success"])
    bench = bench_factory(a=a)
    order = bench.order()
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)

    async def both() -> tuple[Any, Any]:
        first = asyncio.ensure_future(bench.service.pay_async(request, sample_context("alice")))
        while calls(a) < 1:
            await asyncio.sleep(0.001)
        second = await bench.service.pay_async(request, sample_context("alice"))
        a.release_hangs()
        return await first, second

    first, second = asyncio.run(both())
    assert second.result_code is ResultCode.PROCESSING
    assert second.extended_info["paymentId"] == first.extended_info["paymentId"]
    assert calls(a) == 1


def test_parallel_duplicates_charge_once(bench_factory: Any) -> None:
    a = Ref()
    bench = bench_factory(a=a)
    order = bench.order()
    barrier = threading.Barrier(50)
    answers: list[Any] = []
    lock = threading.Lock()

    def pay() -> None:
        barrier.wait()
        result = bench.pay(order)
        with lock:
            answers.append(result)

    threads = [threading.Thread(target=pay) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 50
    assert calls(a) == 1
    assert a.charged == 250
    payment_ids = {r.extended_info["paymentId"] for r in answers}
    assert len(payment_ids) == 1
    assert {r.result_code for r in answers} <= {ResultCode.SUCCESS, ResultCode.PROCESSING}


def test_the_attempt_is_recorded_before_the_provider_is_called(bench_factory: Any) -> None:
    seen: list[Attempt | None] = []

    class Witness:
        ledger: Any = None

        @hookimpl
        def pay(self, attempt: Attempt) -> Any:
            seen.append(self.ledger.get_payment(attempt.payment_id).pending)
            from tradepay import PaymentResult

            return PaymentResult(ResultCode.SUCCESS, "ok")

    witness = Witness()
    bench = bench_factory(w=witness)
    witness.ledger = bench.ledger
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert seen == [bench.payment(result).attempts[0].attempt]


def test_observers_see_every_event_and_their_errors_change_nothing(bench_factory: Any) -> None:
    events: list[str] = []

    class Observer:
        @hookimpl
        def attempt_started(self, attempt: Attempt) -> None:
            events.append(f"started {attempt.provider}#{attempt.number}")

        @hookimpl
        def attempt_finished(self, record: AttemptRecord) -> None:
            events.append(f"finished {record.attempt.provider} {record.final.value}")

        @hookimpl
        def payment_finished(self, payment: Payment) -> None:
            events.append(f"payment {payment.status.value}")

    class Broken:
        @hookimpl
        def attempt_started(self) -> None:
            raise RuntimeError("observer bug")

        @hookimpl
        def payment_finished(self) -> None:
            raise RuntimeError("observer bug")

    bench = bench_factory(a=Ref(script=["decline"]), b=Ref(), _plugins={"obs": Observer(), "broken": Broken()})
    assert bench.pay().result_code is ResultCode.SUCCESS
    assert events == ["started a#1", "finished a fallthrough", "started b#2", "finished b stop", "payment succeeded"]


def test_a_plugin_can_resolve_orders_the_order_book_does_not_know(bench_factory: Any) -> None:
    class Catalogue:
        @hookimpl
        def resolve_order(self, payment_request: PaymentRequest) -> Order | None:
            if payment_request.payment_string == "EXTERNAL-1":
                return Order("EXTERNAL-1", PaymentAmount("JPY", "500"), "m9", "alice")
            return None

    a = Ref()
    bench = bench_factory(a=a, _plugins={"catalogue": Catalogue()})
    result = bench.service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, "EXTERNAL-1"), sample_context("alice"))
    assert result.result_code is ResultCode.SUCCESS
    assert a.charged == 500


def test_every_request_type_resolves_to_its_order(bench_factory: Any) -> None:
    a = Ref(script=["decline"])
    bench = bench_factory(a=a)
    order = bench.order()
    declined = bench.pay(order)  # leaves a payment id to name, and the order open
    cases = [
        (PaymentType.CASHIER_URL, bench.ledger.cashier_url(order.trade_no)),
        (PaymentType.ORDER_STRING, bench.ledger.order_string(order.trade_no)),
        (PaymentType.PAYMENT_ID, declined.extended_info["paymentId"]),
        (PaymentType.ORDER_ID, order.trade_no),
    ]
    for payment_type, text in cases:
        result = bench.service.pay_blocking(PaymentRequest(payment_type, text), sample_context("alice"))
        assert result.result_code is ResultCode.FAILED, (payment_type, result)
        assert result.reason == "CARD_DECLINED", (payment_type, result)
    assert calls(a) == 5


@pytest.mark.parametrize(
    ("payment_type", "text", "message"),
    [
        (PaymentType.CASHIER_URL, "https://evil.example/pay?tradeNO=T1", "not a cashier URL of this host"),
        (PaymentType.CASHIER_URL, "https://cashier.tradepay.invalid/pay", "exactly one tradeNO"),
        (PaymentType.ORDER_STRING, "tradeNO=A&tradeNO=B", "exactly merchantId, tradeNO and sign"),
        (PaymentType.ORDER_STRING, "tradeNO=T1&merchantId=m1", "exactly merchantId, tradeNO and sign"),
        (PaymentType.ORDER_STRING, "merchantId=m1&tradeNO=T1&sign=00", "the signature does not match"),
        (PaymentType.ORDER_STRING, "merchantId=m9&tradeNO=T1&sign=00", "no signing secret is configured"),
        (PaymentType.ORDER_STRING, "merchantId=m1&tradeNO=' OR 1=1 --&sign=0", "may hold only"),
        (PaymentType.ORDER_STRING, "%%%", "not a form-encoded order string"),
        (PaymentType.ORDER_ID, "T" * 65, "longer than 64"),
        (PaymentType.PAYMENT_ID, "pay_unknown", "order not found"),
    ],
)
def test_malformed_payment_strings_are_refused(
    bench_factory: Any, payment_type: PaymentType, text: str, message: str
) -> None:
    a = Ref()
    bench = bench_factory(a=a)
    result = bench.service.pay_blocking(PaymentRequest(payment_type, text), sample_context("alice"))
    assert result.result_code is ResultCode.FAILED
    assert message in result.result_message
    assert a.calls == []


def test_a_user_cancel_stops_whatever_the_rules_say(bench_factory: Any) -> None:
    from tradepay import PaymentResult, ResultError, Rule, RuleTable

    class CancelWith1002:
        @hookimpl
        def pay(self) -> Any:
            return PaymentResult(ResultCode.USER_CANCEL, "cancelled", ResultError(ErrorCode.APP_SERVICE_ERROR, "x"))

    b = Ref()
    reckless = Rule("reckless", "fallthrough", provider="a", error_code=1002)  # type: ignore[arg-type]
    bench = bench_factory(a=CancelWith1002(), b=b)
    bench.service.host.chain.rules = RuleTable([reckless])
    result = bench.pay()
    assert result.result_code is ResultCode.USER_CANCEL
    assert b.calls == []


def test_a_failed_inquiry_is_asked_again_before_any_cancel(bench_factory: Any) -> None:
    class FlakyInquiry(Ref):
        failures = 1

        @hookimpl
        def inquire(self, attempt: Attempt) -> Any:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("inquiry endpoint down")
            return super().inquire(attempt)

    a, b = FlakyInquiry(script=["late_success"]), Ref()
    bench = bench_factory(a=a, b=b, chain={"inquiry_attempts": 3})
    result = bench.pay()
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "a"
    assert calls(a, "cancel") == 0
    assert bench.charged() == {"a": 250, "b": 0}


def test_a_failing_order_book_plugin_refuses_without_storing(bench_factory: Any) -> None:
    class BrokenBook:
        @hookimpl
        def resolve_order(self) -> Order | None:
            raise RuntimeError("catalogue database down")

    a = Ref()
    bench = bench_factory(a=a, _plugins={"broken": BrokenBook()})
    result = bench.pay()
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR
    assert a.calls == []
    assert bench.ledger.payments() == []


def test_closing_mid_payment_leaves_it_for_reconciliation(bench_factory: Any) -> None:
    a = AsyncReferenceProvider(script=["hang"])
    bench = bench_factory(a=a)
    order = bench.order()
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(bench.pay(order)))
    worker.start()
    while calls(a) < 1:
        time.sleep(0.001)
    bench.service.close()
    worker.join(10)
    assert [r.result_code for r in answers] == [ResultCode.UNKNOWN]
    (payment,) = bench.ledger.payments()
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION


def test_in_wait_mode_a_repeat_in_flight_gets_the_same_answer(bench_factory: Any) -> None:
    a = AsyncReferenceProvider(script=["hang", "success"])
    bench = bench_factory(a=a, chain={"in_flight_repeat": "wait", "provider_deadline_s": 0.2})
    order = bench.order()
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)

    async def both() -> tuple[Any, Any]:
        first = asyncio.ensure_future(bench.service.pay_async(request, sample_context("alice")))
        while calls(a) < 1:
            await asyncio.sleep(0.001)
        second = await asyncio.gather(bench.service.pay_async(request, sample_context("alice")), first)
        return second[1], second[0]

    first, second = asyncio.run(both())
    assert second == first
    assert calls(a) == 1


@pytest.mark.parametrize("name", ["", "Wallet", "a" * 41, "pay/../x", "wallet\n", "ünï"])
def test_providers_given_in_code_obey_the_configuration_naming_rule(name: str) -> None:
    # Their names reach logs and every answer's extendedInfo.provider, so code gets the configuration's check.
    with pytest.raises(ConfigError, match=r"chain\.providers\[1\]"):
        Host.from_providers({"wallet": Ref(), name: Ref()})
