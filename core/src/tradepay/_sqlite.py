"""SQLite opened the one safe way, for the host and for plugins that keep state in a file.

WAL so readers never block the writer, ``synchronous=FULL`` so a commit survives power loss, a busy timeout
so concurrent processes wait instead of failing, and write transactions begun with ``BEGIN IMMEDIATE`` so the
write lock is taken up front (a deferred transaction that upgrades later can deadlock and fail with
``SQLITE_BUSY`` without waiting).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_MS", "immediate_transaction", "open_sqlite"]

BUSY_TIMEOUT_MS = 10_000


def open_sqlite(path: str | os.PathLike[str], *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite file at ``path`` with WAL, ``synchronous=FULL`` and a busy timeout.

    The connection is in autocommit mode: group writes with :func:`immediate_transaction`. It may be used
    from any thread but by one at a time, and must never be carried across ``fork()``: open one per process.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        os.fspath(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise sqlite3.OperationalError(f"{os.fspath(path)}: could not switch to WAL (journal_mode is {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction begun with ``BEGIN IMMEDIATE``; commit, or roll back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
