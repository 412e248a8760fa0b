"""The wallet's schema, as ``tradepay.migrate`` migrations: one list per kind of database, the same versions.

Migration N of either list brings a database from version N-1 to N; the version lives where the core keeps it
(SQLite's ``PRAGMA user_version``, PostgreSQL's ``tradepay_schema`` table in the wallet's schema).

SQLite's migration 1 runs exactly the SQL that tradepay-wallet 0.1.0 ran on a new file (and it, too, set
``user_version`` to 1): a file written by that version is at version 1 already and opens unchanged, and a new
file gets the very same tables. ``{{}}`` is how a literal ``{}`` survives the ``str.format`` that ``migrate``
applies to every script (for ``{double}``). PostgreSQL's migration 1 is the same schema in PostgreSQL's words.

Migration 2 adds the refunds: the ``refunds`` table (one row per refund key) and the journal's ``refund``
entries. SQLite cannot change a column's ``CHECK``, so it rebuilds ``entries`` with its rows and ids.

A future migration must be added to both lists, in the same position. No statement may contain ``;``, not
even in a comment: ``migrate`` splits scripts on it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["POSTGRESQL_MIGRATIONS", "SCHEMA_VERSION", "SQLITE_MIGRATIONS", "migrations_for"]

SQLITE_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: accounts, the journal, attempts by key, fault profiles (tradepay-wallet 0.1.0, verbatim).
    """
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
    extended_info   TEXT NOT NULL DEFAULT '{{}}',
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
""",
    # 2: refunds, and the journal's refund entries (the table rebuilt: SQLite cannot alter a CHECK).
    """
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

CREATE TABLE refunds (
    refund_key  TEXT PRIMARY KEY,
    payment_key TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'voided')),
    currency    TEXT NOT NULL,
    amount      INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount > 0),
    trade_no    TEXT NOT NULL,
    reason      TEXT,
    message     TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_key, status);
""",
)

POSTGRESQL_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the same tables. BIGINT holds every amount and balance (at most 18 digits); an overflow is an error
    # here, never a float, so SQLite's typeof() checks have no counterpart.
    """
CREATE TABLE accounts (
    payer    TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance  BIGINT NOT NULL CHECK (balance >= 0),
    PRIMARY KEY (payer, currency)
);

CREATE TABLE entries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reversal')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    balance_after   BIGINT NOT NULL,
    idempotency_key TEXT,
    trade_no        TEXT,
    at              {double} NOT NULL
);
CREATE INDEX entries_by_payer ON entries (payer, id);
-- The last line of defence: a key debits at most once and is reversed at most once.
CREATE UNIQUE INDEX entries_once_per_key ON entries (idempotency_key, kind)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE attempts (
    idempotency_key TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
    payer           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    trade_no        TEXT NOT NULL,
    result_code     TEXT,
    result_message  TEXT,
    error_code      INTEGER,
    error_desc      TEXT,
    extended_info   TEXT NOT NULL DEFAULT '{{}}',
    created_at      {double} NOT NULL,
    updated_at      {double} NOT NULL
);

CREATE TABLE faults (
    payer       TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    seconds     {double},
    result_code TEXT,
    error_code  INTEGER,
    reason      TEXT,
    times       INTEGER CHECK (times IS NULL OR times > 0)
);
""",
    # 2: refunds, and the journal's refund entries.
    """
ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ('credit', 'debit', 'reversal', 'refund'));

CREATE TABLE refunds (
    refund_key  TEXT PRIMARY KEY,
    payment_key TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'voided')),
    currency    TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    trade_no    TEXT NOT NULL,
    reason      TEXT,
    message     TEXT NOT NULL,
    created_at  {double} NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_key, status);
""",
)

SCHEMA_VERSION: Final = len(SQLITE_MIGRATIONS)
assert len(POSTGRESQL_MIGRATIONS) == SCHEMA_VERSION, "every migration exists for both databases"


def migrations_for(kind: str) -> tuple[str, ...]:
    """The migrations of a database of ``kind`` (``tradepay.Database.kind``: ``sqlite`` or ``postgresql``)."""
    return {"sqlite": SQLITE_MIGRATIONS, "postgresql": POSTGRESQL_MIGRATIONS}[kind]
