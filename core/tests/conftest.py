"""Shared helpers for the core's tests: a chain of reference providers around an in-memory ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import stevedore._cache
import structlog

import tradepay._logging
from tradepay import (
    ChainSettings,
    MemoryLedger,
    Order,
    Payment,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
)
from tradepay._cli.main import cli
from tradepay.testing import ReferenceProvider, build_service, sample_context

#: The signing secret of merchant ``m1`` in every bench.
SECRET = "s3cret-for-merchant-m1"


@dataclass
class Bench:
    """A service over named providers, with helpers to create orders and pay them."""

    service: PaymentService
    providers: dict[str, Any]
    payer: str = "alice"
    orders: list[Order] = field(default_factory=list)

    @property
    def ledger(self) -> MemoryLedger:
        ledger = self.service.host.ledger
        assert isinstance(ledger, MemoryLedger)
        return ledger

    def order(self, value: str = "250", currency: str = "USD", **kwargs: Any) -> Order:
        kwargs.setdefault("merchant_id", "m1")
        kwargs.setdefault("payer_id", self.payer)
        order = self.ledger.create_order(PaymentAmount(currency, value), **kwargs)
        self.orders.append(order)
        return order

    def pay(self, order: Order | None = None, **request: Any) -> PaymentResult:
        order = order or self.order()
        req = PaymentRequest(
            request.pop("type", PaymentType.ORDER_ID), request.pop("payment_string", order.trade_no), **request
        )
        return self.service.pay_blocking(req, sample_context(self.payer))

    def payment(self, result: PaymentResult) -> Payment:
        payment = self.ledger.get_payment(result.extended_info["paymentId"])
        assert payment is not None
        return payment

    def charged(self) -> dict[str, int]:
        return {name: p.charged for name, p in self.providers.items() if isinstance(p, ReferenceProvider)}


@pytest.fixture
def bench_factory() -> Iterator[Any]:
    made: list[Bench] = []

    def make(*, chain: dict[str, Any] | None = None, **providers: Any) -> Bench:
        plugins = providers.pop("_plugins", None)
        ledger = MemoryLedger(merchant_secrets={"m1": SECRET})
        settings = {"inquiry_interval_s": 0.001, "provider_deadline_s": 5.0, **(chain or {})}
        host_chain = ChainSettings(tuple(providers), **settings)
        bench = Bench(build_service(providers, chain=host_chain, plugins=plugins, ledger=ledger), providers)
        made.append(bench)
        return bench

    yield make
    for bench in made:
        for provider in bench.providers.values():
            inner = getattr(provider, "inner", provider)
            if isinstance(inner, ReferenceProvider):
                inner.release_hangs()
        bench.service.close()


@pytest.fixture(autouse=True)
def isolated_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep in-process invocations off the user's files and undo what they leave on module globals.

    ``explain`` and ``pay`` load providers with stevedore, whose entry-point cache object was built at import
    with the user's ``~/.cache`` (``$XDG_CACHE_HOME`` is read then, so setting it now would be too late): point
    it at ``tmp_path`` so the tests neither read nor write the user's cache.

    The group callback configures structlog with ``cache_logger_on_first_use=True`` around the runner's
    captured standard error: module-level loggers used during the invocation would stay bound to that closed
    stream for the rest of the session (and ``structlog.testing.capture_logs`` in later tests would miss
    them). The group also marks plugin commands as loaded, and adds them, on the module-level ``cli``.
    """
    configure = tradepay._logging.configure_logging
    saved, was_configured = structlog.get_config(), structlog.is_configured()

    def uncached(**kwargs: Any) -> None:
        configure(**{**kwargs, "cache": False})

    monkeypatch.setattr(tradepay._logging, "configure_logging", uncached)
    monkeypatch.setattr(stevedore._cache._c, "_dir", str(tmp_path / "xdg-cache" / "python-entrypoints"))
    monkeypatch.setattr(stevedore._cache._c, "_internal", {})
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.delenv("TRADEPAY_CONFIG", raising=False)
    yield
    if was_configured:
        structlog.configure(**saved)
    else:  # configure(**defaults) would count as configured: the library would print to standard output
        structlog.reset_defaults()
