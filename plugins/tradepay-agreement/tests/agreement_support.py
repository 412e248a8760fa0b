"""Helpers of the agreement tests that must be importable by a plain name: spawned processes import them.

conftest.py puts this folder on ``sys.path``; a spawned child inherits that path and so finds this module.
psycopg is imported only inside the PostgreSQL helpers, so that the tests run where it is not installed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import structlog

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig, Refund
from tradepay.testing import postgres_skip_reason, sample_refund
from tradepay_agreement import AgreementError, AgreementProvider, AgreementStore

#: (idempotency key or action, result code or outcome, reason or None), as a worker reports each step.
Outcome = tuple[str, str, str | None]

POSTGRES_URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL")


POSTGRES_SKIP = postgres_skip_reason()
#: The databases every store and provider test runs on (the ``database`` fixture's parameters).
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[pytest.mark.postgres, pytest.mark.skipif(POSTGRES_SKIP is not None, reason=POSTGRES_SKIP or "")],
    ),
]
#: For a test of a PostgreSQL race that SQLite's whole-database write lock makes impossible.
ONLY_POSTGRES = pytest.mark.parametrize("database", BACKENDS[1:], indirect=True)


@contextmanager
def other_transaction(database: str) -> Iterator[Any]:
    """A second psycopg connection to the PostgreSQL ``database`` URL, in its schema, inside an open
    transaction (committed only by the caller): a stand-in for another process."""
    import psycopg

    parts = urlsplit(database)
    schema = dict(parse_qsl(parts.query))["schema"]
    url = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "schema"])))
    with psycopg.connect(url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        yield conn


def wait_until_blocked_by(conn: Any) -> None:
    """Return once some other session waits for ``conn``'s open transaction (a row or key it wrote); fail
    after 30 seconds. Polls the lock table: the event it waits for happens in another connection."""
    xid = conn.execute("SELECT pg_current_xact_id()::xid::text").fetchone()[0]
    deadline = time.monotonic() + 30
    while not conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = %s AND NOT granted",
        (xid,),
    ).fetchone()[0]:
        assert time.monotonic() < deadline, "nothing waited for the other transaction"
        time.sleep(0.002)


def usage_from_debits(store: AgreementStore, agreement_id: str) -> tuple[int, int]:
    """The agreement's (amount, count) summed from its standing debits, as the old store computed usage: what
    the counters on the agreement row must always equal."""
    with store.database.read() as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM attempts WHERE agreement_id = ? AND status = 'debited'",
            (agreement_id,),
        ).fetchone()
    return int(row[0]), int(row[1])


def usage_left_by_refunds(store: AgreementStore, agreement_id: str) -> tuple[int, int]:
    """The agreement's (amount, count) from its standing debits less what their succeeded refunds gave back (a
    debit refunded in full no longer counts): what the counters must equal once refunds are made."""
    with store.database.read() as conn:
        rows = conn.execute(
            "SELECT a.amount, COALESCE(SUM(r.amount), 0) FROM attempts a LEFT JOIN refunds r"
            " ON r.payment_key = a.idempotency_key AND r.status = 'succeeded'"
            " WHERE a.agreement_id = ? AND a.status = 'debited' GROUP BY a.idempotency_key, a.amount",
            (agreement_id,),
        ).fetchall()
    return sum(int(debit) - int(refunded) for debit, refunded in rows), sum(1 for d, r in rows if int(r) < int(d))


def refund_of(attempt: Attempt, value: str, refund_key: str) -> Refund:
    """A refund of USD ``value`` of ``attempt``'s payment (its trade number is its payment id), under
    ``refund_key``."""
    amount = PaymentAmount("USD", value)
    return sample_refund(attempt, amount, key=refund_key, trade_no=attempt.payment_id, merchant_id="shop")


class FakeClock:
    """A clock that stands still until a test moves it: expiry without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _open(data_dir: str, database: str) -> AgreementProvider:
    return AgreementProvider(ProviderConfig(name="agreement", settings={"database": database}, data_dir=Path(data_dir)))


def order_for(key: str, value: str) -> tuple[Order, Attempt]:
    """alice's order of USD ``value`` to shop for ``key`` (the payment and trade number is the key up to its
    first ``-``)."""
    payment = key.split("-")[0]
    return Order(payment, PaymentAmount("USD", value), "shop", "alice"), Attempt(payment, 1, "agreement", key)


def pay_in_process(
    data_dir: str, database: str, steps: list[str], value: str, barrier: Barrier, outcomes: Queue[Outcome]
) -> None:
    """In a spawned process: open the provider on ``database``, wait for every worker at ``barrier``, then run
    each step and report its outcome. A step is a key to pay, ``cancel:KEY`` to cancel that key's payment,
    ``refund=NAME:KEY`` to refund USD ``value`` of it under the refund key ``NAME``, or
    ``inquire_refund=NAME:KEY`` to inquire about that refund."""
    with structlog.testing.capture_logs():  # the child's log lines would only clutter the test output
        provider = _open(data_dir, database)
        try:
            barrier.wait(timeout=60)
            for step in steps:
                action, _, key = step.rpartition(":")
                order, attempt = order_for(key, value)
                operation, _, refund_key = action.partition("=")
                if operation == "refund":
                    refund = refund_of(attempt, value, refund_key)
                    answer = provider.refund(order=order, attempt=attempt, refund=refund)
                    outcomes.put((step, answer.outcome.value, answer.reason))
                elif operation == "inquire_refund":
                    refund = refund_of(attempt, value, refund_key)
                    inquired = provider.inquire_refund(order=order, attempt=attempt, refund=refund)
                    outcomes.put((step, inquired.value, None))
                elif action == "cancel":
                    outcomes.put((step, str(provider.cancel(order=order, attempt=attempt)), None))
                else:
                    result = provider.pay(order=order, attempt=attempt)
                    outcomes.put((step, result.result_code.value, result.reason))
        finally:
            provider.close()


def sign_in_process(data_dir: str, database: str, barrier: Barrier, outcomes: Queue[Outcome]) -> None:
    """In a spawned process: wait at ``barrier``, then sign an agreement of alice with shop; report
    ``("sign", "signed", id)`` or ``("sign", "refused", None)``."""
    with structlog.testing.capture_logs():
        provider = _open(data_dir, database)
        try:
            barrier.wait(timeout=60)
            try:
                signed = provider.store.sign("alice", "shop", "USD")
            except AgreementError:
                outcomes.put(("sign", "refused", None))
            else:
                outcomes.put(("sign", "signed", signed.agreement_id))
        finally:
            provider.close()
