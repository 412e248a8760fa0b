"""Files and schemas written by earlier versions of tradepay-card: they open, keep their cards and charges, and
are brought up to date; migration 1 is the schema tradepay-card 0.1.0 created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from card_support import Backend, make_attempt, make_order, make_refund, open_provider

from tradepay import CardNumber, CardSecret, RefundOutcome, ResultCode, migrate, open_database
from tradepay_card._schema import MIGRATIONS

# The schema as tradepay-card 0.1.0 created it (PRAGMA user_version 1), copied from that release.
SCHEMA_0_1_0 = (
    """CREATE TABLE IF NOT EXISTS cards (
        id INTEGER PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL CHECK (length(last4) = 4),
        exp_year INTEGER NOT NULL,
        exp_month INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        scenario TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        added_at REAL NOT NULL,
        removed_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS cards_by_payer ON cards (payer_id, active, id)",
    """CREATE TABLE IF NOT EXISTS attempts (
        idempotency_key TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        trade_no TEXT NOT NULL,
        payer_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
        card_token TEXT REFERENCES cards (token),
        result_code TEXT,
        result_message TEXT,
        error_code INTEGER,
        error_desc TEXT,
        extended_info TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS movements (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL REFERENCES attempts (idempotency_key),
        kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
        card_token TEXT NOT NULL REFERENCES cards (token),
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        created_at REAL NOT NULL,
        UNIQUE (idempotency_key, kind)
    )""",
)


def _schema_sql(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def test_a_file_of_tradepay_card_0_1_0_is_migrated_keeping_its_schema_and_cards(tmp_path: Path) -> None:
    old = tmp_path / "old" / "card.sqlite3"
    old.parent.mkdir()
    conn = sqlite3.connect(old)
    for statement in SCHEMA_0_1_0:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO cards (token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at)"
        " VALUES ('card_old', 'alice', 'Visa', '4242', 2030, 12, 'success', 1.5)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    before = _schema_sql(old)

    provider = open_provider(old.parent)
    assert [card.token for card in provider.cards("alice")] == ["card_old"]
    assert provider.pay(order=make_order(), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    refund = make_refund(make_attempt())
    assert provider.refund(order=make_order(), attempt=refund.attempt, refund=refund).outcome is RefundOutcome.SUCCEEDED
    provider.close()
    migrated = _schema_sql(old)
    # Migration 1 did not run again (version 1 is the schema 0.1.0 wrote); migration 2 only added the refunds.
    added = {"refunds", "refunds_by_payment", "sqlite_autoindex_refunds_1"}
    assert [row for row in migrated if row[0] not in added] == before
    assert {row[0] for row in migrated} - {row[0] for row in before} == added
    # And a new file gets that very schema, statement for statement.
    fresh = open_provider(tmp_path / "new")
    fresh.close()
    assert _schema_sql(tmp_path / "new" / "card.sqlite3") == migrated


def test_a_postgres_schema_at_version_1_is_migrated_and_refunds_its_charges(
    tmp_path: Path, postgres_backend: Backend
) -> None:
    database = open_database(postgres_backend.settings["database"], schema="tradepay_card")
    try:
        migrate(database, MIGRATIONS, target=1)
    finally:
        database.close()
    provider = open_provider(tmp_path, **postgres_backend.settings)
    provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    assert provider.pay(order=make_order(), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    refund = make_refund(make_attempt())

    assert provider.refund(order=make_order(), attempt=refund.attempt, refund=refund).outcome is RefundOutcome.SUCCEEDED
    with provider.store.database.read() as conn:
        assert conn.execute("SELECT version FROM tradepay_schema").fetchall() == [(2,)]
    provider.close()
