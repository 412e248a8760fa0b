"""The wallet's settings: the ``[providers.wallet]`` table, parsed and validated once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradepay import ConfigError, InvalidInput

from ._checks import check_currency

__all__ = ["DEFAULT_DATABASE", "WalletSettings", "parse_settings"]

#: The state file's name inside the host's data directory when ``database`` is not set.
DEFAULT_DATABASE = "wallet.sqlite3"
_KNOWN = ("currencies", "database", "max_amount")
_POSTGRESQL = "postgresql://"
_SQLITE = "sqlite:///"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True, slots=True)
class WalletSettings:
    """The wallet's settings, valid by construction.

    ``database`` is the absolute path of a SQLite file, or a ``postgresql://`` URL as configured (its tables
    in the schema ``tradepay_wallet`` unless the URL's ``schema`` parameter names another); ``currencies``
    ``None`` accepts every ISO 4217 currency; ``max_amount`` (minor units of the order's currency, inclusive)
    ``None`` sets no limit.
    """

    database: Path | str
    currencies: frozenset[str] | None = None
    max_amount: int | None = None


def parse_settings(settings: Mapping[str, Any], data_dir: Path, table: str = "providers.wallet") -> WalletSettings:
    """Parse the provider's settings table; raise :class:`tradepay.ConfigError` naming ``table.key`` if invalid.

    Unknown keys are refused (a misspelt ``max_ammount`` must not silently lift a limit).
    """
    for key in settings:
        if key not in _KNOWN:
            raise ConfigError(f"{table}.{key}", f"unknown setting (known: {', '.join(_KNOWN)})")
    return WalletSettings(
        database=_database(settings.get("database"), data_dir, f"{table}.database"),
        currencies=_currencies(settings.get("currencies"), f"{table}.currencies"),
        max_amount=_max_amount(settings.get("max_amount"), f"{table}.max_amount"),
    )


def _database(value: object, data_dir: Path, key: str) -> Path | str:
    """A SQLite path (plain, or ``sqlite:///PATH``; relative to ``data_dir``) or a ``postgresql://`` URL."""
    if value is None:
        return (data_dir / DEFAULT_DATABASE).absolute()
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string path or URL, got {type(value).__name__}")
    if not value.strip() or "\x00" in value:
        raise ConfigError(key, "must be a non-empty path or URL")
    if value.startswith(_POSTGRESQL):
        return value  # checked when it is opened: the schema's name, the server, the postgres extra
    path = value.removeprefix(_SQLITE)
    if path == value and (scheme := _SCHEME.match(value)):
        # Anything else with a scheme would become an oddly named file: say what is understood instead.
        raise ConfigError(
            key, f"{scheme.group(1)}:// is not supported: give a path, sqlite:///PATH or postgresql://..."
        )
    if not path.strip():
        raise ConfigError(key, "must be a non-empty path or URL")
    return (data_dir / Path(path).expanduser()).absolute()


def _currencies(value: object, key: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigError(key, f"must be a list of ISO 4217 codes, got {type(value).__name__}")
    if not value:
        raise ConfigError(key, "must list at least one currency (leave it out to accept every currency)")
    for code in value:
        try:
            check_currency(code)
        except InvalidInput as exc:
            raise ConfigError(key, exc.reason) from None
    return frozenset(value)


def _max_amount(value: object, key: str) -> int | None:
    if value is None:
        return None
    # bool is an int in Python; `max_amount = true` is a mistake, not the amount 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer in minor units, got {type(value).__name__}")
    if value <= 0:
        raise ConfigError(key, f"must be greater than zero, got {value}")
    return value
