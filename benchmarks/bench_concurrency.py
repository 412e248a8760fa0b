"""async_10k_ratio: 10,000 payments started at once in one event loop, each through a provider that awaits
20 ms, on the in-memory ledger, against the floor's 10,000 coroutines doing the same; and how wall time grows
with the number of concurrent payments.

The key uses a one-provider chain, so that the provider's own time is one 20 ms await per payment and the
ideal wall time is 20 ms (nothing serialised) plus the CPU time for 10,000 payments; in a full run the
three-provider chain (decline, decline, success: three 20 ms awaits) is reported beside it. Each run gets a
fresh host and ledger, and orders made before the clock starts. The floor (``_floor.py``) calls the same
provider function(s) and emits the same log events, 10,000 coroutines at once. The key is the median, over
pairs of runs (host and floor in turn, the order alternating), of host wall time / floor wall time; each
side's time in the cyclic garbage collector is reported beside it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from tradepay import Host, MemoryLedger, PaymentResult, PaymentService, ResultCode

from ._fixtures import APP_ID, CONTEXT, chain_providers, memory_orders, pay_functions
from ._floor import floor_logger, floor_orders, floor_payment
from ._harness import Figure, Sizes, load_average, median, null_stream

__all__ = ["concurrency_axis", "measure"]

DELAY_S = 0.02


class _GcClock:
    """Wall seconds spent in the cyclic garbage collector while installed."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self.full = 0  # collections of the oldest generation: each walks every tracked object
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started
            self.collections += 1
            self.full += info["generation"] == 2


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


def host_batches(length: int, concurrency: int, batches: int) -> tuple[list[float], _GcClock, float]:
    """Wall seconds of each of ``batches`` batches of ``concurrency`` payments started together on one fresh
    host; the garbage collector's time and passes in all of them; and the CPU seconds of all of them."""
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
    return walls, clock, cpu[0]


def floor_batches(length: int, concurrency: int, batches: int) -> tuple[list[float], _GcClock, float]:
    """The same batches through the floor (``_floor.py``): wall seconds of each, the garbage collector's time
    and passes and the CPU seconds of all of them."""
    functions = pay_functions(chain_providers(length, "sleep", DELAY_S))
    orders = [floor_orders(concurrency) for _ in range(batches)]
    log = floor_logger(null_stream(), "info")
    walls: list[float] = []
    cpu: list[float] = []

    async def run_all() -> None:
        began = time.process_time()
        for batch in orders:
            started = time.perf_counter()
            answers = await asyncio.gather(*(floor_payment(functions, o, APP_ID, log) for o in batch))
            walls.append(time.perf_counter() - started)
            if any(a.result_code is not ResultCode.SUCCESS for a in answers):
                raise AssertionError("the floor did not pay")
        cpu.append(time.process_time() - began)

    _, clock = _timed(lambda: asyncio.run(run_all()))
    return walls, clock, cpu[0]


def _run(length: int, payments: int, runs: int) -> dict[str, Any]:
    """``runs`` pairs of one batch of ``payments`` at once, host then floor (floor first in every other pair)."""
    host: list[float] = []
    floor: list[float] = []
    host_gc: list[float] = []
    floor_gc: list[float] = []
    host_full: list[int] = []
    floor_full: list[int] = []
    for i in range(runs):
        sides = ("host", "floor") if i % 2 == 0 else ("floor", "host")
        for side in sides:
            if side == "host":
                walls, collected, _cpu = host_batches(length, payments, 1)
                host.append(walls[0])
                host_gc.append(collected.total)
                host_full.append(collected.full)
            else:
                walls, collected, _cpu = floor_batches(length, payments, 1)
                floor.append(walls[0])
                floor_gc.append(collected.total)
                floor_full.append(collected.full)
    ratio = median([h / f for h, f in zip(host, floor, strict=True)])
    return {
        "providers": length,
        "payments": payments,
        "provider_await_ms": DELAY_S * 1000,
        "ratio": round(ratio, 3),
        "ratio_of_medians": round(median(host) / median(floor), 3),
        "host_wall_s": round(median(host), 3),
        "floor_wall_s": round(median(floor), 3),
        "host_gc_s": round(median(host_gc), 3),
        "floor_gc_s": round(median(floor_gc), 3),
        "host_gc_full_collections": host_full,
        "floor_gc_full_collections": floor_full,
        "host_wall_s_all": [round(w, 3) for w in host],
        "floor_wall_s_all": [round(w, 3) for w in floor],
        "host_added_us_per_payment": round((median(host) - median(floor)) / payments * 1e6, 1),
        "load_average": load_average(),
    }


def measure(sizes: Sizes) -> Figure:
    one = _run(1, sizes.async_payments, sizes.async_runs)
    details: dict[str, Any] = {
        "entry": "asyncio.gather of PaymentService.pay_async, one event loop, MemoryLedger",
        "floor": "the floor loop (benchmarks/_floor.py), as many coroutines at once, the same sleep and events",
        "logging": "JSON at info to os.devnull: the host's configure_logging, the floor's stock structlog",
        **one,
    }
    if sizes.mode == "full":
        details["three_provider_chain"] = _run(3, sizes.async_payments, max(sizes.async_runs - 2, 1))
    return Figure("async_10k_ratio", one["ratio"], details)


def concurrency_axis(sizes: Sizes) -> list[dict[str, Any]]:
    """1, 10, 100 and 1000 payments at once (one provider awaiting 20 ms): wall time per batch (median), host and
    floor, throughput, and CPU time per payment (all batches, every thread: what a payment costs the machine)."""
    rows = []
    for concurrency, full_batches in ((1, 300), (10, 100), (100, 30), (1000, 12)):
        batches = full_batches if sizes.mode == "full" else 3
        host, _, host_cpu = host_batches(1, concurrency, batches)
        floor, _, floor_cpu = floor_batches(1, concurrency, batches)
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
