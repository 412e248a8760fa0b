"""The conformance suite: what every provider must do, as tests a provider author runs.

Subclass :class:`ProviderConformance` in a test module (its name must start with ``Test``), set ``factory``
(your entry point's target) and ``settings``, and define the ``payable_order`` fixture::

    class TestAcmeConformance(ProviderConformance):
        factory = AcmeProvider

        @pytest.fixture
        def payable_order(self, provider):
            return Order("T1", PaymentAmount("USD", "100"), merchant_id="m1", payer_id="alice")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest

from .. import _hookspecs
from .._attempts import Attempt, ProviderConfig, ProviderStatus
from .._errors import ConfigError
from .._host import Host
from .._ledger import MemoryLedger
from .._models import PaymentRequest, PaymentResult, PaymentType, ResultCode
from .._orders import Order
from .._providers import ProviderHandle
from .._records import PaymentStatus
from .._service import PaymentService
from .._threads import DaemonPool
from . import sample_context

__all__ = ["ProviderConformance"]


class ProviderConformance:
    """Conformance tests for one provider. Override ``factory``, ``settings`` and ``payable_order``."""

    factory: ClassVar[Callable[..., object]]
    settings: ClassVar[Mapping[str, Any]] = {}
    provider_name: ClassVar[str] = "provider"

    @pytest.fixture
    def provider(self, tmp_path: Path) -> object:
        """The provider under test, built by ``factory`` with ``settings`` and a fresh data directory."""
        return type(self).factory(ProviderConfig(self.provider_name, dict(self.settings), tmp_path))

    @pytest.fixture
    def payable_order(self, provider: object) -> Order:
        """An order the provider will pay (set up its state here: balances, cards, agreements)."""
        raise NotImplementedError("define the payable_order fixture in your conformance test class")

    # --- helpers --------------------------------------------------------------------------------------------

    def _handle(self, provider: object) -> ProviderHandle:
        pm = pluggy.PluginManager(_hookspecs.PROJECT)
        pm.add_hookspecs(_hookspecs)
        pm.register(provider, name=self.provider_name)
        return ProviderHandle.bind(pm, self.provider_name, provider, 10.0)

    def _call(self, handle: ProviderHandle, hook: str, order: Order, attempt: Attempt) -> Any:
        call = getattr(handle, hook)
        available = {
            "payment_request": PaymentRequest(PaymentType.ORDER_ID, order.trade_no),
            "api_context": sample_context(order.payer_id),
            "order": order,
            "attempt": attempt,
        }
        pool = DaemonPool(2)
        try:
            return asyncio.run(call(available, 10.0, pool))
        finally:
            pool.shutdown()

    def _attempt(self, order: Order, number: int = 1) -> Attempt:
        payment_id = f"pay_conformance_{order.trade_no}"
        return Attempt(payment_id, number, self.provider_name, f"{payment_id}-{number}")

    # --- the suite ------------------------------------------------------------------------------------------

    def test_hooks_match_the_specification(self, provider: object) -> None:
        """Every @hookimpl names a tradepay hook with the hook's argument names, and ``pay`` exists."""
        pm = pluggy.PluginManager(_hookspecs.PROJECT)
        pm.add_hookspecs(_hookspecs)
        pm.register(provider, name=self.provider_name)
        pm.check_pending()
        assert any(impl.plugin is provider for impl in pm.hook.pay.get_hookimpls())
        self._handle(provider)  # capabilities, when declared, must be a tradepay.Capabilities

    def test_unknown_setting_is_refused(self, tmp_path: Path) -> None:
        settings = {**self.settings, "no_such_setting_for_conformance": 1}
        with pytest.raises(ConfigError) as info:
            type(self).factory(ProviderConfig(self.provider_name, settings, tmp_path))
        assert "no_such_setting_for_conformance" in str(info.value)

    def test_pays_an_order_through_the_host(self, provider: object, payable_order: Order) -> None:
        ledger = MemoryLedger()
        ledger.create_order(
            payable_order.amount,
            merchant_id=payable_order.merchant_id,
            payer_id=payable_order.payer_id,
            trade_no=payable_order.trade_no,
        )
        with PaymentService(Host.from_providers({self.provider_name: provider}, ledger=ledger)) as service:
            request = PaymentRequest(PaymentType.ORDER_ID, payable_order.trade_no)
            result = service.pay_blocking(request, sample_context(payable_order.payer_id))
            assert result.result_code is ResultCode.SUCCESS, result
            payment = ledger.get_payment(result.extended_info["paymentId"])
            assert payment is not None
            assert payment.status is PaymentStatus.SUCCEEDED
            again = service.pay_blocking(request, sample_context(payable_order.payer_id))
            assert again == result
            assert len(ledger.payments()) == 1

    def test_a_repeated_key_gets_the_first_answer(self, provider: object, payable_order: Order) -> None:
        handle = self._handle(provider)
        attempt = self._attempt(payable_order)
        first = self._call(handle, "pay", payable_order, attempt)
        second = self._call(handle, "pay", payable_order, attempt)
        assert isinstance(first, PaymentResult)
        assert first.result_code is ResultCode.SUCCESS
        assert second == first
        if handle.inquire is not None:
            assert self._call(handle, "inquire", payable_order, attempt) is ProviderStatus.PAID

    def test_inquiry_of_an_unseen_attempt_voids_it(self, provider: object, payable_order: Order) -> None:
        handle = self._handle(provider)
        if handle.inquire is None:
            pytest.skip("this provider declares no inquire hook: ambiguous outcomes go to reconciliation")
        attempt = self._attempt(payable_order, 7)
        assert self._call(handle, "inquire", payable_order, attempt) is ProviderStatus.NOT_PAID
        late = self._call(handle, "pay", payable_order, attempt)
        assert not (isinstance(late, PaymentResult) and late.result_code is ResultCode.SUCCESS), late
        assert self._call(handle, "inquire", payable_order, attempt) is ProviderStatus.NOT_PAID

    def test_cancel_reverses_a_paid_attempt(self, provider: object, payable_order: Order) -> None:
        handle = self._handle(provider)
        if handle.cancel is None:
            pytest.skip("this provider declares no cancel hook")
        attempt = self._attempt(payable_order, 3)
        assert self._call(handle, "pay", payable_order, attempt).result_code is ResultCode.SUCCESS
        assert self._call(handle, "cancel", payable_order, attempt) is True
        if handle.inquire is not None:
            assert self._call(handle, "inquire", payable_order, attempt) is ProviderStatus.NOT_PAID
        assert self._call(handle, "cancel", payable_order, attempt) is True
        # The money was given back: a repeat of the key must not report a success that no longer holds.
        repeat = self._call(handle, "pay", payable_order, attempt)
        assert isinstance(repeat, PaymentResult)
        assert repeat.result_code is not ResultCode.SUCCESS, repeat
