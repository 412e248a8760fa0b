"""A payment the host fails before any money can move is answered ``4000``, never ``6004`` ("may be a
success"): that answer is kept for payments a provider may have charged."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    APIContext,
    Attempt,
    ErrorCode,
    InvalidInput,
    MiniProgramMetaData,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentType,
    ResultCode,
    SQLiteLedger,
    trade_pay,
)
from tradepay.testing import ReferenceProvider, build_service, sample_context

USD = PaymentAmount("USD", "100")


class FlakyLedger(SQLiteLedger):
    """A SQLite ledger whose ``begin_payment`` or ``start_attempt`` fails on the calls numbered in ``fail``."""

    def __init__(self, path: Path, *, begin: set[int] | None = None, start: set[int] | None = None) -> None:
        super().__init__(path)
        self.fail = {"begin": begin or set(), "start": start or set()}
        self.calls = {"begin": 0, "start": 0}

    def _count(self, what: str) -> None:
        self.calls[what] += 1
        if self.calls[what] in self.fail[what]:
            raise sqlite3.OperationalError("disk I/O error")

    def begin_payment(self, order: Order, app_id: str | None) -> Any:
        self._count("begin")
        return super().begin_payment(order, app_id)

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        self._count("start")
        return super().start_attempt(payment_id, provider)


def pay(ledger: SQLiteLedger, *providers: ReferenceProvider) -> tuple[PaymentResult, Order]:
    named = {f"p{i}": provider for i, provider in enumerate(providers, 1)}
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice")
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
    with build_service(named, ledger=ledger) as service:
        return service.pay_blocking(request, sample_context("alice")), order


def assert_uncharged_failure(result: PaymentResult) -> None:
    assert result.result_code is ResultCode.FAILED, result
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR
    assert result.result_message.endswith("(OperationalError); nothing was charged")


def test_a_ledger_failure_in_begin_payment_is_a_failure_not_an_unknown_result(tmp_path: Path) -> None:
    provider = ReferenceProvider()
    ledger = FlakyLedger(tmp_path / "ledger.sqlite3", begin={1})
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice")
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
    with build_service({"p": provider}, ledger=ledger) as service:
        result = service.pay_blocking(request, sample_context("alice"))
        assert_uncharged_failure(result)
        assert result.result_message.startswith("the payment could not be recorded")
        assert provider.calls == []
        assert ledger.payments(trade_no=order.trade_no) == []
        # Nothing was recorded, so the order is paid by the next request as if the failure never happened.
        assert service.pay_blocking(request, sample_context("alice")).result_code is ResultCode.SUCCESS
    assert provider.charged == 100


def test_a_ledger_failure_before_the_first_attempt_fails_the_payment(tmp_path: Path) -> None:
    provider = ReferenceProvider()
    ledger = FlakyLedger(tmp_path / "ledger.sqlite3", start={1})
    result, order = pay(ledger, provider)
    assert_uncharged_failure(result)
    assert provider.calls == []
    [payment] = ledger.payments(trade_no=order.trade_no)
    assert payment.status is PaymentStatus.FAILED
    assert payment.result == result
    assert result.extended_info["paymentId"] == payment.payment_id


def test_a_ledger_failure_after_a_provider_declined_is_still_a_failure(tmp_path: Path) -> None:
    declining, second = ReferenceProvider(script=["decline"]), ReferenceProvider()
    ledger = FlakyLedger(tmp_path / "ledger.sqlite3", start={2})
    result, order = pay(ledger, declining, second)
    assert_uncharged_failure(result)
    assert second.calls == []
    assert declining.charged == 0
    [payment] = ledger.payments(trade_no=order.trade_no)
    assert payment.status is PaymentStatus.FAILED


def test_a_failure_after_a_provider_may_have_charged_is_still_unknown(tmp_path: Path) -> None:
    # The first provider's outcome is unknown and stays so: falling through is forbidden, and the host's
    # failure to record the second attempt must not turn "may be a success" into "failed".
    hanging = ReferenceProvider(script=["unknown_result"], inquiry="unknown", cancel="refuse")
    ledger = FlakyLedger(tmp_path / "ledger.sqlite3")
    result, order = pay(ledger, hanging)
    assert result.result_code is ResultCode.UNKNOWN
    [payment] = ledger.payments(trade_no=order.trade_no)
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION


def test_a_host_failure_after_a_charge_is_still_unknown(tmp_path: Path) -> None:
    provider = ReferenceProvider()
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")

    def broken(*args: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    ledger.finish_payment = broken  # type: ignore[method-assign,assignment]
    result, _order = pay(ledger, provider)
    assert result.result_code is ResultCode.UNKNOWN
    assert provider.charged == 100


def test_text_the_ledger_cannot_store_is_refused_before_the_payment_starts(tmp_path: Path) -> None:
    # Before, MiniProgramMetaData(app_id="\ud800") was accepted, the SQLite ledger failed in begin_payment
    # and the answer was 6004 although no provider was called. The context cannot be made now, and the
    # bridge, which builds the request from what the mini program sent, answers the JSAPI's error 2.
    with pytest.raises(InvalidInput) as info:
        MiniProgramMetaData(app_id="\ud800")
    assert info.value.field == "mini_program_info.app_id"
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    provider = ReferenceProvider()
    with build_service({"p": provider}, ledger=ledger) as service:
        answer = trade_pay(service, {"tradeNO": "T\ud800"}, APIContext("miniprogram"))
    assert answer["error"] == 2
    assert provider.calls == []
