"""The core's conformance suite, run against the card provider, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from card_support import OpenCard, make_order

from tradepay import CardNumber, CardSecret, Order
from tradepay.testing import ProviderConformance
from tradepay_card import CardProvider


class TestCardConformance(ProviderConformance):
    factory = CardProvider
    provider_name = "card"

    @pytest.fixture
    def provider(self, open_card: OpenCard) -> CardProvider:
        """The suite's provider (``card``, default settings), on each database; closed afterwards."""
        return open_card()

    @pytest.fixture
    def payable_order(self, provider: CardProvider) -> Order:
        provider.add_card("alice", CardNumber("4242 4242 4242 4242"), "12/99", CardSecret("123"))
        return make_order(payer="alice", trade_no="T-conformance")

    @pytest.fixture
    def declined_order(self, provider: CardProvider) -> Order:
        """bob's card answers the network's processing error (4000/1005): about his card, not the provider."""
        provider.add_card("bob", CardNumber("4000 0000 0000 0119"), "12/99", CardSecret("123"))
        return make_order(payer="bob", trade_no="T-conformance-declined")
