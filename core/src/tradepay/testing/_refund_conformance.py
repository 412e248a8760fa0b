"""The conformance suite's refund checks, part of :class:`~tradepay.testing.ProviderConformance`.

For a provider with a ``refund`` hook: a repeated refund key answers the first answer and moves nothing again;
the refunds of one attempt never add up to more than it took; a refund key that ``inquire_refund`` saw first
is tombstoned, so a later ``refund`` with it moves nothing. For a provider without one, each check makes sure
instead that the host refuses its payments' refunds as not refundable, recording nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pluggy
import pytest

from .._chain import hookspecs as _hookspecs
from .._chain.capabilities import Attempt
from .._chain.providers import HookCall, bind_hook
from .._chain.threads import DaemonPool
from .._host import Host
from .._ledger.memory import MemoryLedger
from .._ledger.orders import Order
from .._refunding import RefundService
from .._service import PaymentService
from .._spi.models import PaymentAmount, PaymentRequest, PaymentResult, PaymentType, ResultCode
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome, ResultStatus
from . import sample_context, sample_refund

__all__ = ["RefundConformance"]


class RefundConformance:
    """The refund checks (mixed into :class:`~tradepay.testing.ProviderConformance`; they use its
    ``provider`` and ``payable_order`` fixtures and its ``provider_name``)."""

    provider_name: ClassVar[str]

    def _refund_hooks(self, provider: object) -> tuple[HookCall | None, HookCall | None]:
        pm = pluggy.PluginManager(_hookspecs.PROJECT)
        pm.add_hookspecs(_hookspecs)
        pm.register(provider, name=self.provider_name)
        return bind_hook(pm, "refund", provider), bind_hook(pm, "inquire_refund", provider)

    def _refundable(self, provider: object, order: Order) -> tuple[HookCall, HookCall | None] | None:
        """The provider's ``refund`` and ``inquire_refund`` hooks; ``None`` for a provider without ``refund``,
        once the host was seen to refuse its refunds (:meth:`_check_not_refundable`)."""
        refund, inquire = self._refund_hooks(provider)
        if refund is None:
            self._check_not_refundable(provider, order)
            return None
        return refund, inquire

    def _check_not_refundable(self, provider: object, order: Order) -> None:
        """Pay ``order`` through a host, then ask to refund it: ``F NOT_REFUNDABLE``, nothing recorded."""
        ledger = MemoryLedger()
        ledger.create_order(
            order.amount, merchant_id=order.merchant_id, payer_id=order.payer_id, trade_no=order.trade_no
        )
        host = Host.from_providers({self.provider_name: provider}, ledger=ledger)
        with PaymentService(host) as service:
            paid = service.pay_blocking(
                PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context(order.payer_id)
            )
        assert paid.result_code is ResultCode.SUCCESS, paid
        answer = RefundService(host).refund(order.trade_no, PaymentAmount(order.amount.currency, "1"), "r-conformance")
        assert (answer.result_status, answer.result_code) == (ResultStatus.FAILED, "NOT_REFUNDABLE"), answer
        assert ledger.refunds() == []

    def _run(self, call: HookCall, available: dict[str, Any]) -> Any:
        pool = DaemonPool(2)
        try:
            return asyncio.run(call(available, 10.0, pool))
        finally:
            pool.shutdown()

    def _paid_attempt(self, provider: object, order: Order, number: int) -> Attempt:
        """An attempt of ``order`` that ``provider`` paid (through its own ``pay`` hook)."""
        pm = pluggy.PluginManager(_hookspecs.PROJECT)
        pm.add_hookspecs(_hookspecs)
        pm.register(provider, name=self.provider_name)
        pay = bind_hook(pm, "pay", provider)
        assert pay is not None
        payment_id = f"pay_refund_conformance_{order.trade_no}"
        attempt = Attempt(payment_id, number, self.provider_name, f"{payment_id}-{number}")
        available = {
            "payment_request": PaymentRequest(PaymentType.ORDER_ID, order.trade_no),
            "api_context": sample_context(order.payer_id),
            "order": order,
            "attempt": attempt,
        }
        paid = self._run(pay, available)
        assert isinstance(paid, PaymentResult)
        assert paid.result_code is ResultCode.SUCCESS, paid
        return attempt

    @staticmethod
    def _refund(order: Order, attempt: Attempt, key: str, minor_units: int) -> Refund:
        amount = PaymentAmount(order.amount.currency, str(minor_units))
        return sample_refund(attempt, amount, key=key, trade_no=order.trade_no, merchant_id=order.merchant_id)

    def _ask(self, call: HookCall, order: Order, refund: Refund) -> Any:
        return self._run(call, {"order": order, "attempt": refund.attempt, "refund": refund})

    # --- the checks -----------------------------------------------------------------------------------------

    def test_a_repeated_refund_key_gets_the_first_answer(self, provider: object, payable_order: Order) -> None:
        if (hooks := self._refundable(provider, payable_order)) is None:
            return  # not refundable, as the host said
        refund_hook, inquire = hooks
        half = max(1, payable_order.amount.minor_units // 2)
        refund = self._refund(payable_order, self._paid_attempt(provider, payable_order, 11), "rfd_conf_repeat", half)
        first = self._ask(refund_hook, payable_order, refund)
        assert isinstance(first, RefundAnswer)
        assert first.outcome is RefundOutcome.SUCCEEDED, first
        assert self._ask(refund_hook, payable_order, refund) == first
        if inquire is not None:
            assert self._ask(inquire, payable_order, refund) is RefundOutcome.SUCCEEDED

    def test_a_refund_never_exceeds_the_attempts_amount(self, provider: object, payable_order: Order) -> None:
        if (hooks := self._refundable(provider, payable_order)) is None:
            return  # not refundable, as the host said
        total = payable_order.amount.minor_units
        refund_hook, _ = hooks
        attempt = self._paid_attempt(provider, payable_order, 12)
        too_much = self._ask(
            refund_hook, payable_order, self._refund(payable_order, attempt, "rfd_conf_over", total + 1)
        )
        assert isinstance(too_much, RefundAnswer)
        assert too_much.outcome is RefundOutcome.FAILED, too_much
        most = max(1, total * 6 // 10)
        first = self._ask(refund_hook, payable_order, self._refund(payable_order, attempt, "rfd_conf_most", most))
        assert first.outcome is RefundOutcome.SUCCEEDED, first
        again = self._ask(refund_hook, payable_order, self._refund(payable_order, attempt, "rfd_conf_again", most))
        assert again.outcome is RefundOutcome.FAILED, again  # together more than the attempt took
        if total > most:
            rest = self._ask(
                refund_hook, payable_order, self._refund(payable_order, attempt, "rfd_conf_rest", total - most)
            )
            assert rest.outcome is RefundOutcome.SUCCEEDED, rest

    def test_inquiry_of_an_unseen_refund_key_tombstones_it(self, provider: object, payable_order: Order) -> None:
        if (hooks := self._refundable(provider, payable_order)) is None:
            return  # not refundable, as the host said
        refund_hook, inquire = hooks
        if inquire is None:
            pytest.skip("this provider declares no inquire_refund hook: unknown refunds go to reconciliation")
        attempt = self._paid_attempt(provider, payable_order, 13)
        refund = self._refund(payable_order, attempt, "rfd_conformance_unseen", 1)
        assert self._ask(inquire, payable_order, refund) is RefundOutcome.FAILED
        late = self._ask(refund_hook, payable_order, refund)
        assert isinstance(late, RefundAnswer)
        assert late.outcome is RefundOutcome.FAILED, late
        assert self._ask(inquire, payable_order, refund) is RefundOutcome.FAILED
