"""The ``[providers.agreement]`` table, parsed and validated into :class:`AgreementSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradepay import ConfigError, InvalidInput, PaymentAmount

__all__ = ["DEFAULT_DATABASE", "MAX_LIMIT", "AgreementSettings", "parse_settings"]

DEFAULT_DATABASE = "agreement.sqlite3"
#: The largest amount or count a setting or limit may hold: 18 digits, the core's longest amount.
MAX_LIMIT = 10**18 - 1


@dataclass(frozen=True, slots=True)
class AgreementSettings:
    """The provider's settings: where its state lives and what it is willing to pay.

    ``currencies`` ``None`` means every currency; ``max_amount`` ``None`` means no cap (minor units, inclusive).
    """

    database: Path
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
        raise fail("database", "must be a non-empty path string")

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
        database=data_dir / database,  # an absolute ``database`` replaces data_dir
        currencies=frozenset(currencies) if currencies is not None else None,
        max_amount=max_amount,
    )
