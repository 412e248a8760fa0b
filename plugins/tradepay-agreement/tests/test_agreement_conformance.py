"""The core's conformance suite, run against the agreement provider on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tradepay import Order, PaymentAmount, ProviderConfig
from tradepay.testing import ProviderConformance
from tradepay_agreement import AgreementProvider


class TestAgreementConformance(ProviderConformance):
    factory = AgreementProvider
    settings = {}  # noqa: RUF012 - the suite's own ClassVar, read-only

    @pytest.fixture
    def provider(self, tmp_path: Path, database: str) -> Iterator[AgreementProvider]:
        """The suite's provider, on the test's database (conftest's ``database``: SQLite, then PostgreSQL)."""
        made = AgreementProvider(ProviderConfig(self.provider_name, {**self.settings, "database": database}, tmp_path))
        yield made
        made.close()

    @pytest.fixture
    def payable_order(self, provider: AgreementProvider) -> Order:
        """alice has an active agreement with shop, with no limits: every USD order of hers to shop is paid."""
        agreement = provider.store.sign("alice", "shop", "USD")
        provider.store.activate(agreement.agreement_id)
        return Order("T1", PaymentAmount("USD", "100"), merchant_id="shop", payer_id="alice")

    @pytest.fixture
    def declined_order(self, provider: AgreementProvider) -> Order:
        """bob signed an agreement with shop but never activated it: 2001, about his agreement."""
        provider.store.sign("bob", "shop", "USD")
        return Order("T2", PaymentAmount("USD", "100"), merchant_id="shop", payer_id="bob")
