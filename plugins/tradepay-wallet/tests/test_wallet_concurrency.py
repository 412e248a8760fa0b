"""Several processes on one account and one key at once, released together through a barrier.

Real processes (the "spawn" start method: no connection crosses a fork) share the wallet's database: a SQLite
file, and a PostgreSQL schema, where nothing like SQLite's whole-file write lock orders them. The tests check
money, not timing: no overdraw, one debit per key, one reversal per key, no balance past the maximum, a
counted fault used exactly its count.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tradepay import Attempt, Order
from tradepay_wallet import EntryKind, FaultKind, WalletProvider

Call = tuple[str, str, str, str, str]
Outcome = tuple[str, str, str | None]
RunCalls = Callable[[str, list[Call]], list[Outcome]]
RunTogether = Callable[[list[Call]], list[Outcome]]
PROCESSES = 6
MAX_BALANCE = 10**18 - 1


@pytest.fixture(scope="module")
def crew() -> Iterator[RunCalls]:
    """PROCESSES spawned workers kept for the module (spawning is the slow part), one call each per round."""
    with pytest.MonkeyPatch.context() as patch:
        # Importable by name here, and in the spawned processes through the sys.path they inherit.
        patch.syspath_prepend(str(Path(__file__).parent))
        worker = importlib.import_module("wallet_support")
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(PROCESSES)
        results = ctx.Queue()
        jobs = [ctx.Queue() for _ in range(PROCESSES)]
        processes = [ctx.Process(target=worker.serve, args=(barrier, q, results), daemon=True) for q in jobs]
        for process in processes:
            process.start()

    def run(database: str, calls: list[Call]) -> list[Outcome]:
        for queue, call in zip(jobs, calls, strict=True):
            queue.put((database, call))
        return [results.get(timeout=60) for _ in calls]

    yield run
    for queue in jobs:
        queue.put(None)
    for process in processes:
        process.join(timeout=30)
    assert [p.exitcode for p in processes] == [0] * PROCESSES


@pytest.fixture
def run_together(provider: WalletProvider, crew: RunCalls) -> RunTogether:
    """Make one call per worker on ``provider``'s database, all released at once; return the outcomes."""
    return lambda calls: crew(str(provider.settings.database), calls)


def entries(provider: WalletProvider, kind: EntryKind) -> list[str | None]:
    return [e.idempotency_key for e in provider.history("alice") if e.kind is kind]


def test_parallel_repeats_of_one_key_debit_once_and_answer_alike(
    provider: WalletProvider, run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)

    outcomes = run_together([("pay", "alice", "pay-1-1", "300", "T-1")] * PROCESSES)

    assert outcomes == [("pay", "9000", None)] * PROCESSES
    assert provider.balance("alice", "USD") == 700
    assert entries(provider, EntryKind.DEBIT) == ["pay-1-1"]


def test_parallel_payments_never_overdraw(provider: WalletProvider, run_together: RunTogether) -> None:
    provider.topup("alice", "USD", 1000)

    outcomes = run_together([("pay", "alice", f"pay-{n}-1", "300", f"T-{n}") for n in range(PROCESSES)])

    assert (
        sorted(outcomes) == [("pay", "4000", "USER_BALANCE_NOT_ENOUGH")] * (PROCESSES - 3) + [("pay", "9000", None)] * 3
    )
    assert provider.balance("alice", "USD") == 100
    assert len(entries(provider, EntryKind.DEBIT)) == 3


def test_parallel_pay_and_inquiry_of_one_key_agree(provider: WalletProvider, run_together: RunTogether) -> None:
    provider.topup("alice", "USD", 1000)
    half = PROCESSES // 2

    outcomes = run_together(
        [("pay", "alice", "pay-1-1", "300", "T-1")] * half + [("inquire", "alice", "pay-1-1", "300", "T-1")] * half
    )

    pays = {o for o in outcomes if o[0] == "pay"}
    inquiries = {o for o in outcomes if o[0] == "inquire"}
    # Whichever came first decides for every call: paid (and found paid), or voided (and never paid).
    if provider.balance("alice", "USD") == 700:
        assert (pays, inquiries) == ({("pay", "9000", None)}, {("inquire", "paid", None)})
        assert entries(provider, EntryKind.DEBIT) == ["pay-1-1"]
    else:
        assert (pays, inquiries) == ({("pay", "4000", "ATTEMPT_VOIDED")}, {("inquire", "not_paid", None)})
        assert provider.balance("alice", "USD") == 1000
        assert entries(provider, EntryKind.DEBIT) == []


def test_parallel_cancels_credit_back_once(
    provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt], run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)
    asyncio.run(provider.pay(order, attempt("pay-1-1")))

    outcomes = run_together([("cancel", "alice", "pay-1-1", "300", "T-1")] * PROCESSES)

    assert outcomes == [("cancel", "True", None)] * PROCESSES
    assert provider.balance("alice", "USD") == 1000
    assert entries(provider, EntryKind.REVERSAL) == ["pay-1-1"]


def test_parallel_topups_never_pass_the_maximum_balance(provider: WalletProvider, run_together: RunTogether) -> None:
    provider.topup("alice", "USD", MAX_BALANCE - 500)

    outcomes = run_together([("topup", "alice", "-", "200", "-")] * PROCESSES)

    assert sorted(outcomes) == [("topup", str(MAX_BALANCE - 300), None), ("topup", str(MAX_BALANCE - 100), None)] + [
        ("topup", "refused", "amount")
    ] * (PROCESSES - 2)
    assert provider.balance("alice", "USD") == MAX_BALANCE - 100
    assert len(entries(provider, EntryKind.CREDIT)) == 3


def test_a_counted_fault_is_used_exactly_its_count(provider: WalletProvider, run_together: RunTogether) -> None:
    provider.topup("alice", "USD", 1000)
    provider.set_fault("alice", FaultKind.USER_CANCEL, times=2)

    outcomes = run_together([("pay", "alice", f"pay-{n}-1", "100", f"T-{n}") for n in range(PROCESSES)])

    assert sorted(outcomes) == [("pay", "6001", "USER_CANCEL")] * 2 + [("pay", "9000", None)] * (PROCESSES - 2)
    assert provider.faults() == []
    assert provider.balance("alice", "USD") == 1000 - 100 * (PROCESSES - 2)


def test_parallel_refunds_of_one_payment_never_give_back_more_than_it_took(
    provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt], run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)
    asyncio.run(provider.pay(order, attempt("pay-1-1")))

    outcomes = run_together([("refund", "alice", f"pay-1-1/ref-{n}", "90", "T-1") for n in range(PROCESSES)])

    # 30% of USD 3.00 each: three fit, the others find too little left.
    assert (
        sorted(outcomes)
        == [("refund", "failed", "REFUND_AMOUNT_EXCEED")] * (PROCESSES - 3) + [("refund", "succeeded", None)] * 3
    )
    assert provider.balance("alice", "USD") == 700 + 270
    assert len(entries(provider, EntryKind.REFUND)) == 3


def test_parallel_repeats_of_one_refund_key_credit_once_and_answer_alike(
    provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt], run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)
    asyncio.run(provider.pay(order, attempt("pay-1-1")))

    outcomes = run_together([("refund", "alice", "pay-1-1/ref-1", "100", "T-1")] * PROCESSES)

    assert outcomes == [("refund", "succeeded", None)] * PROCESSES
    assert provider.balance("alice", "USD") == 800
    assert entries(provider, EntryKind.REFUND) == ["ref-1"]


def test_parallel_refund_and_inquiry_of_one_refund_key_agree(
    provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt], run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)
    asyncio.run(provider.pay(order, attempt("pay-1-1")))
    half = PROCESSES // 2

    outcomes = run_together(
        [("refund", "alice", "pay-1-1/ref-1", "100", "T-1")] * half
        + [("inquire_refund", "alice", "pay-1-1/ref-1", "100", "T-1")] * half
    )

    refunds = {o for o in outcomes if o[0] == "refund"}
    inquiries = {o for o in outcomes if o[0] == "inquire_refund"}
    # Whichever came first decides for every call: refunded (and found so), or voided (and never refunded).
    if provider.balance("alice", "USD") == 800:
        assert (refunds, inquiries) == ({("refund", "succeeded", None)}, {("inquire_refund", "succeeded", None)})
        assert entries(provider, EntryKind.REFUND) == ["ref-1"]
    else:
        assert (refunds, inquiries) == (
            {("refund", "failed", "REFUND_VOIDED")},
            {("inquire_refund", "failed", None)},
        )
        assert provider.balance("alice", "USD") == 700
        assert entries(provider, EntryKind.REFUND) == []


def test_parallel_refunds_and_a_cancel_of_one_payment_give_back_what_it_took_once(
    provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt], run_together: RunTogether
) -> None:
    provider.topup("alice", "USD", 1000)
    asyncio.run(provider.pay(order, attempt("pay-1-1")))

    outcomes = run_together(
        [("refund", "alice", f"pay-1-1/ref-{n}", "100", "T-1") for n in range(PROCESSES - 1)]
        + [("cancel", "alice", "pay-1-1", "300", "T-1")]
    )

    assert ("cancel", "True", None) in outcomes
    assert provider.balance("alice", "USD") == 1000
    refunded = sum(e.amount for e in provider.history("alice") if e.kind is EntryKind.REFUND)
    reversed_ = sum(e.amount for e in provider.history("alice") if e.kind is EntryKind.REVERSAL)
    assert refunded + reversed_ == 300
