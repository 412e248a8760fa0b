"""Several host processes paying against one agreement at once: no limit is exceeded, no key debits twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest
from agreement_support import Outcome, pay_in_process

from tradepay_agreement import AgreementProvider

PROCESSES = 5


def run_workers(data_dir: Path, keys_per_worker: list[list[str]], value: str) -> list[Outcome]:
    """Start one spawned process per key list, release them together through a barrier, collect every outcome."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(keys_per_worker))
    outcomes: multiprocessing.Queue[Outcome] = ctx.Queue()
    workers = [
        ctx.Process(target=pay_in_process, args=(str(data_dir), keys, value, barrier, outcomes))
        for keys in keys_per_worker
    ]
    for worker in workers:
        worker.start()
    try:
        # Drain before joining: a child cannot exit while its queued outcomes are unread.
        collected = [outcomes.get(timeout=60) for _ in range(sum(map(len, keys_per_worker)))]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    return collected


@pytest.mark.parametrize(
    ("limits", "refusal"),
    [({"count_limit": 7}, "PAYMENT_COUNT_EXCEED_LIMIT"), ({"cumulative_limit": 700}, "USER_AMOUNT_EXCEED_LIMIT")],
)
def test_processes_racing_on_one_agreement_never_exceed_its_limit(
    provider: AgreementProvider, tmp_path: Path, limits: dict[str, int], refusal: str
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD", **limits).agreement_id)
    keys = [[f"w{w}p{p}-1" for p in range(4)] for w in range(PROCESSES)]

    outcomes = run_workers(tmp_path, keys, "100")

    assert Counter((code, reason) for _, code, reason in outcomes) == {("9000", None): 7, ("4000", refusal): 13}
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (700, 7)


def test_processes_racing_with_one_key_debit_it_once_and_answer_alike(
    provider: AgreementProvider, tmp_path: Path
) -> None:
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)

    outcomes = run_workers(tmp_path, [["same-1"]] * PROCESSES, "100")

    assert outcomes == [("same-1", "9000", None)] * PROCESSES
    after = provider.store.get(agreement.agreement_id)
    assert (after.used_amount, after.used_count) == (100, 1)
