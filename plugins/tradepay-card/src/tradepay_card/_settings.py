"""The ``[providers.card]`` table, parsed and validated once, into a frozen :class:`CardSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradepay import ConfigError, InvalidInput, PaymentAmount

__all__ = ["CardSettings", "parse_settings"]

#: The largest ``max_amount`` accepted: the core refuses amounts longer than 18 digits anyway.
_LARGEST_AMOUNT = 10**18 - 1
_KNOWN_KEYS = ("currencies", "database", "max_amount")


@dataclass(frozen=True, slots=True)
class CardSettings:
    """The card provider's settings.

    ``database`` is the SQLite file (an absolute path) or a ``postgresql://`` URL (a string); ``currencies``
    the ISO 4217 codes it charges (``None``: all); ``max_amount`` the largest amount it charges, inclusive, in
    the order currency's minor units (``None``: no limit).
    """

    database: Path | str
    currencies: frozenset[str] | None = None
    max_amount: int | None = None


def parse_settings(settings: Mapping[str, Any], data_dir: Path, *, table: str = "providers.card") -> CardSettings:
    """Validate ``settings`` (the provider's table, host keys removed) and fill in the defaults.

    Raises :class:`tradepay.ConfigError` naming ``<table>.<key>`` for an unknown key or a wrong value.
    """
    for key in settings:
        if key not in _KNOWN_KEYS:
            raise ConfigError(f"{table}.{key}", f"unknown setting (known: {', '.join(_KNOWN_KEYS)})")
    return CardSettings(
        database=_database(settings.get("database"), data_dir, f"{table}.database"),
        currencies=_currencies(settings.get("currencies"), f"{table}.currencies"),
        max_amount=_max_amount(settings.get("max_amount"), f"{table}.max_amount"),
    )


def _database(value: object, data_dir: Path, key: str) -> Path | str:
    """A SQLite file (a path, or ``sqlite:///PATH``; relative to ``data_dir``) or a ``postgresql://`` URL."""
    if value is None:
        return data_dir / "card.sqlite3"
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string path, got {type(value).__name__}")
    if not value.strip() or "\x00" in value:
        raise ConfigError(key, "must be a non-empty path")
    if value.startswith("postgresql://"):
        return value  # checked when opened: tradepay.open_database knows the URL's rules
    if value.startswith("sqlite:///"):
        value = value.removeprefix("sqlite:///")  # sqlite:///relative/path, sqlite:////absolute/path
        if not value.strip():
            raise ConfigError(key, "must be a non-empty path")
    elif "://" in value:
        scheme = value.split("://", 1)[0]
        hint = " (PostgreSQL URLs start with postgresql://)" if scheme == "postgres" else ""
        raise ConfigError(key, f"must be a path, sqlite:///PATH or postgresql://..., not a {scheme}:// URL{hint}")
    # Relative paths are relative to the data directory, not to wherever the host happens to be started.
    return data_dir / Path(value).expanduser()


def _currencies(value: object, key: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list of ISO 4217 codes, got {type(value).__name__}")
    if not value:
        raise ConfigError(key, "must list at least one currency (leave it out to accept every currency)")
    for code in value:
        try:
            PaymentAmount(code, "1")  # the core's ISO 4217 table is the one authority on currency codes
        except InvalidInput as exc:
            raise ConfigError(key, exc.reason) from None
    return frozenset(value)


def _max_amount(value: object, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer count of minor units, got {type(value).__name__}")
    if not 0 < value <= _LARGEST_AMOUNT:
        raise ConfigError(key, f"must be between 1 and {_LARGEST_AMOUNT}")
    return value
