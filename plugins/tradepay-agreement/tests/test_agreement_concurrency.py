"""Several host processes on one agreement at once, on each database: no limit is exceeded, no key debits
twice, a debit is given back once, a pair gets one live agreement, and the counters on the agreement row
always equal the sum of its standing debits."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agreement_support import (
    Outcome,
    order_for,
    pay_in_process,
    sign_in_process,
    usage_from_debits,
    usage_left_by_refunds,
)

from tradepay import ProviderStatus
from tradepay_agreement import AgreementProvider

PROCESSES = 5


def run_workers(target: Callable[..., None], args_per_worker: list[tuple[Any, ...]], expected: int) -> list[Outcome]:
    """Start one spawned process per argument tuple (each followed by the barrier and the outcome queue),
    release them together through the barrier, collect ``expected`` outcomes."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_per_worker))
    outcomes: multiprocessing.Queue[Outcome] = ctx.Queue()
    workers = [ctx.Process(target=target, args=(*args, barrier, outcomes)) for args in args_per_worker]
    for worker in workers:
        worker.start()
    try:
        # Drain before joining: a child cannot exit while its queued outcomes are unread.
        collected = [outcomes.get(timeout=60) for _ in range(expected)]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    return collected


def pay_workers(tmp_path: Path, database: str, steps_per_worker: list[list[str]], value: str) -> list[Outcome]:
    args = [(str(tmp_path), database, steps, value) for steps in steps_per_worker]
    return run_workers(pay_in_process, args, sum(map(len, steps_per_worker)))


@pytest.mark.parametrize(
    ("limits", "refusal"),
    [({"count_limit": 7}, "PAYMENT_COUNT_EXCEED_LIMIT"), ({"cumulative_limit": 700}, "USER_AMOUNT_EXCEED_LIMIT")],
)
def test_processes_racing_on_one_agreement_never_exceed_its_limit(
    provider: AgreementProvider, tmp_path: Path, database: str, limits: dict[str, int], refusal: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD", **limits).agreement_id)
    keys = [[f"w{w}p{p}-1" for p in range(4)] for w in range(PROCESSES)]

    outcomes = pay_workers(tmp_path, database, keys, "100")

    assert Counter((code, reason) for _, code, reason in outcomes) == {("9000", None): 7, ("4000", refusal): 13}
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (700, 7)
    assert usage_from_debits(provider.store, agreement.agreement_id) == (700, 7)


def test_processes_racing_with_one_key_debit_it_once_and_answer_alike(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)

    outcomes = pay_workers(tmp_path, database, [["same-1"]] * PROCESSES, "100")

    assert outcomes == [("same-1", "9000", None)] * PROCESSES
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (100, 1)


def test_processes_paying_and_cancelling_the_same_keys_keep_the_counters_exact(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    """Pays, repeats and cancels of six keys interleave across processes; whatever order they ran in, each
    key debited at most once, was given back at most once, and the counters equal the standing debits."""
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD", count_limit=4).agreement_id)
    keys = [f"k{n}-1" for n in range(6)]
    steps = [
        [*keys, *(f"cancel:{k}" for k in keys[:3])],
        [*(f"cancel:{k}" for k in keys[:3]), *keys],
        [*reversed(keys), *(f"cancel:{k}" for k in keys[3:])],
        [f"cancel:{keys[0]}", *keys],
    ]

    outcomes = pay_workers(tmp_path, database, steps, "100")

    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == usage_from_debits(provider.store, agreement.agreement_id)
    assert after.used_count <= 4
    assert all(code == "True" for step, code, _ in outcomes if step.startswith("cancel:"))
    # The first three keys were cancelled by someone: none of them can still stand.
    for key in keys[:3]:
        order, attempt = order_for(key, "100")
        assert provider.inquire(order=order, attempt=attempt) is ProviderStatus.NOT_PAID


def test_processes_cancelling_one_debit_give_it_back_once(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)
    for key in ("kept-1", "gone-1"):
        order, attempt = order_for(key, "250")
        assert provider.pay(order=order, attempt=attempt).result_code.value == "9000"

    outcomes = pay_workers(tmp_path, database, [["cancel:gone-1"]] * PROCESSES, "250")

    assert outcomes == [("cancel:gone-1", "True", None)] * PROCESSES
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (250, 1)
    assert usage_from_debits(provider.store, agreement.agreement_id) == (250, 1)


def test_processes_signing_for_one_pair_get_one_live_agreement(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    provider.store.revoke(provider.store.sign("alice", "shop", "USD").agreement_id)  # the pair has a history

    outcomes = run_workers(sign_in_process, [(str(tmp_path), database)] * PROCESSES, PROCESSES)

    assert Counter(outcome for _, outcome, _ in outcomes) == {"signed": 1, "refused": PROCESSES - 1}
    [signed] = [agreement_id for _, outcome, agreement_id in outcomes if outcome == "signed"]
    assert [(a.agreement_id, a.status) for a in provider.store.agreements("alice")][1:] == [(signed, "pending")]


def test_processes_refunding_one_payment_never_give_back_more_than_it_took(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)
    order, attempt = order_for("paid-1", "1000")
    assert provider.pay(order=order, attempt=attempt).result_code.value == "9000"

    # Each process refunds 30% under a refund key of its own: three fit, two find too little left.
    outcomes = pay_workers(tmp_path, database, [[f"refund=r{n}:paid-1"] for n in range(PROCESSES)], "300")

    assert Counter((outcome, reason) for _, outcome, reason in outcomes) == {
        ("succeeded", None): 3,
        ("failed", "REFUND_AMOUNT_EXCEED"): PROCESSES - 3,
    }
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (100, 1)
    assert usage_left_by_refunds(provider.store, agreement.agreement_id) == (100, 1)


def test_processes_repeating_one_refund_key_give_back_once_and_answer_alike(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)
    order, attempt = order_for("paid-1", "1000")
    provider.pay(order=order, attempt=attempt)

    outcomes = pay_workers(tmp_path, database, [["refund=same:paid-1"]] * PROCESSES, "300")

    assert outcomes == [("refund=same:paid-1", "succeeded", None)] * PROCESSES
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (700, 1)


def test_processes_inquiring_and_refunding_one_refund_key_agree(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)
    order, attempt = order_for("paid-1", "1000")
    provider.pay(order=order, attempt=attempt)
    half = PROCESSES // 2

    outcomes = pay_workers(
        tmp_path,
        database,
        [["inquire_refund=same:paid-1"]] * half + [["refund=same:paid-1"]] * (PROCESSES - half),
        "300",
    )

    refunds = {(outcome, reason) for step, outcome, reason in outcomes if step.startswith("refund=")}
    inquiries = {outcome for step, outcome, _ in outcomes if step.startswith("inquire_refund=")}
    after = provider.store.get(agreement.agreement_id)
    # Whichever came first decides for every call: refunded (and found so), or voided (and never refunded).
    if after.used_amount == 700:
        assert (refunds, inquiries) == ({("succeeded", None)}, {"succeeded"})
    else:
        assert (refunds, inquiries) == ({("failed", "REFUND_VOIDED")}, {"failed"})
        assert (after.used_amount, after.used_count) == (1000, 1)


def test_processes_refunding_and_cancelling_one_payment_give_back_what_it_took_once(
    provider: AgreementProvider, tmp_path: Path, database: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)
    order, attempt = order_for("paid-1", "1000")
    provider.pay(order=order, attempt=attempt)

    outcomes = pay_workers(
        tmp_path, database, [["cancel:paid-1"]] + [[f"refund=r{n}:paid-1"] for n in range(PROCESSES - 1)], "300"
    )

    assert ("cancel:paid-1", "True", None) in outcomes
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (0, 0)
