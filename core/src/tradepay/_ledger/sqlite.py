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

__all__ = ["BUSY_TIMEOUT_MS", "database_file_of", "immediate_transaction", "note_database_file", "open_sqlite"]

BUSY_TIMEOUT_MS = 10_000
_FILE_NOTE = "database file: "


def open_sqlite(path: str | os.PathLike[str], *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite file at ``path`` with WAL, ``synchronous=FULL`` and a busy timeout.

    The connection is in autocommit mode: group writes with :func:`immediate_transaction`. It may be used
    from any thread but by one at a time, and must never be carried across ``fork()``: open one per process.
    Raises ``OSError`` (a folder that cannot be made) or ``sqlite3.Error`` (a directory at ``path``, not a
    database, a full disk), the latter noted with ``path`` (see :func:`database_file_of`).
    """
    if Path(path).is_dir():  # SQLite alone would say only "unable to open database file"
        refused = sqlite3.OperationalError("unable to open database file: it is a directory")
        note_database_file(refused, path)
        raise refused
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            os.fspath(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        note_database_file(exc, path)
        raise
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL (journal_mode is {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        conn.close()
        note_database_file(exc, path)
        raise
    return conn


def note_database_file(exc: BaseException, path: str | os.PathLike[str]) -> None:
    """Note on ``exc`` which database file it is about (once), for messages that must name the file."""
    note = f"{_FILE_NOTE}{os.fspath(path)}"
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


def database_file_of(exc: BaseException) -> str | None:
    """The database file :func:`note_database_file` noted on ``exc``, if any."""
    notes: list[str] = getattr(exc, "__notes__", [])
    return next((n.removeprefix(_FILE_NOTE) for n in notes if n.startswith(_FILE_NOTE)), None)


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
