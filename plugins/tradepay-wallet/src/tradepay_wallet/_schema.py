"""The wallet's schema, as the migrations :func:`tradepay.migrate` applies, on SQLite or PostgreSQL.

Migration N brings a database from version N-1 to N; the version lives where the core keeps it (SQLite's
``PRAGMA user_version``, PostgreSQL's ``tradepay_schema`` table in the wallet's schema). The SQL is written
once: the words the two databases spell differently are the core's placeholders (``{int64}``, ``{serial}``,
``{double}``, ``{without_rowid}``, ``{is_integer:COLUMN}``; ``'{{}}'`` is a literal ``'{}'``).

On SQLite, migration 1 formats to exactly the SQL that tradepay-wallet 0.1.0 ran on a new file (and it, too,
set ``user_version`` to 1): a file written by that version is at version 1 already and opens unchanged, and a
new file gets the very same tables. Migration 2 adds the refunds: the ``refunds`` table (one row per refund
key) and the journal's ``refund`` entries, which each database allows its own way (SQLite cannot change a
column's ``CHECK``, so it rebuilds ``entries`` with its rows and ids).
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

_SQLITE_ENTRIES_V2: Final = """
CREATE TABLE entries_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reversal', 'refund')),
    amount          INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    balance_after   INTEGER NOT NULL,
    idempotency_key TEXT,
    trade_no        TEXT,
    at              REAL NOT NULL
);
INSERT INTO entries_v2 (id, payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at)
    SELECT id, payer, currency, kind, amount, balance_after, idempotency_key, trade_no, at FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v2 RENAME TO entries;
CREATE INDEX entries_by_payer ON entries (payer, id);
-- A key debits at most once and is reversed at most once, and a refund key credits at most once.
CREATE UNIQUE INDEX entries_once_per_key ON entries (idempotency_key, kind) WHERE idempotency_key IS NOT NULL;
"""
_POSTGRESQL_ENTRIES_V2: Final = """
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ('credit', 'debit', 'reversal', 'refund'));
"""
_REFUNDS: Final = """
CREATE TABLE refunds (
    refund_key  TEXT PRIMARY KEY,
    payment_key TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'voided')),
    currency    TEXT NOT NULL,
    amount      {int64} NOT NULL CHECK ({is_integer:amount}amount > 0),
    trade_no    TEXT NOT NULL,
    reason      TEXT,
    message     TEXT NOT NULL,
    created_at  {double} NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_key, status);
"""

MIGRATIONS: Final[tuple[str | dict[str, str], ...]] = (
    # 1: accounts, the journal, attempts by key, fault profiles (tradepay-wallet 0.1.0, verbatim on SQLite).
    """
CREATE TABLE IF NOT EXISTS accounts (
    payer    TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- SQLite turns an overflowing integer sum into a float: refuse that instead of storing it.
    balance  {int64} NOT NULL CHECK ({is_integer:balance}balance >= 0),
    PRIMARY KEY (payer, currency)
){without_rowid};

CREATE TABLE IF NOT EXISTS entries (
    id              {serial},
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reversal')),
    amount          {int64} NOT NULL CHECK ({is_integer:amount}amount > 0),
    balance_after   {int64} NOT NULL,
    idempotency_key TEXT,
    trade_no        TEXT,
    at              {double} NOT NULL
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
    amount          {int64} NOT NULL,
    trade_no        TEXT NOT NULL,
    result_code     TEXT,
    result_message  TEXT,
    error_code      INTEGER,
    error_desc      TEXT,
    extended_info   TEXT NOT NULL DEFAULT '{{}}',
    created_at      {double} NOT NULL,
    updated_at      {double} NOT NULL
){without_rowid};

CREATE TABLE IF NOT EXISTS faults (
    payer       TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    seconds     {double},
    result_code TEXT,
    error_code  INTEGER,
    reason      TEXT,
    times       INTEGER CHECK (times IS NULL OR times > 0)
){without_rowid};
""",
    # 2: refunds, and the journal's refund entries (on SQLite the table is rebuilt: it cannot alter a CHECK).
    {"sqlite": _SQLITE_ENTRIES_V2 + _REFUNDS, "postgresql": _POSTGRESQL_ENTRIES_V2 + _REFUNDS},
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
