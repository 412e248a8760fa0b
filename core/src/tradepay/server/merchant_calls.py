"""What the merchant API's routes share: the signed call, their OpenAPI answers, and the merchant's own order.

A merchant acts only on its own orders: another merchant's order is answered as one that does not exist
(``F`` / ``ORDER_NOT_EXIST``), so that a trade number tells a merchant nothing about another's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .._ledger.merchants import Merchant
from .._ledger.orders import Order, check_trade_no
from .._spi.errors import InvalidInput
from .answers import signed_answer
from .errors import ApiError, invalid, result
from .merchant_auth import signed_merchant
from .schemas import Body, answers, parse
from .state import ServerState, state_of

__all__ = ["merchant_answers", "not_found", "own_order", "signed_call"]


def merchant_answers(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a merchant route answering ``model``."""
    return answers(model, 400, 401, 413, 422, 500)


async def signed_call(
    request: Request, model: type[Body], work: Callable[[ServerState, Merchant, Any], dict[str, Any]]
) -> Response:
    """Check the signature, then parse the body as ``model``, then do ``work`` off the event loop (the ledger
    blocks) and sign its answer."""
    merchant, body = await signed_merchant(request)
    parsed = parse(model, body)
    return signed_answer(request, await run_in_threadpool(work, state_of(request), merchant, parsed))


def not_found(what: str) -> dict[str, Any]:
    """The answer for an order the merchant does not have: ``F`` / ``ORDER_NOT_EXIST``."""
    return {"result": result("F", "ORDER_NOT_EXIST", f"no order {what} of this merchant")}


def _checked(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return check_trade_no(value, field)
    except InvalidInput as exc:
        raise invalid(exc) from None


def own_order(
    state: ServerState, merchant: Merchant, trade_no: str | None, reference_order_id: str | None
) -> Order | dict[str, Any]:
    """The merchant's order named by exactly one of ``trade_no`` and its ``reference_order_id``, or the
    :func:`not_found` answer. :class:`ApiError` 422 when neither or both are given, or one is malformed."""
    if (trade_no is None) == (reference_order_id is None):
        raise ApiError(422, "PARAM_ILLEGAL", "tradeNO: give exactly one of tradeNO and referenceOrderId")
    trade_no, reference_order_id = _checked(trade_no, "tradeNO"), _checked(reference_order_id, "referenceOrderId")
    if reference_order_id is not None:
        record = state.merchants.find_merchant_order(merchant.client_id, reference_order_id)
        if record is None:
            return not_found(f"with referenceOrderId {reference_order_id!r}")
        trade_no = record.trade_no
    assert trade_no is not None
    order = state.host.ledger.get_order(trade_no)
    if order is None or order.merchant_id != merchant.client_id:
        return not_found(f"{trade_no!r}")
    return order
