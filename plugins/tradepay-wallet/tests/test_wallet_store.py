"""The database itself: where PostgreSQL keeps the tables, what a bad URL says, and the races that only
PostgreSQL lets happen (SQLite's write lock rules them out). Files of the first release: test_wallet_migrations.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    Attempt,
    ConfigError,
    Database,
    Order,
    PaymentAmount,
    ProviderConfig,
    ProviderStatus,
    Refund,
    RefundOutcome,
    RefundStatus,
)
from tradepay_wallet import EntryKind, WalletProvider

AttemptOf = Callable[[str], Attempt]
MakeProvider = Callable[..., WalletProvider]
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def pay(provider: WalletProvider, order: Order, attempt: Attempt) -> Any:
    return asyncio.run(provider.pay(order, attempt))


# --- PostgreSQL: where the tables are, and what a bad URL says ----------------------------------------------


def tables_in(admin: Database, schema: str) -> set[str]:
    with admin.read() as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", (schema,))
        return {row[0] for row in rows.fetchall()}


def schemas(admin: Database) -> set[str]:
    with admin.read() as conn:
        return {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}


@POSTGRESQL_ONLY
def test_postgresql_keeps_the_tables_in_the_urls_schema(
    provider: WalletProvider, database: str, postgres_admin: Database
) -> None:
    schema = database.rpartition("schema=")[2]

    assert provider.settings.database == database
    assert tables_in(postgres_admin, schema) == {
        "accounts",
        "entries",
        "attempts",
        "refunds",
        "faults",
        "tradepay_schema",
    }


@POSTGRESQL_ONLY
def test_postgresql_without_a_schema_uses_tradepay_wallet(
    database: str, postgres_admin: Database, tmp_path: Path
) -> None:
    base = database.rpartition("schema=")[0].rstrip("?&")
    if "tradepay_wallet" in schemas(postgres_admin):
        pytest.skip("the test database already has a tradepay_wallet schema: not touching data of others")
    provider = WalletProvider(ProviderConfig("wallet", {"database": base}, tmp_path))
    try:
        provider.topup("alice", "USD", 100)
        assert {"accounts", "entries", "attempts", "faults"} <= tables_in(postgres_admin, "tradepay_wallet")
    finally:
        provider.close()
        with postgres_admin.write() as conn:
            conn.execute('DROP SCHEMA IF EXISTS "tradepay_wallet" CASCADE')


@POSTGRESQL_ONLY
def test_a_schema_of_a_newer_wallet_is_refused(
    make_provider: MakeProvider, database: str, postgres_admin: Database
) -> None:
    make_provider().close()
    with postgres_admin.write() as conn:
        conn.execute(f'SET LOCAL search_path TO "{database.rpartition("schema=")[2]}"')
        conn.execute("UPDATE tradepay_schema SET version = 99")

    with pytest.raises(ConfigError, match="schema version 99, newer") as refused:
        make_provider()
    assert refused.value.key == "providers.wallet.database"


@POSTGRESQL_ONLY
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://wallet:s3cret@127.0.0.1:1/test", "cannot connect"),
        ("postgresql://wallet:s3cret@127.0.0.1:1/test?schema=Not-An-Identifier", "lowercase identifier"),
    ],
)
def test_an_unusable_postgresql_url_names_the_wallets_key_and_hides_the_password(
    make_provider: MakeProvider, url: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        make_provider(database=url)

    assert refused.value.key == "providers.wallet.database"
    assert "s3cret" not in str(refused.value)
    assert "wallet:***@127.0.0.1:1" in str(refused.value)


# --- PostgreSQL: another process takes the key between this one's read and its write -------------------------


class Interloper:
    """The store's database, with another process's call let in at the worst moment: in the first write
    transaction, right after its first read of ``table`` (which found the key missing), before any write."""

    def __init__(self, db: Any, act: Callable[[], object], table: str = "attempts") -> None:
        self._db = db
        self._act: Callable[[], object] | None = act
        self._table = table
        self.kind = db.kind
        self.integrity_errors = db.integrity_errors
        self.transactions = 0

    def read(self) -> Any:
        return self._db.read()

    @contextmanager
    def write(self) -> Iterator[Interloper]:
        self.transactions += 1
        with self._db.write() as conn:
            self._conn = conn
            yield self

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self._conn.execute(sql, params)
        if self._act is not None and sql.startswith("SELECT") and f"FROM {self._table} " in sql:
            act, self._act = self._act, None
            act()  # on the other provider's own connections: it commits before this transaction goes on
        return cursor


@pytest.fixture
def interlope(monkeypatch: pytest.MonkeyPatch) -> Callable[[WalletProvider, Callable[[], object]], Interloper]:
    """``interlope(provider, act)``: run ``act`` inside ``provider``'s next key decision (white box)."""

    def install(provider: WalletProvider, act: Callable[[], object], table: str = "attempts") -> Interloper:
        store = provider.store
        interloper = Interloper(store.database, act, table)
        monkeypatch.setattr(store, "_db", interloper)
        return interloper

    return install


@POSTGRESQL_ONLY
@pytest.mark.parametrize(
    ("first", "answer", "balance"),
    [("pay", ("9000", None), 700), ("inquire", ("4000", "ATTEMPT_VOIDED"), 1000)],
)
def test_a_pay_that_finds_its_key_taken_answers_from_it_and_moves_nothing(
    make_provider: MakeProvider,
    order: Order,
    attempt: AttemptOf,
    interlope: Callable[..., Interloper],
    first: str,
    answer: tuple[str, str | None],
    balance: int,
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    calls = {"pay": theirs.pay, "inquire": theirs.inquire}
    race = interlope(ours, lambda: asyncio.run(calls[first](order, attempt("pay-1-1"))))

    result = pay(ours, order, attempt("pay-1-1"))

    assert (result.result_code.value, result.reason) == answer
    assert race.transactions == 2  # the first, rolled back with its debit, and the one that found the key
    assert ours.balance("alice", "USD") == balance
    assert [e.kind for e in ours.history("alice")].count(EntryKind.DEBIT) == (1 if balance == 700 else 0)


@POSTGRESQL_ONLY
def test_an_inquiry_that_finds_its_key_paid_meanwhile_says_paid(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf, interlope: Callable[..., Interloper]
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    race = interlope(ours, lambda: pay(theirs, order, attempt("pay-1-1")))

    assert asyncio.run(ours.inquire(order, attempt("pay-1-1"))) is ProviderStatus.PAID

    assert race.transactions == 2
    assert ours.balance("alice", "USD") == 700


@POSTGRESQL_ONLY
def test_a_cancel_that_finds_its_key_paid_meanwhile_reverses_it(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf, interlope: Callable[..., Interloper]
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    race = interlope(ours, lambda: pay(theirs, order, attempt("pay-1-1")))

    assert asyncio.run(ours.cancel(order, attempt("pay-1-1"))) is True

    assert race.transactions == 2
    assert ours.balance("alice", "USD") == 1000
    assert [e.kind for e in ours.history("alice")] == [EntryKind.CREDIT, EntryKind.DEBIT, EntryKind.REVERSAL]
    assert asyncio.run(theirs.inquire(order, attempt("pay-1-1"))) is ProviderStatus.NOT_PAID


def a_refund(attempt: Attempt, key: str = "ref-1") -> Refund:
    return Refund(key, "T-1", attempt.payment_id, attempt, PaymentAmount("USD", "100"), key, "shop-1", None,
                  RefundStatus.PROCESSING)  # fmt: skip


@POSTGRESQL_ONLY
def test_a_refund_whose_key_an_inquiry_voided_meanwhile_credits_nothing(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf, interlope: Callable[..., Interloper]
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    pay(ours, order, attempt("pay-1-1"))
    late = a_refund(attempt("pay-1-1"))
    race = interlope(ours, lambda: asyncio.run(theirs.inquire_refund(order, late.attempt, late)), "refunds")

    answer = asyncio.run(ours.refund(order, late.attempt, late))

    assert (answer.outcome, answer.reason) == (RefundOutcome.FAILED, "REFUND_VOIDED")
    assert race.transactions == 2  # the first, rolled back with its credit, and the one that found the key
    assert ours.balance("alice", "USD") == 700
    assert EntryKind.REFUND not in [e.kind for e in ours.history("alice")]


@POSTGRESQL_ONLY
def test_a_refund_whose_key_another_process_refunded_meanwhile_answers_from_it(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf, interlope: Callable[..., Interloper]
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    pay(ours, order, attempt("pay-1-1"))
    # Another payment key: its refund does not wait for our lock on pay-1-1's row, and takes the refund key.
    pay(ours, Order("T-2", PaymentAmount("USD", "300"), "shop-1", "alice"), attempt("pay-2-1"))
    race = interlope(ours, lambda: asyncio.run(theirs.refund(order, attempt("pay-2-1"), a_refund(attempt("pay-2-1")))),
                     "refunds")  # fmt: skip

    answer = asyncio.run(ours.refund(order, attempt("pay-1-1"), a_refund(attempt("pay-1-1"))))

    assert (answer.outcome, answer.reason) == (RefundOutcome.FAILED, "REPEAT_REQ_INCONSISTENT")
    assert race.transactions == 2
    assert ours.balance("alice", "USD") == 500
    assert [e.idempotency_key for e in ours.history("alice") if e.kind is EntryKind.REFUND] == ["ref-1"]


@POSTGRESQL_ONLY
def test_an_inquiry_that_finds_its_refund_made_meanwhile_says_succeeded(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf, interlope: Callable[..., Interloper]
) -> None:
    ours, theirs = make_provider(), make_provider()
    ours.topup("alice", "USD", 1000)
    pay(ours, order, attempt("pay-1-1"))
    refund = a_refund(attempt("pay-1-1"))
    interlope(ours, lambda: asyncio.run(theirs.refund(order, refund.attempt, refund)), "refunds")

    assert asyncio.run(ours.inquire_refund(order, refund.attempt, refund)) is RefundOutcome.SUCCEEDED

    assert ours.balance("alice", "USD") == 800
