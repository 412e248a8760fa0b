"""The card provider's tables, as the migrations :func:`tradepay.migrate` applies, on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Final

from tradepay import REFUNDS_TABLE, attempts_table

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# Migration 1 is the schema tradepay-card 0.1.0 created (``PRAGMA user_version`` 1), statement for statement, so
# that its files open unchanged: on SQLite the core's placeholders render it byte for byte as it was.
_V1: Final = (
    """CREATE TABLE IF NOT EXISTS cards (
        id {rowid},
        token TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL CHECK (length(last4) = 4),
        exp_year INTEGER NOT NULL,
        exp_month INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        scenario TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        added_at {double} NOT NULL,
        removed_at {double}
    )""",
    "CREATE INDEX IF NOT EXISTS cards_by_payer ON cards (payer_id, active, id)",
    attempts_table(
        "idempotency_key TEXT PRIMARY KEY",
        "payment_id TEXT NOT NULL",
        "trade_no TEXT NOT NULL",
        "payer_id TEXT NOT NULL",
        "currency TEXT NOT NULL",
        "amount {int64} NOT NULL CHECK (amount > 0)",
        "status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided'))",
        "card_token TEXT REFERENCES cards (token)",
        if_not_exists=True,
        indent=4,
    ),
    """CREATE TABLE IF NOT EXISTS movements (
        id {rowid},
        idempotency_key TEXT NOT NULL REFERENCES attempts (idempotency_key),
        kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
        card_token TEXT NOT NULL REFERENCES cards (token),
        currency TEXT NOT NULL,
        amount {int64} NOT NULL CHECK (amount > 0),
        created_at {double} NOT NULL,
        UNIQUE (idempotency_key, kind)
    )""",
)

# Migration 2: the refunds, one row per refund key (the money of a succeeded one went back to the card the
# payment key charged: ``attempts.card_token``): the kit's table.
#: The schema as ordered migrations (migration N brings a database from version N-1 to N).
MIGRATIONS: Final[tuple[str, ...]] = (";\n".join(_V1), REFUNDS_TABLE)
SCHEMA_VERSION: Final = len(MIGRATIONS)
