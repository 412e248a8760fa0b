"""``POST /v1/refunds/create`` and ``POST /v1/refunds/inquiry``: refunds of the merchant's paid orders, on
:class:`tradepay.RefundService`.

The merchant's ``refundRequestId`` is the idempotency key: the same fields again get the first refund's answer
(as it is now) and move no money; other fields get ``F`` / ``REPEAT_REQ_INCONSISTENT`` and change nothing.
Every field is checked before anything is recorded: a malformed one is a ``422`` naming it, as is an amount in
another currency than the order's. What the refund service decides (more than is left to refund, an unpaid
order, the provider's refusal, an unknown outcome) is answered ``200`` with its ``result``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .._ledger.merchants import Merchant
from .._ledger.orders import Order
from .._spi.errors import InvalidInput
from .._spi.models import PaymentAmount
from .._spi.refunds import RefundResult, RefundStatus
from .._spi.text import MAX_TEXT, check_identifier, check_text
from .close_refund_schemas import RefundAnswer, RefundInquiryRequest, RefundRequest
from .errors import ApiError, invalid, result
from .merchant_auth import utc_time
from .merchant_calls import merchant_answers, own_order, signed_call
from .schemas import schema_of
from .state import ServerState

__all__ = ["router"]

router = APIRouter(tags=["merchant API"])

#: The refund service's field names, as the request spells them.
_FIELDS = {
    "amount": "refundAmount",
    "currency": "refundAmount.currency",
    "value": "refundAmount.value",
    "refund_request_id": "refundRequestId",
    "reason": "refundReason",
}
_STATUSES = {
    RefundStatus.SUCCEEDED: "SUCCESS",
    RefundStatus.FAILED: "FAIL",
    RefundStatus.PROCESSING: "PROCESSING",
    RefundStatus.NEEDS_RECONCILIATION: "PROCESSING",
}


def _renamed(exc: InvalidInput) -> ApiError:
    return invalid(exc, {exc.field: _FIELDS.get(exc.field.rpartition(".")[2], exc.field)})


def _request_id(value: str) -> str:
    try:
        return check_identifier(value, "refundRequestId")
    except InvalidInput as exc:
        raise invalid(exc) from None


def _checked(request: RefundRequest) -> tuple[str, PaymentAmount, str | None]:
    """The request id, the amount and the reason; every field checked before anything is read or stored."""
    request_id = _request_id(request.refund_request_id)
    try:
        amount = PaymentAmount(request.refund_amount.currency, request.refund_amount.value)
        if request.refund_reason is not None:
            check_text(request.refund_reason, "refundReason", limit=MAX_TEXT)
    except InvalidInput as exc:
        raise _renamed(exc) from None
    return request_id, amount, request.refund_reason


def _answer(trade_no: str, request_id: str, answer: RefundResult) -> dict[str, Any]:
    """The JSON of the refund service's ``answer``; a refusal of the input is a ``422`` naming the field."""
    if answer.result_code == "INVALID_REQUEST":
        field, _, reason = answer.result_message.partition(": ")
        raise _renamed(InvalidInput(field, reason or answer.result_message))
    body: dict[str, Any] = {
        "result": result(answer.result_status.value, answer.result_code, answer.result_message),
        "tradeNO": trade_no,
        "refundRequestId": request_id,
    }
    refund = answer.refund
    if refund is not None:
        body["refundId"] = refund.refund_id
        body["refundStatus"] = _STATUSES[refund.status]
        body["refundAmount"] = {"currency": refund.amount.currency, "value": refund.amount.value}
        body["provider"] = refund.attempt.provider
        if refund.status is RefundStatus.SUCCEEDED:
            body["refundTime"] = utc_time(refund.updated_at)
    return body


def _refund(state: ServerState, merchant: Merchant, request: RefundRequest) -> dict[str, Any]:
    request_id, amount, reason = _checked(request)
    order = own_order(state, merchant, request.trade_no, request.reference_order_id)
    if not isinstance(order, Order):
        return order
    if amount.currency != order.amount.currency:
        message = f"refundAmount.currency: is {amount.currency}, the order is in {order.amount.currency}"
        raise ApiError(422, "PARAM_ILLEGAL", message)
    assert state.refunds is not None
    return _answer(order.trade_no, request_id, state.refunds.refund(order.trade_no, amount, request_id, reason))


def _inquire(state: ServerState, merchant: Merchant, request: RefundInquiryRequest) -> dict[str, Any]:
    request_id = _request_id(request.refund_request_id)
    order = own_order(state, merchant, request.trade_no, request.reference_order_id)
    if not isinstance(order, Order):
        return order
    assert state.refunds is not None
    return _answer(order.trade_no, request_id, state.refunds.inquire_refund(order.trade_no, request_id))


@router.post("/v1/refunds/create", openapi_extra=schema_of(RefundRequest), responses=merchant_answers(RefundAnswer))
async def create_refund(request: Request) -> Response:
    """Refund part or all of one of the merchant's paid orders: ``S`` refunded, ``F`` refused or failed
    (nothing moved), ``U`` unknown (reconciliation settles it; inquire again)."""
    return await signed_call(request, RefundRequest, _refund)


@router.post(
    "/v1/refunds/inquiry", openapi_extra=schema_of(RefundInquiryRequest), responses=merchant_answers(RefundAnswer)
)
async def inquire_refund(request: Request) -> Response:
    """What became of a refund, by the order and its ``refundRequestId``: its answer now (an unsettled one is
    asked about first); ``F`` ``REFUND_NOT_FOUND`` when the order has none under that id."""
    return await signed_call(request, RefundInquiryRequest, _inquire)
