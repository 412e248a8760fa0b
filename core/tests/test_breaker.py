"""The circuit breaker counts only the provider's own failures, opens, cools down and lets exactly one probe
through; one payer's declines never open it for the others."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tradepay import (
    APIContext,
    Attempt,
    AttemptRecord,
    ErrorCode,
    FailureScope,
    Order,
    OutcomeKind,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ResultCode,
    ResultError,
    hookimpl,
)
from tradepay._chain.breaker import CircuitBreaker, is_technical_failure
from tradepay.testing import ReferenceProvider, sample_context


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


A = OutcomeKind.ANSWER
DECLINE = PaymentResult(ResultCode.FAILED, "no", ResultError(ErrorCode.APP_SERVICE_ERROR, "no"))
#: The provider's own system error, said the documented way.
SYSTEM = PaymentResult(
    ResultCode.FAILED, "down", ResultError(ErrorCode.SYSTEM_ERROR, "down"), {"failure_scope": "provider"}
)
CANCEL = PaymentResult(ResultCode.USER_CANCEL, "no", ResultError(ErrorCode.USER_CANCEL, "no"))
PENDING = PaymentResult(ResultCode.FAILED, "no", ResultError(ErrorCode.AUTH_PENDING_AGREEMENT, "no"))


def answer(result: str, error: ErrorCode | None, scope: str | None) -> PaymentResult:
    info = {"failure_scope": scope} if scope is not None else {}
    return PaymentResult(ResultCode(result), "x", ResultError(error, "x") if error is not None else None, info)


def test_only_technical_failures_count() -> None:
    assert is_technical_failure(OutcomeKind.TIMEOUT, None)
    assert is_technical_failure(OutcomeKind.EXCEPTION, None)
    assert is_technical_failure(OutcomeKind.INVALID, None)
    assert is_technical_failure(A, SYSTEM)
    for business in (DECLINE, CANCEL, PENDING, PaymentResult(ResultCode.SUCCESS)):
        assert not is_technical_failure(A, business)


FAILED_ANSWERS = [
    ("4000", ErrorCode.SYSTEM_ERROR),
    ("4000", ErrorCode.APP_SERVICE_ERROR),
    ("4000", ErrorCode.TIMEOUT),
    ("4000", ErrorCode.UNKNOWN_ERROR),
    ("4000", ErrorCode.AUTH_PENDING_AGREEMENT),
    ("6002", None),
    ("6004", ErrorCode.TIMEOUT),
    ("8000", None),
]


@pytest.mark.parametrize(("result", "error"), FAILED_ANSWERS)
def test_an_answer_counts_only_when_the_provider_says_the_failure_is_its_own(
    result: str, error: ErrorCode | None
) -> None:
    # An error code alone cannot say whose failure it is (a card network's "processing error" is about one
    # card): only failure_scope = "provider" makes an answer count.
    assert is_technical_failure(A, answer(result, error, "provider"))
    assert not is_technical_failure(A, answer(result, error, "payment"))
    assert not is_technical_failure(A, answer(result, error, None))
    assert not is_technical_failure(A, answer(result, error, "PROVIDER"))  # not a documented value


def test_a_success_never_counts_whatever_it_says() -> None:
    assert not is_technical_failure(A, answer("9000", None, "provider"))


def test_failure_scope_reads_the_documented_values_only() -> None:
    assert FailureScope.of(SYSTEM) is FailureScope.PROVIDER
    assert FailureScope.of(answer("4000", ErrorCode.SYSTEM_ERROR, "payment")) is FailureScope.PAYMENT
    assert FailureScope.of(DECLINE) is None
    assert FailureScope.of(answer("4000", ErrorCode.SYSTEM_ERROR, "mine")) is None
    assert FailureScope.KEY == "failure_scope"


def test_it_opens_after_the_threshold_and_business_answers_reset_the_count() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 30.0, clock)
    for _ in range(2):
        breaker.record(OutcomeKind.TIMEOUT, None)
    breaker.record(A, DECLINE)  # a decline proves the provider is alive
    breaker.record(OutcomeKind.EXCEPTION, None)
    breaker.record(A, SYSTEM)
    assert breaker.state == "closed"
    assert breaker.allow() is None
    breaker.record(OutcomeKind.INVALID, None)
    assert breaker.state == "open"
    reason = breaker.allow()
    assert reason is not None
    assert "circuit open after 3 technical failures (retry in 30.0s)" in reason


def test_half_open_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record(OutcomeKind.TIMEOUT, None)
    clock.now += 9.9
    assert breaker.allow() is not None
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow() is None  # the probe
    assert breaker.allow() == "circuit half-open: a probe payment is in flight"
    breaker.record(OutcomeKind.TIMEOUT, None)  # the probe failed: open again, for a full cool-down
    assert breaker.state == "open"
    clock.now += 10.0
    assert breaker.allow() is None
    breaker.record(A, DECLINE)  # the probe got a business answer: closed
    assert breaker.state == "closed"
    assert breaker.allow() is None
    assert breaker.allow() is None


def test_the_chain_skips_an_open_provider_and_probes_it_after_the_cool_down(bench_factory: Any) -> None:
    clock = Clock()
    a, b = ReferenceProvider(script=["exception", "exception", "success"]), ReferenceProvider()
    bench = bench_factory(a=a, b=b)
    bench.service.host.chain.breakers["a"] = CircuitBreaker(2, 60.0, clock)
    for _ in range(2):
        assert bench.pay().extended_info["provider"] == "b"  # a raised, was inquired (not paid), b paid
    skipped = bench.pay()
    assert skipped.extended_info["provider"] == "b"
    assert [r.attempt.provider for r in bench.payment(skipped).attempts] == ["b"]
    assert bench.service.host.chain.circuit("a") == "open"
    clock.now += 60.0
    probe = bench.pay()
    assert probe.extended_info["provider"] == "a"
    assert bench.service.host.chain.circuit("a") == "closed"


def test_explain_shows_an_open_circuit(bench_factory: Any) -> None:
    from tradepay._cli.explain import explain_chain

    clock = Clock()
    bench = bench_factory(a=ReferenceProvider(), b=ReferenceProvider())
    breaker = CircuitBreaker(1, 60.0, clock)
    bench.service.host.chain.breakers["a"] = breaker
    assert explain_chain(bench.service.host, "100", "USD", "ORDER_ID").plan == [("a", None), ("b", None)]
    breaker.record(OutcomeKind.TIMEOUT, None)
    assert explain_chain(bench.service.host, "100", "USD", "ORDER_ID").plan == [("a", "circuit open"), ("b", None)]


class OnePayersCardFails:
    """Pays every payer but ``mallory``, whose card answers 4000/1005 (said as ``scope``, or not at all)."""

    def __init__(self, scope: str | None) -> None:
        self.scope = scope
        self.paid: list[str] = []

    @hookimpl
    def pay(self, order: Order) -> PaymentResult:
        if order.payer_id == "mallory":
            return answer("4000", ErrorCode.SYSTEM_ERROR, self.scope)
        self.paid.append(order.payer_id)
        return PaymentResult(ResultCode.SUCCESS, "paid")


@pytest.mark.parametrize("scope", ["payment", None])
def test_one_payers_failing_card_does_not_open_the_circuit_for_another_payer(bench_factory: Any, scope: str) -> None:
    card = OnePayersCardFails(scope)
    bench = bench_factory(card=card, other=ReferenceProvider(), chain={"breaker_threshold": 2})
    bench.payer = "mallory"
    for _ in range(5):
        assert bench.pay().extended_info["provider"] == "other"  # mallory's card failed, the other provider paid
    assert bench.service.host.chain.circuit("card") == "closed"
    bench.payer = "bob"
    result = bench.pay()
    assert (result.result_code, result.extended_info["provider"]) == (ResultCode.SUCCESS, "card")
    assert card.paid == ["bob"]


def test_the_providers_own_failures_open_its_circuit(bench_factory: Any) -> None:
    card = OnePayersCardFails("provider")  # the provider says the failure is its own: it counts
    bench = bench_factory(card=card, other=ReferenceProvider(), chain={"breaker_threshold": 2})
    bench.payer = "mallory"
    for _ in range(2):
        bench.pay()
    assert bench.service.host.chain.circuit("card") == "open"


def opened(bench: Any, provider: str, clock: Clock) -> CircuitBreaker:
    """Give ``provider`` an open circuit (threshold 1, cool-down 60 s) whose cool-down has just passed."""
    breaker = CircuitBreaker(1, 60.0, clock)
    bench.service.host.chain.breakers[provider] = breaker
    breaker.record(OutcomeKind.TIMEOUT, None)
    clock.now += 60.0
    assert breaker.state == "half_open"
    return breaker


def test_a_probe_whose_payment_fails_before_an_outcome_does_not_wedge_the_circuit(bench_factory: Any) -> None:
    clock = Clock()
    a = ReferenceProvider()
    bench = bench_factory(a=a)
    breaker = opened(bench, "a", clock)
    start_attempt = bench.ledger.start_attempt

    def failing(payment_id: str, provider: str) -> Attempt:
        raise OSError("disk full")

    bench.ledger.start_attempt = failing
    failed = asyncio.run(bench.service.host.chain.pay(*request_for(bench)))
    bench.ledger.start_attempt = start_attempt
    # Nothing reached a provider, so the host's own failure is a failure, not an unknown result.
    assert failed.result_code is ResultCode.FAILED
    assert failed.result_error is not None
    assert failed.result_error.error_code is ErrorCode.SYSTEM_ERROR
    assert a.calls == []
    # The probe never reached the provider: the next payment probes it, and its success closes the circuit.
    result = bench.pay()
    assert (result.result_code, result.extended_info.get("provider")) == (ResultCode.SUCCESS, "a")
    assert breaker.state == "closed"


def test_a_probe_turn_that_comes_after_the_payment_deadline_is_not_taken(bench_factory: Any) -> None:
    clock = Clock()

    class Slow:
        """An observer that keeps the payment past its deadline after the first provider's attempt."""

        @hookimpl
        def attempt_finished(self, record: AttemptRecord) -> None:
            if record.attempt.provider == "b":
                time.sleep(0.3)

    a = ReferenceProvider()
    bench = bench_factory(
        b=ReferenceProvider(script=["decline"]), a=a, chain={"deadline_s": 0.2}, _plugins={"slow": Slow()}
    )
    breaker = opened(bench, "a", clock)
    result = bench.pay()
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.TIMEOUT
    assert a.calls == []
    assert breaker.allow() is None  # the circuit is still half-open and its probe is still to be made


def request_for(bench: Any) -> tuple[PaymentRequest, APIContext]:
    order = bench.order()
    return PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context(bench.payer)


def test_half_open_grants_exactly_one_probe_among_concurrent_payments() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record(OutcomeKind.TIMEOUT, None)
    clock.now += 10.0
    barrier = threading.Barrier(16)
    turns: list[tuple[str | None, int]] = []

    def ask() -> None:
        barrier.wait()
        turns.append(breaker.admit())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted = [probe for reason, probe in turns if reason is None]
    assert granted == [1]
    assert (
        sorted(reason for reason, _ in turns if reason is not None)
        == ["circuit half-open: a probe payment is in flight"] * 15
    )


def test_a_stale_release_does_not_end_a_newer_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock)
    breaker.record(OutcomeKind.TIMEOUT, None)
    clock.now += 10.0
    _, first = breaker.admit()
    breaker.record(OutcomeKind.TIMEOUT, None)  # the first probe failed: open again
    clock.now += 10.0
    _, second = breaker.admit()
    assert second == first + 1
    breaker.release(first)  # late word from the first probe's payment: changes nothing
    assert breaker.allow() == "circuit half-open: a probe payment is in flight"
    breaker.release(second)
    assert breaker.admit() == (None, second + 1)
    breaker.release(0)  # a turn that was no probe: nothing to release
    assert breaker.allow() == "circuit half-open: a probe payment is in flight"
