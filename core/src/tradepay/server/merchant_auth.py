"""Checking a merchant's signed request: who sent it, when, and that the body is the one it signed.

Refused with ``401`` and a message that says what to fix, before anything is parsed or stored: a missing
``Client-Id``, ``Request-Time`` or ``Signature`` header, a malformed one, a ``Request-Time`` outside the
clock-skew window, a client id no merchant is registered with, a signature that does not match.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .._ledger.merchants import Merchant
from .._ledger.notifications import iso_utc as utc_time
from .._spi.echo import echo_value
from .._spi.errors import InvalidInput
from .errors import ApiError
from .signing import SignatureProblem, load_public_key, parse_signature_header, parse_time, signed_content, verify
from .state import ServerState, state_of

__all__ = ["request_uri", "signed_merchant", "utc_time"]


def _unsigned(message: str) -> ApiError:
    return ApiError(401, "INVALID_SIGNATURE", message)


def request_uri(request: Request) -> str:
    """The ``<URI>`` a signature covers: the path, and the query when there is one."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _header(request: Request, name: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise _unsigned(f"the {name} header is missing: merchant requests must be signed (see the server's docs)")
    return value


def _public_key(state: ServerState, merchant: Merchant) -> rsa.RSAPublicKey:
    cached = state.public_keys.get((merchant.client_id, merchant.public_key))
    if cached is None:
        try:
            cached = load_public_key(merchant.public_key)
        except InvalidInput:
            raise _unsigned(f"merchant {merchant.client_id!r} has no usable public key registered") from None
        state.public_keys[(merchant.client_id, merchant.public_key)] = cached
    return cached


async def signed_merchant(request: Request) -> tuple[Merchant, bytes]:
    """The merchant that signed ``request`` and the body it signed; :class:`ApiError` 401 otherwise."""
    state = state_of(request)
    body = await request.body()
    client_id = _header(request, "Client-Id")
    moment_text = _header(request, "Request-Time")
    header = _header(request, "Signature")
    try:
        signature = parse_signature_header(header)
        moment = parse_time(moment_text)
    except SignatureProblem as problem:
        raise _unsigned(str(problem)) from None
    skew = abs(state.clock() - moment.timestamp())
    window = state.settings.clock_skew_s
    if skew > window:
        raise _unsigned(
            f"Request-Time is {skew:.0f} s away from the host's clock, outside the allowed {window:g} s: "
            "sign each request when it is sent"
        )
    merchant = await run_in_threadpool(state.merchants.get_merchant, client_id)
    if merchant is None:
        raise ApiError(401, "INVALID_CLIENT", f"no merchant is registered with Client-Id {echo_value(client_id)}")
    key = _public_key(state, merchant)
    content = signed_content(request.method, request_uri(request), client_id, moment_text, body)
    if not verify(key, content, signature):
        raise _unsigned(
            "the signature does not match: sign '<METHOD> <URI>\\n<Client-Id>.<Request-Time>.<Body>' with the "
            "private key of the public key registered for this Client-Id"
        )
    request.state.merchant = merchant.client_id  # for the request log: only once its signature is checked
    return merchant, body
