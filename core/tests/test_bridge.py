"""The my.tradePay bridge answers as the SDK's container does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tradepay import PaymentRequest, PaymentType, trade_pay, trade_pay_async, trade_pay_request
from tradepay.testing import ReferenceProvider, sample_context


@pytest.mark.parametrize(
    ("params", "payment_type", "text"),
    [
        ({"tradeNO": "T1"}, PaymentType.ORDER_ID, "T1"),
        ({"orderStr": "tradeNO=T1", "tradeNO": "T2"}, PaymentType.ORDER_STRING, "tradeNO=T1"),
        (
            {"paymentUrl": "https://c/pay?tradeNO=T1", "orderStr": "x", "tradeNO": "T2"},
            PaymentType.CASHIER_URL,
            "https://c/pay?tradeNO=T1",
        ),
        ({"paymentUrl": "", "orderStr": "", "tradeNO": "T3"}, PaymentType.ORDER_ID, "T3"),
        ({"tradeNO": "T" * 64}, PaymentType.ORDER_ID, "T" * 64),
    ],
)
def test_the_request_follows_the_containers_priority(
    params: dict[str, Any], payment_type: PaymentType, text: str
) -> None:
    assert trade_pay_request(params) == PaymentRequest(payment_type, text)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "one of paymentUrl, orderStr or tradeNO is required"),
        ({"tradeNO": "", "orderStr": "", "paymentUrl": ""}, "one of paymentUrl, orderStr or tradeNO is required"),
        ({"tradeNO": "T" * 65}, "tradeNO: is longer than 64"),
        ({"tradeNO": 12}, "tradeNO: must be a string"),
        ({"paymentUrl": ["x"]}, "paymentUrl: must be a string"),
        ("tradeNO=T1", "params: must be an object"),
    ],
)
def test_invalid_parameters_are_error_2(params: Any, message: str) -> None:
    answer = trade_pay(None, params, sample_context())
    assert answer["error"] == 2
    assert message in answer["errorMessage"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"paymentUrl": "   ", "tradeNO": "T1"}, "paymentUrl: is blank (only whitespace)"),
        ({"orderStr": "\t\n"}, "orderStr: is blank (only whitespace)"),
        ({"tradeNO": " "}, "tradeNO: is blank (only whitespace)"),
        ({"orderStr": "x" * 5000}, "orderStr: is longer than 4096 characters"),
        (
            {"paymentUrl": "https://c/pay?tradeNO=T1\x00"},
            "paymentUrl: must not contain NUL characters; the first is at character 24",
        ),
        ({"tradeNO": "T\x00"}, "tradeNO: must not contain NUL characters; the first is at character 1"),
    ],
)
def test_error_2_names_the_parameter_the_mini_program_sent(params: dict[str, Any], message: str) -> None:
    answer = trade_pay(None, params, sample_context())
    assert answer == {"error": 2, "errorMessage": message}
    assert "payment_string" not in answer["errorMessage"]


@pytest.mark.parametrize(
    ("params", "payment_type", "text"),
    [
        ({"paymentUrl": None, "orderStr": None, "tradeNO": "T1"}, PaymentType.ORDER_ID, "T1"),
        ({"paymentUrl": None, "orderStr": "o=1"}, PaymentType.ORDER_STRING, "o=1"),
    ],
)
def test_a_none_parameter_is_absent(params: dict[str, Any], payment_type: PaymentType, text: str) -> None:
    assert trade_pay_request(params) == PaymentRequest(payment_type, text)


def test_all_parameters_none_is_error_2() -> None:
    answer = trade_pay(None, {"paymentUrl": None, "orderStr": None, "tradeNO": None}, sample_context())
    assert answer == {"error": 2, "errorMessage": "tradeNO: one of paymentUrl, orderStr or tradeNO is required"}


def test_no_service_is_error_3() -> None:
    assert trade_pay(None, {"tradeNO": "T1"}, sample_context()) == {
        "error": 3,
        "errorMessage": "no PaymentService is registered",
    }


def test_a_failing_service_is_error_3() -> None:
    class Exploding:
        def pay_blocking(self, *args: Any) -> Any:
            raise RuntimeError("boom")

    answer = trade_pay(Exploding(), {"tradeNO": "T1"}, sample_context())  # type: ignore[arg-type]
    assert answer == {"error": 3, "errorMessage": "the payment service failed: RuntimeError"}


def test_a_service_that_returns_no_result_is_error_3() -> None:
    class Silent:
        def pay_blocking(self, *args: Any) -> Any:
            return None

    answer = trade_pay(Silent(), {"tradeNO": "T1"}, sample_context())  # type: ignore[arg-type]
    assert answer["error"] == 3


@pytest.mark.parametrize(("script", "code"), [("success", "9000"), ("user_cancel", "6001"), ("decline", "4000")])
def test_the_result_code_reaches_the_mini_program_unchanged(bench_factory: Any, script: str, code: str) -> None:
    bench = bench_factory(a=ReferenceProvider(script=[script]))
    order = bench.order()
    assert trade_pay(bench.service, {"tradeNO": order.trade_no}, sample_context("alice")) == {"resultCode": code}


def test_the_async_bridge_pays_through_a_cashier_url(bench_factory: Any) -> None:
    bench = bench_factory(a=ReferenceProvider())
    order = bench.order()
    params = {"paymentUrl": bench.ledger.cashier_url(order.trade_no)}
    assert asyncio.run(trade_pay_async(bench.service, params, sample_context("alice"))) == {"resultCode": "9000"}
    assert asyncio.run(trade_pay_async(None, {}, sample_context()))["error"] == 2
