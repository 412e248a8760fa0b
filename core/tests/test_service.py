"""PaymentService answers exactly once in every form, whatever the providers and the callback do."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tradepay import APIContext, PaymentRequest, PaymentResult, PaymentService, PaymentType, ResultCode, hookimpl
from tradepay.testing import AsyncReferenceProvider, Outcome, ReferenceProvider, sample_context


class Recorder:
    """A Callback that records every call and can be told to raise."""

    def __init__(self, raises: bool = False) -> None:
        self.results: list[PaymentResult] = []
        self.raises = raises
        self.done = threading.Event()

    def result(self, result: PaymentResult) -> None:
        self.results.append(result)
        self.done.set()
        if self.raises:
            raise RuntimeError("the super app's callback failed")


@pytest.mark.parametrize("cls", [ReferenceProvider, AsyncReferenceProvider])
@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("raises", [False, True])
def test_the_callback_is_called_exactly_once_under_every_outcome(
    bench_factory: Any, cls: type[ReferenceProvider], outcome: Outcome, raises: bool
) -> None:
    a, b = cls(script=[outcome]), ReferenceProvider()
    bench = bench_factory(a=a, b=b, chain={"provider_deadline_s": 0.05})
    recorder = Recorder(raises=raises)
    order = bench.order()
    bench.service.pay(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"), recorder)
    assert recorder.done.wait(10)
    a.release_hangs()
    bench.service.close()  # drains the service's loop: a second call would have happened by now
    assert len(recorder.results) == 1
    result = recorder.results[0]
    assert isinstance(result, PaymentResult)
    # Money and answer agree: success exactly when some provider holds the money, once.
    charged = a.charged + b.charged
    if result.result_code is ResultCode.SUCCESS:
        assert charged == 250
    else:
        assert charged == 0 or result.result_code is ResultCode.UNKNOWN


def test_a_plain_callable_is_a_callback(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())
    got: list[PaymentResult] = []
    done = threading.Event()

    def callback(result: PaymentResult) -> None:
        got.append(result)
        done.set()

    bench.service.pay(PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no), sample_context("alice"), callback)
    assert done.wait(10)
    bench.service.close()
    assert [r.result_code for r in got] == [ResultCode.SUCCESS]


def test_pay_rejects_a_callback_that_cannot_be_called(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())
    with pytest.raises(TypeError, match="callback"):
        bench.service.pay(PaymentRequest(PaymentType.ORDER_ID, "T1"), sample_context(), object())


@pytest.mark.parametrize(
    ("request_", "context", "message"),
    [
        ({"type": "ORDER_ID"}, sample_context(), "payment_request: must be a PaymentRequest"),
        (None, sample_context(), "payment_request: must be a PaymentRequest"),
        (PaymentRequest(PaymentType.ORDER_ID, "T1"), {"source": "x"}, "api_context: must be an APIContext"),
    ],
)
def test_wrong_types_are_answered_not_raised(bench_factory: Any, request_: Any, context: Any, message: str) -> None:
    a = ReferenceProvider()
    bench = bench_factory(a=a)
    result = bench.service.pay_blocking(request_, context)
    assert result.result_code is ResultCode.FAILED
    assert result.result_message.startswith(message)
    recorder = Recorder()
    bench.service.pay(request_, context, recorder)
    assert recorder.done.wait(10)
    assert recorder.results[0].result_message.startswith(message)
    assert a.calls == []


def test_pay_async_runs_in_the_callers_loop(bench_factory: Any) -> None:
    bench = bench_factory(a=AsyncReferenceProvider())
    order = bench.order()

    service: PaymentService = bench.service

    async def main() -> PaymentResult:
        return await service.pay_async(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context())

    assert asyncio.run(main()).result_code is ResultCode.SUCCESS


def test_pay_blocking_refuses_to_block_a_running_loop(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())

    async def main() -> None:
        bench.service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, "T1"), sample_context())

    with pytest.raises(RuntimeError, match="await pay_async"):
        asyncio.run(main())


def test_a_host_failure_is_answered_as_unknown_never_as_failure(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())

    def broken_finish(*args: Any) -> Any:
        raise OSError("disk full")

    bench.ledger.finish_payment = broken_finish
    recorder = Recorder()
    bench.service.pay(PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no), sample_context("alice"), recorder)
    assert recorder.done.wait(10)
    bench.service.close()
    assert [r.result_code for r in recorder.results] == [ResultCode.UNKNOWN]


def test_closing_mid_payment_still_answers_once(bench_factory: Any) -> None:
    a = AsyncReferenceProvider(script=["hang"])
    bench = bench_factory(a=a)
    recorder = Recorder()
    bench.service.pay(PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no), sample_context("alice"), recorder)
    while not a.calls:
        threading.Event().wait(0.001)
    bench.service.close()
    assert [r.result_code for r in recorder.results] == [ResultCode.UNKNOWN]


def test_a_provider_answering_with_a_subclass_instance_is_still_validated(bench_factory: Any) -> None:
    class Sneaky:
        @hookimpl
        def pay(self) -> Any:
            return "9000"

    b = ReferenceProvider()
    bench = bench_factory(a=Sneaky(), b=b)
    result = bench.pay()
    # "9000" as a bare string is not a PaymentResult: ambiguous, and Sneaky has no inquiry -> reconciliation.
    assert result.result_code is ResultCode.UNKNOWN
    assert b.calls == []


def test_api_context_without_mini_program_is_accepted(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())
    result = bench.service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no), APIContext("app"))
    assert result.result_code is ResultCode.SUCCESS
