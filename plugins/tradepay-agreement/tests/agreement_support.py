"""Helpers of the agreement tests that must be importable by a plain name: spawned processes import them.

conftest.py puts this folder on ``sys.path``; a spawned child inherits that path and so finds this module.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import structlog

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig
from tradepay_agreement import AgreementProvider

#: (idempotency key, result code, reason or None), as a worker reports each payment.
Outcome = tuple[str, str, str | None]


class FakeClock:
    """A clock that stands still until a test moves it: expiry without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pay_in_process(data_dir: str, keys: list[str], value: str, barrier: Barrier, outcomes: Queue[Outcome]) -> None:
    """In a spawned process: open the provider on ``data_dir``, wait for every worker at ``barrier``, then pay
    alice's order of USD ``value`` to shop once per key (the payment and trade number is the key up to its
    first ``-``) and report each outcome."""
    with structlog.testing.capture_logs():  # the child's log lines would only clutter the test output
        provider = AgreementProvider(ProviderConfig(name="agreement", data_dir=Path(data_dir)))
        try:
            barrier.wait(timeout=60)
            for key in keys:
                order = Order(key.split("-")[0], PaymentAmount("USD", value), "shop", "alice")
                result = provider.pay(order=order, attempt=Attempt(key.split("-")[0], 1, "agreement", key))
                outcomes.put((key, result.result_code.value, result.reason))
        finally:
            provider.close()
