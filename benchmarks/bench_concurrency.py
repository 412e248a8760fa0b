"""async_10k_wall_s: 10,000 payments started at once in one event loop, each through a provider that awaits
20 ms, on the in-memory ledger; and how wall time grows with the number of concurrent payments.

The key uses a one-provider chain, so that the provider's own time is one 20 ms await per payment and the
ideal wall time is 20 ms (nothing serialised) plus the host's CPU time for 10,000 payments; in a full run the
three-provider chain (decline, decline, success: three 20 ms awaits) is reported beside it. Each run gets a
fresh host and ledger, and orders made before the clock starts. The floor is the hand-written loop over the
same provider function(s), emitting the same log events, 10,000 coroutines at once.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from secrets import token_hex
from typing import Any

from tradepay import Host, MemoryLedger, PaymentResult, PaymentService, ResultCode

from ._fixtures import CONTEXT, chain_providers, floor_payment, memory_orders, pay_functions
from ._harness import Figure, Sizes, median

__all__ = ["concurrency_axis", "measure"]

DELAY_S = 0.02


class _GcClock:
    """Wall seconds spent in the cyclic garbage collector while installed."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started
            self.collections += 1


def _timed(run: Callable[[], Any]) -> tuple[float, _GcClock]:
    clock = _GcClock()
    gc.collect()
    gc.callbacks.append(clock)
    try:
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
    finally:
        gc.callbacks.remove(clock)
    return elapsed, clock


def host_batches(length: int, concurrency: int, batches: int) -> tuple[list[float], float, float]:
    """Wall seconds of each of ``batches`` batches of ``concurrency`` payments started together on one fresh
    host; the GC seconds of all of them; and the CPU seconds of all of them."""
    ledger = MemoryLedger()
    host = Host.from_providers(chain_providers(length, "sleep", DELAY_S), ledger=ledger)
    service = PaymentService(host)
    requests = [memory_orders(ledger, concurrency) for _ in range(batches)]
    walls: list[float] = []
    cpu: list[float] = []
    results: list[PaymentResult] = []

    async def run_all() -> None:
        began = time.process_time()
        for batch in requests:
            started = time.perf_counter()
            results.extend(await asyncio.gather(*(service.pay_async(r, CONTEXT) for r in batch)))
            walls.append(time.perf_counter() - started)
        cpu.append(time.process_time() - began)

    try:
        _, clock = _timed(lambda: asyncio.run(run_all()))
    finally:
        host.close()
    if any(r.result_code is not ResultCode.SUCCESS for r in results):
        raise AssertionError(
            f"the host did not pay: {next(r for r in results if r.result_code is not ResultCode.SUCCESS)}"
        )
    return walls, clock.total, cpu[0]


def floor_batches(length: int, concurrency: int, batches: int) -> tuple[list[float], float]:
    """The same batches through the hand-written loop: wall seconds of each, CPU seconds of all."""
    ledger = MemoryLedger()
    functions = pay_functions(chain_providers(length, "sleep", DELAY_S))
    orders = [
        [o for o in (ledger.get_order(r.payment_string) for r in memory_orders(ledger, concurrency)) if o is not None]
        for _ in range(batches)
    ]
    walls: list[float] = []
    cpu: list[float] = []

    async def run_all() -> None:
        began = time.process_time()
        for batch in orders:
            started = time.perf_counter()
            results = await asyncio.gather(*(floor_payment(functions, o, f"pay_{token_hex(8)}") for o in batch))
            walls.append(time.perf_counter() - started)
            assert all(r.result_code is ResultCode.SUCCESS for r in results)
        cpu.append(time.process_time() - began)

    gc.collect()
    asyncio.run(run_all())
    return walls, cpu[0]


def _run(length: int, payments: int, runs: int) -> dict[str, Any]:
    host: list[float] = []
    gc_s: list[float] = []
    floor: list[float] = []
    for _ in range(runs):
        walls, collected, _cpu = host_batches(length, payments, 1)
        host.append(walls[0])
        gc_s.append(collected)
        floor.extend(floor_batches(length, payments, 1)[0])
    return {
        "providers": length,
        "payments": payments,
        "provider_await_ms": DELAY_S * 1000,
        "host_wall_s": round(median(host), 3),
        "floor_wall_s": round(median(floor), 3),
        "host_gc_s": round(median(gc_s), 3),
        "host_wall_s_all": [round(w, 3) for w in host],
        "host_added_us_per_payment": round((median(host) - median(floor)) / payments * 1e6, 1),
    }


def measure(sizes: Sizes) -> Figure:
    one = _run(1, sizes.async_payments, sizes.async_runs)
    details: dict[str, Any] = {
        "entry": "asyncio.gather of PaymentService.pay_async, one event loop, MemoryLedger",
        "logging": "tradepay.configure_logging(fmt='json') at info, to os.devnull",
        **one,
    }
    if sizes.mode == "full":
        details["three_provider_chain"] = _run(3, sizes.async_payments, max(sizes.async_runs - 2, 1))
    return Figure("async_10k_wall_s", one["host_wall_s"], details)


def concurrency_axis(sizes: Sizes) -> list[dict[str, Any]]:
    """1, 10, 100 and 1000 payments at once (one provider awaiting 20 ms): wall time per batch (median), host and
    floor, throughput, and CPU time per payment (all batches, every thread: what a payment costs the machine)."""
    rows = []
    for concurrency, full_batches in ((1, 300), (10, 100), (100, 30), (1000, 12)):
        batches = full_batches if sizes.mode == "full" else 3
        host, _, host_cpu = host_batches(1, concurrency, batches)
        floor, floor_cpu = floor_batches(1, concurrency, batches)
        host_wall, floor_wall = median(host[1:]), median(floor[1:])  # the first batch warms up
        paid = concurrency * batches
        rows.append(
            {
                "concurrency": concurrency,
                "host_batch_ms": round(host_wall * 1000, 2),
                "floor_batch_ms": round(floor_wall * 1000, 2),
                "host_payments_per_s": round(concurrency / host_wall),
                "floor_payments_per_s": round(concurrency / floor_wall),
                "host_cpu_us_per_payment": round(host_cpu / paid * 1e6, 1),
                "floor_cpu_us_per_payment": round(floor_cpu / paid * 1e6, 1),
            }
        )
    return rows
