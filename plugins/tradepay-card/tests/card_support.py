"""Helpers shared by the tests, importable by name so that "spawn" children can run the workers.

Kept out of conftest.py because a spawn child imports its target by module name, and pytest's importlib mode
gives conftest a name no child can import.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig, Refund
from tradepay.testing import sample_refund
from tradepay_card import CardProvider

#: The tests' "today": cards expiring before June 2026 have expired.
TODAY = date(2026, 6, 15)

#: The PostgreSQL server the ``postgresql`` variants run against (each test in a schema of its own).
POSTGRES_URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL", "")


@dataclass(frozen=True)
class Backend:
    """The database a test's providers keep their state in: ``settings`` is what selects it."""

    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    schema: str | None = None

    @classmethod
    def postgres(cls) -> Backend:
        """A fresh, uniquely named schema on the test server (created by the first provider that opens it).

        The sessions of the tests do not wait for each commit to be flushed to disk (``synchronous_commit``
        off, a libpq option): that makes creating and dropping a schema per test several times faster, and
        changes nothing the tests look at (what a transaction sees, locks and waits for is the same; only a
        crash of the server could lose the last commits).
        """
        schema = f"tp_test_{secrets.token_hex(6)}"
        separator = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{separator}options=-csynchronous_commit%3Doff&schema={schema}"
        return cls("postgresql", {"database": url}, schema)

    def drop(self) -> None:
        """Remove the schema and everything in it (PostgreSQL; for SQLite, tmp_path goes away by itself)."""
        if self.kind == "postgresql":
            # Imported here: the PostgreSQL variants run only where psycopg is installed. One plain connection
            # is several times faster than a whole tradepay.open_database pool just to drop a schema.
            import psycopg
            from psycopg import sql

            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema or "")))


#: ``open_card(today=..., **settings)``: a provider on the test's database (the ``open_card`` fixture).
OpenCard = Callable[..., CardProvider]


def no_sleep(seconds: float) -> None:
    """The tests' ``sleep``: a refund on a ``refund_hangs`` card gives up at once instead of after a day."""


def open_provider(
    data_dir: Path, *, today: date = TODAY, sleep: Callable[[float], None] = no_sleep, **settings: Any
) -> CardProvider:
    """A card provider on ``data_dir`` with ``settings``, its clock fixed at ``today``."""
    return CardProvider(ProviderConfig("card", settings, data_dir), today=lambda: today, sleep=sleep)


def query(provider: CardProvider, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql``, read apart from the provider's own connection: on SQLite through a new connection
    to the file (what is on disk), on PostgreSQL in a transaction of its own (what is committed)."""
    if provider.store.kind == "sqlite":
        with closing(sqlite3.connect(provider.settings.database)) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    with provider.store.database.read() as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def make_order(amount: str = "1000", currency: str = "USD", payer: str = "alice", trade_no: str = "T-1") -> Order:
    """An open order of ``amount`` minor units of ``currency`` paid by ``payer`` to merchant m-1."""
    return Order(trade_no=trade_no, amount=PaymentAmount(currency, amount), merchant_id="m-1", payer_id=payer)


def make_attempt(key: str = "pay-1-1") -> Attempt:
    """Attempt number 1 of payment ``pay-1`` with the card provider, under idempotency ``key``."""
    payment_id, _, number = key.rpartition("-")
    return Attempt(payment_id=payment_id, number=int(number), provider="card", idempotency_key=key)


def make_refund(attempt: Attempt, amount: str = "300", key: str = "ref-1", currency: str = "USD") -> Refund:
    """A refund of ``amount`` minor units of ``attempt``'s payment (of trade T-1), under refund key ``key``."""
    return sample_refund(attempt, PaymentAmount(currency, amount), key=key, merchant_id="m-1", request_id=f"req-{key}")


def race(data_dir: str, settings: dict[str, Any], action: str, keys: list[str], barrier: Any, results: Any) -> None:
    """Spawn target: open an own provider with ``settings``, wait at ``barrier`` for the others, then ``pay``
    (or ``inquire``, or ``cancel``) each of ``keys`` in turn, for an order of 1000 USD. ``refund:NAME`` refunds
    300 of each key under the refund key ``KEY.NAME``, ``inquire_refund:NAME`` inquires about that refund key.

    Puts ``(action, {key: answer})`` on ``results``: the result's dict for pay, the status for inquire, the
    returned bool for cancel, the outcome and reason for a refund, the outcome for a refund inquiry; or
    ``("error", traceback)`` if a call raised (so that the parent fails at once instead of waiting).
    """
    provider = open_provider(Path(data_dir), **settings)
    order = make_order()
    barrier.wait(timeout=30)
    try:
        answers: dict[str, object] = {}
        for key in keys:
            operation, _, name = action.partition(":")
            if operation in ("refund", "inquire_refund"):
                refund = make_refund(make_attempt(key), key=f"{key}.{name}")
                if operation == "refund":
                    answer = provider.refund(order=order, attempt=refund.attempt, refund=refund)
                    answers[key] = [answer.outcome.value, answer.reason]
                else:
                    answers[key] = provider.inquire_refund(order=order, attempt=refund.attempt, refund=refund).value
            elif action == "pay":
                answers[key] = provider.pay(order=order, attempt=make_attempt(key)).to_dict()
            elif action == "inquire":
                answers[key] = provider.inquire(order=order, attempt=make_attempt(key)).value
            else:
                answers[key] = provider.cancel(order=order, attempt=make_attempt(key))
        results.put((action, answers))
    except Exception:
        results.put(("error", traceback.format_exc()))
    finally:
        provider.close()
