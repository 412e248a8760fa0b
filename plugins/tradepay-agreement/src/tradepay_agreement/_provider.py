"""The agreement provider: tradepay's hooks (payments and their refunds), answered from the agreement store."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import tradepay
from tradepay import (
    Attempt,
    Capabilities,
    Order,
    PaymentResult,
    ProviderConfig,
    ProviderStatus,
    Refund,
    RefundAnswer,
    RefundOutcome,
    answer_refund,
    answer_refund_inquiry,
    hookimpl,
)

from ._settings import AgreementSettings, parse_settings
from ._store import DEFAULT_SCHEMA, AgreementStore

if TYPE_CHECKING:
    import click

__all__ = ["AgreementProvider"]

_log = tradepay.get_logger("tradepay_agreement")


class AgreementProvider:
    """Pays an order by debiting the payer's active agreement with the order's merchant.

    The host builds it from ``config`` (``config.settings`` is the ``[providers.agreement]`` table); ``clock``
    (seconds since the epoch) decides when agreements expire and exists so that tests need not sleep.
    Raises :class:`tradepay.ConfigError` for a bad setting or a database (file or server) it cannot use.
    """

    def __init__(self, config: ProviderConfig, *, clock: Callable[[], float] = time.time) -> None:
        table = f"providers.{config.name}"
        self._settings = parse_settings(config.settings, config.data_dir, table=table)
        where = f"{table}.database"
        self._store = AgreementStore(self._settings.database, clock=clock, schema=DEFAULT_SCHEMA, where=where)

    @property
    def settings(self) -> AgreementSettings:
        """The validated settings."""
        return self._settings

    @property
    def store(self) -> AgreementStore:
        """The agreement state: sign, activate, revoke and list agreements here."""
        return self._store

    def close(self) -> None:
        """Close the store's database connections (the host may call this more than once)."""
        self._store.close()

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        """Debit ``order`` under its agreement once per ``attempt.idempotency_key`` (see the README's answers)."""
        return self._store.charge(order, attempt, self.capabilities())

    @hookimpl
    def inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        """``PAID`` if the attempt's debit stands, else ``NOT_PAID``; an unseen attempt is voided first."""
        return self._store.inquire(order, attempt)

    @hookimpl
    def cancel(self, order: Order, attempt: Attempt) -> bool:
        """Reverse the attempt's debit (or void it if unseen); always ``True``: the store is the authority."""
        return self._store.cancel(order, attempt)

    @hookimpl
    def refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Give ``refund.amount`` back under the agreement ``attempt``'s key was debited under, at most once per
        refund key, restoring the agreement's usage (see the README's answers). Never more than the key took."""
        decide = functools.partial(self._store.refund, attempt, refund)
        return answer_refund(order, attempt, refund, decide, log=_log, provider="agreement")

    @hookimpl
    def inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """``SUCCEEDED`` if the refund key's money went back, else ``FAILED``; an unseen refund key is voided
        first, so that a late ``refund`` with it moves nothing."""
        return answer_refund_inquiry(order, attempt, refund, self._store, log=_log, provider="agreement")

    @hookimpl
    def capabilities(self) -> Capabilities:
        """The currencies and the maximum amount the settings allow."""
        return Capabilities(currencies=self._settings.currencies, max_amount=self._settings.max_amount)

    @hookimpl
    def add_cli_commands(self, cli: click.Group) -> None:
        """Add ``tradepay agreement sign|activate|revoke|list``."""
        from ._cli import agreement_group  # the CLI is only built when a command line asks for it

        cli.add_command(agreement_group(self._store, self._settings))
