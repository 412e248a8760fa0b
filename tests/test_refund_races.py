"""50 host processes refunding one order at once, each 30% of it, on SQLite and on PostgreSQL: the ledger's
transaction (SQLite's write lock; PostgreSQL's lock on the payment's row) lets exactly three succeed, and the
refunds recorded never add up to more than the payment. (The same with 50 threads: core/tests/test_refund_ledger.py.)
"""

from __future__ import annotations

import multiprocessing.context
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradepay import (
    AttemptRecord,
    Decision,
    OutcomeKind,
    PaymentAmount,
    PaymentResult,
    PaymentStatus,
    ProviderStatus,
    ResultCode,
)
from tradepay._ledger.postgres import PostgresDatabase
from tradepay._ledger.sql import SQLLedger

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import ledger_workers as workers
else:
    import ledger_workers as workers

URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL", "")
WORKERS = 50
NEEDS_POSTGRES = pytest.mark.skipif(not URL, reason="set TRADEPAY_TEST_POSTGRES_URL to run against PostgreSQL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, NEEDS_POSTGRES])]


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.ForkServerContext:
    return workers.fork_server()


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where one back end's ledger is (a schema of its own on PostgreSQL, dropped after the test)."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite3")
        return
    url = f"{URL}{'&' if '?' in URL else '?'}schema=tp_race_{secrets.token_hex(6)}"
    yield url
    database = PostgresDatabase(url)
    database.drop_schema()
    database.close()


def test_fifty_processes_refund_thirty_percent_each(
    location: str, forkserver: multiprocessing.context.ForkServerContext
) -> None:
    ledger = workers.open_ledger(location)
    try:
        refund_once_each(ledger, location, forkserver)
    finally:
        ledger.close()


def refund_once_each(ledger: SQLLedger, location: str, forkserver: multiprocessing.context.ForkServerContext) -> None:
    """Pay an order of USD 10.00 in ``ledger``, then let WORKERS processes refund USD 3.00 of it at once."""
    order = ledger.create_order(PaymentAmount("USD", "1000"), merchant_id="m1", payer_id="alice")
    payment, _ = ledger.begin_payment(order, None)
    attempt = ledger.start_attempt(payment.payment_id, "card")
    paid = PaymentResult(ResultCode.SUCCESS, "paid")
    ledger.finish_attempt(
        AttemptRecord(
            attempt, OutcomeKind.ANSWER, paid, "r", Decision.STOP, Decision.STOP, "", 1.0, ProviderStatus.PAID
        )
    )
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, paid)
    start = forkserver.Barrier(WORKERS)
    answers = forkserver.Queue()
    children = [
        forkserver.Process(target=workers.refund_race_worker, args=(location, order.trade_no, number, start, answers))
        for number in range(WORKERS)
    ]
    for child in children:
        child.start()
    try:
        codes = [answers.get(timeout=120) for _ in children]
    finally:
        for child in children:
            child.join(timeout=60)
    assert [child.exitcode for child in children] == [0] * WORKERS
    assert codes.count("SUCCESS") == 3
    assert codes.count("REFUND_AMOUNT_EXCEED") == WORKERS - 3
    refunds = ledger.refunds(trade_no=order.trade_no, limit=1000)
    assert len(refunds) == 3
    assert all(r.attempt == attempt for r in refunds)
    assert sum(r.amount.minor_units for r in refunds) == 900 <= 1000
