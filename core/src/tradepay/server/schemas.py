"""The JSON bodies of the API, as pydantic models: strict types, unknown fields refused, the Alipay+ names.

:func:`parse` reads a body into a model or raises the :class:`~tradepay.server.errors.ApiError` that names
the field: malformed JSON is ``400``, a wrong type, a missing or an unknown field ``422``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ApiError

__all__ = [
    "Amount",
    "ClientPayRequest",
    "CreateOrderAnswer",
    "CreateOrderRequest",
    "ErrorAnswer",
    "REFUSALS",
    "answers",
    "InquiryAnswer",
    "PaymentInquiryRequest",
    "Result",
    "SdkApiContext",
    "SdkMiniProgram",
    "SdkPaymentRequest",
    "SdkPaymentResult",
    "parse",
    "schema_of",
]

Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    """A request body: strict types, unknown fields refused, the JSON names (aliases) only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


class Amount(Body):
    """An amount: an ISO 4217 currency and a natural number in its minor unit, as a string (USD 1.00 is
    ``"100"``)."""

    currency: str = Field(max_length=3)
    value: str = Field(max_length=40)


class CreateOrderRequest(Body):
    """``POST /v1/orders/create``: the merchant's order. ``referenceOrderId`` is the idempotency key."""

    reference_order_id: str = Field(alias="referenceOrderId", max_length=64)
    order_amount: Amount = Field(alias="orderAmount")
    user_id: str = Field(alias="userId", max_length=64, description="the super app user who pays")
    order_description: str | None = Field(default=None, alias="orderDescription", max_length=256)
    payment_expiry_time: str | None = Field(
        default=None, alias="paymentExpiryTime", max_length=40, description="ISO 8601 with an offset"
    )


class PaymentInquiryRequest(Body):
    """``POST /v1/payments/inquiry``: exactly one of ``tradeNO`` and ``referenceOrderId``."""

    trade_no: str | None = Field(default=None, alias="tradeNO", max_length=64)
    reference_order_id: str | None = Field(default=None, alias="referenceOrderId", max_length=64)


class Result(BaseModel):
    """Every answer's ``result``: ``resultStatus`` ``S`` (success), ``F`` (failed) or ``U`` (unknown)."""

    result_status: str = Field(alias="resultStatus")
    result_code: str = Field(alias="resultCode")
    result_message: str = Field(alias="resultMessage")


class ErrorAnswer(BaseModel):
    """A refusal: only ``result``, its ``resultStatus`` ``F`` (``U`` for a host failure)."""

    result: Result


#: What each refusal status means, for the OpenAPI document.
REFUSALS = {
    400: "the body is not valid JSON",
    401: "unsigned, mis-signed, stale or unknown merchant; or no signed-in user",
    403: "the body names another user than the signed-in one",
    413: "the body is larger than the limit",
    422: "a field missing, unknown, of the wrong type or refused",
    500: "the host failed (logged); never a traceback",
}


def answers(model: type[BaseModel], *refusals: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route answering ``model``, or one of ``refusals`` as an ``ErrorAnswer``."""
    documented: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    for status in refusals:
        documented[status] = {"model": ErrorAnswer, "description": REFUSALS[status]}
    return documented


class CreateOrderAnswer(BaseModel):
    """The answer of ``POST /v1/orders/create``."""

    result: Result
    trade_no: str | None = Field(default=None, alias="tradeNO")
    payment_url: str | None = Field(default=None, alias="paymentUrl")
    order_str: str | None = Field(default=None, alias="orderStr")


class InquiryAnswer(BaseModel):
    """The answer of ``POST /v1/payments/inquiry``."""

    result: Result
    trade_no: str | None = Field(default=None, alias="tradeNO")
    payment_status: str | None = Field(default=None, alias="paymentStatus")
    payment_amount: Amount | None = Field(default=None, alias="paymentAmount")
    payment_id: str | None = Field(default=None, alias="paymentId")
    provider: str | None = None
    payment_time: str | None = Field(default=None, alias="paymentTime")


class SdkPaymentRequest(Body):
    """The SPI's ``PaymentRequest`` in the SDK's JSON names."""

    type: str = Field(max_length=40, description="ORDER_ID, PAYMENT_ID, CASHIER_URL or ORDER_STRING")
    payment_string: str = Field(alias="paymentString", max_length=4096)
    payment_amount: Amount | None = Field(default=None, alias="paymentAmount")
    extended_info: dict[str, str] | None = Field(default=None, alias="extendedInfo")


class SdkMiniProgram(Body):
    """The SPI's ``MiniProgramMetaData`` in the SDK's JSON names; every field optional."""

    app_id: str | None = Field(default=None, alias="appId")
    merchant_id: str | None = Field(default=None, alias="merchantId")
    client_id: str | None = Field(default=None, alias="clientId")
    acquirer_id: str | None = Field(default=None, alias="acquirerId")
    name: str | None = None
    logo: str | None = None
    app_type: str | None = Field(default=None, alias="appType")
    deploy_version: str | None = Field(default=None, alias="deployVersion")
    developer_version: str | None = Field(default=None, alias="developerVersion")
    desc: str | None = None


class SdkApiContext(Body):
    """The SPI's ``APIContext`` in the SDK's JSON names."""

    source: str = Field(max_length=256)
    mini_program_info: SdkMiniProgram | None = Field(default=None, alias="miniProgramInfo")
    extended_info: dict[str, str] | None = Field(default=None, alias="extendedInfo")


class ClientPayRequest(Body):
    """``POST /v1/client/pay``: the SPI's ``PaymentRequest`` and ``APIContext`` in the SDK's JSON names."""

    payment_request: SdkPaymentRequest = Field(alias="paymentRequest")
    api_context: SdkApiContext = Field(alias="apiContext")


class SdkResultError(BaseModel):
    """``PaymentResult.resultError``."""

    error_code: int = Field(alias="errorCode")
    error_desc: str = Field(alias="errorDesc")


class SdkPaymentResult(BaseModel):
    """The SPI's ``PaymentResult`` in the SDK's JSON names: the answer of ``POST /v1/client/pay``."""

    result_code: str = Field(alias="resultCode")
    result_message: str = Field(alias="resultMessage")
    has_error: bool = Field(alias="hasError")
    result_error: SdkResultError | None = Field(default=None, alias="resultError")
    extended_info: dict[str, str] | None = Field(default=None, alias="extendedInfo")


def _where(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def parse(model: type[Model], body: bytes) -> Model:
    """``body`` as ``model``; an :class:`ApiError` naming the first wrong field otherwise."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        kind, where = error["type"], _where(error["loc"])
        if kind == "json_invalid":
            raise ApiError(400, "PARAM_ILLEGAL", "the body is not valid JSON") from None
        if not where:
            raise ApiError(422, "PARAM_ILLEGAL", "the body must be a JSON object") from None
        if kind == "extra_forbidden":
            raise ApiError(422, "PARAM_ILLEGAL", f"{where}: unknown field") from None
        if kind == "missing":
            raise ApiError(422, "PARAM_ILLEGAL", f"{where}: is required") from None
        raise ApiError(422, "PARAM_ILLEGAL", f"{where}: {error['msg']}") from None


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inlined(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    return node


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``model``, its nested models written inline (the routes read their bodies
    themselves, after the signature is checked)."""
    schema = model.model_json_schema()
    inline = _inlined(schema, schema.get("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline}}}}
