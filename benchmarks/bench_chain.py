"""chain_overhead_ratio: the host's chain against the floor (``_floor.py``) over the same provider functions.

The host side is the public SPI, ``PaymentService.pay_async``, on a host built with ``Host.from_providers``
and the in-memory ledger, logging through ``tradepay.configure_logging(fmt="json")`` at info: the path a
caller's event loop takes, including the service's argument checks. The floor side is the loop a user would
write without the host: it calls the same three ``pay`` functions in turn and emits the same four log events
(``attempt.finished`` three times, ``payment.finished`` once, bound to the same payment fields) through stock
structlog with a plain redaction processor, JSON at info. It never uses tradepay's code, so improving the
project (its logging included) does not move it. Both run one payment at a time in an event loop; every
round gets a fresh host and ledger (so the in-memory ledger's growth is not charged to later rounds) and
orders made before the clock starts.

The ratio is of CPU time (``time.process_time``: every thread of the process, so the provider threads of the
sync variant count too): rounds of a few hundred payments run in ABBA order after a warm-up round of each,
and the key is the median, over neighbouring pairs of rounds, of the host's time over the floor's. The work is
CPU-bound on one thread; CPU time is what it costs, and unlike wall time it does not count the moments the
scheduler gives the core to another process. The wall-time ratio is reported beside it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tradepay import Host, MemoryLedger, PaymentResult, PaymentService, ResultCode

from ._fixtures import APP_ID, CONTEXT, Kind, chain_providers, memory_orders, pay_functions
from ._floor import floor_logger, floor_orders, floor_payment, floor_payment_sync
from ._harness import Figure, Sizes, alternate, median, null_stream

__all__ = ["STRETCH_CHAIN_RATIO", "chain_length_axis", "measure"]

#: The chain's stretch target, beside its target in ``TARGETS``.
STRETCH_CHAIN_RATIO = 0.8


_Round = tuple[float, float]  # (CPU seconds, wall seconds) per payment


def _host_round(length: int, kind: Kind, payments: int) -> _Round:
    """Seconds per payment through the host (fresh host, ledger and orders; only the payments timed)."""
    ledger = MemoryLedger()
    host = Host.from_providers(chain_providers(length, kind), ledger=ledger)
    service = PaymentService(host)
    requests = memory_orders(ledger, payments)
    results: list[PaymentResult] = []

    async def pay_all() -> _Round:
        cpu, wall = time.process_time(), time.perf_counter()
        for request in requests:
            results.append(await service.pay_async(request, CONTEXT))
        return time.process_time() - cpu, time.perf_counter() - wall

    try:
        cpu, wall = asyncio.run(pay_all())
    finally:
        host.close()
    if any(r.result_code is not ResultCode.SUCCESS for r in results):
        raise AssertionError(f"the host did not pay: {results[0]}")
    return cpu / payments, wall / payments


def _floor_round(length: int, kind: Kind, payments: int) -> _Round:
    """Seconds per payment of the floor (``_floor.py``) over the same provider functions."""
    functions = pay_functions(chain_providers(length, kind))
    orders = floor_orders(payments)
    log = floor_logger(null_stream(), "info")
    answers: list[Any] = []

    async def pay_all() -> _Round:
        cpu, wall = time.process_time(), time.perf_counter()
        if kind == "sync":
            for order in orders:
                answers.append(floor_payment_sync(functions, order, APP_ID, log))
        else:
            for order in orders:
                answers.append(await floor_payment(functions, order, APP_ID, log))
        return time.process_time() - cpu, time.perf_counter() - wall

    cpu, wall = asyncio.run(pay_all())
    if any(a.result_code is not ResultCode.SUCCESS for a in answers):
        raise AssertionError("the floor did not pay")
    return cpu / payments, wall / payments


def compare(length: int, kind: Kind, payments: int, rounds: int) -> dict[str, Any]:
    """Host and floor, interleaved in short rounds; the ratio is the median over neighbouring pairs of rounds of
    host CPU time / floor CPU time per payment (medians of each side, and the wall-time ratio, beside it)."""
    host, floor = alternate(
        lambda: _host_round(length, kind, payments), lambda: _floor_round(length, kind, payments), rounds=rounds
    )
    host_cpu, floor_cpu = [h[0] for h in host], [f[0] for f in floor]
    host_s, floor_s = median(host_cpu), median(floor_cpu)
    # A pair of rounds shares its moment: the speed of this machine's memory-bound work drifts by tens of per
    # cent over seconds (other tenants), while a pure CPU loop stays within a few per cent.
    pair_ratio = median([h / f for h, f in zip(host_cpu, floor_cpu, strict=True)])
    wall_ratio = median([h[1] / f[1] for h, f in zip(host, floor, strict=True)])
    return {
        "providers": length,
        "provider_kind": kind,
        "host_us": round(host_s * 1e6, 1),
        "floor_us": round(floor_s * 1e6, 1),
        "ratio": round(pair_ratio, 3),
        "ratio_of_medians": round(host_s / floor_s, 3),
        "host_overhead_us": round((host_s - floor_s) * 1e6, 1),
        "wall_ratio": round(wall_ratio, 3),
        "host_us_range": [round(min(host_cpu) * 1e6, 1), round(max(host_cpu) * 1e6, 1)],
        "floor_us_range": [round(min(floor_cpu) * 1e6, 1), round(max(floor_cpu) * 1e6, 1)],
    }


def measure(sizes: Sizes) -> Figure:
    main = compare(3, "async", sizes.chain_payments, sizes.chain_rounds)
    # The same chain with plain `def` providers: the host runs each call on its provider threads (so that a
    # hung provider costs a thread, not the loop) while the floor calls the functions directly.
    sync = compare(3, "sync", max(sizes.chain_payments // 4, 10), max(sizes.chain_rounds // 4, 2))
    details = {
        "entry": "PaymentService.pay_async on Host.from_providers(..., ledger=MemoryLedger())",
        "providers": "async def pay: decline (4000/1002), decline, success; no work of their own",
        "logging": "host: tradepay.configure_logging(fmt='json') at info; floor: stock structlog (add_log_level,"
        " TimeStamper, one-regex redaction, JSONRenderer) at info; both to os.devnull, 4 events per payment",
        "stretch_target": f"<= {STRETCH_CHAIN_RATIO:g}",
        "stretch_met": main["ratio"] <= STRETCH_CHAIN_RATIO,
        "payments_per_round": sizes.chain_payments,
        "rounds": sizes.chain_rounds,
        **main,
        "sync_providers": sync,
    }
    return Figure("chain_overhead_ratio", main["ratio"], details)


def chain_length_axis(sizes: Sizes) -> list[dict[str, Any]]:
    """How the host's cost grows with the chain: 1, 3, 5 and 10 providers (the last one pays)."""
    rows = []
    for length in (1, 3, 5, 10):
        payments = max(sizes.chain_payments * 3 // (length + 2), 20)
        rows.append(compare(length, "async", payments, max(sizes.chain_rounds // 3, 3)))
    return rows
