"""The cashier page behind every ``paymentUrl``: server-rendered HTML (Jinja2) that works without JavaScript.

``GET <cashier path>?tradeNO=T`` shows the merchant, the amount and the currency, and a form; the form POSTs
back to the same path with ``action=pay`` or ``action=cancel``. Paying goes through the payment service like
any request of the order's ``CASHIER_URL``, as the signed-in user (the ``authenticate`` hook: an
``Authorization`` header, the ``tradepay_token`` cookie, or the token typed into the form). The page then
shows the outcome: paid, declined (with the provider's reason), cancelled, or pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .._ledger.orders import Order, OrderStatus
from .._spi.models import APIContext, PaymentRequest, PaymentResult, PaymentType, ResultCode
from .errors import ApiError
from .schemas import ErrorAnswer
from .state import ServerState, state_of
from .users import signed_in_user

__all__ = ["TOKEN_COOKIE", "cashier_path", "router_for"]

#: The cookie that keeps the token typed into the form for the rest of the visit.
TOKEN_COOKIE = "tradepay_token"  # noqa: S105 - the cookie's name, not a secret

_templates = Environment(
    loader=PackageLoader("tradepay.server", "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


@dataclass(frozen=True)
class Outcome:
    """What the page says happened: ``kind`` is ``success``, ``declined``, ``cancelled`` or ``pending``."""

    kind: str
    heading: str
    message: str


def cashier_path(cashier_url: str) -> str:
    """The path the page is served at: the path of ``host.cashier_url`` (``/`` when it has none)."""
    return urlsplit(cashier_url).path or "/"


def outcome_of(result: PaymentResult) -> Outcome:
    """The page's outcome of a payment's one result."""
    code = result.result_code
    if code is ResultCode.SUCCESS:
        return Outcome("success", "Payment successful", "The merchant has been paid. You can close this page.")
    if code is ResultCode.USER_CANCEL:
        return Outcome("cancelled", "Payment cancelled", "The payment was cancelled; nothing was charged.")
    if code is ResultCode.FAILED:
        message = result.result_message or "The payment was declined."
        reason = result.reason or (result.result_error.error_desc if result.result_error else "")
        detail = f" Reason: {reason}." if reason and reason not in message else ""
        return Outcome("declined", "Payment declined", f"{message}{detail}")
    return Outcome(
        "pending", "Payment pending", "The payment is being confirmed; the merchant will be told the outcome."
    )


def _page(status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates.get_template("cashier.html").render(**context), status)


def _closed(order: Order, state: ServerState) -> str | None:
    """Why ``order`` cannot be paid here, or ``None``."""
    if order.status is OrderStatus.PAID:
        return "This order is already paid."
    if order.status is OrderStatus.CLOSED:
        return "This order was closed by the merchant and can no longer be paid."
    if order.expires_at is not None and order.expires_at <= state.clock():
        return "This order has expired and can no longer be paid."
    return None


async def _order(request: Request, trade_no: object) -> Order | None:
    if not isinstance(trade_no, str) or not trade_no or len(trade_no) > 64:
        return None
    return await run_in_threadpool(state_of(request).host.ledger.get_order, trade_no)


def _view(request: Request, order: Order, **context: Any) -> dict[str, Any]:
    state = state_of(request)
    closed = _closed(order, state)
    return {
        "title": f"Pay {order.merchant_id}",
        "order": order,
        "amount": str(order.amount),
        "action": cashier_path(state.host.settings.cashier_url),
        "payable": closed is None and "outcome" not in context,
        "error": closed,
        "signed_in": bool(request.headers.get("authorization") or request.cookies.get(TOKEN_COOKIE)),
        **context,
    }


def _not_found() -> HTMLResponse:
    return _page(404, title="Order not found", error="There is no such order: check the payment link.")


async def show(request: Request) -> Response:
    """The page of order ``?tradeNO=``: merchant, amount, currency, and the form."""
    order = await _order(request, request.query_params.get("tradeNO"))
    if order is None:
        return _not_found()
    return _page(**_view(request, order))


def _credentials(request: Request, typed: object) -> str | None:
    """The ``Authorization`` to check: the header, else the token typed into the form, else the cookie's."""
    if request.headers.get("authorization"):
        return None  # signed_in_user reads the header itself
    token = typed if isinstance(typed, str) and typed.strip() else request.cookies.get(TOKEN_COOKIE)
    return f"Bearer {token.strip()}" if token else ""


async def submit(request: Request) -> Response:
    """The form: ``action=pay`` pays the order as the signed-in user, ``action=cancel`` pays nothing."""
    form = await request.form()
    order = await _order(request, form.get("tradeNO"))
    if order is None:
        return _not_found()
    if form.get("action") == "cancel":
        cancelled = Outcome("cancelled", "Payment cancelled", "You cancelled the payment; nothing was charged.")
        return _page(**_view(request, order, outcome=cancelled))
    if form.get("action") != "pay" or _closed(order, state_of(request)) is not None:
        return _page(400 if form.get("action") != "pay" else 409, **_view(request, order))
    typed = form.get("token")
    try:
        user = await signed_in_user(request, _credentials(request, typed))
    except ApiError as refused:
        return _page(401, **_view(request, order, error=f"Sign in to pay: {refused.message}"))
    state = state_of(request)
    payment = PaymentRequest(PaymentType.CASHIER_URL, state.host.ledger.cashier_url(order.trade_no))
    result = await state.service.pay_async(payment, APIContext("cashier", extended_info={"userId": user}))
    response = _page(**_view(request, order, outcome=outcome_of(result)))
    if isinstance(typed, str) and typed.strip():
        secure = request.url.scheme == "https"  # behind TLS the cookie never travels in clear
        response.set_cookie(TOKEN_COOKIE, typed.strip(), httponly=True, samesite="strict", secure=secure, path="/")
    return response


def router_for(cashier_url: str) -> APIRouter:
    """The cashier page's routes, at the path of ``cashier_url``."""
    router = APIRouter(tags=["cashier page"])
    path = cashier_path(cashier_url)
    pages: dict[int | str, dict[str, Any]] = {
        200: {"description": "the page", "content": {"text/html": {}}},
        400: {"description": "the form names no action", "content": {"text/html": {}}},
        401: {"description": "nobody is signed in: the page asks to sign in", "content": {"text/html": {}}},
        404: {"description": "no such order", "content": {"text/html": {}}},
        409: {"description": "the order can no longer be paid", "content": {"text/html": {}}},
        413: {"description": "the form is larger than the limit", "model": ErrorAnswer},
    }
    shown: dict[int | str, dict[str, Any]] = {status: pages[status] for status in (200, 404)}
    router.add_api_route(
        path, show, methods=["GET"], response_class=HTMLResponse, summary="The cashier page", responses=shown
    )
    router.add_api_route(
        path, submit, methods=["POST"], response_class=HTMLResponse, summary="Pay or cancel", responses=pages
    )
    return router
