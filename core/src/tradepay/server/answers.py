"""The merchant API's answers: JSON signed by the host's key, so that a merchant can trust them.

Every answer of a merchant route, a refusal included, carries ``Client-Id`` (the request's), ``Response-Time``
and ``Signature`` over ``<METHOD> <URI>\\n<Client-Id>.<Response-Time>.<Body>``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .merchant_auth import request_uri, utc_time
from .signing import sign, signature_header, signed_content
from .state import state_of

__all__ = ["MERCHANT_PREFIXES", "is_merchant_route", "signed_answer"]

#: The paths of the merchant API (signed both ways); the client API and the cashier page are not signed.
MERCHANT_PREFIXES = ("/v1/orders/", "/v1/payments/", "/v1/refunds/")


def is_merchant_route(path: str) -> bool:
    """Whether ``path`` belongs to the merchant API."""
    return path.startswith(MERCHANT_PREFIXES)


def json_body(payload: dict[str, Any]) -> bytes:
    """The bytes of an answer: compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_answer(request: Request, payload: dict[str, Any], status: int = 200) -> Response:
    """``payload`` as the JSON answer to ``request``, signed by the host."""
    state = state_of(request)
    body = json_body(payload)
    client_id = request.headers.get("Client-Id", "")
    moment = utc_time(state.clock())
    signature = sign(state.key, signed_content(request.method, request_uri(request), client_id, moment, body))
    headers = {"Client-Id": client_id, "Response-Time": moment, "Signature": signature_header(signature)}
    return Response(body, status, headers=headers, media_type="application/json")
