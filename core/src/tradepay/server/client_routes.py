"""The client API: ``POST /v1/client/pay``, what the super app's ``PaymentService`` implementation calls.

The body is the SPI's ``PaymentRequest`` and ``APIContext`` in the SDK's JSON names; the answer the
``PaymentResult`` JSON, with ``PaymentService.pay_async``'s semantics: exactly one answer, a repeat answered
from the ledger, an ambiguous outcome settled or left for reconciliation. The signed-in user (the
``authenticate`` hook) is the payer: it is put in ``apiContext.extendedInfo.userId``, where the chain checks it
against the order's payer.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from .._spi.errors import InvalidInput
from .._spi.models import APIContext, MiniProgramMetaData, PaymentAmount, PaymentRequest
from .errors import ApiError
from .schemas import REFUSALS, ClientPayRequest, SdkPaymentResult, answers, parse, schema_of
from .state import state_of
from .users import signed_in_user

__all__ = ["router", "spi_models"]

router = APIRouter(tags=["client API"])


def _camel(field: str) -> str:
    """``payment_amount.value`` as the SDK spells it: ``paymentAmount.value`` (map keys in ``[...]`` kept)."""
    path, bracket, rest = field.partition("[")
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path) + bracket + rest


def _refused(exc: InvalidInput, prefix: str) -> ApiError:
    return ApiError(422, "PARAM_ILLEGAL", f"{prefix}.{_camel(exc.field.removeprefix('api_context.'))}: {exc.reason}")


def spi_models(body: ClientPayRequest, user: str) -> tuple[PaymentRequest, APIContext]:
    """The SPI's models of ``body``, paid by ``user``; :class:`ApiError` naming the JSON field otherwise (403
    when the body names another user)."""
    sdk, context = body.payment_request, body.api_context
    try:
        amount = None
        if sdk.payment_amount is not None:
            amount = PaymentAmount(sdk.payment_amount.currency, sdk.payment_amount.value)
        # A plain string type is converted and checked by the model, as from any untyped caller.
        request = PaymentRequest(sdk.type, sdk.payment_string, amount, sdk.extended_info or {})  # type: ignore[arg-type]
    except InvalidInput as exc:
        raise _refused(exc, "paymentRequest") from None
    info = dict(context.extended_info or {})
    if info.get("userId", user) != user:
        raise ApiError(403, "ACCESS_DENIED", "apiContext.extendedInfo.userId: is not the signed-in user")
    info["userId"] = user
    try:
        program = None
        if context.mini_program_info is not None:
            program = MiniProgramMetaData(**context.mini_program_info.model_dump())
        return request, APIContext(context.source, program, info)
    except InvalidInput as exc:
        raise _refused(exc, "apiContext") from None


@router.post(
    "/v1/client/pay", openapi_extra=schema_of(ClientPayRequest), responses=answers(SdkPaymentResult, *REFUSALS)
)
async def client_pay(request: Request) -> JSONResponse:
    """Pay as the signed-in user: the one ``PaymentResult`` (``9000`` paid, ``4000`` declined or refused,
    ``6001`` cancelled, ``8000`` / ``6004`` unresolved)."""
    user = await signed_in_user(request)
    body = parse(ClientPayRequest, await request.body())
    payment_request, context = spi_models(body, user)
    result = await state_of(request).service.pay_async(payment_request, context)
    return JSONResponse(result.to_dict())
