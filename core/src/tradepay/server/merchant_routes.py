"""The merchant API: ``POST /v1/orders/create`` and ``POST /v1/payments/inquiry``, signed both ways.

Create-order is idempotent on the merchant's ``referenceOrderId``: the same fields get the first answer
again, other fields get ``REPEAT_REQ_INCONSISTENT`` and change nothing. A merchant reads only its own orders:
another merchant's trade number is answered as one that does not exist.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .._ledger.merchants import Merchant, MerchantOrder
from .._ledger.orders import Order, OrderStatus, check_trade_no
from .._ledger.records import Payment, PaymentStatus
from .._spi.errors import InvalidInput
from .._spi.models import PaymentAmount
from .._spi.text import check_text
from .errors import ApiError, invalid, result
from .merchant_auth import utc_time
from .merchant_calls import merchant_answers as _answer
from .merchant_calls import own_order
from .merchant_calls import signed_call as _signed_call
from .schemas import CreateOrderAnswer, CreateOrderRequest, InquiryAnswer, PaymentInquiryRequest, schema_of
from .signing import SignatureProblem, parse_time
from .state import ServerState

__all__ = ["router"]

router = APIRouter(tags=["merchant API"])

_AMOUNT_FIELDS = {"currency": "orderAmount.currency", "value": "orderAmount.value", "amount": "orderAmount"}


def _amount(request: CreateOrderRequest) -> PaymentAmount:
    try:
        return PaymentAmount(request.order_amount.currency, request.order_amount.value)
    except InvalidInput as exc:
        field = exc.field.rpartition(".")[2]
        raise invalid(exc, {exc.field: _AMOUNT_FIELDS.get(field, "orderAmount")}) from None


def _expiry(text: str | None, now: float) -> float | None:
    if text is None:
        return None
    try:
        moment = parse_time(text).timestamp()
    except SignatureProblem:
        raise ApiError(422, "PARAM_ILLEGAL", "paymentExpiryTime: must be ISO 8601 with an offset") from None
    if moment <= now:
        raise ApiError(422, "PARAM_ILLEGAL", "paymentExpiryTime: is not in the future")
    return moment


def _checked(request: CreateOrderRequest, now: float) -> tuple[PaymentAmount, float | None]:
    """The order's amount and expiry; every field checked before anything is stored."""
    amount = _amount(request)
    for field, value in (("referenceOrderId", request.reference_order_id), ("userId", request.user_id)):
        try:
            check_trade_no(value, field)
        except InvalidInput as exc:
            raise invalid(exc) from None
    if request.order_description is not None:
        try:
            check_text(request.order_description, "orderDescription", limit=256, required=False)
        except InvalidInput as exc:
            raise invalid(exc) from None
    return amount, _expiry(request.payment_expiry_time, now)


def _order_answer(state: ServerState, trade_no: str, merchant_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "result": result("S", "SUCCESS", "the order was created"),
        "tradeNO": trade_no,
        "paymentUrl": state.host.ledger.cashier_url(trade_no),
    }
    config = state.host.config
    if config is not None and merchant_id in config.merchants:
        answer["orderStr"] = state.host.ledger.order_string(trade_no)
    return answer


def _create(state: ServerState, merchant: Merchant, request: CreateOrderRequest) -> dict[str, Any]:
    amount, expires_at = _checked(request, state.clock())
    fields = json.dumps(request.model_dump(by_alias=True), sort_keys=True, separators=(",", ":"))
    book, ledger, merchant_id = state.merchants, state.host.ledger, merchant.client_id
    record: MerchantOrder | None = book.find_merchant_order(merchant_id, request.reference_order_id)
    if record is None:
        trade_no = f"T{secrets.token_hex(10)}"
        record = book.claim_merchant_order(merchant_id, request.reference_order_id, trade_no, fields)
    if record.fields != fields:
        return {
            "result": result(
                "F",
                "REPEAT_REQ_INCONSISTENT",
                f"referenceOrderId {request.reference_order_id!r} was used with other fields: nothing changed",
            )
        }
    if ledger.get_order(record.trade_no) is None:
        # The record comes first, so a crash between the two leaves a record whose order a repeat creates.
        try:
            ledger.create_order(
                amount,
                merchant_id=merchant_id,
                payer_id=request.user_id,
                trade_no=record.trade_no,
                expires_at=expires_at,
            )
        except InvalidInput:
            if ledger.get_order(record.trade_no) is None:  # not a concurrent repeat that created it first
                raise
    return _order_answer(state, record.trade_no, merchant_id)


@router.post("/v1/orders/create", openapi_extra=schema_of(CreateOrderRequest), responses=_answer(CreateOrderAnswer))
async def create_order(request: Request) -> Response:
    """Create an order for the signed-in merchant; answers ``tradeNO``, ``paymentUrl`` and (when the merchant
    has an order-string secret) ``orderStr``."""
    return await _signed_call(request, CreateOrderRequest, _create)


def _payment_status(order: Order, payment: Payment | None, now: float) -> tuple[str, str, str, str]:
    """(resultStatus, resultCode, paymentStatus, message) of an order and its latest payment."""
    status = payment.status if payment is not None else None
    if status is PaymentStatus.SUCCEEDED:
        return "S", "SUCCESS", "SUCCESS", "the order is paid"
    if status is PaymentStatus.PROCESSING:
        return "U", "PAYMENT_IN_PROCESS", "PROCESSING", "a payment is under way"
    if status is PaymentStatus.NEEDS_RECONCILIATION:
        return "U", "PAYMENT_IN_PROCESS", "PROCESSING", "the payment's outcome is being reconciled"
    if order.status is OrderStatus.CLOSED:
        return "F", "ORDER_IS_CLOSED", "CLOSED", "the order was closed unpaid"
    if order.expires_at is not None and order.expires_at <= now:
        return "F", "ORDER_IS_CLOSED", "CLOSED", "the order expired unpaid"
    return "U", "PAYMENT_IN_PROCESS", "PENDING", "the order is open and not paid yet"


def _inquire(state: ServerState, merchant: Merchant, request: PaymentInquiryRequest) -> dict[str, Any]:
    order = own_order(state, merchant, request.trade_no, request.reference_order_id)
    if not isinstance(order, Order):
        return order
    trade_no = order.trade_no
    latest = state.host.ledger.payments(trade_no=trade_no, limit=1)
    payment = latest[0] if latest else None
    status, code, payment_status, message = _payment_status(order, payment, state.clock())
    answer: dict[str, Any] = {
        "result": result(status, code, message),
        "tradeNO": trade_no,
        "paymentStatus": payment_status,
        "paymentAmount": {"currency": order.amount.currency, "value": order.amount.value},
    }
    if payment is not None:
        answer["paymentId"] = payment.payment_id
        provider = payment.result.extended_info.get("provider") if payment.result else None
        if provider is not None and payment.status is PaymentStatus.SUCCEEDED:
            answer["provider"] = provider
            answer["paymentTime"] = utc_time(payment.updated_at)
    return answer


@router.post("/v1/payments/inquiry", openapi_extra=schema_of(PaymentInquiryRequest), responses=_answer(InquiryAnswer))
async def inquire_payment(request: Request) -> Response:
    """The payment status of one of the merchant's orders, by ``tradeNO`` or ``referenceOrderId``: ``S`` paid,
    ``F`` closed or expired unpaid, ``U`` while it is unresolved (open, under way, being reconciled)."""
    return await _signed_call(request, PaymentInquiryRequest, _inquire)
