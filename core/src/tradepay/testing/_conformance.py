"""The conformance suite: what every provider must do, as tests a provider author runs.

Subclass :class:`ProviderConformance` in a test module (its name must start with ``Test``), set ``factory``
(your entry point's target) and ``settings``, and define the ``payable_order`` fixture (and, to check that one
payer's decline leaves your circuit breaker closed, ``declined_order``)::

    class TestAcmeConformance(ProviderConformance):
        factory = AcmeProvider

        @pytest.fixture
        def payable_order(self, provider):
            return Order("T1", PaymentAmount("USD", "100"), merchant_id="m1", payer_id="alice")

        @pytest.fixture
        def declined_order(self, provider):
            return Order("T2", PaymentAmount("USD", "100"), merchant_id="m1", payer_id="bob")  # bob has no funds
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest

from .._chain import hookspecs as _hookspecs
from .._chain.breaker import FailureScope
from .._chain.capabilities import Attempt, ProviderConfig, ProviderStatus
from .._chain.hookchecks import check_hooks
from .._chain.providers import ProviderHandle
from .._chain.threads import DaemonPool
from .._config import ChainSettings
from .._host import Host
from .._ledger.memory import MemoryLedger
from .._ledger.orders import Order
from .._ledger.records import OutcomeKind, PaymentStatus
from .._service import PaymentService
from .._spi.errors import ConfigError
from .._spi.models import PaymentRequest, PaymentResult, PaymentType, ResultCode
from . import sample_context
from ._refund_conformance import RefundConformance

__all__ = ["ProviderConformance"]


class ProviderConformance(RefundConformance):
    """Conformance tests for one provider. Override ``factory``, ``settings`` and ``payable_order``. The
    refund checks (:class:`RefundConformance`) run for a provider with a ``refund`` hook."""

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

    @pytest.fixture
    def declined_order(self, provider: object) -> Order | None:
        """An order of another payer than ``payable_order``'s that the provider declines for a reason of that
        payer's own (no funds, a declined card, no agreement). ``None`` (the default) skips the test that uses
        it."""
        return None

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
            answer = asyncio.run(call(available, 10.0, pool))
        finally:
            pool.shutdown()
        if isinstance(answer, PaymentResult):
            _check_failure_scope(answer)
        return answer

    def _attempt(self, order: Order, number: int = 1) -> Attempt:
        payment_id = f"pay_conformance_{order.trade_no}"
        return Attempt(payment_id, number, self.provider_name, f"{payment_id}-{number}")

    # --- the suite ------------------------------------------------------------------------------------------

    def test_hooks_match_the_specification(self, provider: object) -> None:
        """Every @hookimpl names a tradepay hook with the hook's argument names and is no wrapper, every method
        named as a hook is marked, and ``pay`` exists: the host's own start-up checks."""
        pm = pluggy.PluginManager(_hookspecs.PROJECT)
        pm.add_hookspecs(_hookspecs)
        pm.register(provider, name=self.provider_name)
        check_hooks(pm, {self.provider_name})
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
        if isinstance(late, PaymentResult):  # refused because of its key: about this payment, not the provider
            assert FailureScope.of(late) is not FailureScope.PROVIDER, late
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

    def test_a_reused_key_is_answered_in_the_one_order_of_checks(self, provider: object, payable_order: Order) -> None:
        """A key seen before is answered as the kit's :func:`tradepay.replay_payment` says, in its order: voided
        first, then asked differently (``REPEAT_REQ_INCONSISTENT``), then reversed, then the first answer; so a
        reused key gets the same reason from every provider."""
        handle = self._handle(provider)
        attempt = self._attempt(payable_order, 11)
        other = replace(payable_order, payer_id="conformance-other-payer")
        first = self._call(handle, "pay", payable_order, attempt)
        assert first.result_code is ResultCode.SUCCESS, first
        assert _reason(self._call(handle, "pay", other, attempt)) == "REPEAT_REQ_INCONSISTENT"
        assert self._call(handle, "pay", payable_order, attempt) == first
        if handle.cancel is not None:
            assert self._call(handle, "cancel", payable_order, attempt) is True
            assert _reason(self._call(handle, "pay", other, attempt)) == "REPEAT_REQ_INCONSISTENT"
            assert _reason(self._call(handle, "pay", payable_order, attempt)) == "ATTEMPT_REVERSED"
        if handle.inquire is not None:
            voided = self._attempt(payable_order, 12)
            assert self._call(handle, "inquire", payable_order, voided) is ProviderStatus.NOT_PAID
            assert _reason(self._call(handle, "pay", other, voided)) == "ATTEMPT_VOIDED"

    def test_a_payers_decline_leaves_the_circuit_closed_for_another_payer(
        self, provider: object, payable_order: Order, declined_order: Order | None
    ) -> None:
        """One payer's decline is about their payment: it says so, and the provider's circuit breaker (opening
        after a single failure here) stays closed for the next payer.

        The decline is ``declined_order``'s, paid through the host; without that fixture, it is the answer to an
        attempt of another payer voided by an inquiry (which every provider with ``inquire`` declines), recorded
        by the host's breaker as the chain would record it."""
        ledger = MemoryLedger()
        ledger.create_order(
            payable_order.amount,
            merchant_id=payable_order.merchant_id,
            payer_id=payable_order.payer_id,
            trade_no=payable_order.trade_no,
        )
        chain = ChainSettings((self.provider_name,), breaker_threshold=1)
        with PaymentService(Host.from_providers({self.provider_name: provider}, ledger=ledger, chain=chain)) as service:
            if declined_order is not None:
                answer = self._declined_through(service, ledger, declined_order, payable_order)
            else:
                answer = self._voided_decline(provider, payable_order)
                service.host.chain.breakers[self.provider_name].record(OutcomeKind.ANSWER, answer)
            assert answer.result_code is ResultCode.FAILED, answer
            assert FailureScope.of(answer) is FailureScope.PAYMENT, (
                f"a decline about one payment must say extended_info[{FailureScope.KEY!r}] = "
                f"{FailureScope.PAYMENT.value!r}: {answer}"
            )
            assert service.host.chain.circuit(self.provider_name) == "closed"
            paid = service.pay_blocking(
                PaymentRequest(PaymentType.ORDER_ID, payable_order.trade_no), sample_context(payable_order.payer_id)
            )
            assert paid.result_code is ResultCode.SUCCESS, paid
            assert paid.extended_info["provider"] == self.provider_name

    def _declined_through(
        self, service: PaymentService, ledger: MemoryLedger, declined_order: Order, payable_order: Order
    ) -> PaymentResult:
        """Pay ``declined_order`` through ``service``; the provider's own answer, as the host recorded it."""
        assert declined_order.payer_id != payable_order.payer_id, "declined_order needs a payer of its own"
        ledger.create_order(
            declined_order.amount,
            merchant_id=declined_order.merchant_id,
            payer_id=declined_order.payer_id,
            trade_no=declined_order.trade_no,
        )
        declined = service.pay_blocking(
            PaymentRequest(PaymentType.ORDER_ID, declined_order.trade_no), sample_context(declined_order.payer_id)
        )
        assert declined.result_code is ResultCode.FAILED, declined
        payment = ledger.get_payment(declined.extended_info["paymentId"])
        assert payment is not None
        (record,) = payment.attempts
        assert record.kind is OutcomeKind.ANSWER, record
        assert record.result is not None
        return record.result

    def _voided_decline(self, provider: object, payable_order: Order) -> PaymentResult:
        """The provider's answer to a ``pay`` of another payer's order under a key an inquiry voided first."""
        handle = self._handle(provider)
        if handle.inquire is None:
            pytest.skip("this provider declares no inquire hook: define the declined_order fixture instead")
        other = replace(payable_order, trade_no=f"{payable_order.trade_no}-other", payer_id="conformance-other-payer")
        attempt = self._attempt(other, 5)
        assert self._call(handle, "inquire", other, attempt) is ProviderStatus.NOT_PAID
        answer = self._call(handle, "pay", other, attempt)
        assert isinstance(answer, PaymentResult), answer
        return answer


def _reason(answer: object) -> str | None:
    """The ``reason`` of a refusal (which must be a ``4000`` about this payment), for the replay checks."""
    assert isinstance(answer, PaymentResult), answer
    assert answer.result_code is ResultCode.FAILED, answer
    assert FailureScope.of(answer) is FailureScope.PAYMENT, answer
    return answer.reason


def _check_failure_scope(answer: PaymentResult) -> None:
    """A success says no failure scope; any other answer says one of the documented ones, or none."""
    scope = answer.extended_info.get(FailureScope.KEY)
    if answer.result_code is ResultCode.SUCCESS:
        assert scope is None, f"a 9000 answer must not carry {FailureScope.KEY!r}: {answer}"
    elif scope is not None:
        known = ", ".join(repr(member.value) for member in FailureScope)
        assert FailureScope.of(answer) is not None, f"{FailureScope.KEY!r} is {scope!r}, not one of {known}"
