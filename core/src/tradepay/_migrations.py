"""The ledger's schema, as an ordered list of migrations, and how a database is brought up to date.

The schema version is SQLite's ``PRAGMA user_version``, or PostgreSQL's ``tradepay_schema`` table. Each
migration runs in its own transaction, which takes the database's migration lock and rereads the version
first, so several processes opening one new database at once apply each migration exactly once. A database
written by a newer tradepay is refused rather than guessed at. The same migrations serve both databases:
``{double}`` stands for the type of times.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._databases import Database
from ._errors import ConfigError

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
