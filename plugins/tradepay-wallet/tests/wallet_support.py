"""The body of the spawned processes in the multi-process tests: wallet calls on a shared database.

It lives in its own module because a spawned process must import the function it runs by name, and pytest's
importlib mode gives test modules names that no other process can import.
"""

from __future__ import annotations

import asyncio
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from tradepay import Attempt, InvalidInput, Order, PaymentAmount, ProviderConfig
from tradepay.testing import sample_refund
from tradepay_wallet import WalletProvider

#: (operation, payer, idempotency key, amount in USD minor units, trade number); for ``refund`` and
#: ``inquire_refund`` the key is ``PAYMENT_KEY/REFUND_KEY``.
Call = tuple[str, str, str, str, str]
#: (operation, outcome, reason): a payment's result code, an inquiry's status, a cancel's bool, a refund's
#: or a refund inquiry's outcome.
Outcome = tuple[str, str, str | None]
#: (database path or URL, call); ``None`` ends the worker.
Job = tuple[str, Call] | None


def serve(barrier: Barrier, jobs: Queue[Job], results: Queue[Outcome]) -> None:
    """Run jobs until ``None``: open the wallet, wait at ``barrier`` for every worker, make the call.

    ``topup`` answers the new balance, or ``refused`` with the field named.
    """
    while (job := jobs.get()) is not None:
        database, call = job
        try:
            results.put(_call(database, barrier, call))
        except BaseException as exc:  # reported, so the test fails on it instead of waiting for a result
            results.put((call[0], "error", repr(exc)))


def _call(database: str, barrier: Barrier, call: Call) -> Outcome:
    op, payer, key, amount, trade_no = call
    key, _, refund_key = key.partition("/")
    # A SQLite path is absolute and a URL ignores the data directory: any existing directory will do.
    provider = WalletProvider(ProviderConfig("wallet", {"database": database}, Path.cwd()))
    order = Order(trade_no, PaymentAmount("USD", amount), merchant_id="shop-1", payer_id=payer)
    attempt = Attempt(payment_id=key, number=1, provider="wallet", idempotency_key=key)
    try:
        barrier.wait(timeout=30)
        if op in ("refund", "inquire_refund"):
            refund = sample_refund(attempt, order.amount, key=refund_key, trade_no=trade_no)
            if op == "inquire_refund":
                return (op, asyncio.run(provider.inquire_refund(order, attempt, refund)).value, None)
            answer = asyncio.run(provider.refund(order, attempt, refund))
            return (op, answer.outcome.value, answer.reason)
        if op == "pay":
            result = asyncio.run(provider.pay(order, attempt))
            return (op, result.result_code.value, result.reason)
        if op == "inquire":
            return (op, asyncio.run(provider.inquire(order, attempt)).value, None)
        if op == "topup":
            try:
                return (op, str(provider.topup(payer, "USD", int(amount))), None)
            except InvalidInput as exc:
                return (op, "refused", exc.field)
        return (op, str(asyncio.run(provider.cancel(order, attempt))), None)
    finally:
        provider.close()
