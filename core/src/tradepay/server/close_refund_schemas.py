"""The JSON bodies of ``POST /v1/orders/close``, ``POST /v1/refunds/create`` and ``POST /v1/refunds/inquiry``:
strict types, unknown fields refused, the Alipay+ names (see :mod:`tradepay.server.schemas`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .schemas import Amount, Body, Result

__all__ = [
    "CloseOrderAnswer",
    "CloseOrderRequest",
    "RefundAnswer",
    "RefundInquiryRequest",
    "RefundRequest",
]


class CloseOrderRequest(Body):
    """``POST /v1/orders/close``: exactly one of ``tradeNO`` and ``referenceOrderId``."""

    trade_no: str | None = Field(default=None, alias="tradeNO", max_length=64)
    reference_order_id: str | None = Field(default=None, alias="referenceOrderId", max_length=64)


class CloseOrderAnswer(BaseModel):
    """The answer of ``POST /v1/orders/close``."""

    result: Result
    trade_no: str | None = Field(default=None, alias="tradeNO")
    order_status: str | None = Field(default=None, alias="orderStatus")


class RefundRequest(Body):
    """``POST /v1/refunds/create``: refund ``refundAmount`` of one of the merchant's paid orders (exactly one of
    ``tradeNO`` and ``referenceOrderId``). ``refundRequestId`` is the idempotency key."""

    trade_no: str | None = Field(default=None, alias="tradeNO", max_length=64)
    reference_order_id: str | None = Field(default=None, alias="referenceOrderId", max_length=64)
    refund_request_id: str = Field(alias="refundRequestId", max_length=64)
    refund_amount: Amount = Field(alias="refundAmount")
    refund_reason: str | None = Field(default=None, alias="refundReason", max_length=256)


class RefundInquiryRequest(Body):
    """``POST /v1/refunds/inquiry``: the refund requested as ``refundRequestId`` of one of the merchant's orders
    (exactly one of ``tradeNO`` and ``referenceOrderId``)."""

    trade_no: str | None = Field(default=None, alias="tradeNO", max_length=64)
    reference_order_id: str | None = Field(default=None, alias="referenceOrderId", max_length=64)
    refund_request_id: str = Field(alias="refundRequestId", max_length=64)


class RefundAnswer(BaseModel):
    """The answer of ``POST /v1/refunds/create`` and ``POST /v1/refunds/inquiry``."""

    result: Result
    trade_no: str | None = Field(default=None, alias="tradeNO")
    refund_request_id: str | None = Field(default=None, alias="refundRequestId")
    refund_id: str | None = Field(default=None, alias="refundId")
    refund_status: str | None = Field(default=None, alias="refundStatus", description="SUCCESS, FAIL or PROCESSING")
    refund_amount: Amount | None = Field(default=None, alias="refundAmount")
    provider: str | None = None
    refund_time: str | None = Field(default=None, alias="refundTime")
