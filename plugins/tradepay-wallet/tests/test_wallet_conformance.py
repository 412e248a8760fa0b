"""The core's conformance suite, run against the wallet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tradepay import Order, PaymentAmount, ProviderConfig
from tradepay.testing import ProviderConformance
from tradepay_wallet import WalletProvider


class TestWalletConformance(ProviderConformance):
    # mypy reads the base's ClassVar[Callable[[ProviderConfig], object]] as a method and drops its argument.
    factory = WalletProvider
    provider_name = "wallet"

    @pytest.fixture
    def provider(self, tmp_path: Path, database: str | None) -> Iterator[WalletProvider]:
        """The suite's provider on each kind of database (conftest.py), closed after the test."""
        settings = dict(self.settings) if database is None else {**self.settings, "database": database}
        provider = WalletProvider(ProviderConfig(self.provider_name, settings, tmp_path))
        yield provider
        provider.close()

    @pytest.fixture
    def payable_order(self, provider: WalletProvider) -> Order:
        """alice holds USD 100.00 and the order asks USD 1.00 of it."""
        provider.topup("alice", "USD", 10_000)
        return Order("T-conformance", PaymentAmount("USD", "100"), merchant_id="shop-1", payer_id="alice")

    @pytest.fixture
    def declined_order(self, provider: WalletProvider) -> Order:
        """bob holds USD 0.50 and the order asks USD 1.00."""
        provider.topup("bob", "USD", 50)
        return Order("T-conformance-short", PaymentAmount("USD", "100"), merchant_id="shop-1", payer_id="bob")
