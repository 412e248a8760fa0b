"""The SPI models refuse bad input with an error naming the field, and carry the SDK's codes."""

from __future__ import annotations

from typing import Any

import pytest

from tradepay import (
    APIContext,
    ErrorCode,
    InvalidInput,
    MiniProgramMetaData,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ResultCode,
    ResultError,
)


def test_error_codes_are_the_seeds_table() -> None:
    assert {int(c): c.seed_name for c in ErrorCode} == {
        1000: "ERROR_CODE_UNKNOWN_ERROR",
        1001: "ERROR_CODE_USER_CANCEL",
        1002: "ERROR_CODE_APP_SERVICE_ERROR",
        1003: "ERROR_CODE_TIMEOUT",
        1005: "ERROR_CODE_SYSTEM_ERROR",
        2001: "ERROR_CODE_AUTH_PENDING_AGREEMENT",
    }
    assert ErrorCode["ERROR_CODE_USER_CANCEL"] is ErrorCode.USER_CANCEL
    with pytest.raises(ValueError, match="1004"):
        ErrorCode(1004)


def test_result_codes_are_the_sdks() -> None:
    assert [c.value for c in ResultCode] == ["9000", "8000", "4000", "6001", "6002", "6004"]


@pytest.mark.parametrize(
    ("currency", "value", "shown"),
    [
        ("USD", "100", "USD 1.00"),
        ("JPY", "1", "JPY 1"),
        ("KWD", "1000", "KWD 1.000"),
        ("KRW", "5", "KRW 5"),
        ("BHD", "5", "BHD 0.005"),
        ("EUR", "999999999999999999", "EUR 9999999999999999.99"),
    ],
)
def test_amounts_are_minor_units_of_their_currency(currency: str, value: str, shown: str) -> None:
    amount = PaymentAmount(currency, value)
    assert str(amount) == shown
    assert amount.minor_units == int(value)


@pytest.mark.parametrize(
    ("currency", "value", "field", "reason"),
    [
        ("usd", "100", "payment_amount.currency", "not an ISO 4217"),
        ("XXX", "100", "payment_amount.currency", "transactions without a currency"),
        ("", "100", "payment_amount.currency", "not an ISO 4217"),
        ("US D", "100", "payment_amount.currency", "not an ISO 4217"),
        (840, "100", "payment_amount.currency", "must be a string"),
        ("USD", "-100", "payment_amount.value", "not a natural number"),
        ("USD", "1.00", "payment_amount.value", "not a natural number"),
        ("USD", "1e3", "payment_amount.value", "not a natural number"),
        ("USD", " 100", "payment_amount.value", "not a natural number"),
        ("USD", "\u0661\u0660\u0660", "payment_amount.value", "not a natural number"),  # Arabic-Indic digits
        ("USD", "²", "payment_amount.value", "not a natural number"),
        ("USD", "", "payment_amount.value", "must not be empty"),
        ("USD", "0", "payment_amount.value", "greater than zero"),
        ("USD", "0100", "payment_amount.value", "leading zero"),
        ("USD", "9" * 19, "payment_amount.value", "longer than 18"),
        ("USD", "1" * 10_000, "payment_amount.value", "longer than 18"),
        ("USD", 100, "payment_amount.value", "must be a string"),
        ("USD", 1.0, "payment_amount.value", "must be a string"),
        ("USD", "1;DROP TABLE x", "payment_amount.value", "not a natural number"),
    ],
)
def test_bad_amounts_name_the_field(currency: Any, value: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as info:
        PaymentAmount(currency, value)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "CASH", "payment_string": "T1"}, "type"),
        ({"type": PaymentType.ORDER_ID, "payment_string": ""}, "payment_string"),
        ({"type": PaymentType.ORDER_ID, "payment_string": "   "}, "payment_string"),
        ({"type": PaymentType.ORDER_ID, "payment_string": "x" * 5000}, "payment_string"),
        ({"type": PaymentType.ORDER_ID, "payment_string": "T\x001"}, "payment_string"),
        ({"type": PaymentType.ORDER_ID, "payment_string": 12}, "payment_string"),
        (
            {"type": PaymentType.ORDER_ID, "payment_string": "T1", "payment_amount": {"currency": "USD"}},
            "payment_amount",
        ),
        ({"type": PaymentType.ORDER_ID, "payment_string": "T1", "extended_info": ["a"]}, "extended_info"),
        ({"type": PaymentType.ORDER_ID, "payment_string": "T1", "extended_info": {"k": 1}}, "extended_info['k']"),
        (
            {"type": PaymentType.ORDER_ID, "payment_string": "T1", "extended_info": {str(i): "" for i in range(65)}},
            "extended_info",
        ),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        PaymentRequest(**kwargs)
    assert info.value.field == field


def test_request_accepts_the_type_as_a_string_and_freezes_extended_info() -> None:
    info = {"k": "v"}
    request = PaymentRequest("ORDER_STRING", "tradeNO=T1", None, info)  # type: ignore[arg-type]
    assert request.type is PaymentType.ORDER_STRING
    info["k"] = "changed"
    assert request.extended_info == {"k": "v"}
    with pytest.raises(TypeError):
        request.extended_info["k"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: APIContext(""), "api_context.source"),
        (lambda: APIContext(None), "api_context.source"),  # type: ignore[arg-type]
        (lambda: APIContext("app", mini_program_info="x"), "api_context.mini_program_info"),  # type: ignore[arg-type]
        (lambda: APIContext("app", extended_info={"userId": 7}), "api_context.extended_info['userId']"),  # type: ignore[dict-item]
        (lambda: MiniProgramMetaData(app_id=5), "mini_program_info.app_id"),  # type: ignore[arg-type]
        (lambda: PaymentResult("9999", "x"), "result_code"),  # type: ignore[arg-type]
        (lambda: PaymentResult(ResultCode.SUCCESS, "x", ResultError(ErrorCode.USER_CANCEL, "x")), "result_error"),
        (lambda: PaymentResult(ResultCode.FAILED, 5), "result_message"),  # type: ignore[arg-type]
        (lambda: PaymentResult(ResultCode.FAILED, "x", "boom"), "result_error"),  # type: ignore[arg-type]
        (lambda: ResultError(1004, "x"), "result_error.error_code"),  # type: ignore[arg-type]
        (lambda: ResultError(True, "x"), "result_error.error_code"),  # type: ignore[arg-type]
        (lambda: ResultError("1001", "x"), "result_error.error_code"),  # type: ignore[arg-type]
        (lambda: Order("T 1", PaymentAmount("USD", "1"), "m", "p"), "trade_no"),
        (lambda: Order("T" * 65, PaymentAmount("USD", "1"), "m", "p"), "trade_no"),
        (lambda: Order("T1", PaymentAmount("USD", "1"), "m';--", "p"), "merchant_id"),
        (lambda: Order("T1", PaymentAmount("USD", "1"), "m", ""), "payer_id"),
        (lambda: Order("T1", "USD 1", "m", "p"), "amount"),  # type: ignore[arg-type]
        (lambda: Order("T1", PaymentAmount("USD", "1"), "m", "p", expires_at="soon"), "expires_at"),  # type: ignore[arg-type]
    ],
)
def test_every_public_constructor_refuses_bad_input(build: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build()
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_result_speaks_the_sdks_json() -> None:
    result = PaymentResult(
        ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, "no money"), {"reason": "X"}
    )
    assert result.has_error
    assert result.reason == "X"
    assert result.to_dict() == {
        "resultCode": "4000",
        "resultMessage": "declined",
        "hasError": True,
        "resultError": {"errorCode": 1002, "errorDesc": "no money"},
        "extendedInfo": {"reason": "X"},
    }
    assert PaymentResult(ResultCode.SUCCESS).to_dict() == {"resultCode": "9000", "resultMessage": "", "hasError": False}


def test_context_carries_the_app_id() -> None:
    assert APIContext("app", MiniProgramMetaData(app_id="A1")).app_id == "A1"
    assert APIContext("app").app_id is None
