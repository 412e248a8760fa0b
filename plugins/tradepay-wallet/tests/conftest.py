"""Fixtures of the wallet's tests: a provider on a fresh SQLite file, orders, attempts and captured logs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig
from tradepay_wallet import WalletProvider


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event of the test, as dicts (structlog's own testing helper; the library never configures)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
def make_provider(tmp_path: Path) -> Iterator[Callable[..., WalletProvider]]:
    """Build providers on ``tmp_path`` (all sharing ``wallet.sqlite3`` unless ``database`` says otherwise)."""
    made: list[WalletProvider] = []

    def make(**settings: Any) -> WalletProvider:
        provider = WalletProvider(ProviderConfig(name="wallet", settings=settings, data_dir=tmp_path))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def provider(make_provider: Callable[..., WalletProvider]) -> WalletProvider:
    """A wallet with default settings on a fresh file."""
    return make_provider()


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """Orders to pay; by default alice pays USD 3.00 for trade T-1."""

    def make(amount: str = "300", currency: str = "USD", payer: str = "alice", trade_no: str = "T-1") -> Order:
        return Order(trade_no, PaymentAmount(currency, amount), merchant_id="shop-1", payer_id=payer)

    return make


@pytest.fixture
def order(make_order: Callable[..., Order]) -> Order:
    return make_order()


def make_attempt(key: str = "pay-1-1") -> Attempt:
    """An attempt of the wallet with idempotency key ``key``."""
    payment_id, _, number = key.rpartition("-")
    return Attempt(payment_id=payment_id, number=int(number), provider="wallet", idempotency_key=key)


@pytest.fixture
def attempt() -> Callable[[str], Attempt]:
    """Attempts by key: ``attempt("pay-1-1")``."""
    return make_attempt
