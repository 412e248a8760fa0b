"""A request may pay only an order it can name honestly: the signer of an order string, and the mini program's
merchant when the container says it, must be the order's merchant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tradepay import (
    APIContext,
    ChainSettings,
    MemoryLedger,
    MiniProgramMetaData,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentService,
    PaymentType,
    ResultCode,
)
from tradepay._ledger.orderstring import sign_order_string
from tradepay.testing import ReferenceProvider, build_service, sample_context

SECRETS = {"m1": "the-secret-of-merchant-m1", "m2": "the-secret-of-merchant-m2"}


@pytest.fixture
def a() -> ReferenceProvider:
    return ReferenceProvider()


@pytest.fixture
def service(a: ReferenceProvider) -> Iterator[PaymentService]:
    ledger = MemoryLedger(merchant_secrets=SECRETS)
    with build_service({"a": a}, chain=ChainSettings(("a",)), ledger=ledger) as made:
        yield made


def order_of(service: PaymentService, merchant_id: str) -> Order:
    return service.host.ledger.create_order(PaymentAmount("USD", "250"), merchant_id=merchant_id, payer_id="alice")


def pay(service: PaymentService, payment_type: PaymentType, text: str, context: APIContext | None = None) -> Any:
    return service.pay_blocking(PaymentRequest(payment_type, text), context or sample_context("alice"))


def test_one_merchants_signature_does_not_pay_another_merchants_order(
    service: PaymentService, a: ReferenceProvider
) -> None:
    theirs = order_of(service, "m2")
    forged = sign_order_string("m1", theirs.trade_no, SECRETS["m1"])
    result = pay(service, PaymentType.ORDER_STRING, forged)
    assert result.result_code is ResultCode.FAILED
    assert "names no order of merchant 'm1'" in result.result_message
    assert a.calls == []
    assert service.host.ledger.payments(trade_no=theirs.trade_no) == []
    # m2's own signature pays it.
    own = sign_order_string("m2", theirs.trade_no, SECRETS["m2"])
    assert pay(service, PaymentType.ORDER_STRING, own).result_code is ResultCode.SUCCESS
    assert a.charged == 250


def test_an_order_of_a_merchant_without_a_secret_cannot_be_named_by_an_order_string(
    service: PaymentService, a: ReferenceProvider
) -> None:
    unsigned = order_of(service, "m9")  # m9 has no secret
    result = pay(service, PaymentType.ORDER_STRING, sign_order_string("m1", unsigned.trade_no, SECRETS["m1"]))
    assert result.result_code is ResultCode.FAILED
    assert "names no order of merchant 'm1'" in result.result_message
    assert a.calls == []


def test_a_non_ascii_sign_is_a_clear_refusal_not_a_type_error(service: PaymentService, a: ReferenceProvider) -> None:
    made = order_of(service, "m1")
    result = pay(service, PaymentType.ORDER_STRING, f"merchantId=m1&tradeNO={made.trade_no}&sign=%C3%A9")
    assert result.result_code is ResultCode.FAILED
    assert result.result_message == "payment_string.sign: the signature does not match"
    assert a.calls == []


def context_of(merchant_id: str | None) -> APIContext:
    info = MiniProgramMetaData(app_id="2021000000000001", merchant_id=merchant_id)
    return APIContext("miniprogram", info, {"userId": "alice"})


def test_a_mini_program_of_one_merchant_cannot_pay_another_merchants_order(
    service: PaymentService, a: ReferenceProvider
) -> None:
    made = order_of(service, "m1")
    refused = pay(service, PaymentType.ORDER_ID, made.trade_no, context_of("m2"))
    assert refused.result_code is ResultCode.FAILED
    assert "mini_program_info.merchant_id is not the merchant of order" in refused.result_message
    assert a.calls == []
    # The order's own mini program pays it; a container that does not say the merchant is not refused.
    assert pay(service, PaymentType.ORDER_ID, made.trade_no, context_of("m1")).result_code is ResultCode.SUCCESS
    other = order_of(service, "m1")
    assert pay(service, PaymentType.ORDER_ID, other.trade_no, context_of(None)).result_code is ResultCode.SUCCESS
    assert a.charged == 500


def test_an_order_another_book_reports_paid_is_never_charged_again(a: ReferenceProvider) -> None:
    from tradepay import OrderStatus, hookimpl

    paid_elsewhere = Order("EXT-PAID", PaymentAmount("USD", "250"), "m1", "alice", status=OrderStatus.PAID)

    class Catalogue:
        @hookimpl
        def resolve_order(self, payment_request: PaymentRequest) -> Order | None:
            return paid_elsewhere if payment_request.payment_string == "EXT-PAID" else None

    ledger = MemoryLedger(merchant_secrets=SECRETS)
    with build_service({"a": a}, chain=ChainSettings(("a",)), ledger=ledger, plugins={"catalogue": Catalogue()}) as s:
        result = pay(s, PaymentType.ORDER_ID, "EXT-PAID")
        assert result.result_code is ResultCode.FAILED
        assert result.result_message == "order EXT-PAID is already paid"
        assert s.host.ledger.payments(trade_no="EXT-PAID") == []
    assert a.calls == []


def test_a_repeat_of_an_order_paid_here_is_still_the_stored_answer(
    service: PaymentService, a: ReferenceProvider
) -> None:
    made = order_of(service, "m1")
    first = pay(service, PaymentType.ORDER_ID, made.trade_no)
    again = pay(service, PaymentType.ORDER_ID, made.trade_no)
    assert first.result_code is ResultCode.SUCCESS
    assert again == first
    assert a.charged == 250
