"""``POST /v1/orders/close``: the merchant closes one of its unpaid orders, so that it can no longer be paid.

Closing goes through :meth:`tradepay.RefundService.close_order`: a payment of the order still in flight is
waited for, and one whose outcome is unknown is reconciled first, so an order that may have been paid is never
closed. Closing a closed order again answers ``S`` (closing is idempotent); a paid order is ``F`` /
``ORDER_IS_PAID`` (refund it instead), an order whose payment stays unresolved ``F`` / ``PAYMENT_IN_PROCESS``,
and nothing changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .._ledger.merchants import Merchant
from .._ledger.orders import Order, OrderStatus
from .._spi.errors import InvalidInput
from .close_refund_schemas import CloseOrderAnswer, CloseOrderRequest
from .errors import result
from .merchant_calls import merchant_answers, own_order, signed_call
from .schemas import schema_of
from .state import ServerState

__all__ = ["router"]

router = APIRouter(tags=["merchant API"])


def _answer(order: Order, status: str, code: str, message: str) -> dict[str, Any]:
    return {"result": result(status, code, message), "tradeNO": order.trade_no, "orderStatus": order.status.name}


def _close(state: ServerState, merchant: Merchant, request: CloseOrderRequest) -> dict[str, Any]:
    order = own_order(state, merchant, request.trade_no, request.reference_order_id)
    if not isinstance(order, Order):
        return order
    if order.status is OrderStatus.PAID:
        return _answer(order, "F", "ORDER_IS_PAID", "the order is paid and cannot be closed: refund it instead")
    if order.status is OrderStatus.CLOSED:
        return _answer(order, "S", "SUCCESS", "the order is closed")
    assert state.refunds is not None
    try:
        closed = state.refunds.close_order(order.trade_no)
    except InvalidInput as exc:
        now = state.host.ledger.get_order(order.trade_no) or order
        if now.status is OrderStatus.PAID:  # a payment in flight succeeded while the close waited for it
            return _answer(now, "F", "ORDER_IS_PAID", "the order was paid and cannot be closed: refund it instead")
        return _answer(now, "F", "PAYMENT_IN_PROCESS", f"{exc.reason}: its outcome is not known yet; nothing changed")
    return _answer(closed, "S", "SUCCESS", "the order is closed: it can no longer be paid")


@router.post(
    "/v1/orders/close", openapi_extra=schema_of(CloseOrderRequest), responses=merchant_answers(CloseOrderAnswer)
)
async def close_order(request: Request) -> Response:
    """Close one of the merchant's unpaid orders (by ``tradeNO`` or ``referenceOrderId``): ``S`` closed (again),
    ``F`` ``ORDER_IS_PAID`` or ``PAYMENT_IN_PROCESS`` (nothing changed), ``F`` ``ORDER_NOT_EXIST``."""
    return await signed_call(request, CloseOrderRequest, _close)
