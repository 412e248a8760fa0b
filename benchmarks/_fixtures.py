"""Providers that do no work of their own, chains of them, and orders (the floor loop is in ``_floor.py``).

Every provider answers a prebuilt :class:`PaymentResult`: a decline (``4000``/``1002``, reason
``CARD_DECLINED``, which the shipped rule table falls through) or a success. The sleeping ones await
``asyncio.sleep`` first and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

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
    "APP_ID",
    "CONTEXT",
    "DECLINE",
    "PAID",
    "Kind",
    "chain_providers",
    "memory_orders",
    "pay_functions",
]

AMOUNT = PaymentAmount("USD", "2500")
MERCHANT = "merchant-1"
PAYER = "user-1"
APP_ID = "2021000000000001"
CONTEXT = APIContext("miniprogram", MiniProgramMetaData(app_id=APP_ID, name="Benchmark"))
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
    """The providers' own ``pay`` functions, in chain order, for the floor loop (``_floor.py``)."""
    return [(name, getattr(provider, "pay")) for name, provider in providers.items()]  # noqa: B009


def memory_orders(ledger: MemoryLedger, count: int) -> list[PaymentRequest]:
    """``count`` new open orders in ``ledger`` and a request naming each (made before any timing)."""
    return [
        PaymentRequest(PaymentType.ORDER_ID, ledger.create_order(AMOUNT, merchant_id=MERCHANT, payer_id=PAYER).trade_no)
        for _ in range(count)
    ]
