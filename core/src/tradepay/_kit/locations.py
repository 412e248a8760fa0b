"""Where a provider's state lives, as it may be shown: a database URL's password never reaches a message."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

__all__ = ["database_errors", "shown_location"]


def shown_location(location: str | os.PathLike[str]) -> str:
    """``location`` fit for messages and logs: a path as it is, a URL with its password replaced by ``***``
    (``postgresql://shop:***@db/pay``). A URL that cannot be parsed is shown only up to its ``://``."""
    text = os.fspath(location)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # an unparsable netloc (a bad port) may still hold a password: show nothing of it
        return text.partition("://")[0] + "://..."
    if password is None:
        return text
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def database_errors() -> tuple[type[Exception], ...]:
    """What opening or migrating a database raises when the database, not the code, is at fault: the file
    system's and SQLite's errors, and psycopg's once something imported it (only a ``postgresql://`` URL
    does)."""
    import sqlite3  # here: importing tradepay need not load SQLite

    psycopg = sys.modules.get("psycopg")
    errors: tuple[type[Exception], ...] = (OSError, sqlite3.Error)
    return (*errors, psycopg.Error) if psycopg is not None else errors
