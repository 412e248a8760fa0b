"""The two SQL databases the ledger runs on, behind one small interface.

The ledger's SQL is written once, with ``?`` placeholders; each database says how to open a transaction,
which errors mean a unique constraint said no, how to serialise migrations and where the schema version
lives. Concurrency control is the database's own: SQLite's write lock (``BEGIN IMMEDIATE``), PostgreSQL's
unique indexes, row updates conditioned on the state they expect, and an advisory lock for migrations.
Never a process-local lock alone.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from .sqlite import immediate_transaction, note_database_file, open_sqlite

__all__ = [
    "Connection",
    "Database",
    "SQLiteDatabase",
    "listing_where",
    "open_database",
    "split_script",
    "to_pyformat",
]

# The parts of SQL text that are not code: quoted strings ('it''s'), quoted names ("a;b"), and comments.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


def _code_and_quoted(sql: str) -> Iterator[tuple[str, bool]]:
    """``sql`` in pieces, each with whether it is quoted text or a comment (``True``) or code (``False``).

    An unterminated quote or comment runs to the end, as the database itself would read it."""
    at = 0
    while at < len(sql):
        start = min((i for i in (sql.find(c, at) for c in ("'", '"', "--", "/*")) if i >= 0), default=len(sql))
        if start > at:
            yield sql[at:start], False
        if start == len(sql):
            return
        match = _QUOTED.match(sql, start)
        end = match.end() if match else len(sql)
        yield sql[start:end], True
        at = end


def split_script(script: str) -> list[str]:
    """The statements of ``script``, split on the ``;`` that end them: never on one inside a quoted string, a
    quoted name or a comment. Statements that are only blanks and comments are left out."""
    statements, current = [], ""
    for piece, quoted in _code_and_quoted(script):
        if quoted:
            current += piece
            continue
        *ended, current_tail = piece.split(";")
        for part in ended:
            statements.append(current + part)
            current = ""
        current += current_tail
    statements.append(current)
    return [s for s in statements if "".join(p for p, quoted in _code_and_quoted(s) if not quoted).strip()]


@functools.lru_cache(maxsize=4096)  # the SQL of a program is a small fixed set: translate each text once
def to_pyformat(sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in psycopg's spelling: each ``?`` of the code becomes ``%s``
    (one in a quoted string, a quoted name or a comment stays), and every ``%`` is doubled, since psycopg reads
    ``%`` everywhere in the text."""
    out = []
    for piece, quoted in _code_and_quoted(sql):
        piece = piece.replace("%", "%%")
        out.append(piece if quoted else piece.replace("?", "%s"))
    return "".join(out)


def listing_where(status: enum.Enum | None, trade_no: str | None) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (or ``""``) and its parameters of a listing by ``status`` and order."""
    clauses, params = [], []
    if status is not None:
        clauses.append("status = ?")
        params.append(status.value)
    if trade_no is not None:
        clauses.append("trade_no = ?")
        params.append(trade_no)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...


class Database(Protocol):
    """What the ledger needs of a database."""

    kind: str
    #: The exceptions a violated unique or primary key raises.
    integrity_errors: tuple[type[Exception], ...]
    #: The column type of times (seconds since the epoch, with fractions).
    double: str

    def read(self) -> Any:
        """A context manager giving a connection for reads."""

    def write(self) -> Any:
        """A context manager giving a connection in one write transaction: committed at the end of the block,
        rolled back if it raises."""

    def lock_schema(self, conn: Connection) -> None:
        """Serialise migrations across processes for the rest of the transaction."""

    def schema_version(self, conn: Connection) -> int:
        """The schema version (0 for a new database)."""

    def set_schema_version(self, conn: Connection, version: int) -> None:
        """Record the schema version, inside the migration's transaction."""

    def close(self) -> None:
        """Release the connections."""


class SQLiteDatabase:
    """One SQLite file: a connection per process, used by one thread at a time, writes ``BEGIN IMMEDIATE``.

    No SQLite connection is ever carried across ``fork()``: just before a fork, every open ``SQLiteDatabase``
    of the process closes its connection (under its lock, so never mid-transaction), and each reopens on its
    next use, in the parent and in the child alike. A connection still open in the child would leave SQLite's
    per-process record of the file (copied by fork) claiming locks the child does not hold, and a new
    connection's writes could be lost."""

    kind = "sqlite"
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    double = "REAL"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = open_sqlite(self.path)
        _OPEN.add(self)

    def connection(self) -> sqlite3.Connection:
        """This process's connection (opened again after a fork or a close)."""
        if self._conn is None:
            self._conn = open_sqlite(self.path)
        return self._conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock:
                yield self.connection()
        except sqlite3.Error as exc:
            note_database_file(exc, self.path)  # a full disk or a damaged file: say which file
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock, immediate_transaction(self.connection()) as conn:
                yield conn
        except sqlite3.Error as exc:
            note_database_file(exc, self.path)
            raise

    def lock_schema(self, conn: Connection) -> None:
        """``BEGIN IMMEDIATE`` already holds the database's write lock."""

    def schema_version(self, conn: Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, conn: Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None


_OPEN: weakref.WeakSet[SQLiteDatabase] = weakref.WeakSet()
_FORKING: list[SQLiteDatabase] = []


def _before_fork() -> None:
    _FORKING[:] = list(_OPEN)
    for database in _FORKING:
        database._lock.acquire()  # no thread is inside a transaction of it while the process forks
        database._disconnect()


def _after_fork() -> None:
    for database in _FORKING:
        database._lock.release()
    _FORKING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


def open_database(
    location: str | os.PathLike[str], *, base: Path | None = None, schema: str = "tradepay", where: str = "ledger.url"
) -> Database:
    """The database at ``location``: ``postgresql://...`` (PostgreSQL, in ``schema`` unless the URL's
    ``schema`` parameter says otherwise; needs ``tradepay[postgres]``), ``sqlite:///PATH`` or a plain path
    (a SQLite file; relative paths are relative to ``base``). ``where`` is the configuration key that errors
    name. SQL is written with ``?`` placeholders, translated for PostgreSQL by :func:`to_pyformat` (quoted
    text and comments keep their ``?``)."""
    text = os.fspath(location)
    if text.startswith("postgresql://"):
        from .postgres import PostgresDatabase

        if "schema=" not in text:
            text = f"{text}{'&' if '?' in text else '?'}schema={schema}"
        return PostgresDatabase(text, where=where)
    path = Path(text.removeprefix("sqlite:///"))
    if base is not None and not path.is_absolute():
        path = base / path
    return SQLiteDatabase(path)
