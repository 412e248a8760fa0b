"""Fifty parallel requests for one order, from threads and from processes, against the SQLite ledger and the
real wallet: exactly one debit, and the answers the configured ``in_flight_repeat`` promises. And the
write-ahead rule: the attempt is committed before its provider is called.

The race is decided by the ledger alone, never by timing: all fifty requests are released together through a
barrier, and the wallet's ``pay`` (reached only by the request whose ``begin_payment`` created the payment)
waits until the other forty-nine have found that payment in flight (the ledger counts them on a semaphore).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing.context
import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import (
    Attempt,
    ChainSettings,
    ErrorCode,
    Host,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
    ResultCode,
    ResultError,
    SQLiteLedger,
    hookimpl,
)

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import ledger_checks as checks
    from tests import ledger_workers as workers
else:
    import ledger_checks as checks
    import ledger_workers as workers

N = 50
TRADE_NO = "T-dup-1"
AMOUNT = 500
REQUEST = PaymentRequest(PaymentType.ORDER_ID, TRADE_NO)


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.ForkServerContext:
    return workers.fork_server()


def shop(root: Path, *, balance: int) -> None:
    """The order, and the payer's wallet account holding ``balance`` (0: no account, so a decline)."""
    ledger = SQLiteLedger(root / "ledger.sqlite3")
    ledger.create_order(PaymentAmount("USD", str(AMOUNT)), merchant_id="shop-1", payer_id="alice", trade_no=TRADE_NO)
    ledger.close()
    wallet = workers.wallet(root, "wallet")
    if balance:
        wallet.topup("alice", "USD", balance)
    wallet.close()


def in_threads(root: Path, mode: str, own_loops: bool) -> tuple[list[workers.Answer], Host]:
    """N threads on one host: through the service's one loop (``pay_blocking``), or each running a loop of
    its own (``pay_async``: the ledger then sees truly concurrent calls)."""
    arrivals = threading.Semaphore(0)
    host = workers.duplicate_host(root, mode, arrivals, N - 1)
    service = PaymentService(host)
    barrier = threading.Barrier(N)
    answers: list[workers.Answer] = []

    def one() -> None:
        barrier.wait(timeout=60)
        if own_loops:
            answers.append(workers.answer(asyncio.run(service.pay_async(REQUEST, workers.CONTEXT))))
        else:
            answers.append(workers.answer(service.pay_blocking(REQUEST, workers.CONTEXT)))

    threads = [threading.Thread(target=one) for _ in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    service.close()
    return answers, host


def in_processes(ctx: multiprocessing.context.ForkServerContext, root: Path, mode: str) -> list[workers.Answer]:
    """N processes, each with a host of its own on the same files."""
    barrier = ctx.Barrier(N)
    arrivals = ctx.Semaphore(0)
    results = ctx.Queue()
    args = (str(root), TRADE_NO, mode, N - 1, barrier, arrivals, results)
    processes = [ctx.Process(target=workers.duplicate_worker, args=args, daemon=True) for _ in range(N)]
    for process in processes:
        process.start()
    answers: list[workers.Answer] = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * N
    for process in processes:
        process.close()
    results.close()
    results.join_thread()
    return answers


def stored_answer(root: Path) -> tuple[str, workers.Answer]:
    """The order's one payment and the answer the ledger stored for it."""
    view = checks.read_ledger(root / "ledger.sqlite3")
    checks.check_ledger(view)
    checks.check_money(view, checks.read_wallet_money([root / "wallet.sqlite3"]))
    [payment] = view.by_order[TRADE_NO]
    assert payment.result is not None
    assert len(payment.attempts) == 1
    data = json.loads(payment.result)
    error = data.get("resultError")
    stored: workers.Answer = (
        data["resultCode"],
        data.get("extendedInfo", {}).get("paymentId"),
        error["errorCode"] if error else None,
        data["resultMessage"],
    )
    return payment.payment_id, stored


def debits(root: Path) -> list[str]:
    with closing(sqlite3.connect(root / "wallet.sqlite3")) as db:
        rows = db.execute("SELECT idempotency_key FROM entries WHERE kind = 'debit' AND trade_no = ?", (TRADE_NO,))
        return [key for (key,) in rows]


@pytest.mark.parametrize("paid", [True, False], ids=["paid", "declined"])
@pytest.mark.parametrize("mode", ["processing", "wait"])
@pytest.mark.parametrize("how", ["threads-one-loop", "threads-own-loops", "processes"])
def test_fifty_parallel_requests_charge_once(
    how: str, mode: str, paid: bool, tmp_path: Path, forkserver: multiprocessing.context.ForkServerContext
) -> None:
    shop(tmp_path, balance=10 * AMOUNT if paid else 0)
    host: Host | None = None
    if how == "processes":
        answers = in_processes(forkserver, tmp_path, mode)
    else:
        answers, host = in_threads(tmp_path, mode, own_loops=how == "threads-own-loops")

    assert len(answers) == N
    assert not [a for a in answers if a[0] == "error"], answers
    assert len(debits(tmp_path)) == (1 if paid else 0)
    payment_id, stored = stored_answer(tmp_path)
    assert stored[:2] == ("9000" if paid else "4000", payment_id)
    if mode == "wait":
        # Every caller waited for the one payment, and got its one answer.
        assert answers == [stored] * N
    else:
        # One caller paid; the others were told at once that the payment is in progress, and which one.
        assert [a for a in answers if a[0] != "8000"] == [stored]
        assert sorted(a[:3] for a in answers if a[0] == "8000") == [("8000", payment_id, None)] * (N - 1)
    if paid:  # a repeat afterwards is answered from the ledger: same answer, no new payment or debit
        repeat_host = host or workers.duplicate_host(tmp_path, mode, threading.Semaphore(0), 0)
        service = PaymentService(repeat_host)
        assert workers.answer(service.pay_blocking(REQUEST, workers.CONTEXT)) == stored
        service.close()
        assert stored_answer(tmp_path) == (payment_id, stored)
        assert len(debits(tmp_path)) == 1
        repeat_host.close()
    elif host is not None:
        host.close()


class Witness:
    """A provider that, when called, reads what the ledger file holds about its attempt through a connection
    of its own; then answers ``result``."""

    def __init__(self, ledger: Path, result: PaymentResult) -> None:
        self.ledger = ledger
        self.result = result
        self.seen: list[tuple[Any, ...]] = []

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        with closing(sqlite3.connect(self.ledger)) as db:
            mine = db.execute(
                "SELECT status, idempotency_key, provider FROM attempts WHERE payment_id = ? AND number = ?",
                (attempt.payment_id, attempt.number),
            ).fetchone()
            states = db.execute(
                "SELECT status FROM attempts WHERE payment_id = ? ORDER BY number", (attempt.payment_id,)
            ).fetchall()
            payment = db.execute("SELECT status FROM payments WHERE payment_id = ?", (attempt.payment_id,)).fetchone()
        self.seen.append((attempt.idempotency_key, mine, [s for (s,) in states], payment))
        return self.result


def test_the_attempt_is_committed_before_its_provider_is_called(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = SQLiteLedger(path)
    ledger.create_order(PaymentAmount("USD", "100"), merchant_id="shop-1", payer_id="alice", trade_no="T-wa-1")
    declines = Witness(
        path,
        PaymentResult(
            ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, "no"), {"reason": "CARD_DECLINED"}
        ),
    )
    pays = Witness(path, PaymentResult(ResultCode.SUCCESS, "paid"))
    host = Host.from_providers(
        {"first": declines, "second": pays}, chain=ChainSettings(providers=("first", "second")), ledger=ledger
    )
    service = PaymentService(host)
    result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, "T-wa-1"), workers.CONTEXT)
    service.close()
    host.close()

    assert result.result_code is ResultCode.SUCCESS
    [(key_1, mine_1, states_1, payment_1)] = declines.seen
    [(key_2, mine_2, states_2, payment_2)] = pays.seen
    # Each provider found its own attempt, with its own key, committed and "sent" when it was called ...
    assert mine_1 == ("sent", key_1, "first")
    assert mine_2 == ("sent", key_2, "second")
    assert key_1 != key_2
    # ... the payment in progress, and the first attempt's outcome recorded before the second was made.
    assert (states_1, payment_1) == (["sent"], ("processing",))
    assert (states_2, payment_2) == (["not_paid", "sent"], ("processing",))
