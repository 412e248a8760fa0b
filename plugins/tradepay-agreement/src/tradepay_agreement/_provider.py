"""The agreement provider: tradepay's hooks (payments and their refunds), answered from the agreement store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import tradepay
from tradepay import Attempt, Order, PaymentResult, ProviderConfig, RefundingStoreProvider, hookimpl

from ._settings import parse_settings
from ._store import DEFAULT_SCHEMA, AgreementStore

if TYPE_CHECKING:
    import click

__all__ = ["AgreementProvider"]

_log = tradepay.get_logger("tradepay_agreement")


class AgreementProvider(RefundingStoreProvider[AgreementStore]):
    """Pays an order by debiting the payer's active agreement with the order's merchant.

    The host builds it from ``config`` (``config.settings`` is the ``[providers.agreement]`` table); ``clock``
    (seconds since the epoch) decides when agreements expire and exists so that tests need not sleep.
    Raises :class:`tradepay.ConfigError` for a bad setting or a database (file or server) it cannot use.
    Its ``inquire``, ``cancel`` and refund hooks are the kit's (:class:`tradepay.RefundingStoreProvider`): a cancel or a
    refund gives the amount back to the agreement's usage.
    """

    events = "agreement"
    log = _log

    def __init__(self, config: ProviderConfig, *, clock: Callable[[], float] = time.time) -> None:
        table = f"providers.{config.name}"
        settings = parse_settings(config.settings, config.data_dir, table=table)
        where = f"{table}.database"
        super().__init__(settings, AgreementStore(settings.database, clock=clock, schema=DEFAULT_SCHEMA, where=where))

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        """Debit ``order`` under its agreement once per ``attempt.idempotency_key`` (see the README's answers)."""
        return self.store.charge(order, attempt, self.capabilities())

    @hookimpl
    def add_cli_commands(self, cli: click.Group) -> None:
        """Add ``tradepay agreement sign|activate|revoke|list``."""
        from ._cli import agreement_group  # the CLI is only built when a command line asks for it

        cli.add_command(agreement_group(self.store, self.settings))
