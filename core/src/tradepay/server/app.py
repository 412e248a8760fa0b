"""The ASGI application: :func:`create_app` puts the merchant API, the client API and the cashier page in
front of one :class:`~tradepay.Host`.

Every refusal is a JSON answer with its ``result``; an unexpected failure is logged (``server.failed``) and
answered ``500`` with ``UNKNOWN_EXCEPTION``, never a traceback. The merchant API's answers are signed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from .._ledger.merchants import merchant_book
from .._logging import get_logger
from .._refunding import RefundService
from .._service import PaymentService
from .._spi.errors import InvalidInput
from .answers import is_merchant_route, signed_answer
from .errors import ApiError, result
from .limits import BodyLimit
from .metrics import Metrics
from .requestlog import RequestLog
from .settings import ServerSettings
from .signing import load_host_key
from .state import ServerState
from .tokens import TokenAuthenticator

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .._host import Host

__all__ = ["create_app"]

_log = get_logger("tradepay.server")
#: The name the server's own authenticator (host-signed bearer tokens) is registered under.
TOKENS_PLUGIN = "tradepay.server.tokens"
#: The name the server's metrics observer is registered under.
METRICS_PLUGIN = "tradepay.server.metrics"


def _answer(request: Request, status: int, payload: dict[str, object]) -> Response:
    if is_merchant_route(request.url.path):
        return signed_answer(request, payload, status)
    return JSONResponse(payload, status)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _answer(request, exc.status, exc.body())


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return _answer(request, 422, ApiError(422, "PARAM_ILLEGAL", str(exc)).body())


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "NOT_FOUND" if exc.status_code == 404 else "PARAM_ILLEGAL"
    return _answer(request, exc.status_code, {"result": result("F", code, str(exc.detail))})


async def _unparsed(request: Request, exc: Exception) -> Response:
    return _answer(request, 422, ApiError(422, "PARAM_ILLEGAL", "the request is not valid").body())


async def _failed(request: Request, exc: Exception) -> Response:
    _log.error("server.failed", route=request.url.path, error=type(exc).__name__)
    return _answer(request, 500, {"result": result("U", "UNKNOWN_EXCEPTION", "the host failed: try again later")})


def create_app(
    host: Host,
    settings: ServerSettings | None = None,
    *,
    key: rsa.RSAPrivateKey | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The server of ``host``: an ASGI app (FastAPI) with its OpenAPI document at ``/openapi.json``.

    ``key`` is the host's signing key; by default ``server-key.pem`` in ``host.data_dir``, created on first
    start (mode 0600). ``clock`` (seconds since the epoch) is for tests of the clock-skew window."""
    settings = settings or ServerSettings()
    if key is None:
        data_dir = Path(host.settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        key = load_host_key(data_dir)
    app = FastAPI(
        title="tradepay",
        version=__version__,
        description="The payment host's merchant API, client API and cashier page.",
    )
    app.add_exception_handler(ApiError, _refused)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _unparsed)
    app.add_exception_handler(Exception, _failed)

    if host.pm.get_plugin(TOKENS_PLUGIN) is None:
        host.add_plugin(TOKENS_PLUGIN, TokenAuthenticator(key.public_key(), clock))
    metrics = host.pm.get_plugin(METRICS_PLUGIN)
    if metrics is None:
        metrics = Metrics()
        host.add_plugin(METRICS_PLUGIN, metrics)
    app.state.metrics = metrics
    # Made after the metrics are registered: a RefundService reads its observers when it is made.
    refunds = RefundService(host)
    app.state.tradepay = ServerState(
        host, PaymentService(host), settings, key, merchant_book(host.ledger), clock, refunds=refunds
    )

    from . import cashier, client_routes, close_routes, merchant_routes, ops_routes, refund_routes

    # The client API's pay first: FastAPI tries the routers in the order they are included, and every
    # mini program's payment takes that route (measured: 7 % of its CPU time when it came fourth;
    # docs/performance.md). No two routes share a path, so the order changes nothing else.
    app.include_router(client_routes.router)
    app.include_router(merchant_routes.router)
    app.include_router(close_routes.router)
    app.include_router(refund_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(cashier.router_for(host.settings.cashier_url))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog, metrics=metrics)  # outermost: a refused body is logged and counted too
    return app
