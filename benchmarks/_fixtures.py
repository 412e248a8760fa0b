"""Providers that do no work of their own, chains of them, orders, and the hand-written floor loop.

Every provider answers a prebuilt :class:`PaymentResult`: a decline (``4000``/``1002``, reason
``CARD_DECLINED``, which the shipped rule table falls through) or a success. The sleeping ones await
``asyncio.sleep`` first and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import structlog

from tradepay import (
    APIContext,
    Attempt,
    ErrorCode,
    MemoryLedger,
    MiniProgramMetaData,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ResultCode,
    ResultError,
    hookimpl,
)

__all__ = [
    "AMOUNT",
    "CONTEXT",
    "DECLINE",
    "PAID",
    "Kind",
    "chain_providers",
    "floor_payment",
    "floor_payment_sync",
    "memory_orders",
    "pay_functions",
]

AMOUNT = PaymentAmount("USD", "2500")
MERCHANT = "merchant-1"
PAYER = "user-1"
CONTEXT = APIContext("miniprogram", MiniProgramMetaData(app_id="2021000000000001", name="Benchmark"))
DECLINE = PaymentResult(
    ResultCode.FAILED,
    "card declined",
    ResultError(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"),
    {"reason": "CARD_DECLINED"},
)
PAID = PaymentResult(ResultCode.SUCCESS, "paid")

Kind = Literal["async", "sync", "sleep"]


class AsyncAnswer:
    """``async def pay`` returning a fixed answer."""

    def __init__(self, answer: PaymentResult) -> None:
        self.answer = answer

    @hookimpl
    async def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        return self.answer


class SyncAnswer:
    """``def pay`` returning a fixed answer (the host runs it on its provider threads)."""

    def __init__(self, answer: PaymentResult) -> None:
        self.answer = answer

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        return self.answer


class SleepingAnswer:
    """``async def pay`` that awaits ``delay_s`` (a provider's network round trip), then answers."""

    def __init__(self, answer: PaymentResult, delay_s: float) -> None:
        self.answer = answer
        self.delay_s = delay_s

    @hookimpl
    async def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        await asyncio.sleep(self.delay_s)
        return self.answer


def chain_providers(length: int, kind: Kind = "async", delay_s: float = 0.02) -> dict[str, object]:
    """``length`` providers in chain order: ``length - 1`` that decline, then one that pays."""
    providers: dict[str, object] = {}
    for number in range(1, length + 1):
        answer = PAID if number == length else DECLINE
        if kind == "async":
            providers[f"p{number}"] = AsyncAnswer(answer)
        elif kind == "sync":
            providers[f"p{number}"] = SyncAnswer(answer)
        else:
            providers[f"p{number}"] = SleepingAnswer(answer, delay_s)
    return providers


def pay_functions(providers: dict[str, object]) -> list[tuple[str, Callable[..., Any]]]:
    """The providers' own ``pay`` functions, in chain order, for the floor loop."""
    return [(name, getattr(provider, "pay")) for name, provider in providers.items()]  # noqa: B009


def memory_orders(ledger: MemoryLedger, count: int) -> list[PaymentRequest]:
    """``count`` new open orders in ``ledger`` and a request naming each (made before any timing)."""
    return [
        PaymentRequest(PaymentType.ORDER_ID, ledger.create_order(AMOUNT, merchant_id=MERCHANT, payer_id=PAYER).trade_no)
        for _ in range(count)
    ]


_log = structlog.get_logger("tradepay")


def _attempt_event(name: str, number: int, result: PaymentResult, started: float) -> dict[str, Any]:
    paid = result.result_code is ResultCode.SUCCESS
    error = result.result_error
    decision = "stop" if paid else "fallthrough"
    return {
        "provider": name,
        "attempt": number,
        "kind": "answer",
        "result": result.result_code.value,
        "error_code": int(error.error_code) if error else None,
        "reason": result.reason,
        "rule": "success" if paid else "app-service-error",
        "decision": decision,
        "final": decision,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
    }


def _payment_finished(log: Any, name: str, number: int, result: PaymentResult, started: float) -> None:
    paid = result.result_code is ResultCode.SUCCESS
    log.info(
        "payment.finished",
        provider=name,
        attempt=number,
        result=result.result_code.value,
        status="succeeded" if paid else "failed",
        duration_ms=round((time.monotonic() - started) * 1000, 3),
    )


async def floor_payment(
    functions: Sequence[tuple[str, Callable[..., Awaitable[PaymentResult]]]], order: Order, payment_id: str
) -> PaymentResult:
    """The floor: call each ``async`` pay function in turn until one pays, emitting the host's log events
    (``attempt.finished`` per attempt, ``payment.finished`` once, bound to the same payment fields)."""
    started = time.monotonic()
    log = _log.bind(payment_id=payment_id, app_id=CONTEXT.app_id, trade_no=order.trade_no)
    result = PAID
    name, number = "", 0
    for number, (name, pay) in enumerate(functions, 1):
        t0 = time.monotonic()
        result = await pay(order=order, attempt=Attempt(payment_id, number, name, f"{payment_id}-{number}"))
        log.info("attempt.finished", **_attempt_event(name, number, result, t0))
        if result.result_code is ResultCode.SUCCESS:
            break
    _payment_finished(log, name, number, result, started)
    return result


def floor_payment_sync(
    functions: Sequence[tuple[str, Callable[..., PaymentResult]]], order: Order, payment_id: str
) -> PaymentResult:
    """:func:`floor_payment` for plain ``def`` pay functions, called directly."""
    started = time.monotonic()
    log = _log.bind(payment_id=payment_id, app_id=CONTEXT.app_id, trade_no=order.trade_no)
    result = PAID
    name, number = "", 0
    for number, (name, pay) in enumerate(functions, 1):
        t0 = time.monotonic()
        result = pay(order=order, attempt=Attempt(payment_id, number, name, f"{payment_id}-{number}"))
        log.info("attempt.finished", **_attempt_event(name, number, result, t0))
        if result.result_code is ResultCode.SUCCESS:
            break
    _payment_finished(log, name, number, result, started)
    return result
