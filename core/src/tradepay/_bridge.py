"""The ``my.tradePay`` bridge: the JSAPI's parameters in, the JSAPI's answer out, as the SDK's container does it.

* ``paymentUrl`` (non-empty) -> ``CASHIER_URL``; else ``orderStr`` -> ``ORDER_STRING``; else ``tradeNO``
  (at most 64 characters) -> ``ORDER_ID``. Missing, ``None`` and ``""`` are absent. The amount is left to the
  host's order book.
* All three absent, or one not a string, blank or too long: ``{"error": 2, "errorMessage": ...}`` (invalid
  parameter), the message naming the parameter as the mini program sent it.
* No service, an exception, or no result: ``{"error": 3, "errorMessage": ...}`` (unknown error).
* Otherwise ``{"resultCode": <PaymentResult.result_code>}``, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._ledger.orders import MAX_TRADE_NO
from ._logging import get_logger
from ._service import PaymentService
from ._spi.errors import InvalidInput
from ._spi.models import APIContext, PaymentRequest, PaymentResult, PaymentType

__all__ = ["INVALID_PARAMETER", "UNKNOWN_ERROR", "trade_pay", "trade_pay_async", "trade_pay_request"]

INVALID_PARAMETER = 2
UNKNOWN_ERROR = 3
_log = get_logger("tradepay")


#: The JSAPI's parameters, in the container's priority, and the request type each one names.
_PARAMETERS = (
    ("paymentUrl", PaymentType.CASHIER_URL),
    ("orderStr", PaymentType.ORDER_STRING),
    ("tradeNO", PaymentType.ORDER_ID),
)


def trade_pay_request(params: Mapping[str, Any]) -> PaymentRequest:
    """Build the :class:`PaymentRequest` that ``my.tradePay(params)`` stands for; :class:`InvalidInput` naming
    the parameter as the mini program spelt it (``tradeNO``, ``orderStr``, ``paymentUrl``) otherwise.

    A parameter that is missing, ``None`` (JSON ``null``) or the empty string is absent; the first present one
    wins. A present one that is not a string, or is blank (only whitespace), is refused, never skipped."""
    if not isinstance(params, Mapping):
        raise InvalidInput("params", f"must be an object, got {type(params).__name__}")
    for key, _type in _PARAMETERS:
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(key, f"must be a string, got {type(value).__name__}")
    for key, payment_type in _PARAMETERS:
        value = params.get(key)
        if not value:
            continue
        if not value.strip():
            raise InvalidInput(key, "is blank (only whitespace)")
        if key == "tradeNO" and len(value) > MAX_TRADE_NO:
            raise InvalidInput(key, f"is longer than {MAX_TRADE_NO} characters")
        try:
            return PaymentRequest(payment_type, value)
        except InvalidInput as exc:  # about the payment string, which is this parameter
            raise InvalidInput(key, exc.reason) from None
    raise InvalidInput("tradeNO", "one of paymentUrl, orderStr or tradeNO is required")


def _answer(result: object) -> dict[str, Any]:
    if not isinstance(result, PaymentResult):
        return {"error": UNKNOWN_ERROR, "errorMessage": "the payment service gave no result"}
    return {"resultCode": result.result_code.value}


def _prepare(service: PaymentService | None, params: Mapping[str, Any]) -> PaymentRequest | dict[str, Any]:
    try:
        request = trade_pay_request(params)
    except InvalidInput as exc:
        return {"error": INVALID_PARAMETER, "errorMessage": str(exc)}
    if service is None:
        return {"error": UNKNOWN_ERROR, "errorMessage": "no PaymentService is registered"}
    return request


def _failed(exc: Exception) -> dict[str, Any]:
    _log.exception("trade_pay.failed")
    return {"error": UNKNOWN_ERROR, "errorMessage": f"the payment service failed: {type(exc).__name__}"}


def trade_pay(service: PaymentService | None, params: Mapping[str, Any], api_context: APIContext) -> dict[str, Any]:
    """Answer ``my.tradePay(params)`` through ``service``, blocking until the payment's one result. Never raises:
    whatever fails is answered ``{"error": 3}`` (and logged)."""
    try:
        request = _prepare(service, params)
        if isinstance(request, dict):
            return request
        assert service is not None
        return _answer(service.pay_blocking(request, api_context))
    except Exception as exc:
        return _failed(exc)


async def trade_pay_async(
    service: PaymentService | None, params: Mapping[str, Any], api_context: APIContext
) -> dict[str, Any]:
    """:func:`trade_pay` for a running event loop."""
    try:
        request = _prepare(service, params)
        if isinstance(request, dict):
            return request
        assert service is not None
        return _answer(await service.pay_async(request, api_context))
    except Exception as exc:
        return _failed(exc)
