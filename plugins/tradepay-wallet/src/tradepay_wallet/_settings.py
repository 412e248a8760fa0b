"""The wallet's settings: the ``[providers.wallet]`` table, read by the kit (:func:`tradepay.parse_store_settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradepay import StoreSettings, parse_store_settings

__all__ = ["DEFAULT_DATABASE", "WalletSettings", "parse_settings"]

#: The state file's name inside the host's data directory when ``database`` is not set.
DEFAULT_DATABASE = "wallet.sqlite3"
#: ``database`` (a SQLite file's absolute path or a ``postgresql://`` URL), ``currencies``, ``max_amount``.
WalletSettings = StoreSettings


def parse_settings(settings: Mapping[str, Any], data_dir: Path, *, table: str = "providers.wallet") -> WalletSettings:
    """Parse the provider's settings table; raise :class:`tradepay.ConfigError` naming ``table.key`` if invalid."""
    return parse_store_settings(settings, data_dir, table=table, default=DEFAULT_DATABASE)
