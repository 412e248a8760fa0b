"""A provider's settings table, checked one way: unknown keys, the database location, currencies, amounts.

Every provider built on the kit reads ``[providers.NAME]`` with :func:`parse_store_settings` (or with the
checks it is made of, for a provider with keys of its own), so that the same mistake gets the same
:class:`ConfigError`, keyed ``providers.NAME.KEY``, whichever provider it is made in. The database location
is resolved one way: ``postgresql://...`` is kept as written (checked when opened), a path or
``sqlite:///PATH`` is a SQLite file, relative to the host's ``data_dir``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from .._spi.errors import ConfigError, InvalidInput
from .._spi.fields import check_instance
from .._spi.models import PaymentAmount
from .locations import shown_location

__all__ = [
    "MAX_AMOUNT",
    "STORE_SETTINGS",
    "StoreSettings",
    "check_currencies",
    "check_max_amount",
    "database_location",
    "parse_store_settings",
    "refuse_unknown_settings",
]

#: The largest amount a setting may hold, in minor units: 18 digits, the longest amount the host accepts.
MAX_AMOUNT: Final = 10**18 - 1
#: The keys :func:`parse_store_settings` knows.
STORE_SETTINGS: Final = ("currencies", "database", "max_amount")
_POSTGRESQL: Final = "postgresql://"
_SQLITE: Final = "sqlite:///"
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # the core's rule for a PostgreSQL schema name


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """A provider's settings: where its state lives and what it is willing to pay.

    ``database`` is the absolute :class:`~pathlib.Path` of a SQLite file, or a ``postgresql://`` URL string as
    configured; ``currencies`` ``None`` accepts every ISO 4217 currency; ``max_amount`` (minor units of the
    order's currency, inclusive) ``None`` sets no limit.
    """

    database: Path | str
    currencies: frozenset[str] | None = None
    max_amount: int | None = None

    def __post_init__(self) -> None:
        check_instance(self.database, (Path, str), "database")
        check_instance(self.currencies, frozenset, "currencies", optional=True)
        if self.currencies is not None and not all(isinstance(code, str) for code in self.currencies):
            raise InvalidInput("currencies", "must hold ISO 4217 codes")
        if self.max_amount is not None and (type(self.max_amount) is not int or not 0 < self.max_amount <= MAX_AMOUNT):
            raise InvalidInput("max_amount", f"must be a whole number of minor units from 1 to {MAX_AMOUNT}")


def refuse_unknown_settings(settings: Mapping[str, Any], known: Iterable[str], table: str) -> None:
    """Raise :class:`ConfigError` keyed ``table.KEY`` for the first key of ``settings`` not in ``known``: a
    misspelt ``max_ammount`` must not silently lift a limit."""
    names = sorted(known)
    for key in settings:
        if key not in names:
            raise ConfigError(f"{table}.{key}", f"unknown setting (known: {', '.join(names)})")


def database_location(value: object, data_dir: Path, key: str, default: str) -> Path | str:
    """The ``database`` setting ``value`` (``None``: ``default``) resolved: a ``postgresql://`` URL as it is, else
    the absolute path of a SQLite file (``PATH`` or ``sqlite:///PATH``, relative to ``data_dir``)."""
    text = default if value is None else value
    if not isinstance(text, str):
        raise ConfigError(
            key,
            f"must be a string path, got {type(text).__name__} (a non-empty path, sqlite:///PATH or postgresql://...)",
        )
    if not text.strip() or "\x00" in text:
        raise ConfigError(key, "must be a non-empty path, sqlite:///PATH or postgresql://...")
    if text.startswith(_POSTGRESQL):
        try:
            schemas = [v for k, v in parse_qsl(urlsplit(text).query, keep_blank_values=True) if k == "schema"]
        except ValueError as exc:
            raise ConfigError(key, f"{shown_location(text)}: not a usable postgresql:// URL: {exc}") from None
        if any(not _SCHEMA_NAME.fullmatch(schema) for schema in schemas):
            shown = shown_location(text)
            raise ConfigError(key, f"{shown}: the schema parameter must be a lowercase identifier (a-z, 0-9, _)")
        return text
    path = text.removeprefix(_SQLITE)
    if path == text and (scheme := _SCHEME.match(text)):
        # Anything else with a scheme would become an oddly named file: say what is understood instead.
        name = scheme.group(1)
        hint = " (PostgreSQL URLs start with postgresql://)" if name == "postgres" else ""
        raise ConfigError(
            key,
            f"must be a path, sqlite:///PATH or postgresql://..., not a {name}:// URL{hint}:"
            f" {name}:// is not supported, and no other kind of URL is known",
        )
    if not path.strip():
        raise ConfigError(key, "must be a non-empty path: sqlite:/// needs a file path after it")
    return (data_dir / Path(path).expanduser()).absolute()  # an absolute path replaces data_dir


def check_currencies(value: object, key: str) -> frozenset[str] | None:
    """The ``currencies`` setting: ``None``, or a non-empty list of ISO 4217 codes (as a set)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list of ISO 4217 codes, got {type(value).__name__}")
    if not value:
        raise ConfigError(
            key, "must list at least one currency: a non-empty list (leave it out to accept every currency)"
        )
    for code in value:
        try:
            PaymentAmount(code, "1")  # the host's ISO 4217 table is the one authority on currency codes
        except InvalidInput as exc:
            raise ConfigError(key, exc.reason) from None
    return frozenset(value)


def check_max_amount(value: object, key: str) -> int | None:
    """The ``max_amount`` setting: ``None``, or a whole number of minor units from 1 to :data:`MAX_AMOUNT`."""
    if value is None:
        return None
    # bool is an int in Python; `max_amount = true` is a mistake, not the amount 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer count of minor units, got {type(value).__name__}")
    if not 0 < value <= MAX_AMOUNT:
        raise ConfigError(
            key, f"must be between 1 and {MAX_AMOUNT} (a count of minor units greater than zero, from 1 to 18 digits)"
        )
    return value


def parse_store_settings(settings: Mapping[str, Any], data_dir: Path, *, table: str, default: str) -> StoreSettings:
    """``settings`` (the provider's table, host keys removed) checked as :class:`StoreSettings`: only
    :data:`STORE_SETTINGS` are known, the database (``default`` when unset) is resolved against ``data_dir``.

    Raises :class:`ConfigError` keyed ``table.KEY`` for an unknown key or a bad value; nothing is opened."""
    refuse_unknown_settings(settings, STORE_SETTINGS, table)
    return StoreSettings(
        database=database_location(settings.get("database"), data_dir, f"{table}.database", default),
        currencies=check_currencies(settings.get("currencies"), f"{table}.currencies"),
        max_amount=check_max_amount(settings.get("max_amount"), f"{table}.max_amount"),
    )
