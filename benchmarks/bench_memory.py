"""rss_growth_pct: the growth of resident memory between payment 10,000 and payment 100,000 in one host
process.

The in-memory ledger keeps every payment in memory by design, so its growth says nothing about leaks: the
host here uses the SQLite ledger, in a new process of its own (``run.py --worker rss``) that pays one order
after another through ``PaymentService.pay_async`` (a one-provider chain, async provider, JSON logs to a null
sink), and reads its resident set size after a full garbage collection at payment 10,000, every 10,000
after, and at payment 100,000. The orders are put in the file before the first payment. In quick mode the
file is on tmpfs (``/dev/shm``) when there is one: the same ledger code and SQL, without waiting 400,000
times for the disk; ``--full`` puts it on the disk.
"""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from typing import Any

from ._harness import Figure, Sizes, filesystem_of, rss_bytes, run_worker

__all__ = ["measure", "rss_worker"]

CHAIN = 1


def rss_worker(path: str, first: int, last: int) -> None:
    """In the worker process: pay ``last`` orders one by one; print RSS samples (bytes by payment count)."""
    from tradepay import Host, PaymentRequest, PaymentService, PaymentType, ResultCode, SQLiteLedger

    from ._fixtures import CONTEXT, chain_providers
    from ._harness import configure_null_logging
    from .bench_durable import insert_orders

    configure_null_logging()
    trade_nos = [f"M{i:010d}" for i in range(last)]
    SQLiteLedger(path).close()
    insert_orders(Path(path), trade_nos)
    del trade_nos
    host = Host.from_providers(chain_providers(CHAIN), ledger=SQLiteLedger(path))
    service = PaymentService(host)
    step = max(first, 1)
    samples: dict[int, int] = {}
    timers: dict[int, int] = {}

    async def pay_all() -> None:
        for i in range(last):
            result = await service.pay_async(PaymentRequest(PaymentType.ORDER_ID, f"M{i:010d}"), CONTEXT)
            if result.result_code is not ResultCode.SUCCESS:
                raise AssertionError(f"payment {i} was not paid: {result}")
            done = i + 1
            if done % step == 0 or done == last:
                gc.collect()
                samples[done] = rss_bytes()
                # Diagnostic: timer handles waiting in the event loop's heap (asyncio keeps cancelled ones there
                # until the loop runs an iteration; a payment whose provider never suspends never lets it run).
                timers[done] = len(getattr(asyncio.get_running_loop(), "_scheduled", ()))

    asyncio.run(pay_all())
    host.close()
    print(json.dumps({"samples": samples, "loop_timer_handles": timers}))


def _directory(sizes: Sizes, workdir: Path) -> Path:
    shm = Path("/dev/shm")
    if not sizes.rss_on_disk and shm.is_dir() and filesystem_of(shm).startswith("tmpfs"):
        return shm
    return workdir


def measure(sizes: Sizes, workdir: Path) -> Figure:
    directory = _directory(sizes, workdir) / f"tradepay-bench-rss-{id(sizes):x}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ledger.sqlite3"
    try:
        out = json.loads(run_worker(["rss", str(path), str(sizes.rss_from), str(sizes.rss_to)]))
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        directory.rmdir()
    samples = {int(k): int(v) for k, v in out["samples"].items()}
    start, end = samples[sizes.rss_from], samples[sizes.rss_to]
    details: dict[str, Any] = {
        "ledger": "SQLiteLedger (the in-memory ledger keeps every payment by design)",
        "filesystem": filesystem_of(directory.parent),
        "chain": "one provider, async, answers success",
        "from_payment": sizes.rss_from,
        "to_payment": sizes.rss_to,
        "rss_mb": {str(k): round(v / 2**20, 2) for k, v in sorted(samples.items())},
        "growth_mb": round((end - start) / 2**20, 2),
        "loop_timer_handles": out["loop_timer_handles"],
    }
    return Figure("rss_growth_pct", round((end - start) / start * 100, 2), details)
