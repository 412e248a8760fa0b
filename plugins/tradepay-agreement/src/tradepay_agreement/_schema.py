"""The store's tables, as the ordered migrations that :func:`tradepay.migrate` applies, on SQLite or PostgreSQL.

Migration 1 is the schema that tradepay-agreement 0.1 created with ``CREATE TABLE IF NOT EXISTS`` and
``PRAGMA user_version = 1``: on SQLite it formats to the same tables, columns, types and constraints, so a file
written by that version is taken as being at version 1 and only migration 2 runs on it. Migration 2 puts each
agreement's usage on its row (``used_amount``, ``used_count``, computed once from the debits already stored)
and numbers the agreements of each payer and merchant (``pair_seq``, unique per pair). Migration 3 adds the
refunds (one row per refund key); no usage changes, since no refund existed before it.

The SQL is the same on both databases except three column types, filled in per database before the core's
own ``{double}`` (the type of times) is: ``{serial}`` (the row number that orders agreements), ``{int64}`` (64-bit
amounts: SQLite's ``INTEGER`` already is, PostgreSQL's is 32-bit) and ``{double}``.
"""

from __future__ import annotations

from typing import Final

from tradepay import REFUNDS_TABLE, attempts_table

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

#: Migration N (1-based) brings a database from version N-1 to N; every ``{`` is a placeholder.
MIGRATIONS: Final = (
    # 1: agreements and attempts, as tradepay-agreement 0.1 wrote them.
    """
    CREATE TABLE IF NOT EXISTS agreements (
        seq {serial},
        agreement_id TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        currency TEXT NOT NULL,
        per_payment_limit {int64} CHECK (per_payment_limit > 0),
        cumulative_limit {int64} CHECK (cumulative_limit > 0),
        count_limit {int64} CHECK (count_limit > 0),
        access_token TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
        signed_at {double} NOT NULL,
        expires_at {double}
    );
    CREATE INDEX IF NOT EXISTS agreements_by_pair ON agreements (payer_id, merchant_id, seq);
    """
    + attempts_table(
        "idempotency_key TEXT PRIMARY KEY",
        "status TEXT NOT NULL CHECK (status IN ('debited', 'declined', 'reversed', 'voided'))",
        "payer_id TEXT NOT NULL",
        "merchant_id TEXT NOT NULL",
        "trade_no TEXT NOT NULL",
        "amount {int64} NOT NULL CHECK (amount > 0)",
        "currency TEXT NOT NULL",
        "agreement_id TEXT REFERENCES agreements (agreement_id)",
        if_not_exists=True,
        indent=4,
    )
    + """;
    CREATE INDEX IF NOT EXISTS attempts_by_agreement ON attempts (agreement_id, status, amount)
    """,
    # 2: usage counters on the agreement row, and the per-pair number whose uniqueness makes two concurrent
    # signings of one pair collide (the loser re-reads and sees the winner's live agreement). The sum of the
    # debits, which grew with every payment, is read here once and never again; its index goes.
    """
    ALTER TABLE agreements ADD COLUMN pair_seq {int64} NOT NULL DEFAULT 0;
    ALTER TABLE agreements ADD COLUMN used_amount {int64} NOT NULL DEFAULT 0 CHECK (used_amount >= 0);
    ALTER TABLE agreements ADD COLUMN used_count {int64} NOT NULL DEFAULT 0 CHECK (used_count >= 0);
    UPDATE agreements SET
        pair_seq = (SELECT COUNT(*) FROM agreements b
                    WHERE b.payer_id = agreements.payer_id AND b.merchant_id = agreements.merchant_id
                      AND b.seq <= agreements.seq),
        used_amount = (SELECT COALESCE(SUM(t.amount), 0) FROM attempts t
                       WHERE t.agreement_id = agreements.agreement_id AND t.status = 'debited'),
        used_count = (SELECT COUNT(*) FROM attempts t
                      WHERE t.agreement_id = agreements.agreement_id AND t.status = 'debited');
    CREATE UNIQUE INDEX agreements_by_pair_seq ON agreements (payer_id, merchant_id, pair_seq);
    DROP INDEX agreements_by_pair;
    DROP INDEX attempts_by_agreement
    """,
    # 3: the refunds, one row per refund key: what was asked, and the answer first given (the kit's table).
    REFUNDS_TABLE,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
