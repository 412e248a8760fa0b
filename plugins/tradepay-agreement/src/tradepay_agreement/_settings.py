"""The ``[providers.agreement]`` table, parsed and validated into :class:`AgreementSettings`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tradepay import ConfigError, InvalidInput, PaymentAmount

__all__ = ["DEFAULT_DATABASE", "DEFAULT_SCHEMA", "MAX_LIMIT", "AgreementSettings", "parse_settings", "shown_location"]

DEFAULT_DATABASE = "agreement.sqlite3"
#: The PostgreSQL schema of the agreement tables when the ``database`` URL names none (``?schema=NAME``).
DEFAULT_SCHEMA = "tradepay_agreement"
_POSTGRES = "postgresql://"
_SQLITE = "sqlite:///"
# The core's rule for a schema name (tradepay refuses others): checked here so the error names our key.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: The largest amount or count a setting or limit may hold: 18 digits, the core's longest amount.
MAX_LIMIT = 10**18 - 1


@dataclass(frozen=True, slots=True)
class AgreementSettings:
    """The provider's settings: where its state lives and what it is willing to pay.

    ``database`` is a :class:`~pathlib.Path` (a SQLite file, resolved against the data directory) or a
    ``postgresql://`` URL string. ``currencies`` ``None`` means every currency; ``max_amount`` ``None`` means
    no cap (minor units, inclusive).
    """

    database: Path | str
    currencies: frozenset[str] | None = None
    max_amount: int | None = None


def parse_settings(settings: Mapping[str, Any], data_dir: Path, *, name: str = "agreement") -> AgreementSettings:
    """Validate ``settings`` (the provider's table, host keys removed) and resolve paths against ``data_dir``.

    Raises :class:`tradepay.ConfigError` keyed ``providers.<name>.<key>`` for an unknown key or a bad value.
    """
    known = {"database", "currencies", "max_amount"}
    for key in settings:
        if key not in known:
            raise ConfigError(f"providers.{name}.{key}", f"unknown setting (known: {', '.join(sorted(known))})")

    def fail(key: str, reason: str) -> ConfigError:
        return ConfigError(f"providers.{name}.{key}", reason)

    database = settings.get("database", DEFAULT_DATABASE)
    if not isinstance(database, str) or not database.strip() or "\x00" in database:
        raise fail("database", "must be a non-empty path string, sqlite:///PATH or postgresql://...")
    location = _location(database, data_dir, fail)

    currencies = settings.get("currencies")
    if currencies is not None:
        if not isinstance(currencies, list | tuple) or not currencies:
            raise fail("currencies", 'must be a non-empty list of ISO 4217 codes, such as ["USD"]')
        for code in currencies:
            try:
                PaymentAmount(code, "1")
            except InvalidInput as exc:
                raise fail("currencies", exc.reason) from None

    max_amount = settings.get("max_amount")
    if max_amount is not None and (
        isinstance(max_amount, bool) or not isinstance(max_amount, int) or not 1 <= max_amount <= MAX_LIMIT
    ):
        raise fail("max_amount", f"must be an integer number of minor units from 1 to {MAX_LIMIT}")

    return AgreementSettings(
        database=location,
        currencies=frozenset(currencies) if currencies is not None else None,
        max_amount=max_amount,
    )


def _location(database: str, data_dir: Path, fail: Callable[[str, str], ConfigError]) -> Path | str:
    """The SQLite file (a path, or ``sqlite:///PATH``; relative to ``data_dir``) or the PostgreSQL URL."""
    if database.startswith(_POSTGRES):
        try:
            parts = urlsplit(database)
            schemas = [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key == "schema"]
        except ValueError as exc:
            raise fail("database", f"not a usable postgresql:// URL: {exc}") from None
        if any(not _SCHEMA_NAME.fullmatch(schema) for schema in schemas):
            raise fail("database", "the schema parameter must be a lowercase identifier (a-z, 0-9, _)")
        return database
    text = database.removeprefix(_SQLITE)
    if "://" in text:
        raise fail("database", "must be a path, sqlite:///PATH or postgresql://...: no other kind of URL is known")
    if not text.strip():
        raise fail("database", "sqlite:/// needs a file path after it")
    return data_dir / text  # an absolute path replaces data_dir


def shown_location(location: Path | str) -> str:
    """``location`` as it may appear in messages and logs: a URL's password is replaced by ``***``."""
    text = str(location)
    if not text.startswith(_POSTGRES):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()
