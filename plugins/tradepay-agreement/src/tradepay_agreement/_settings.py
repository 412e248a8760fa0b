"""The ``[providers.agreement]`` table, read by the kit (:func:`tradepay.parse_store_settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from tradepay import MAX_AMOUNT, StoreSettings, parse_store_settings

__all__ = ["DEFAULT_DATABASE", "MAX_LIMIT", "AgreementSettings", "parse_settings"]

#: The state file's name inside the host's data directory when ``database`` is not set.
DEFAULT_DATABASE: Final = "agreement.sqlite3"
#: The largest amount or count a setting or limit may hold: 18 digits, the core's longest amount.
MAX_LIMIT: Final = MAX_AMOUNT
#: ``database`` (a SQLite file's absolute path or a ``postgresql://`` URL), ``currencies``, ``max_amount``.
AgreementSettings = StoreSettings


def parse_settings(
    settings: Mapping[str, Any], data_dir: Path, *, table: str = "providers.agreement"
) -> AgreementSettings:
    """Validate ``settings`` (the provider's table, host keys removed) and resolve paths against ``data_dir``.

    Raises :class:`tradepay.ConfigError` keyed ``<table>.<key>`` for an unknown key or a bad value.
    """
    return parse_store_settings(settings, data_dir, table=table, default=DEFAULT_DATABASE)
