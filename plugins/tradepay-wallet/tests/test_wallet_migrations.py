"""Files of the first release (tradepay-wallet 0.1.0) still open, keep their money and keys, and are brought up
to date; migration 1 is the schema that release created, and a database at version 1 refunds what it charged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    Attempt,
    Order,
    PaymentAmount,
    Refund,
    RefundOutcome,
    RefundStatus,
    ResultCode,
    migrate,
    open_database,
)
from tradepay_wallet import EntryKind, WalletProvider
from tradepay_wallet._schema import MIGRATIONS
from tradepay_wallet._store import DEFAULT_SCHEMA

AttemptOf = Callable[[str], Attempt]
MakeProvider = Callable[..., WalletProvider]
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# What tradepay-wallet 0.1.0 ran on a new file (its _store._SCHEMA, verbatim), before it set user_version to 1.
SCHEMA_OF_0_1_0 = """
CREATE TABLE IF NOT EXISTS accounts (
    payer    TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- SQLite turns an overflowing integer sum into a float: refuse that instead of storing it.
    balance  INTEGER NOT NULL CHECK (typeof(balance) = 'integer' AND balance >= 0),
    PRIMARY KEY (payer, currency)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reversal')),
    amount          INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    balance_after   INTEGER NOT NULL,
    idempotency_key TEXT,
    trade_no        TEXT,
    at              REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_payer ON entries (payer, id);
-- The last line of defence: a key debits at most once and is reversed at most once.
CREATE UNIQUE INDEX IF NOT EXISTS entries_once_per_key ON entries (idempotency_key, kind)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS attempts (
    idempotency_key TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    trade_no        TEXT NOT NULL,
    result_code     TEXT,
    result_message  TEXT,
    error_code      INTEGER,
    error_desc      TEXT,
    extended_info   TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS faults (
    payer       TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    seconds     REAL,
    result_code TEXT,
    error_code  INTEGER,
    reason      TEXT,
    times       INTEGER CHECK (times IS NULL OR times > 0)
) WITHOUT ROWID;
"""


def pay(provider: WalletProvider, order: Order, attempt: Attempt) -> Any:
    return asyncio.run(provider.pay(order, attempt))


def sqlite_schema(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    return rows


# --- SQLite: the files of 0.1.0 ----------------------------------------------------------------------------


def write_0_1_0_file(path: Path) -> None:
    """A wallet file as tradepay-wallet 0.1.0 left it: alice topped up USD 10.00 and paid key pay-0-1."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA_OF_0_1_0.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO accounts VALUES ('alice', 'USD', 900)")
        conn.execute("INSERT INTO entries VALUES (1, 'alice', 'USD', 'credit', 1000, 1000, NULL, NULL, 1.0)")
        conn.execute("INSERT INTO entries VALUES (2, 'alice', 'USD', 'debit', 100, 900, 'pay-0-1', 'T-0', 2.0)")
        conn.execute(
            "INSERT INTO attempts VALUES ('pay-0-1', 'paid', 'alice', 'USD', 100, 'T-0', '9000',"
            " 'paid from wallet balance', NULL, NULL, '{}', 2.0, 2.0)"
        )
        conn.execute("COMMIT")
    conn.close()


@SQLITE_ONLY
def test_a_file_of_the_first_release_is_migrated_and_keeps_its_money_and_keys(
    make_provider: MakeProvider, make_order: Callable[..., Order], attempt: AttemptOf, tmp_path: Path
) -> None:
    old = tmp_path / "old.sqlite3"
    write_0_1_0_file(old)

    provider = make_provider(database="old.sqlite3")

    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # migration 1 did not run again, 2 did
    conn.close()
    assert provider.balance("alice", "USD") == 900
    assert pay(provider, make_order("100", trade_no="T-0"), attempt("pay-0-1")).result_code is ResultCode.SUCCESS
    assert pay(provider, make_order("300"), attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert asyncio.run(provider.cancel(make_order("100", trade_no="T-0"), attempt("pay-0-1"))) is True
    refund = Refund("ref-1", "T-1", "pay-1", attempt("pay-1-1"), PaymentAmount("USD", "50"), "r-1", "shop-1", None,
                    RefundStatus.PROCESSING)  # fmt: skip
    assert asyncio.run(provider.refund(make_order("300"), refund.attempt, refund)).outcome is RefundOutcome.SUCCEEDED
    assert [(e.id, e.kind, e.balance_after) for e in provider.history("alice")] == [
        (1, EntryKind.CREDIT, 1000),
        (2, EntryKind.DEBIT, 900),
        (3, EntryKind.DEBIT, 600),
        (4, EntryKind.REVERSAL, 700),
        (5, EntryKind.REFUND, 750),
    ]


@SQLITE_ONLY
def test_a_migrated_file_of_the_first_release_has_the_schema_of_a_new_file(
    make_provider: MakeProvider, provider: WalletProvider, tmp_path: Path
) -> None:
    old = tmp_path / "old.sqlite3"
    write_0_1_0_file(old)
    make_provider(database="old.sqlite3")

    assert isinstance(provider.settings.database, Path)
    assert sqlite_schema(provider.settings.database) == sqlite_schema(old)


def test_the_first_migration_is_the_schema_of_the_first_release(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    write_0_1_0_file(old)
    db = open_database(new)
    try:
        migrate(db, MIGRATIONS, target=1)
    finally:
        db.close()

    assert sqlite_schema(new) == sqlite_schema(old)


def test_a_database_at_version_1_is_migrated_and_refunds_what_it_charged(
    make_provider: MakeProvider, database: str | None, tmp_path: Path, make_order: Callable[..., Order],
    attempt: AttemptOf,
) -> None:  # fmt: skip
    location = database if database is not None else tmp_path / "wallet.sqlite3"
    db = open_database(location, schema=DEFAULT_SCHEMA)
    try:
        migrate(db, MIGRATIONS, target=1)
        with db.write() as conn:
            conn.execute("INSERT INTO accounts (payer, currency, balance) VALUES ('alice', 'USD', 900)")
            conn.execute(
                "INSERT INTO entries (payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at)"
                " VALUES ('alice', 'USD', 'debit', 100, 900, 'pay-0-1', 'T-0', 2.0)"
            )
            conn.execute(
                "INSERT INTO attempts VALUES ('pay-0-1', 'paid', 'alice', 'USD', 100, 'T-0', '9000',"
                " 'paid from wallet balance', NULL, NULL, '{}', 2.0, 2.0)"
            )
    finally:
        db.close()

    provider = make_provider()
    refund = Refund("ref-1", "T-0", "pay-0", attempt("pay-0-1"), PaymentAmount("USD", "100"), "r-1", "shop-1", None,
                    RefundStatus.PROCESSING)  # fmt: skip
    answer = asyncio.run(provider.refund(make_order("100", trade_no="T-0"), refund.attempt, refund))

    assert answer.outcome is RefundOutcome.SUCCEEDED
    assert provider.balance("alice", "USD") == 1000
    assert [e.kind for e in provider.history("alice")] == [EntryKind.DEBIT, EntryKind.REFUND]
