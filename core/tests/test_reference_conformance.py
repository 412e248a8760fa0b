"""The testing kit's own reference provider passes the conformance suite it ships."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest

from tradepay import Order, PaymentAmount
from tradepay.testing import AsyncReferenceProvider, ProviderConformance, ReferenceProvider, reference_provider


class TestReferenceConformance(ProviderConformance):
    factory: ClassVar[Callable[..., object]] = ReferenceProvider

    @pytest.fixture
    def payable_order(self) -> Order:
        return Order("T-CONF-1", PaymentAmount("USD", "100"), "m1", "alice")


class TestAsyncReferenceConformance(TestReferenceConformance):
    factory = AsyncReferenceProvider


class TestReferenceEntryPointConformance(TestReferenceConformance):
    factory = reference_provider
    settings: ClassVar[dict[str, object]] = {"mode": "async"}
