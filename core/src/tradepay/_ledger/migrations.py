"""The ledger's schema, as an ordered list of migrations, and how a database is brought up to date.

The schema version is SQLite's ``PRAGMA user_version``, or PostgreSQL's ``tradepay_schema`` table. Each
migration runs in its own transaction, which takes the database's migration lock and rereads the version
first, so several processes opening one new database at once apply each migration exactly once. A database
written by a newer tradepay is refused rather than guessed at. The same migrations serve both databases:
``{double}`` stands for the type of times.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._spi.errors import ConfigError
from .databases import Database

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_PAYMENT_STATES = "'processing', 'succeeded', 'failed', 'cancelled', 'needs_reconciliation'"

#: Migration N (1-based) brings a file from version N-1 to version N.
MIGRATIONS: tuple[str, ...] = (
    # 1: orders, payments and attempts.
    f"""
    CREATE TABLE orders (
        trade_no    TEXT PRIMARY KEY,
        currency    TEXT NOT NULL,
        amount      TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        payer_id    TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('open', 'paid', 'closed')),
        expires_at  {{double}},
        created_at  {{double}} NOT NULL
    );
    CREATE TABLE payments (
        payment_id TEXT PRIMARY KEY,
        trade_no   TEXT NOT NULL REFERENCES orders (trade_no),
        status     TEXT NOT NULL CHECK (status IN ({_PAYMENT_STATES})),
        result     TEXT,
        app_id     TEXT,
        created_at {{double}} NOT NULL,
        updated_at {{double}} NOT NULL
    );
    -- An order has at most one payment that is under way, unsettled or succeeded: its idempotency key.
    CREATE UNIQUE INDEX payments_one_live ON payments (trade_no)
        WHERE status IN ('processing', 'succeeded', 'needs_reconciliation');
    CREATE TABLE attempts (
        payment_id      TEXT NOT NULL REFERENCES payments (payment_id),
        number          INTEGER NOT NULL CHECK (number >= 1),
        provider        TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        state           TEXT NOT NULL CHECK (state IN ('sent', 'paid', 'not_paid', 'unknown')),
        kind            TEXT,
        result          TEXT,
        rule            TEXT,
        decision        TEXT,
        final           TEXT,
        detail          TEXT,
        duration_ms     {{double}},
        sent_at         {{double}} NOT NULL,
        finished_at     {{double}},
        PRIMARY KEY (payment_id, number)
    );
    """,
    # 2: the listing and reconciliation indexes, and the database itself refusing a second unsettled attempt
    # of one payment (no attempt N+1 while attempt N is sent or unknown).
    """
    CREATE INDEX payments_by_status ON payments (status, updated_at);
    CREATE INDEX payments_by_order ON payments (trade_no, created_at);
    CREATE UNIQUE INDEX attempts_one_unsettled ON attempts (payment_id) WHERE state IN ('sent', 'unknown');
    """,
    # 3: a payment records the order it was resolved to (a snapshot), so that an order of any order book can be
    # paid and reconciled, not only one of the ledger's own ``orders``: the payment no longer refers to that
    # table. A payment of an earlier version was made for one of its orders, while that order was open (a
    # paid order has its succeeded payment, a closed one is refused): that is its snapshot. A NOT NULL column
    # fails the migration, rather than losing the payment, should an order be missing. ``settling_until`` is
    # the claim of the one reconciliation settling the payment. The tables are rebuilt (SQLite cannot drop
    # a foreign key), under new names renamed at the end, so that both databases run the same script.
    """
    CREATE TABLE payments_v3 (
        payment_id       TEXT PRIMARY KEY,
        trade_no         TEXT NOT NULL,
        status           TEXT NOT NULL
                         CHECK (status IN ('processing', 'succeeded', 'failed', 'cancelled', 'needs_reconciliation')),
        result           TEXT,
        app_id           TEXT,
        created_at       {double} NOT NULL,
        updated_at       {double} NOT NULL,
        order_currency   TEXT NOT NULL,
        order_amount     TEXT NOT NULL,
        merchant_id      TEXT NOT NULL,
        payer_id         TEXT NOT NULL,
        order_status     TEXT NOT NULL CHECK (order_status IN ('open', 'paid', 'closed')),
        order_expires_at {double},
        settling_until   {double}
    );
    INSERT INTO payments_v3
        SELECT p.payment_id, p.trade_no, p.status, p.result, p.app_id, p.created_at, p.updated_at,
               o.currency, o.amount, o.merchant_id, o.payer_id, 'open', o.expires_at, NULL
        FROM payments p LEFT JOIN orders o ON o.trade_no = p.trade_no;
    CREATE TABLE attempts_v3 (
        payment_id      TEXT NOT NULL REFERENCES payments_v3 (payment_id),
        number          INTEGER NOT NULL CHECK (number >= 1),
        provider        TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        state           TEXT NOT NULL CHECK (state IN ('sent', 'paid', 'not_paid', 'unknown')),
        kind            TEXT,
        result          TEXT,
        rule            TEXT,
        decision        TEXT,
        final           TEXT,
        detail          TEXT,
        duration_ms     {double},
        sent_at         {double} NOT NULL,
        finished_at     {double},
        PRIMARY KEY (payment_id, number)
    );
    INSERT INTO attempts_v3
        SELECT payment_id, number, provider, idempotency_key, state, kind, result, rule, decision, final, detail,
               duration_ms, sent_at, finished_at
        FROM attempts;
    DROP TABLE attempts;
    DROP TABLE payments;
    ALTER TABLE payments_v3 RENAME TO payments;
    ALTER TABLE attempts_v3 RENAME TO attempts;
    CREATE UNIQUE INDEX payments_one_live ON payments (trade_no)
        WHERE status IN ('processing', 'succeeded', 'needs_reconciliation');
    CREATE INDEX payments_by_status ON payments (status, updated_at);
    CREATE INDEX payments_by_order ON payments (trade_no, created_at);
    CREATE UNIQUE INDEX attempts_one_unsettled ON attempts (payment_id) WHERE state IN ('sent', 'unknown');
    """,
    # 4: the server's merchants (each with the RSA public key that verifies its requests) and the merchant
    # order ids it has used: the idempotency key of create-order, with the fields it was first asked with.
    """
    CREATE TABLE merchants (
        client_id  TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        created_at {double} NOT NULL
    );
    CREATE TABLE merchant_orders (
        merchant_id       TEXT NOT NULL,
        merchant_order_id TEXT NOT NULL,
        trade_no          TEXT NOT NULL UNIQUE,
        fields            TEXT NOT NULL,
        created_at        {double} NOT NULL,
        PRIMARY KEY (merchant_id, merchant_order_id)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(
    db: Database,
    migrations: Sequence[str] = MIGRATIONS,
    *,
    target: int | None = None,
    where: str = "ledger",
) -> int:
    """Apply every one of ``migrations`` (each a ``;``-separated SQL script; ``{double}`` stands for the type
    of times) that the database lacks, up to ``target`` (default: all); return the version it is at now.
    Providers keeping state in SQL use it with their own migrations, in their own file or schema.
    ``where`` names the configuration key reported when the database is newer than ``migrations``."""
    latest = len(migrations)
    target = latest if target is None else target
    with db.write() as conn:
        db.lock_schema(conn)
        found = db.schema_version(conn)
    if found > latest:
        raise ConfigError(
            where,
            f"the database is at schema version {found}, newer than this software understands ({latest}): upgrade it",
        )
    for number in range(found + 1, target + 1):
        with db.write() as conn:
            db.lock_schema(conn)
            if db.schema_version(conn) >= number:
                continue
            for statement in migrations[number - 1].format(double=db.double).split(";"):
                if statement.strip():
                    conn.execute(statement)
            db.set_schema_version(conn, number)
    with db.read() as conn:
        return db.schema_version(conn)
