"""Databases for a provider's tests: a SQLite file, and a PostgreSQL schema of its own, dropped afterwards.

The PostgreSQL ones need ``TRADEPAY_TEST_POSTGRES_URL`` (``postgresql://USER@HOST:PORT/DB``) and psycopg (the
core's ``postgres`` extra); without them :func:`postgres_skip_reason` says why, and the fixtures skip, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["POSTGRES_URL_VARIABLE", "postgres_schema", "postgres_skip_reason"]

#: The environment variable naming the PostgreSQL server the tests may use.
POSTGRES_URL_VARIABLE = "TRADEPAY_TEST_POSTGRES_URL"


def postgres_skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or ``None`` when they can."""
    if not os.environ.get(POSTGRES_URL_VARIABLE):
        return (
            f"PostgreSQL tests skipped: set {POSTGRES_URL_VARIABLE} to run them, e.g. "
            f"{POSTGRES_URL_VARIABLE}=postgresql://postgres@127.0.0.1:5432/test"
        )
    if importlib.util.find_spec("psycopg") is None or importlib.util.find_spec("psycopg_pool") is None:
        return "PostgreSQL tests skipped: psycopg is not installed (pip install './core[postgres]')"
    return None


@contextmanager
def postgres_schema(prefix: str = "tp_test") -> Iterator[str]:
    """A ``postgresql://`` URL (the server of :data:`POSTGRES_URL_VARIABLE`) naming a new schema
    ``<prefix>_<random>``, dropped with everything in it afterwards. Call :func:`postgres_skip_reason` first."""
    import psycopg  # only here: the PostgreSQL runs need it, the SQLite runs must not

    url = os.environ[POSTGRES_URL_VARIABLE]
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
