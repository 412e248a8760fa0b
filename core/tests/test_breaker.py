"""The circuit breaker counts only technical failures, opens, cools down and lets exactly one probe through."""

from __future__ import annotations

from typing import Any

from tradepay import ErrorCode, OutcomeKind, PaymentResult, ResultCode, ResultError
from tradepay._breaker import CircuitBreaker, is_technical_failure
from tradepay.testing import ReferenceProvider


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


A = OutcomeKind.ANSWER
DECLINE = PaymentResult(ResultCode.FAILED, "no", ResultError(ErrorCode.APP_SERVICE_ERROR, "no"))
SYSTEM = PaymentResult(ResultCode.FAILED, "down", ResultError(ErrorCode.SYSTEM_ERROR, "down"))
CANCEL = PaymentResult(ResultCode.USER_CANCEL, "no", ResultError(ErrorCode.USER_CANCEL, "no"))
PENDING = PaymentResult(ResultCode.FAILED, "no", ResultError(ErrorCode.AUTH_PENDING_AGREEMENT, "no"))


def test_only_technical_failures_count() -> None:
    assert is_technical_failure(OutcomeKind.TIMEOUT, None)
    assert is_technical_failure(OutcomeKind.EXCEPTION, None)
    assert is_technical_failure(OutcomeKind.INVALID, None)
    assert is_technical_failure(A, SYSTEM)
    for business in (DECLINE, CANCEL, PENDING, PaymentResult(ResultCode.SUCCESS)):
        assert not is_technical_failure(A, business)


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
    from tradepay._explain import explain_chain

    clock = Clock()
    bench = bench_factory(a=ReferenceProvider(), b=ReferenceProvider())
    breaker = CircuitBreaker(1, 60.0, clock)
    bench.service.host.chain.breakers["a"] = breaker
    assert explain_chain(bench.service.host, "100", "USD", "ORDER_ID").plan == [("a", None), ("b", None)]
    breaker.record(OutcomeKind.TIMEOUT, None)
    assert explain_chain(bench.service.host, "100", "USD", "ORDER_ID").plan == [("a", "circuit open"), ("b", None)]
