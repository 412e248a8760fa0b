"""The PostgreSQL database of the ledger (``[ledger] url = "postgresql://..."``): psycopg 3 with a pool.

Installed with the core's ``postgres`` extra (``pip install './core[postgres]'`` from a checkout); imported only
when configured.
All of the ledger's tables live in one PostgreSQL schema (``tradepay`` unless the URL's ``schema`` query
parameter names another), so that one database can hold several ledgers, and tests can drop theirs.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._kit.locations import shown_location
from .._spi.errors import ConfigError
from .databases import to_pyformat

__all__ = ["PostgresDatabase", "split_schema"]

_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: tradepay is not published on a package index: `pip install 'tradepay[postgres]'` would fetch nothing of it.
POSTGRES_MISSING = (
    "PostgreSQL needs the core's postgres extra: pip install './core[postgres]' from a tradepay checkout, "
    "or psycopg itself: pip install 'psycopg[binary]>=3.1' 'psycopg-pool>=3.2'"
)
#: The advisory lock key that serialises migrations (any fixed 64-bit number).
_MIGRATION_LOCK = 7_274_637_247


def split_schema(url: str, default: str = "tradepay", where: str = "ledger.url") -> tuple[str, str]:
    """``(url without the schema parameter, schema)`` of a ``postgresql://`` URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), default)
    if not _SCHEMA_RE.fullmatch(schema):
        raise ConfigError(where, f"schema {schema!r} must be a lowercase identifier (a-z, 0-9, _)")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class _Connection:
    """A psycopg connection that takes the ledger's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(to_pyformat(sql), params)


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, every one with ``search_path`` set to the schema."""

    kind = "postgresql"
    double = "DOUBLE PRECISION"

    def __init__(self, url: str, *, max_connections: int = 10, where: str = "ledger.url") -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(where, f"{POSTGRES_MISSING} (for {shown_location(url)})") from None
        self.integrity_errors: tuple[type[Exception], ...] = (psycopg.errors.IntegrityError,)
        self.url, self.schema = split_schema(url, where=where)
        self._max = max_connections
        self._pool_type = ConnectionPool
        try:
            # IF NOT EXISTS is not atomic: another process may create the schema at the same moment.
            raced = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema)
            with psycopg.connect(self.url, autocommit=True) as conn, contextlib.suppress(*raced):
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(where, f"cannot connect: {reason} (server {shown_location(self.url)})") from None
        self._pid = os.getpid()
        self._pool = self._open_pool()

    def _open_pool(self) -> Any:
        schema = self.schema

        def configure(conn: Any) -> None:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.commit()

        return self._pool_type(self.url, min_size=1, max_size=self._max, configure=configure, open=True)

    def _pool_here(self) -> Any:
        if os.getpid() != self._pid:  # a pool's connections are never used across fork()
            self._pid = os.getpid()
            self._pool = self._open_pool()
        return self._pool

    @contextmanager
    def read(self) -> Iterator[_Connection]:
        with self._pool_here().connection() as conn:
            yield _Connection(conn)

    @contextmanager
    def write(self) -> Iterator[_Connection]:
        # The pool commits when the block ends and rolls back when it raises.
        with self._pool_here().connection() as conn:
            yield _Connection(conn)

    def lock_schema(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def schema_version(self, conn: Any) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS tradepay_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM tradepay_schema").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, conn: Any, version: int) -> None:
        conn.execute("DELETE FROM tradepay_schema")
        conn.execute("INSERT INTO tradepay_schema VALUES (?)", (version,))

    def drop_schema(self) -> None:
        """Remove the schema and everything in it (tests clean up with this)."""
        with self._pool_here().connection() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        # A forked child must not close the pool it inherited: libpq's goodbye would end the parent's sessions.
        if os.getpid() == self._pid:
            self._pool.close()
