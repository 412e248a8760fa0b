"""durable_ratio: payments per second through the SQLite ledger against hand-written sqlite3 code that makes
the same number of commits per payment, on the same disk.

The host pays the 3-provider chain (decline, decline, success) through ``PaymentService.pay_async`` on a
``SQLiteLedger`` file (WAL, ``synchronous=FULL``). Its commits per payment, read from the code and counted
at run time with a trace callback: ``begin_payment`` 1, ``start_attempt`` and ``finish_attempt`` 1 each per
attempt, ``finish_payment`` 1, so 1 + 2 x 3 + 1 = 8. The floor opens a second file with the same schema and
pragmas and, per payment, makes the same 8 ``BEGIN IMMEDIATE`` ... ``COMMIT`` transactions with the same
row writes (insert the payment; insert each attempt and touch the payment; finish each attempt and touch
the payment; finish the payment and mark the order paid), with payment ids made as the ledger makes them
(random hex), without the ledger's reads and checks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from secrets import token_hex
from typing import Any

from tradepay import Host, PaymentRequest, PaymentResult, PaymentService, PaymentType, ResultCode, SQLiteLedger

from ._fixtures import AMOUNT, CONTEXT, DECLINE, MERCHANT, PAID, PAYER, chain_providers
from ._harness import Figure, Sizes, alternate, filesystem_of, median

__all__ = ["insert_orders", "measure"]

CHAIN = 3
COMMITS_PER_PAYMENT = 1 + 2 * CHAIN + 1


def insert_orders(path: Path, trade_nos: list[str], status: str = "open") -> None:
    """Add orders to a ledger file directly (the super app's create-order API is not what is measured)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            ((t, AMOUNT.currency, AMOUNT.value, MERCHANT, PAYER, status, time.time()) for t in trade_nos),
        )
        db.execute("COMMIT")
    finally:
        db.close()


class _Orders:
    """Fresh trade numbers, made in batches."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.next = 0

    def take(self, count: int) -> list[str]:
        start, self.next = self.next, self.next + count
        return [f"{self.prefix}{i:010d}" for i in range(start, start + count)]


def _host_round(path: Path, orders: _Orders, payments: int) -> float:
    """Payments per second through the host on the SQLite ledger at ``path``."""
    trade_nos = orders.take(payments)
    insert_orders(path, trade_nos)
    ledger = SQLiteLedger(path)
    host = Host.from_providers(chain_providers(CHAIN), ledger=ledger)
    service = PaymentService(host)
    requests = [PaymentRequest(PaymentType.ORDER_ID, t) for t in trade_nos]
    results: list[PaymentResult] = []

    async def pay_all() -> float:
        started = time.perf_counter()
        for request in requests:
            results.append(await service.pay_async(request, CONTEXT))
        return time.perf_counter() - started

    try:
        elapsed = asyncio.run(pay_all())
    finally:
        host.close()
    if any(r.result_code is not ResultCode.SUCCESS for r in results):
        raise AssertionError(f"the host did not pay: {results[0]}")
    return payments / elapsed


_DECLINE_JSON = json.dumps(DECLINE.to_dict(), sort_keys=True)
_PAID_JSON = json.dumps(PAID.to_dict(), sort_keys=True)


def _floor_round(path: Path, orders: _Orders, payments: int) -> float:
    """Payments per second of hand-written sqlite3 code making the same commits with the same writes."""
    trade_nos = orders.take(payments)
    insert_orders(path, trade_nos)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    app_id = CONTEXT.app_id
    try:
        started = time.perf_counter()
        for trade_no in trade_nos:
            payment_id = f"pay_{token_hex(8)}"  # as the ledger makes them: where the rows land in the indexes
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO payments VALUES (?, ?, 'processing', NULL, ?, ?, ?, ?, ?, ?, ?, 'open', NULL, NULL)",
                (payment_id, trade_no, app_id, now, now, AMOUNT.currency, AMOUNT.value, MERCHANT, PAYER),
            )
            db.execute("COMMIT")
            for number in range(1, CHAIN + 1):
                last = number == CHAIN
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO attempts (payment_id, number, provider, idempotency_key, status, sent_at)"
                    " VALUES (?, ?, ?, ?, 'sent', ?)",
                    (payment_id, number, f"p{number}", f"{payment_id}-{number}", time.time()),
                )
                db.execute("UPDATE payments SET updated_at = ? WHERE payment_id = ?", (time.time(), payment_id))
                db.execute("COMMIT")
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "UPDATE attempts SET status = ?, kind = 'answer', result = ?, rule = ?, decision = ?, final = ?,"
                    " detail = '', duration_ms = 0.01, finished_at = ? WHERE payment_id = ? AND number = ?",
                    (
                        "paid" if last else "not_paid",
                        _PAID_JSON if last else _DECLINE_JSON,
                        "success" if last else "app-service-error",
                        "stop" if last else "fallthrough",
                        "stop" if last else "fallthrough",
                        time.time(),
                        payment_id,
                        number,
                    ),
                )
                db.execute("UPDATE payments SET updated_at = ? WHERE payment_id = ?", (time.time(), payment_id))
                db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE payments SET status = 'succeeded', result = ?, updated_at = ? WHERE payment_id = ?",
                (_PAID_JSON, time.time(), payment_id),
            )
            db.execute("UPDATE orders SET status = 'paid' WHERE trade_no = ?", (trade_no,))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        db.close()
    return payments / elapsed


def count_statements(path: Path, orders: _Orders) -> dict[str, float]:
    """Pay one order through the host with a trace callback on the ledger's connection: its commits and
    statements per payment, counted rather than assumed."""
    trade_nos = orders.take(1)
    insert_orders(path, trade_nos)
    ledger = SQLiteLedger(path)
    seen: list[str] = []
    ledger.sqlite.connection().set_trace_callback(seen.append)
    host = Host.from_providers(chain_providers(CHAIN), ledger=ledger)
    try:
        result = asyncio.run(
            PaymentService(host).pay_async(PaymentRequest(PaymentType.ORDER_ID, trade_nos[0]), CONTEXT)
        )
    finally:
        ledger.sqlite.connection().set_trace_callback(None)
        host.close()
    assert result.result_code is ResultCode.SUCCESS
    return {
        "commits": sum(s.strip().upper() == "COMMIT" for s in seen),
        "statements": len(seen),
        "selects": sum(s.lstrip().upper().startswith("SELECT") for s in seen),
    }


def measure(sizes: Sizes, workdir: Path) -> Figure:
    directory = workdir / "durable"
    directory.mkdir(parents=True, exist_ok=True)
    ledger_path, floor_path = directory / "ledger.sqlite3", directory / "floor.sqlite3"
    for path in (ledger_path, floor_path):
        SQLiteLedger(path).close()  # the schema, by the ledger's own migrations
    host_orders, floor_orders = _Orders("H"), _Orders("F")
    counted = count_statements(ledger_path, host_orders)
    if counted["commits"] != COMMITS_PER_PAYMENT:
        raise AssertionError(f"the ledger made {counted['commits']} commits per payment, not {COMMITS_PER_PAYMENT}")
    host, floor = alternate(
        lambda: _host_round(ledger_path, host_orders, sizes.durable_payments),
        lambda: _floor_round(floor_path, floor_orders, sizes.durable_payments),
        rounds=sizes.durable_rounds,
    )
    host_pps, floor_pps = median(host), median(floor)
    # Each host round against the floor round run beside it (ABBA): the disk's latency drifts with other
    # processes' writes, and a pair shares the moment. The key is the median of the pairs' ratios.
    ratio = median([h / f for h, f in zip(host, floor, strict=True)])
    details: dict[str, Any] = {
        "entry": "PaymentService.pay_async, 3-provider chain (decline, decline, success), async providers",
        "filesystem": filesystem_of(directory),
        "commits_per_payment": COMMITS_PER_PAYMENT,
        "ledger_statements_per_payment": counted,
        "floor_statements_per_payment": 3 + 8 * CHAIN + 4,
        "payments_per_round": sizes.durable_payments,
        "rounds": sizes.durable_rounds,
        "ratio_of_medians": round(host_pps / floor_pps, 3),
        "host_payments_per_s": round(host_pps, 1),
        "floor_payments_per_s": round(floor_pps, 1),
        "floor_ms_per_commit": round(1000 / floor_pps / COMMITS_PER_PAYMENT, 3),
        "host_ms_per_payment": round(1000 / host_pps, 3),
        "host_range_payments_per_s": [round(min(host), 1), round(max(host), 1)],
        "floor_range_payments_per_s": [round(min(floor), 1), round(max(floor), 1)],
    }
    return Figure("durable_ratio", round(ratio, 3), details)
