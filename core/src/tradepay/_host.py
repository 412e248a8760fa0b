"""The host: a plugin manager, the configured providers in chain order, the rule table and the ledger.

Build one per process with :meth:`Host.from_config` (providers found through entry points) or
:meth:`Host.from_providers` (provider objects given directly, for tests and embedding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ._chain import hookspecs as _hookspecs
from ._chain.capabilities import ProviderConfig
from ._chain.chain import Chain
from ._chain.hookchecks import check_hooks
from ._chain.providers import ProviderHandle
from ._chain.refunds import RefundHandle, refund_handles
from ._chain.rules import Rule, RuleTable, check_rules
from ._chain.threads import DaemonPool
from ._config import ChainSettings, Config, HostSettings, check_host_arguments, ensure_data_dir
from ._discovery import load_provider_factories
from ._ledger.memory import Ledger, MemoryLedger
from ._ledger.sql import PostgresLedger, SQLiteLedger
from ._logging import get_logger
from ._spi.errors import ConfigError, DiscoveryError

__all__ = ["Host"]

if TYPE_CHECKING:
    from ._ledger.reconcile import Settlement
    from ._ledger.refund_reconcile import RefundSettlement

_log = get_logger("tradepay")
#: The name the built-in order book is registered under in the plugin manager.
ORDER_BOOK_PLUGIN = "tradepay.orderbook"


def open_ledger(config: Config) -> Ledger:
    """The ledger ``[ledger] url`` names: SQLite (by default ``ledger.sqlite3`` in ``host.data_dir``),
    PostgreSQL or memory."""
    url = config.ledger.url
    if url is not None and url.startswith("postgresql://"):
        return PostgresLedger(url, cashier_url=config.host.cashier_url, merchant_secrets=config.merchants)
    if url == "memory":
        return MemoryLedger(cashier_url=config.host.cashier_url, merchant_secrets=config.merchants)
    path = Path(url.removeprefix("sqlite:///")) if url else Path(config.host.data_dir) / "ledger.sqlite3"
    return SQLiteLedger(path, cashier_url=config.host.cashier_url, merchant_secrets=config.merchants)


class Host:
    """Everything one process needs to pay: build it once, share it across payments and threads."""

    def __init__(
        self,
        providers: Mapping[str, object],
        *,
        chain: ChainSettings | None = None,
        rules: Iterable[Rule] = (),
        ledger: Ledger | None = None,
        plugins: Mapping[str, object] | None = None,
        host: HostSettings | None = None,
        deadlines: Mapping[str, float] | None = None,
        config: Config | None = None,
    ) -> None:
        """Register ``providers`` (name -> plugin object, in chain order) and extra ``plugins`` (observers,
        order resolvers) in a new plugin manager; validate every provider's hooks."""
        # Every argument is checked as the configuration is, before anything is built. The provider names
        # reach logs, answers (extendedInfo.provider) and the ledger: the configuration's rule applies to them.
        chain, self.settings, deadlines = check_host_arguments(
            providers, chain=chain, host=host, ledger=ledger, plugins=plugins, deadlines=deadlines, config=config
        )
        table = RuleTable(check_rules(rules, providers=chain.providers))
        self.config = config
        if tuple(providers) != chain.providers:
            raise ConfigError("chain.providers", f"{list(chain.providers)} does not match the providers given")
        self.pm = pluggy.PluginManager(_hookspecs.PROJECT)
        self.pm.add_hookspecs(_hookspecs)
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger(cashier_url=self.settings.cashier_url)
        # Registered first so that any plugin's resolve_order (called last-registered-first) can override it.
        self.pm.register(self.ledger, name=ORDER_BOOK_PLUGIN)
        for name, plugin in (plugins or {}).items():
            try:
                self.pm.register(plugin, name=name)
            except (pluggy.PluginValidationError, ValueError) as exc:
                raise ConfigError(f"plugins.{name}", f"cannot be registered: {exc}") from None
        for name, plugin in providers.items():
            try:
                self.pm.register(plugin, name=name)
            except (pluggy.PluginValidationError, ValueError) as exc:
                raise DiscoveryError(name, f"cannot be registered: {exc}") from None
        # pluggy's check_pending and the host's own: no hook may be dropped silently.
        check_hooks(self.pm, providers, order_book=ORDER_BOOK_PLUGIN)
        deadlines = deadlines or {}
        handles = [
            ProviderHandle.bind(self.pm, name, plugin, deadlines.get(name, chain.provider_deadline_s))
            for name, plugin in providers.items()
        ]
        #: Each provider's refund hooks: a refund goes to the provider whose attempt took the money.
        self.refunders: dict[str, RefundHandle] = refund_handles(self.pm, handles)
        self.pool = DaemonPool(self.settings.provider_threads)
        self._closed = False
        self.chain = Chain(handles, table, self.ledger, self.pm.hook, chain, self.pool)

    @classmethod
    def from_providers(cls, providers: Mapping[str, object], **kwargs: Any) -> Host:
        """A host around provider objects given directly (no entry points), in the mapping's order."""
        return cls(providers, **kwargs)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        ledger: Ledger | None = None,
        plugins: Mapping[str, object] | None = None,
        reconcile: bool | None = None,
    ) -> Host:
        """Load the configured providers through their entry points (only those), instantiate each with its
        :class:`ProviderConfig`, open the configured ledger (SQLite by default) and build the host. Errors name
        the provider and what to do.

        Unless ``reconcile`` is ``False`` (or ``ledger.reconcile_on_start`` is off and ``reconcile`` is not
        ``True``), unsettled payments, then unsettled refunds, are reconciled before the host is returned."""
        data_dir = ensure_data_dir(config)  # first: the default ledger lives in it
        ledger = ledger if ledger is not None else open_ledger(config)
        factories = load_provider_factories(config.chain.providers)
        providers: dict[str, object] = {}
        deadlines: dict[str, float] = {}
        for name, factory in factories.items():
            settings = config.provider_settings(name)
            if settings.deadline_s is not None:
                deadlines[name] = settings.deadline_s
            if not callable(factory):
                raise DiscoveryError(name, f"entry point target {factory!r} is not callable")
            try:
                providers[name] = factory(ProviderConfig(name, dict(settings.settings), data_dir))
            except ConfigError:
                raise
            except Exception as exc:
                raise DiscoveryError(name, f"failed to start: {type(exc).__name__}: {exc}") from exc
        host = cls(
            providers,
            chain=config.chain,
            rules=config.rules,
            ledger=ledger,
            plugins=plugins,
            host=config.host,
            deadlines=deadlines,
            config=config,
        )

        if reconcile or (reconcile is None and config.ledger.reconcile_on_start):
            host.reconcile()
            host.reconcile_refunds()
        return host

    def add_plugin(self, name: str, plugin: object) -> None:
        """Register ``plugin`` (an observer, an authenticator, an order book) under ``name`` after the host was
        built, checked as ``Host(..., plugins=...)`` checks it (``ConfigError`` naming ``plugins.NAME``, nothing
        registered); the chain hears its observer hooks from the next payment on. A ``RefundService`` reads its
        observers when it is made: make it after this call."""
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigError(f"plugins.{name}", f"cannot be registered: {exc}") from None
        try:
            check_hooks(self.pm, self.chain.settings.providers, order_book=ORDER_BOOK_PLUGIN)
        except Exception:
            self.pm.unregister(plugin)
            raise
        self.chain.refresh_observers()

    def reconcile(self, **kwargs: Any) -> list[Settlement]:
        """Settle the ledger's unsettled payments now (see :func:`tradepay._ledger.reconcile.reconcile`)."""
        from ._ledger.reconcile import reconcile

        return reconcile(self, **kwargs)

    def reconcile_refunds(self, **kwargs: Any) -> list[RefundSettlement]:
        """Settle the ledger's unsettled refunds now (see
        :func:`tradepay._ledger.refund_reconcile.reconcile_refunds`)."""
        from ._ledger.refund_reconcile import reconcile_refunds

        return reconcile_refunds(self, **kwargs)

    def provider(self, name: str) -> object:
        """The plugin object registered as provider ``name``."""
        plugin = self.pm.get_plugin(name)
        if plugin is None or name not in self.chain.settings.providers:
            raise KeyError(name)
        return plugin

    def close(self) -> None:
        """Close every provider that has a ``close()`` method (its files, its connections) and let idle
        provider threads exit. The host must not be used afterwards; closing it again does nothing."""
        if self._closed:
            return
        self._closed = True
        for handle in self.chain.handles:
            close = getattr(handle.plugin, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    _log.exception("provider.close_failed", provider=handle.name)
        self.pool.shutdown()
        self.ledger.close()
