"""The ``[providers.card]`` table, read by the kit (:func:`tradepay.parse_store_settings`) into a frozen
:class:`CardSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradepay import StoreSettings, parse_store_settings

__all__ = ["DEFAULT_DATABASE", "CardSettings", "parse_settings"]

#: The state file's name inside the host's data directory when ``database`` is not set.
DEFAULT_DATABASE = "card.sqlite3"
#: ``database`` (a SQLite file's absolute path or a ``postgresql://`` URL), ``currencies``, ``max_amount``.
CardSettings = StoreSettings


def parse_settings(settings: Mapping[str, Any], data_dir: Path, *, table: str = "providers.card") -> CardSettings:
    """Validate ``settings`` (the provider's table, host keys removed) and fill in the defaults.

    Raises :class:`tradepay.ConfigError` naming ``<table>.<key>`` for an unknown key or a wrong value.
    """
    return parse_store_settings(settings, data_dir, table=table, default=DEFAULT_DATABASE)
