"""The testing kit's own reference provider passes the conformance suite it ships, and the suite fails providers
that break the contract it checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest

from tradepay import ErrorCode, Order, PaymentAmount, PaymentResult, ResultCode, ResultError, hookimpl
from tradepay.testing import (
    AsyncReferenceProvider,
    Outcome,
    ProviderConformance,
    ReferenceProvider,
    reference_provider,
)


class TestReferenceConformance(ProviderConformance):
    factory: ClassVar[Callable[..., object]] = ReferenceProvider

    @pytest.fixture
    def payable_order(self) -> Order:
        return Order("T-CONF-1", PaymentAmount("USD", "100"), "m1", "alice")

    @pytest.fixture
    def declined_order(self, provider: ReferenceProvider) -> Order:
        """bob's payment comes first and is declined; every later one is paid."""
        provider.script = [Outcome.INSUFFICIENT, Outcome.SUCCESS]
        return Order("T-CONF-2", PaymentAmount("USD", "100"), "m1", "bob")


class TestAsyncReferenceConformance(TestReferenceConformance):
    factory = AsyncReferenceProvider


class TestReferenceEntryPointConformance(TestReferenceConformance):
    factory = reference_provider
    settings: ClassVar[dict[str, object]] = {"mode": "async"}


class TestReferenceConformanceVoidedDecline(TestReferenceConformance):
    """Without ``declined_order``, the suite declines another payer's attempt by voiding its key first."""

    @pytest.fixture
    def declined_order(self) -> None:
        return None


class Undecided:
    """Declines bob's payments saying ``scope`` (or nothing) about whose failure it is; pays everybody else."""

    def __init__(self, scope: str | None) -> None:
        self.scope = scope

    @hookimpl
    def pay(self, order: Order) -> PaymentResult:
        if order.payer_id != "bob":
            return PaymentResult(ResultCode.SUCCESS, "paid")
        info = {"reason": "USER_BALANCE_NOT_ENOUGH"} | ({"failure_scope": self.scope} if self.scope else {})
        return PaymentResult(ResultCode.FAILED, "no", ResultError(ErrorCode.APP_SERVICE_ERROR, "no"), info)


@pytest.mark.parametrize("scope", ["provider", None])
def test_the_suite_fails_a_provider_that_does_not_say_a_decline_is_about_the_payment(scope: str | None) -> None:
    suite = TestReferenceConformance()
    alice = Order("T-1", PaymentAmount("USD", "100"), "m1", "alice")
    bob = Order("T-2", PaymentAmount("USD", "100"), "m1", "bob")
    with pytest.raises(AssertionError, match="a decline about one payment must say extended_info"):
        suite.test_a_payers_decline_leaves_the_circuit_closed_for_another_payer(Undecided(scope), alice, bob)


def test_the_suite_fails_a_success_that_claims_a_failure_scope() -> None:
    class Confused:
        @hookimpl
        def pay(self) -> PaymentResult:
            return PaymentResult(ResultCode.SUCCESS, "paid", extended_info={"failure_scope": "payment"})

    suite = TestReferenceConformance()
    order = Order("T-1", PaymentAmount("USD", "100"), "m1", "alice")
    with pytest.raises(AssertionError, match="a 9000 answer must not carry 'failure_scope'"):
        suite.test_a_repeated_key_gets_the_first_answer(Confused(), order)
