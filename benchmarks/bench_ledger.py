"""lookup_p99_ms: the latency of a repeat payment of an order already paid, answered from the SQLite ledger,
with 100,000 payments stored (quick) or 1,000,000 (full); and how it grows with the ledger's size.

The ledger file is created by ``SQLiteLedger`` (its own migrations), then filled directly with SQL: paid
orders, succeeded payments with their stored answer, and three settled attempts each (decline, decline,
success, as the benchmarks' chain makes them). Repeats of orders picked at random are then timed one by one
through ``PaymentService.pay_async`` on a host over that file: resolve the order, find its payment, answer
the stored result (and log ``payment.repeated``). No provider is called.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from tradepay import Host, PaymentRequest, PaymentService, PaymentType, ResultCode, SQLiteLedger

from ._fixtures import AMOUNT, CONTEXT, DECLINE, MERCHANT, PAID, PAYER, chain_providers
from ._harness import Figure, Sizes, filesystem_of, load_average, median, percentile

__all__ = ["fill", "measure", "time_repeats"]

_BATCH = 20_000


def _trade_no(i: int) -> str:
    return f"L{i:010d}"


def fill(path: Path, start: int, stop: int) -> float:
    """Store payments ``start`` .. ``stop - 1`` (order, payment, three attempts each); return the seconds taken."""
    began = time.perf_counter()
    decline = json.dumps(DECLINE.to_dict(), sort_keys=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    try:
        for low in range(start, stop, _BATCH):
            high = min(low + _BATCH, stop)
            now = time.time()
            orders, payments, attempts = [], [], []
            for i in range(low, high):
                trade_no, payment_id = _trade_no(i), f"pay_{i:016x}"
                answer = PAID.to_dict()
                answer["extendedInfo"] = {"paymentId": payment_id, "provider": "p3"}
                orders.append((trade_no, AMOUNT.currency, AMOUNT.value, MERCHANT, PAYER, "paid", None, now))
                stored = json.dumps(answer, sort_keys=True)
                order = (AMOUNT.currency, AMOUNT.value, MERCHANT, PAYER, "open", None)  # the order it was made for
                payments.append((payment_id, trade_no, "succeeded", stored, CONTEXT.app_id, now, now, *order, None))
                for number in (1, 2, 3):
                    last = number == 3
                    attempts.append(
                        (
                            payment_id,
                            number,
                            f"p{number}",
                            f"{payment_id}-{number}",
                            "paid" if last else "not_paid",
                            "answer",
                            json.dumps(PAID.to_dict(), sort_keys=True) if last else decline,
                            "success" if last else "app-service-error",
                            "stop" if last else "fallthrough",
                            "stop" if last else "fallthrough",
                            "",
                            0.01,
                            now,
                            now,
                        )
                    )
            db.execute("BEGIN")
            db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", orders)
            db.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", payments)
            db.executemany("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", attempts)
            db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return time.perf_counter() - began


def time_repeats(path: Path, stored: int, repeats: int, seed: int = 6) -> list[float]:
    """Seconds of each of ``repeats`` repeat payments of random stored orders (after 200 untimed ones)."""
    ledger = SQLiteLedger(path)
    host = Host.from_providers(chain_providers(3), ledger=ledger)
    service = PaymentService(host)
    rng = random.Random(seed)
    picks = [rng.randrange(stored) for _ in range(repeats + 200)]
    requests = [PaymentRequest(PaymentType.ORDER_ID, _trade_no(i)) for i in picks]
    latencies: list[float] = []

    async def repeat_all() -> None:
        for number, (i, request) in enumerate(zip(picks, requests, strict=True)):
            started = time.perf_counter()
            result = await service.pay_async(request, CONTEXT)
            elapsed = time.perf_counter() - started
            if result.result_code is not ResultCode.SUCCESS or result.extended_info["paymentId"] != f"pay_{i:016x}":
                raise AssertionError(f"a repeat was not answered with the stored result: {result}")
            if number >= 200:
                latencies.append(elapsed)

    try:
        asyncio.run(repeat_all())
    finally:
        host.close()
    return latencies


def _series(workdir: Path, counts: list[int], repeats: int) -> list[dict[str, Any]]:
    directory = workdir / "lookup"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ledger.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    SQLiteLedger(path).close()
    rows = []
    stored = 0
    for count in counts:
        fill_s = fill(path, stored, count)
        stored = count
        latencies = time_repeats(path, stored, repeats)
        rows.append(
            {
                "stored_payments": stored,
                "p50_ms": round(median(latencies) * 1000, 3),
                "p99_ms": round(percentile(latencies, 99) * 1000, 3),
                "max_ms": round(max(latencies) * 1000, 3),
                "repeats": len(latencies),
                "file_mb": round(path.stat().st_size / 2**20, 1),
                "fill_s": round(fill_s, 1),
                "load_average": load_average(),  # latencies on a shared machine are read beside its load
            }
        )
    return rows


def measure(sizes: Sizes, workdir: Path) -> tuple[Figure, list[dict[str, Any]]]:
    """The key, and (in full mode) the ledger-size rows measured on the way to it."""
    counts = [c for c in (10_000, 100_000) if c < sizes.lookup_stored] if sizes.axes else []
    rows = _series(workdir, [*counts, sizes.lookup_stored], sizes.lookup_repeats)
    last = rows[-1]
    details = {
        "entry": "PaymentService.pay_async of an ORDER_ID whose order is paid (SQLiteLedger, file on disk)",
        "filesystem": filesystem_of(workdir),
        **last,
    }
    return Figure("lookup_p99_ms", last["p99_ms"], details), rows
